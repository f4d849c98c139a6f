"""The desk at a glance, in one call: the queue's length, who is online, who holds how many contacts."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel, Field

from rota.vocabulary import Status

from .core import RotaService
from .errors import error_responses


class UserLoad(BaseModel):
    id: str
    status: str | None = Field(description="online, away or offline")
    open: int = Field(description="contacts the user holds now")


class ServiceStatus(BaseModel):
    """What `rota status --url` prints."""

    queue_length: int = Field(description="contacts waiting in the queue")
    users_online: int = Field(description="users whose status is online, deleted users left out")
    open_contacts: int = Field(description="contacts held by users, deleted users' too (they keep theirs)")
    users: list[UserLoad] = Field(description="every user not deleted, in id order")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "queue_length": 2,
                    "users_online": 1,
                    "open_contacts": 3,
                    "users": [
                        {"id": "u1", "status": Status.ONLINE.value, "open": 3},
                        {"id": "u2", "status": Status.AWAY.value, "open": 0},
                    ],
                }
            ]
        }
    }


def add_status_routes(app: FastAPI, service: RotaService, authorized) -> None:
    @app.get("/v1/status", dependencies=authorized, response_model=ServiceStatus, responses=error_responses())
    def status() -> ServiceStatus:
        with service.lock:  # one moment: the queue and the counts agree
            everyone = service.engine.users()
            queue_length = service.engine.queue_length
        users = [user for user in everyone if not user.deleted]
        return ServiceStatus(
            queue_length=queue_length,
            users_online=sum(user.status == Status.ONLINE for user in users),
            open_contacts=sum(user.open for user in everyone),
            users=[UserLoad(id=user.id, status=user.status, open=user.open) for user in users],
        )
