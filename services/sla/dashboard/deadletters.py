"""The dashboard's dead-letter panel: the whole pipeline's dead letters, and this service's own.

The SLA service sees its own metrics only, so the panel shows two things:
- the pipeline's: how many records the dead-letter topic holds (its offsets, within retention)
  and the latest ones (where they came from, which consumer, the error's type and the event
  type; never the error's text, the key or the record: they may hold personal data);
- this service's: what its consumer dead-lettered since it started, per original topic (the
  `lockstep_deadlettered_total` counter of its /metrics).
Dead letters stay on the topic after a replay; the panel counts records, not open problems.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from shared.bus.deadletter import DeadLetter
from shared.bus.scan import TopicMissing, TopicTail
from shared.web.access import Viewer
from shared.web.problems import Problem

router = APIRouter(tags=["dashboard"])
LATEST = 10  # shown; read per partition, the newest of all kept
CACHE_S = 5.0  # open pages poll; Kafka is asked at most this often
TIMEOUT_S = 5.0


class DeadLetterPanel:
    """What the panel shows, read from Kafka at most every CACHE_S seconds."""

    def __init__(self, tail: TopicTail, topic: str) -> None:
        self._tail = tail
        self._topic = topic
        self._cached: tuple[float, dict] | None = None
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self._tail.close()

    async def pipeline(self) -> dict:
        async with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < CACHE_S:
                return self._cached[1]
            async with asyncio.timeout(TIMEOUT_S):
                count, records = await self._tail.read(self._topic, LATEST)
            letters = sorted(
                (DeadLetter.from_record(r) for r in records), key=lambda d: (d.failed_at is None, d.failed_at)
            )[-LATEST:]
            view = {
                "topic": self._topic,
                "records": count,
                "latest": [
                    {
                        "failed_at": letter.failed_at.isoformat() if letter.failed_at else None,
                        "topic": letter.original_topic,
                        "consumer": letter.consumer,
                        "error_type": letter.error_type,
                        "type": letter.event_type,
                    }
                    for letter in reversed(letters)
                ],
            }
            self._cached = (time.monotonic(), view)
            return view


@router.get(
    "/dashboard/deadletters",
    summary="Dead letters: the pipeline's dead-letter topic (count, latest) and this service's consumer's",
    responses={503: {"description": "Kafka did not answer; `this_service` is in the problem's extension"}},
)
async def dashboard_deadletters(caller: Viewer, request: Request) -> JSONResponse:
    service = request.app.state.service
    deadletters = service.runtime.deadletters
    this_service = deadletters.by_topic() if deadletters is not None else {}
    try:
        pipeline = await service.deadletters.pipeline()
    except (KafkaError, OSError, TimeoutError, TopicMissing) as exc:  # Kafka away: say so, the page keeps the rest
        raise Problem(
            503,
            f"the dead-letter topic could not be read ({type(exc).__name__})",
            headers={"Retry-After": "5"},
            this_service=this_service,
        ) from None
    return JSONResponse({**pipeline, "this_service": this_service}, headers={"Cache-Control": "no-store"})
