"""Fake CRM servers for write-back tests: real HTTP servers answering as each vendor documents."""
