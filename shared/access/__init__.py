"""Access: API keys with roles (keys, keyring, manage), the failed-key allowance (throttle) and
dashboard sessions (sessions). The HTTP side is shared/web/access.py."""
