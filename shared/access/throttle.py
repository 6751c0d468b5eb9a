"""Failed authentications per client address: a token bucket each, in this process's memory.

Per replica: behind a load balancer spreading over N replicas an address gets up to N times the
allowance, which is still far too slow to guess a 256-bit secret; the limit is there to make
guessing visible and cheap to refuse, not to be the only defence. An address out of allowance
is refused before any key is looked at, and only that address: nobody else waits, and a
valid caller elsewhere is never slowed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

FAILURES_PER_MINUTE = 20
# Addresses remembered at most; beyond that the ones with a full bucket again (or else the
# longest-known) are forgotten, so a flood of addresses cannot exhaust memory.
MAX_ADDRESSES = 10_000


class FailureThrottle:
    def __init__(
        self,
        per_minute: int = FAILURES_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0  # tokens regained per second
        self._clock = clock
        self._max = max_addresses
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, when last counted)

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again, or None when it may now."""
        tokens = self._tokens(address)
        if tokens >= 1:
            return None
        return max(1, math.ceil((1 - tokens) / self._rate))

    def failed(self, address: str) -> None:
        tokens = self._tokens(address) - 1
        self._buckets.pop(address, None)
        self._buckets[address] = (max(tokens, 0.0), self._clock())  # re-inserted: newest last
        if len(self._buckets) > self._max:
            self._forget()

    def _tokens(self, address: str) -> float:
        known = self._buckets.get(address)
        if known is None:
            return self._capacity
        tokens, then = known
        return min(self._capacity, tokens + (self._clock() - then) * self._rate)

    def _forget(self) -> None:
        for address in [a for a in self._buckets if self._tokens(a) >= self._capacity]:
            del self._buckets[address]
        # Down to 90 %: the sweep above then runs once per many new addresses, not once per failure.
        while len(self._buckets) > self._max * 9 // 10:
            del self._buckets[next(iter(self._buckets))]
