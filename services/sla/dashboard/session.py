"""Signing in to the dashboard: a key pasted once becomes a session cookie (shared/access/sessions.py).

The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it),
Secure when the request came over HTTPS (directly, or through a proxy listed in
LOCKSTEP_TRUSTED_PROXIES), valid for LOCKSTEP_SESSION_TTL. Its value names the key and is
re-checked in the key ring on every request, so revoking the key ends the session. The page
gets the session's CSRF token in the JSON answers here and echoes it on every state change.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from shared.access.sessions import COOKIE, SessionSeal
from shared.web.access import Caller, Viewer, guard
from shared.web.problems import Problem

router = APIRouter(tags=["dashboard"])


class SignIn(BaseModel):
    key: str = Field(max_length=200, description="An API key, `lsk_...`, of any role")


class SessionView(BaseModel):
    name: str = Field(description="The key's name")
    role: str
    expires_at: datetime | None = Field(description="When the session ends (null: a key, not a session)")
    csrf_token: str | None = Field(description="Send as X-CSRF-Token on requests that change state (sessions only)")


def _seal(request: Request) -> SessionSeal:
    seal = guard(request).sessions
    assert seal is not None, "the SLA bootstrap sets it"
    return seal


def _view(caller: Caller, seal: SessionSeal) -> SessionView:
    csrf = seal.csrf_token(caller.session) if caller.session else None
    return SessionView(name=caller.name, role=caller.role.value, expires_at=caller.expires_at, csrf_token=csrf)


async def _audit(request: Request, caller: Caller, action: str) -> None:
    service = request.app.state.service
    async with service.runtime.sessions() as session, session.begin():
        await service.audit.record(session, caller.name, action, caller.key_id)


def _json_only(request: Request) -> None:
    """JSON only: a cross-site form or a typeless body (which FastAPI would read as JSON) cannot sign a
    visitor in under someone else's key. A dependency, so that it answers before the body is parsed."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise Problem(415, "content type must be application/json")


@router.post(
    "/dashboard/session",
    summary="Sign in with a key: sets the dashboard's session cookie",
    dependencies=[Depends(_json_only)],
    responses={
        401: {"description": "Not a valid key"},
        415: {"description": "The body is not JSON"},
        429: {"description": "Too many failed sign-ins from this address; retry after Retry-After"},
    },
)
async def sign_in(body: SignIn, request: Request, response: Response) -> SessionView:
    key = guard(request).sign_in(request, body.key.strip().encode())
    seal = _seal(request)
    token, expires_at = seal.issue(key.key_id)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(seal.ttl.total_seconds()),
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    caller = Caller(key.key_id, key.name, key.role, token, expires_at)
    await _audit(request, caller, "session.sign_in")
    return _view(caller, seal)


@router.get("/dashboard/session", summary="Who is signed in, and the session's CSRF token")
async def current_session(caller: Viewer, request: Request) -> SessionView:
    return _view(caller, _seal(request))


@router.delete("/dashboard/session", status_code=204, summary="Sign out: the session cookie is removed")
async def sign_out(caller: Viewer, request: Request) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="strict")
    if caller.session:
        await _audit(request, caller, "session.sign_out")
    return response
