"""Running a service app in-process, lifespan included, behind an httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI


@asynccontextmanager
async def running(
    app: FastAPI, base_url: str = "https://hooks.example.com", headers: Mapping[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """`headers` go with every request (an API key: tests/support/access.py)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers) as client:
            yield client
