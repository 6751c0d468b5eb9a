"""Scoring: applies the lifecycle contract to each lead's events, explains scores, publishes stage changes."""
