"""How long a webhook delivery is retried: exponential backoff from a base, capped, with jitter, given
up after a number of attempts; a receiver's Retry-After (429, 503) is honoured up to the cap.

Alerts keep the schedule the notifier is built with (by default ten attempts over about eight
minutes: an alert that late is an alert about the past). A monthly review's summary is sent once a
month and is still worth reading a day later, so it is retried for about a day (`REPORT_RETRIES`):
a receiver down for an hour, or a night, still gets it, with the same webhook-id as every attempt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class RetrySchedule:
    max_attempts: int
    base_s: float
    cap_s: float

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay_s(self, attempts: int, rng: random.Random, jitter: float, retry_after_s: float | None = None) -> float:
        """Delay before attempt `attempts + 1`: base * 2^(attempts-1), capped, plus up to `jitter` of itself."""
        delay = min(self.cap_s, self.base_s * 2.0 ** max(0, attempts - 1))
        delay *= 1 + rng.uniform(0, jitter)
        if retry_after_s is not None:  # the receiver asked for more time (429/503 Retry-After)
            delay = max(delay, min(retry_after_s, self.cap_s))
        return delay

    def span_s(self) -> float:
        """How long after the first attempt the last one comes, without jitter: how long a receiver
        may be down and still get the delivery."""
        return sum(min(self.cap_s, self.base_s * 2.0 ** (n - 1)) for n in range(1, self.max_attempts))


# 1 s doubling to half an hour, then every half hour: the last of 60 attempts about 24.5 hours after the first.
REPORT_RETRIES = RetrySchedule(max_attempts=60, base_s=1.0, cap_s=1800.0)


def retry_after_s(response: httpx.Response) -> float | None:
    """The seconds a 429 or 503 asks to wait (Retry-After); None for the HTTP-date form, or none given."""
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # the HTTP-date form: fall back to our own backoff
