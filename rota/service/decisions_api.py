"""The decision log: committed decisions, filtered."""

from __future__ import annotations

from fastapi import FastAPI

from rota.engine import format_instant

from .core import RotaService
from .inputs import instant_parameter

# The most rows one answer carries (`limit` is held to 1..this).
DECISIONS_AT_MOST = 10_000


def add_decision_routes(app: FastAPI, service: RotaService, authorized) -> None:
    @app.get("/v1/decisions", dependencies=authorized)
    def decisions(
        contact: str | None = None,
        user: str | None = None,
        route: str | None = None,
        outcome: str | None = None,
        since: str | None = None,
        limit: int = 100,
    ):
        moment = instant_parameter(since, "since") if since else None
        rows = service.engine.decisions(
            contact=contact,
            user=user,
            route=route,
            outcome=outcome,
            since=moment,
            limit=max(1, min(limit, DECISIONS_AT_MOST)),
        )
        return [{**row, "at": format_instant(row["at"]), "deadline": format_instant(row["deadline"])} for row in rows]
