"""HubSpot's API rate limits as the fake HubSpot (hubspot.py) enforces them, apart from what the API
does with a call that is let through: the rolling burst window (at most `burst` calls in any
`window_s` seconds: policy TEN_SECONDLY_ROLLING), optionally the secondly limit (at most
`per_second` calls in any second: policy SECONDLY), a daily allowance, and throttling ordered by a
test. Each refusal says how long to wait (Retry-After), and every answer the fake gives past
authentication carries the X-HubSpot-RateLimit-* headers these counts make.

Not thread-safe on its own: the fake calls it holding its lock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    """A call over a limit: HubSpot's message and policy name, and the headers of its 429."""

    message: str
    policy: str
    headers: dict[str, str]


class HubSpotLimits:
    def __init__(self, *, burst: int, window_s: float, daily: int, per_second: int | None) -> None:
        self.burst = burst
        self.window_s = window_s
        self.per_second = per_second
        self.daily = daily
        self._window: deque[float] = deque()
        self._used_today = 0
        self._throttled_until = 0.0
        self._retry_after_s: float | None = None

    def throttle(self, until: float, retry_after_s: float | None) -> None:
        """Refuse every call until the monotonic time `until`, saying to retry after `retry_after_s`
        (by default: when the throttling ends)."""
        self._throttled_until = until
        self._retry_after_s = retry_after_s

    def forget_before(self, now: float) -> None:
        """Let the calls older than the rolling window out of it."""
        while self._window and self._window[0] <= now - self.window_s:
            self._window.popleft()

    def refusal(self, now: float) -> Refusal | None:
        """Why a call at `now` is over a limit, or None when it may go through (see `take`)."""
        last_second = [at for at in self._window if at > now - 1.0] if self.per_second else []
        if self.per_second and len(last_second) >= self.per_second:
            headers = {**self.headers(now), "Retry-After": "1"}
            return Refusal("You have reached your secondly limit.", "SECONDLY", headers)
        if now < self._throttled_until or len(self._window) >= self.burst:
            wait = max(self._throttled_until - now, (self._window[0] + self.window_s - now) if self._window else 0)
            if now < self._throttled_until and self._retry_after_s is not None:
                wait = self._retry_after_s
            headers = {**self.headers(now), "Retry-After": str(max(1, round(wait + 0.5)))}
            return Refusal("You have reached your ten_secondly_rolling limit.", "TEN_SECONDLY_ROLLING", headers)
        return None

    def take(self, now: float) -> dict[str, str]:
        """Count a call let through at `now`; the rate-limit headers of its answer."""
        self._window.append(now)
        self._used_today += 1
        return self.headers(now)

    def headers(self, now: float) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Daily": str(self.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily - self._used_today)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.window_s * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.burst),
            "X-HubSpot-RateLimit-Remaining": str(
                0 if now < self._throttled_until else max(0, self.burst - len(self._window))
            ),
        }
