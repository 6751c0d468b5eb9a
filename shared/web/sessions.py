"""The request's database session, for the services' endpoints: a parameter `session: DatabaseSession`.

One session per request, from the running service's session factory (`create_service_app` puts
it on `app.state.sessions`), closed when the response is done. The endpoint decides about
transactions: reads need none, commands open one (`async with session.begin()`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession


async def database_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


DatabaseSession = Annotated[AsyncSession, Depends(database_session)]
