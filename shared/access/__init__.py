"""Access: API keys with roles (keys), every key as the keys topic says (keyring), and their
management from the command line (manage)."""
