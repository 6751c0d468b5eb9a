"""A JSON body that cannot even be decoded gets a 400 problem saying why, not FastAPI's
"There was an error parsing the body"."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from shared.web.problems import install_problem_handlers


class Search(BaseModel):
    email: str


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/search")
    async def search(body: Search) -> dict:
        return {"email": body.email}

    return app


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"email": "ad\xe9@acme.io"}', "body: not UTF-8 text (a JSON body is UTF-8)"),
        (b'{"email": "a@acme.io", "n": ' + b"9" * 5000 + b"}", "body: a number with more digits than can be read"),
    ],
)
async def test_an_undecodable_json_body_is_a_400_problem_saying_why(body, said):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://test") as client:
        answer = await client.post("/search", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400 and answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["detail"] == said


async def test_a_readable_body_still_reaches_the_route():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://test") as client:
        answer = await client.post("/search", json={"email": "ada@acme.io"})
    assert answer.status_code == 200 and answer.json() == {"email": "ada@acme.io"}
