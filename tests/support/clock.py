"""A clock tests set by hand, for the services that take one (the SLA's timers and notifier, scoring's
monthly reviews), and the Standard Webhooks library reading the same clock: a receiver in step with
the sender, as real clocks are, so signatures made in the test's time verify."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

import pytest
import standardwebhooks.webhooks


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def verify_on(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `standardwebhooks.Webhook.verify` check timestamps against `clock` (it reads datetime.now)."""

    class _Now(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> _Now:
            at = clock().astimezone(tz)
            return cls.combine(at.date(), at.timetz())

    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", _Now)
