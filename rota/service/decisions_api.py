"""The decision log: committed decisions, filtered or paged by sequence number, and streamed as they commit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import FastAPI, Header, Query, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from rota import diagnostics as codes

from .core import RotaService
from .errors import error_responses, refused
from .feed import DecisionFeed, decision_json, row_json
from .inputs import MAX_LIMIT, Limit, OutcomeFilter, Since, instant_parameter
from .models import LoggedDecision

# The most rows one answer carries (`limit` is held to 1..this).
DECISIONS_AT_MOST = MAX_LIMIT

NEXT_AFTER_HEADER = "X-Rota-Next-After"
SEQ_PATTERN = r"^(-1|[0-9]+)$"
# One event of the stream as schemathesis and readers of the contract see it.
SSE_EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": SEQ_PATTERN},
        "event": {"type": "string"},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}
LAST_EVENT_ID_PARAMETER = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "description": "the last `id:` the client received: the stream resumes after it",
    "schema": {"type": "string", "pattern": SEQ_PATTERN},
}
STREAM_BATCH = 256  # events written at a time to one client, which then waits for the client to read them


def add_decision_routes(app: FastAPI, service: RotaService, authorized) -> None:
    @app.get("/v1/decisions", dependencies=authorized, response_model=list[LoggedDecision], responses=error_responses())
    def decisions(
        response: Response,
        contact: str | None = None,
        user: str | None = None,
        route: str | None = None,
        outcome: OutcomeFilter = None,
        since: Since = None,
        after: int | None = Query(None, ge=-1, description="the sequence number to page after (-1: from the first)"),
        limit: Limit = 100,
    ):
        """The last `limit` committed decisions that match, newest last."""
        moment = instant_parameter(since, "since") if since is not None else None
        rows = service.engine.decisions(
            contact=contact,
            user=user,
            route=route,
            outcome=outcome.value if outcome else None,
            since=moment,
            after=after,
            limit=limit,
        )
        next_after = rows[-1]["seq"] if rows else after
        if next_after is not None:
            response.headers[NEXT_AFTER_HEADER] = str(next_after)
        return [decision_json(row) for row in rows]

    @app.get(
        "/v1/decisions/stream",
        dependencies=authorized,
        response_class=StreamingResponse,
        # Documented by hand: a header FastAPI declares from `str | None` would admit JSON's null.
        openapi_extra={"parameters": [LAST_EVENT_ID_PARAMETER]},
        responses={
            **error_responses(422, by_reference=True),
            200: {
                "description": "server-sent events: `id:` a decision's seq, `data:` its row as JSON",
                "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}},
            },
        },
    )
    async def stream(
        after: int | None = Query(None, ge=-1),
        last_event_id: str | None = Header(None, include_in_schema=False),
    ):
        start = service.feed.last_seq if after is None else after
        if last_event_id is not None:  # a client reconnecting: it says the last event it had
            start = _event_id(last_event_id)
        return StreamingResponse(
            _events(service, start),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


def _event_id(text: str) -> int:
    if not text.strip().lstrip("-").isdigit() or int(text) < -1:
        raise refused(
            codes.INVALID_PARAMETER,
            "header.last-event-id",
            f"`Last-Event-ID` must be a decision's sequence number (`id:` of an event), got {text!r}",
        )
    return int(text)


async def _events(service: RotaService, seq: int) -> AsyncIterator[str]:
    """Server-sent events: `id:` the sequence number, `data:` the row; a comment line when idle."""
    feed: DecisionFeed = service.feed
    wake = feed.listen()
    try:
        yield ": rota decisions\n\n"  # sent at once, so the client and any proxy see the stream open
        while not service.streams_ended:
            wake.clear()  # before reading: a commit after the read sets it again
            rows = feed.recent_after(seq, STREAM_BATCH)
            if rows is None:  # far behind: read from the engine file, off the event loop
                rows = await run_in_threadpool(feed.stored_after, seq, STREAM_BATCH)
            if rows:
                yield "".join(f"id: {row[0]}\ndata: {json.dumps(row_json(row))}\n\n" for row in rows)
                seq = rows[-1][0]
                continue
            try:
                await asyncio.wait_for(wake.wait(), service.stream_heartbeat)
            except asyncio.TimeoutError:
                yield ": heartbeat\n\n"
    finally:
        feed.forget(wake)
