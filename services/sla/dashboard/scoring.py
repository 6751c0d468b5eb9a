"""The scoring service as the dashboard reads it: its funnel and its scorecard, over one pooled HTTP client.

The client is opened by the SLA bootstrap and closed with the runtime, so connections are
reused across page refreshes and nothing is opened at import time. It calls with a viewer key
of its own (LOCKSTEP_SCORING_KEY): the dashboard's visitors sign in with a session that scoring
knows nothing of, and their keys are never held here.
"""

from __future__ import annotations

import httpx

# Long enough for a funnel over a large window, short enough that a page does not hang on a dead service.
TIMEOUT = httpx.Timeout(10.0, connect=2.0)


class ScoringUnavailable(Exception):
    """The scoring service could not be reached or gave no usable answer."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status  # 503: unreachable or too slow; 502: it answered, but not with a report
        self.detail = detail


class ScoringClient:
    def __init__(self, base_url: str, key: str | None, *, timeout: httpx.Timeout = TIMEOUT) -> None:
        headers = {"Accept": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._keyed = bool(key)
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, headers=headers, follow_redirects=False)

    async def funnel(self, params: dict[str, str]) -> httpx.Response:
        """Scoring's `GET /funnel` answer as it came: a report, or its 400 problem for a query it refuses."""
        return await self._report("/funnel", "the funnel", params)

    async def scorecard(self, params: dict[str, str]) -> httpx.Response:
        """Scoring's `GET /scorecard` answer as it came: the month's document, or its 400 problem."""
        return await self._report("/scorecard", "the scorecard", params)

    async def _report(self, path: str, what: str, params: dict[str, str]) -> httpx.Response:
        if not self._keyed:
            raise ScoringUnavailable(503, f"{what} needs LOCKSTEP_SCORING_KEY (a viewer key for the scoring service)")
        try:
            answer = await self._http.get(path, params=params)
        except httpx.TimeoutException:
            raise ScoringUnavailable(503, "the scoring service (LOCKSTEP_SCORING_URL) did not answer in time") from None
        except httpx.TransportError:
            raise ScoringUnavailable(503, "the scoring service (LOCKSTEP_SCORING_URL) is unreachable") from None
        media_type = answer.headers.get("content-type", "").split(";")[0].strip()
        if (answer.status_code == 200 and media_type == "application/json") or (
            answer.status_code == 400 and media_type == "application/problem+json"
        ):
            return answer
        if answer.status_code in (401, 403):
            raise ScoringUnavailable(
                502,
                f"the scoring service refused LOCKSTEP_SCORING_KEY ({answer.status_code}):"
                " revoked, or not a key of this deployment",
            )
        # Anything else is not the caller's doing: a 404 means the URL is not the scoring service,
        # a 5xx that scoring failed.
        raise ScoringUnavailable(
            502,
            f"the scoring service (LOCKSTEP_SCORING_URL) answered {answer.status_code}"
            f" {media_type or 'without a content type'} to GET {path}",
        )

    async def close(self) -> None:
        await self._http.aclose()
