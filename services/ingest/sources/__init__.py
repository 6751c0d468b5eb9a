"""One adapter per sender dialect: how it authenticates, how its payload maps to canonical events."""
