"""Ingest: the webhook door. Verifies each vendor's signature, normalizes to canonical events, answers once
Kafka has them."""
