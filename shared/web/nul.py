"""Refuse a NUL character anywhere in the URL, before any endpoint sees it.

PostgreSQL cannot store or compare text holding NUL: a `%00` in a query or path parameter
that reached a query was a 500 there (SQLite did not mind, so it stayed hidden). No parameter
of these APIs can sensibly hold one, so one check answers them all with a 400 problem.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.web.problems import problem_response


class RefuseNulInUrl:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"] or b"%00" in scope["query_string"] or b"\x00" in scope["query_string"]
        ):
            response = problem_response(
                400,
                "the URL holds a NUL character (%00), which no parameter accepts",
                instance=scope["path"].replace("\x00", "%00"),
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
