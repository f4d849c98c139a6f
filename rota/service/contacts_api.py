"""Contact endpoints and the queue: route, close, reply, a contact's state, the queue in order."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse

from rota import diagnostics as codes
from rota.engine import format_instant
from rota.storage import contact_attributes
from rota.vocabulary import EventType, Outcome

from .core import RotaService, utc_now
from .errors import ApiError, error_responses, refused
from .inputs import ContactId
from .models import ContactBody, DecisionRow, QueueEntryBody, ReplyRequest, RouteRequest

CHANGING = error_responses(400, 503)


def add_contact_routes(app: FastAPI, service: RotaService, authorized) -> None:
    # `{contact_id:path}`: an id may hold `/`; the longest match wins, so `a/route/route` routes `a/route`.
    @app.post(
        "/v1/contacts/{contact_id:path}/route", dependencies=authorized, response_model=DecisionRow, responses=CHANGING
    )
    async def route(contact_id: ContactId, body: RouteRequest | None = None):
        """Route a contact (again): the decision, as a replay row; an already queued contact keeps its place."""
        return await route_contact(service, contact_id, route_attributes(body))

    @app.post(
        "/v1/contacts/{contact_id:path}/close",
        dependencies=authorized,
        status_code=204,
        response_class=Response,
        responses=error_responses(404, 503),
    )
    async def close(contact_id: ContactId):
        """Close a contact: its assignee loses it, or it leaves the queue."""
        known_contact(service, contact_id)
        return await close_contact(service, contact_id)

    @app.post(
        "/v1/contacts/{contact_id:path}/reply",
        dependencies=authorized,
        status_code=204,
        response_class=Response,
        responses=error_responses(400, 404, 503),
    )
    async def reply(contact_id: ContactId, body: ReplyRequest):
        """A user replied to the contact (SPEC 4.1): its assignee's reply clears the contact's `unanswered`
        timer; anyone else's changes nothing."""
        known_contact(service, contact_id)
        await service.apply(EventType.REPLY.value, contact=contact_id, user=body.user)
        return Response(status_code=204)

    @app.get(
        "/v1/contacts/{contact_id:path}",
        dependencies=authorized,
        response_model=ContactBody,
        responses=error_responses(404),
    )
    def contact(contact_id: ContactId):
        """A contact's state: its assignee, or its place in the queue, or neither; its release timers
        and the users it was released from."""
        with service.lock:
            state = known_contact(service, contact_id)
            entry = service.engine.queue_entry(contact_id)
            return {
                "id": contact_id,
                "assignee": state.contact.assignee,
                "closed": state.closed,
                "queued": queue_entry_view(entry) if entry else None,
                "attrs": state.contact.attributes,
                "timers": [
                    {"trigger": timer.trigger, "route": timer.route, "due": format_instant(timer.due)}
                    for timer in service.engine.release_timers(contact_id)
                ],
                "released": sorted(state.contact.released),
            }

    @app.get("/v1/queue", dependencies=authorized, response_model=list[QueueEntryBody], responses=error_responses())
    def queue():
        """The queued contacts in queue order, with their deadlines."""
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


def route_attributes(body: RouteRequest | None) -> dict[str, Any]:
    """The attributes of a route request, by the same value rules as a contacts file and a `route` event
    (rota.storage.kinds); refused (422) before anything changes."""
    try:
        return contact_attributes(body.attrs.model_dump(exclude_unset=True) if body is not None else {})
    except ValueError as error:
        raise refused(codes.BAD_ATTRIBUTE, "body.attrs", str(error)) from None


async def route_contact(service: RotaService, contact_id: str, attrs: dict[str, Any]) -> JSONResponse:
    """Route a checked request: the decision once durable (a plain JSONResponse: the row is JSON already,
    FastAPI need not check and re-encode it)."""
    started = time.perf_counter()
    own = await service.apply(EventType.ROUTE.value, contact=contact_id, attrs=attrs)
    service.latency.observe(time.perf_counter() - started)
    if own:
        return JSONResponse(own[0].row())
    with service.lock:  # already queued: it keeps its place, and no row is written
        entry = service.engine.queue_entry(contact_id)
        return JSONResponse(
            {
                "at": format_instant(utc_now()),
                "contact": contact_id,
                "route": entry.route if entry else None,
                "outcome": Outcome.QUEUED.value,
                "user": None,
                "reason": None,
                "deadline": format_instant(entry.deadline) if entry else None,
            }
        )


async def close_contact(service: RotaService, contact_id: str) -> Response:
    """Close a known contact, once durable."""
    await service.apply(EventType.CLOSE.value, contact=contact_id)
    return Response(status_code=204)
