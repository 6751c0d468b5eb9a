"""RFC 9457 problem details for every error a client can cause, a 503 while the database is
unreachable, and a last-resort 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.db.engine import database_unavailable

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or _TITLES.get(status, "Error")
        self.type = type_
        self.headers = headers
        self.extra = extra


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_: str = "about:blank",
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _location(loc: tuple) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        head, rest = parts[0], parts[1:]
        return f"{head} {'.'.join(rest)}" if rest else head
    return ".".join(parts) or "request"


def _allowed_methods(request: Request) -> str | None:
    """Every method of the routes declared on the path that matched: Starlette's 405 names only the
    first route's (GET, POST and DELETE /dashboard/session are three routes)."""
    path = getattr(request.scope.get("route"), "path", None)
    if path is None:
        return None
    methods = {
        m for route in iter_route_contexts(request.app.routes) if route.path == path for m in route.methods or ()
    }
    return ", ".join(sorted(methods)) or None


# FastAPI's words for a JSON body it could not even decode; the exception it raises it from says why.
_UNREAD_BODY = "There was an error parsing the body"


def _unreadable(cause: BaseException) -> str:
    """What is wrong with a JSON body that could not be decoded, in the sender's terms."""
    if isinstance(cause, UnicodeError):
        return "body: not UTF-8 text (a JSON body is UTF-8)"
    if isinstance(cause, RecursionError):
        return "body: arrays or objects nested too deeply"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return "body: a number with more digits than can be read"
    return f"body: not readable as JSON ({type(cause).__name__})"


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.detail,
            title=exc.title,
            type_=exc.type,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 400 and detail == _UNREAD_BODY and exc.__cause__ is not None:
            detail = _unreadable(exc.__cause__)
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": _allowed_methods(request) or (headers or {}).get("Allow", "")}
        return problem_response(exc.status_code, detail, instance=request.url.path, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": _location(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")} for e in exc.errors()
        ]
        first = errors[0] if errors else {"location": "request", "message": "invalid"}
        return problem_response(
            400, f"{first['location']}: {first['message']}", instance=request.url.path, errors=errors
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # A dropped connection (the database restarted: the pool replaces the connection, so the
        # retry goes through) or a database that cannot be reached or stays locked: the client
        # did nothing wrong and should come back, as for a broker outage at the door.
        if database_unavailable(exc):
            log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
            return problem_response(
                503,
                "the database is unavailable; retry shortly",
                instance=request.url.path,
                headers={"Retry-After": "1"},
            )
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            500, "internal error; it has been logged", title="Internal Server Error", instance=request.url.path
        )
