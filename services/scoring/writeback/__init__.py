"""Write-back: what scoring decides about a lead (stage, fit, engagement, MQL reason, owner) written to the
records the CRMs keep for it, through a durable queue in scoring's database and one writer per deployment."""
