"""User and team endpoints: a user's fields and status, deletion, team membership."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response

from rota import diagnostics as codes
from rota.engine import format_instant
from rota.storage import user_attributes
from rota.vocabulary import EventType, Status, UserField

from .core import RotaService
from .errors import ApiError, refused
from .inputs import json_object

STATUSES = Status.texts()
# The fields of PUT /v1/users/{id} a User has itself; the rest of the body is refused, `attrs` holds the others.
USER_BODY_FIELDS = (UserField.STATUS.value, UserField.NAME.value)


def add_user_routes(app: FastAPI, service: RotaService, authorized) -> None:
    @app.put("/v1/users/{user_id}", dependencies=authorized)
    async def put_user(user_id: str, request: Request):
        body = await json_object(request)
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
        return user_view(service, user_id)

    @app.delete("/v1/users/{user_id}", dependencies=authorized, status_code=204)
    async def delete_user(user_id: str):
        known_user(service, user_id)
        await service.apply(EventType.DELETE.value, user=user_id)
        return Response(status_code=204)

    @app.put("/v1/teams/{team}/members/{user_id}", dependencies=authorized, status_code=204)
    async def join(team: str, user_id: str):
        known_user(service, user_id)
        await service.apply(EventType.JOIN.value, user=user_id, team=team)
        return Response(status_code=204)

    @app.delete("/v1/teams/{team}/members/{user_id}", dependencies=authorized, status_code=204)
    async def leave(team: str, user_id: str):
        known_user(service, user_id)
        await service.apply(EventType.LEAVE.value, user=user_id, team=team)
        return Response(status_code=204)


def user_view(service: RotaService, user_id: str) -> dict[str, Any]:
    with service.lock:
        user = known_user(service, user_id)
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


def known_user(service: RotaService, user_id: str):
    user = service.engine.user(user_id)
    if user is None:
        raise ApiError(404, "unknown_user", f"no user `{user_id}`; create it with PUT /v1/users/{user_id}")
    return user
