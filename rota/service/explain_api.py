"""`GET /v1/decisions/{seq}/explain`: why a past decision went as it did, from the notes kept with it (rota.explain.inputs)."""

from __future__ import annotations

from functools import lru_cache

from fastapi import FastAPI, Path, Query

from rota.dsl import PolicySource, load_policy
from rota.engine import CompiledPolicy, Decision, DurableEngine, compile_policy
from rota.explain import Explanation
from rota.explain.inputs import explain_noted
from rota.explain.run import with_timer
from rota.vocabulary import Outcome, Reason

from .core import RotaService
from .errors import ApiError, error_responses


def add_explain_routes(app: FastAPI, service: RotaService, authorized) -> None:
    @app.get(
        "/v1/decisions/{seq}/explain",
        dependencies=authorized,
        response_model=Explanation,
        responses=error_responses(404),
    )
    def explain(
        seq: int = Path(ge=0, description="the decision's sequence number, as /v1/decisions gives it"),
        user: str | None = Query(None, description="also say why this user was or was not chosen"),
    ):
        """Why the decision went as it did: its route, pool, filters, tie-break; with `user`, why not that user.
        404: no decision `seq` yet, or one made before this service kept what explaining it needs."""
        return explain_decision(service.engine, seq, user).to_json()


def explain_decision(engine: DurableEngine, seq: int, user: str | None) -> Explanation:
    """Decision `seq` of the engine file explained from its notes (or, for a row a timer wrote, from the rows)."""
    rows = engine.decisions(after=seq - 1, limit=1)
    if not rows or rows[0]["seq"] != seq:
        raise ApiError(404, "unknown_decision", f"no decision {seq}: the last one is {engine.last_committed_seq()}")
    row = rows[0]
    policy = policy_of_version(engine, row["policy_version"])
    own = [r for r in engine.decisions(contact=row["contact"]) if r["seq"] <= seq]  # the contact's, up to this one
    decisions = [decision_of(r) for r in own]
    notes = engine.store.decision_inputs(seq)
    noted = notes and notes[-1][0] == seq
    explanation = explain_noted(policy, [body for _, body in notes], decisions[-1], seq, user) if noted else None
    if explanation is None and not written_by_a_timer(row):
        raise ApiError(404, "not_recorded", f"decision {seq} was made before this service kept what explain needs")
    explanation = with_timer(policy, decisions, len(decisions) - 1, explanation, user)
    explanation.seq = seq
    return explanation


def written_by_a_timer(row: dict) -> bool:
    """`timed_out`, `released`, or `failed` for a timeout with no branch: rows the router does not make."""
    return row["outcome"] in (Outcome.TIMED_OUT, Outcome.RELEASED) or row["reason"] == Reason.TIMEOUT


def decision_of(row: dict) -> Decision:
    return Decision(
        row["contact"], row["route"], row["outcome"], row["user"], row["reason"], row["deadline"], row["at"]
    )


def policy_of_version(engine: DurableEngine, version: str) -> CompiledPolicy:
    if version == engine.policy.version:
        return engine.policy
    text = next(kept["text"] for kept in engine.policy_versions() if kept["version"] == version)
    return compiled_text(text)


@lru_cache(maxsize=16)
def compiled_text(text: str) -> CompiledPolicy:
    """A kept policy version's text (`PolicySource.encode`d), compiled once."""
    return compile_policy(load_policy(PolicySource.decode(text)))
