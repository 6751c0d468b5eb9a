"""Creating, listing and revoking keys: what `lockstep keys ...` does, on the keys topic itself.

Each change is one record, produced with acks=all (shared/bus/producer.py), so once a command
returns every replica's key ring has it or will read it. Whoever can write the keys topic can
grant any role: the Kafka cluster is the boundary to protect, as for every other topic.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.access.keyring import read_keys
from shared.access.keys import KeyProblem, KeyRecord, Role, new_key, record_for_token
from shared.bus.producer import EventProducer, OutgoingRecord
from shared.bus.topics import Topics, ensure_topics
from shared.settings import LockstepSettings

FIRST_ADMIN = "admin"  # the name of the key `bootstrap-admin` creates


class KeyStore:
    """The keys topic of one deployment (its settings: broker, prefix, replication)."""

    def __init__(self, settings: LockstepSettings) -> None:
        self._settings = settings
        self._topics = Topics(settings.topic_prefix)

    async def current(self) -> list[KeyRecord]:
        s = self._settings
        await ensure_topics(
            s.kafka_bootstrap,
            [self._topics.keys],
            partitions=s.topic_partitions,
            replication_factor=s.topic_replication_factor,
            shapes=self._topics.shapes(),
        )
        return await read_keys(s.kafka_bootstrap, self._topics.keys, timeout_s=s.startup_timeout_s)

    async def create(self, name: str, role: Role) -> tuple[KeyRecord, str]:
        """A new key (record, token); refused when an active key has that name."""
        existing = await self.current()
        if any(r.active and r.name == name for r in existing):
            raise KeyProblem(f"an active key is already named {name!r}: revoke it first, or choose another name")
        record, token = new_key(name, role, {r.id for r in existing})
        await self._publish(record)
        return record, token

    async def revoke(self, name: str) -> KeyRecord:
        active = [r for r in await self.current() if r.active and r.name == name]
        if not active:
            raise KeyProblem(f"no active key is named {name!r} (lockstep keys list)")
        revoked = active[0].revoked(datetime.now(UTC))
        await self._publish(revoked)
        return revoked

    async def bootstrap_admin(self, given: str | None) -> tuple[KeyRecord, str | None] | None:
        """The first admin key, unless an active admin key exists (then None: nothing to do).

        `given`: a key generated beforehand (LOCKSTEP_ADMIN_KEY), registered as it is; otherwise
        a new one, whose token is returned to be shown once.
        """
        existing = await self.current()
        if any(r.active and r.role is Role.ADMIN for r in existing):
            return None
        if any(r.active and r.name == FIRST_ADMIN for r in existing):
            raise KeyProblem(f"an active key named {FIRST_ADMIN!r} exists but is not an admin key; revoke it first")
        if given:
            record = record_for_token(given, FIRST_ADMIN, Role.ADMIN)
            if any(r.id == record.id for r in existing):
                raise KeyProblem("LOCKSTEP_ADMIN_KEY: a key with this id was registered before (and revoked)")
            await self._publish(record)
            return record, None
        record, token = new_key(FIRST_ADMIN, Role.ADMIN, {r.id for r in existing})
        await self._publish(record)
        return record, token

    async def _publish(self, record: KeyRecord) -> None:
        producer = EventProducer(self._settings.kafka_bootstrap, client_id="lockstep-keys")
        await producer.start()
        try:
            await producer.send(OutgoingRecord(self._topics.keys, record.id, record.to_json(), []))
        finally:
            await producer.stop()
