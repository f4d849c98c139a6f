"""The endpoints of SPEC 5.2: policies, users and teams, contacts, the queue, decisions, metrics."""

from __future__ import annotations

import json
import time
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import generate_latest

from rota import diagnostics as codes
from rota.dsl import PolicySource, analyze
from rota.engine import format_instant, parse_instant
from rota.storage import contact_attributes, user_attributes
from rota.vocabulary import EventType, Outcome, Status, UserField
from rota.wording import plural

from .auth import bearer
from .core import RotaService, utc_now
from .errors import ApiError, install_body_limit, install_error_handlers, refused

STATUSES = Status.texts()
# The fields of PUT /v1/users/{id} a User has itself; the rest of the body is refused, `attrs` holds the others.
USER_BODY_FIELDS = (UserField.STATUS.value, UserField.NAME.value)


def create_app(service: RotaService) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.start()
        yield
        service.stop()

    app = FastAPI(title="rota", description="Routing policies as a service (SPEC 5.2).", version="1", lifespan=lifespan)
    install_error_handlers(app)
    install_body_limit(app)
    authorized = [Depends(bearer(service.token))]

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    _policy_routes(app, service, authorized)
    _user_routes(app, service, authorized)
    _contact_routes(app, service, authorized)

    @app.get("/v1/queue", dependencies=authorized)
    def queue():
        with service.lock:
            return [_entry(entry) for entry in service.engine.queued()]

    @app.get("/v1/decisions", dependencies=authorized)
    def decisions(
        contact: str | None = None,
        user: str | None = None,
        route: str | None = None,
        outcome: str | None = None,
        since: str | None = None,
        limit: int = 100,
    ):
        moment = _time(since, "since") if since else None
        rows = service.engine.decisions(
            contact=contact, user=user, route=route, outcome=outcome, since=moment, limit=max(1, min(limit, 10_000))
        )
        return [{**row, "at": format_instant(row["at"]), "deadline": format_instant(row["deadline"])} for row in rows]

    @app.get("/metrics", dependencies=authorized)
    def metrics():
        return PlainTextResponse(generate_latest(service.registry).decode(), media_type="text/plain; version=0.0.4")

    return app


# ---------------------------------------------------------------- endpoints


def _policy_routes(app: FastAPI, service: RotaService, authorized) -> None:
    @app.put("/v1/policy", dependencies=authorized)
    async def put_policy(request: Request):
        text = (await request.body()).decode("utf-8", errors="replace")
        policy, diagnostics = analyze(text, "policy")
        errors = [d for d in diagnostics if d.is_error]
        if policy is None:
            raise ApiError(
                422,
                "policy_invalid",
                f"the policy has {plural(len(errors), 'error')}",
                diagnostics=[diagnostic.to_json() for diagnostic in errors],
            )
        compiled = await service.change(service.engine.use_policy, text, utc_now())
        return {"version": compiled.version, "routes": [route.name for route in compiled.routes]}

    @app.get("/v1/policy", dependencies=authorized)
    def get_policy():
        source = service.engine.policy_source
        answer = {"version": service.engine.policy.version, "text": source.joined()}
        if not source.is_one_file:  # a folder: its files apart, each with its text
            answer["files"] = [{"file": file, "text": text} for file, text in source.files]
        return answer

    @app.get("/v1/policies", dependencies=authorized)
    def list_policies():
        active = service.engine.policy.version
        versions = service.engine.policy_versions()
        return [
            {"version": v["version"], "created_at": format_instant(v["created_at"]), "active": v["version"] == active}
            for v in versions
        ]

    @app.post("/v1/policies/{version}/activate", dependencies=authorized)
    async def activate(version: str):
        """Roll back (or forward) to a version kept in the database."""
        kept = {v["version"]: v["text"] for v in service.engine.policy_versions()}
        if version not in kept:
            raise ApiError(404, "unknown_policy", f"no policy version `{version}`")
        compiled = await service.change(service.engine.use_policy, PolicySource.decode(kept[version]), utc_now())
        return {"version": compiled.version, "routes": [route.name for route in compiled.routes]}


def _user_routes(app: FastAPI, service: RotaService, authorized) -> None:
    @app.put("/v1/users/{user_id}", dependencies=authorized)
    async def put_user(user_id: str, request: Request):
        body = await _json_object(request)
        attrs = body.get("attrs", {})
        if not isinstance(attrs, dict):
            raise refused(codes.ATTRS_NOT_OBJECT, "body.attrs", "`attrs` must be an object")
        status, name = UserField.STATUS.value, UserField.NAME.value
        if status in body and body[status] not in STATUSES:
            raise refused(codes.UNKNOWN_STATUS, f"body.{status}", f"`{status}` must be one of {', '.join(STATUSES)}")
        if name in body and not isinstance(body[name], (str, type(None))):
            raise refused(codes.NAME_NOT_TEXT, f"body.{name}", f"`{name}` must be a string")
        changes = {**attrs, **{key: body[key] for key in USER_BODY_FIELDS if key in body}}
        try:  # the same value rules as a snapshot and a `user` event (rota.storage.kinds)
            changes = user_attributes(changes)
        except ValueError as error:
            raise refused(codes.BAD_ATTRIBUTE, "body.attrs", str(error)) from None
        await service.apply(EventType.USER.value, user=user_id, attrs=changes)
        return _user(service, user_id)

    @app.delete("/v1/users/{user_id}", dependencies=authorized, status_code=204)
    async def delete_user(user_id: str):
        _known_user(service, user_id)
        await service.apply(EventType.DELETE.value, user=user_id)
        return Response(status_code=204)

    @app.put("/v1/teams/{team}/members/{user_id}", dependencies=authorized, status_code=204)
    async def join(team: str, user_id: str):
        _known_user(service, user_id)
        await service.apply(EventType.JOIN.value, user=user_id, team=team)
        return Response(status_code=204)

    @app.delete("/v1/teams/{team}/members/{user_id}", dependencies=authorized, status_code=204)
    async def leave(team: str, user_id: str):
        _known_user(service, user_id)
        await service.apply(EventType.LEAVE.value, user=user_id, team=team)
        return Response(status_code=204)


def _contact_routes(app: FastAPI, service: RotaService, authorized) -> None:
    @app.post("/v1/contacts/{contact_id}/route", dependencies=authorized)
    async def route(contact_id: str, request: Request):
        body = await _json_object(request) if await request.body() else {}
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
        _known_contact(service, contact_id)
        await service.apply(EventType.CLOSE.value, contact=contact_id)
        return Response(status_code=204)

    @app.get("/v1/contacts/{contact_id}", dependencies=authorized)
    def contact(contact_id: str):
        with service.lock:
            state = _known_contact(service, contact_id)
            entry = service.engine.queue_entry(contact_id)
            return {
                "id": contact_id,
                "assignee": state.contact.assignee,
                "closed": state.closed,
                "queued": _entry(entry) if entry else None,
                "attrs": state.contact.attributes,
            }


# ------------------------------------------------------------------ helpers


def _entry(entry) -> dict[str, Any]:
    return {
        "contact": entry.contact,
        "route": entry.route,
        "priority": entry.priority,
        "enqueued_at": format_instant(entry.enqueued_at),
        "deadline": format_instant(entry.deadline),
    }


def _user(service: RotaService, user_id: str) -> dict[str, Any]:
    with service.lock:
        user = _known_user(service, user_id)
        return {
            "id": user.id,
            "name": user.name,
            "status": user.status,
            "deleted": user.deleted,
            "open": user.open,
            "teams": list(user.teams),
            "last_assigned_at": format_instant(user.last_assigned_at),
            "attrs": user.attributes,
        }


def _known_user(service: RotaService, user_id: str):
    user = service.engine.user(user_id)
    if user is None:
        raise ApiError(404, "unknown_user", f"no user `{user_id}`; create it with PUT /v1/users/{user_id}")
    return user


def _known_contact(service: RotaService, contact_id: str):
    state = service.engine.contact(contact_id)
    if state is None:
        raise ApiError(404, "unknown_contact", f"no contact `{contact_id}`; route it first")
    return state


def _time(text: str, name: str) -> datetime:
    try:
        return parse_instant(text)
    except ValueError:
        raise refused(codes.PARAMETER_NOT_TIME, f"query.{name}", f"`{name}` must be an ISO 8601 time") from None


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as error:
        raise refused(
            codes.BODY_NOT_JSON, "body", f"the body is not JSON: {error}", status=400, error="malformed_json"
        ) from None
    if not isinstance(body, dict):
        raise refused(codes.BODY_NOT_OBJECT, "body", "the body must be a JSON object")
    return body
