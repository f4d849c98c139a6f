"""Contact endpoints and the queue: route, close, a contact's state, the queue in order."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from rota import diagnostics as codes
from rota.engine import format_instant
from rota.storage import contact_attributes
from rota.vocabulary import EventType, Outcome

from .core import RotaService, utc_now
from .errors import ApiError, refused
from .inputs import json_object


def add_contact_routes(app: FastAPI, service: RotaService, authorized) -> None:
    @app.post("/v1/contacts/{contact_id}/route", dependencies=authorized)
    async def route(contact_id: str, request: Request):
        body = await json_object(request) if await request.body() else {}
        attrs = body.get("attrs", {})
        if not isinstance(attrs, dict):
            raise refused(codes.ATTRS_NOT_OBJECT, "body.attrs", "`attrs` must be an object")
        try:  # the same value rules as a contacts file and a `route` event (rota.storage.kinds)
            attrs = contact_attributes(attrs)
        except ValueError as error:
            raise refused(codes.BAD_ATTRIBUTE, "body.attrs", str(error)) from None
        started = time.perf_counter()
        own = await service.apply(EventType.ROUTE.value, contact=contact_id, attrs=attrs)
        service.latency.observe(time.perf_counter() - started)
        if own:  # a plain JSONResponse: the row is JSON already, FastAPI need not re-encode it
            return JSONResponse(own[0].row())
        with service.lock:  # already queued: it keeps its place, and no row is written
            entry = service.engine.queue_entry(contact_id)
            return {
                "at": format_instant(utc_now()),
                "contact": contact_id,
                "route": entry.route if entry else None,
                "outcome": Outcome.QUEUED.value,
                "user": None,
                "reason": None,
                "deadline": format_instant(entry.deadline) if entry else None,
            }

    @app.post("/v1/contacts/{contact_id}/close", dependencies=authorized, status_code=204)
    async def close(contact_id: str):
        known_contact(service, contact_id)
        await service.apply(EventType.CLOSE.value, contact=contact_id)
        return Response(status_code=204)

    @app.get("/v1/contacts/{contact_id}", dependencies=authorized)
    def contact(contact_id: str):
        with service.lock:
            state = known_contact(service, contact_id)
            entry = service.engine.queue_entry(contact_id)
            return {
                "id": contact_id,
                "assignee": state.contact.assignee,
                "closed": state.closed,
                "queued": queue_entry_view(entry) if entry else None,
                "attrs": state.contact.attributes,
            }

    @app.get("/v1/queue", dependencies=authorized)
    def queue():
        with service.lock:
            return [queue_entry_view(entry) for entry in service.engine.queued()]


def queue_entry_view(entry) -> dict[str, Any]:
    return {
        "contact": entry.contact,
        "route": entry.route,
        "priority": entry.priority,
        "enqueued_at": format_instant(entry.enqueued_at),
        "deadline": format_instant(entry.deadline),
    }


def known_contact(service: RotaService, contact_id: str):
    state = service.engine.contact(contact_id)
    if state is None:
        raise ApiError(404, "unknown_contact", f"no contact `{contact_id}`; route it first")
    return state
