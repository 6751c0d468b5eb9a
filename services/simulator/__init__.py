"""The traffic simulator: realistic, correctly signed webhooks in each source's wire format."""
