"""Lockstep's code kit: plumbing shared by the three services, without business rules.

- `settings`: configuration from `LOCKSTEP_*` environment variables, failing fast.
- `events`: the canonical event language (CloudEvents 1.0, Kafka binary content mode).
- `bus`: the one Kafka producer and consumer runner, topics, dead letters.
- `db`: engines, sessions, migrations, idempotency and the transactional outbox.
- `web`: problem responses, health/readiness, metrics and the session dependency for the FastAPI apps.
- `webhooks`: the sender's side of Standard Webhooks (signing outbound requests).

It knows no service and no business vocabulary: each service passes in what is its own (its
migrations, its tables, its handlers), and the lifecycle contract is the package `contract`.
"""
