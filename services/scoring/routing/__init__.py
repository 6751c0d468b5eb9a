"""Routing: MQLs without an active owner assigned to a rep of their team (contract/routing.py)."""
