"""HTTP plumbing shared by the three FastAPI apps."""
