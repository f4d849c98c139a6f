"""The decision log: committed decisions, filtered."""

from __future__ import annotations

from fastapi import FastAPI

from rota.engine import format_instant

from .core import RotaService
from .errors import error_responses
from .inputs import MAX_LIMIT, Limit, OutcomeFilter, Since, instant_parameter
from .models import LoggedDecision

# The most rows one answer carries (`limit` is held to 1..this).
DECISIONS_AT_MOST = MAX_LIMIT


def add_decision_routes(app: FastAPI, service: RotaService, authorized) -> None:
    @app.get("/v1/decisions", dependencies=authorized, response_model=list[LoggedDecision], responses=error_responses())
    def decisions(
        contact: str | None = None,
        user: str | None = None,
        route: str | None = None,
        outcome: OutcomeFilter = None,
        since: Since = None,
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
            limit=limit,
        )
        return [{**row, "at": format_instant(row["at"]), "deadline": format_instant(row["deadline"])} for row in rows]
