"""Keeping to a CRM's rate window: at most `limit` calls in any `window_s` seconds, fewer when the
vendor's headers say fewer, none while it asked us to wait (429 with Retry-After) or said none are left.

The writer is the only caller of its CRM in the deployment (one leads at a time), so counting its own
calls is what keeps it under the window; the vendor's headers (`Allowance`) correct the count when
something else uses the same allowance. Times are plain seconds from whatever clock the writer uses,
so tests drive it with a fake one.
"""

from __future__ import annotations

from collections import deque

from services.scoring.writeback.vendor import Allowance


class Pacer:
    # Past a window's edge by this share of it: the vendor counts a call when it arrives, a few
    # milliseconds after it left, so a call sent right at the edge may still land in the old window.
    MARGIN = 0.02
    # Below this share of a vendor's allowance left (Salesforce's daily one, read from Sforce-Limit-Info),
    # calls are spread at the allowance's average rate instead of spending the rest at full speed: the
    # allowance is shared with the organisation's other integrations, which must not find it spent.
    RESERVE = 0.1

    def __init__(self, limit: int, window_s: float) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("a rate window needs at least one call per positive number of seconds")
        self.limit = limit
        self.window_s = window_s
        self._sent: deque[float] = deque()
        self._held_until = 0.0
        self._last: float | None = None  # the latest call, kept past the window for the reserve's pace

    def sent(self, at: float) -> None:
        """A call went out at `at`."""
        self._sent.append(at)
        self._last = at if self._last is None else max(self._last, at)

    def hold(self, at: float, seconds: float) -> None:
        """The vendor asked for `seconds` of quiet from `at` on (Retry-After, or its window's reset)."""
        self._held_until = max(self._held_until, at + max(0.0, seconds))

    def wait_s(self, at: float, allowance: Allowance | None = None) -> float:
        """Seconds to wait from `at` before the next call may go (0: now)."""
        limit, window = self.limit, self.window_s
        # The vendor's own figure for its window, when smaller (a lower tier than configured).
        if (
            allowance
            and allowance.limit
            and allowance.window_s
            and allowance.limit / allowance.window_s < limit / window
        ):
            limit, window = allowance.limit, allowance.window_s
        while self._sent and self._sent[0] <= at - window * (1 + self.MARGIN):
            self._sent.popleft()
        wait = max(0.0, self._held_until - at)
        if self._last is not None and allowance and _running_low(allowance, self.RESERVE):
            assert allowance.limit and allowance.window_s
            wait = max(wait, self._last + allowance.window_s / allowance.limit - at)
        if len(self._sent) >= limit:
            wait = max(wait, self._sent[len(self._sent) - limit] + window * (1 + self.MARGIN) - at)
        return wait

    def observed(self, at: float, allowance: Allowance) -> None:
        """What the vendor said of its window after a call at `at`: nothing left means quiet until it resets."""
        if allowance.remaining is not None and allowance.remaining <= 0:
            self.hold(
                at, allowance.resets_in_s if allowance.resets_in_s is not None else allowance.window_s or self.window_s
            )


def _running_low(allowance: Allowance, reserve: float) -> bool:
    return bool(
        allowance.limit
        and allowance.window_s
        and allowance.remaining is not None
        and allowance.remaining <= reserve * allowance.limit
    )
