"""Outbound webhooks: what a sender of Standard Webhooks puts on each request."""
