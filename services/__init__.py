"""The three Lockstep services and the `lockstep` command line."""
