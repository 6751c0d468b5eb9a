"""The OpenAPI document says what the services really answer on errors.

FastAPI documents a 422 with its own `HTTPValidationError` body for every operation with
parameters, but `problems.install_problem_handlers` answers a request it cannot validate with a
400 RFC 9457 problem document, as it answers every other error. Left alone, the document
promises a status and a body no client ever gets (the contract fuzz tests,
tests/e2e/test_openapi_fuzz.py, check the services against it). So the generated document is
rewritten once: the 422 becomes a 400 problem, every operation behind a key declares the
refusals of shared/web/access.py, and every error response declared without a body is declared
as a problem document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from shared.web.problems import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "Every invalid parameter of a request that could not be validated",
            "items": {
                "type": "object",
                "required": ["location", "message"],
                "properties": {"location": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
_REFUSALS = {
    "401": {"description": "No valid key: missing, malformed, unknown, wrong or revoked (or no valid session)"},
    "403": {"description": "The key's role is too weak (or a session request lacks its CSRF token)"},
    "429": {"description": "Too many failed authentications from this address; retry after Retry-After"},
}


def document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Rewrite a generated document in place (and return it)."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if operation.get("security"):
                for status, response in _REFUSALS.items():
                    responses.setdefault(status, dict(response))
            if responses.pop("422", None) is not None:
                responses.setdefault(
                    "400", {"description": "The request is invalid; `errors` names every invalid parameter"}
                )
            for status, response in responses.items():
                if status[0] in "45" and "content" not in response:
                    response["content"] = _PROBLEM_CONTENT
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    return document


def install_problem_documentation(app: FastAPI) -> None:
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented hook for a custom document
