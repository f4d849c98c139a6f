"""What an explanation says, as pydantic models: one shape for the CLI's JSON, the service's answer and the API.

Every value is plain JSON (texts, numbers, booleans, null; times as ISO 8601
in UTC), so `Explanation.to_json()` is what `--format json` prints and what
`GET /v1/decisions/{seq}/explain` answers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from rota.vocabulary import Verdict


class Via:
    """How the contact reached the route that decided (Explanation.via)."""

    ROUTED = "routed"  # a `route` event: the `when`s were tried
    DRAIN = "drain"  # it waited in its route's queue and a drain placed it
    BRANCH = "branch"  # a timer's branch routed it
    TIMER = "timer"  # the row a timer wrote itself
    BATCH = "batch"  # a contact of `rota batch`: the `when`s were tried


class Row(BaseModel):
    """The decision explained, as its replay row (SPEC 5.1)."""

    at: str | None
    contact: str
    route: str | None
    outcome: str
    user: str | None = None
    reason: str | None = None
    deadline: str | None = None


class WhenValue(BaseModel):
    """One route's `when`, as routing tried it (SPEC 3.1): its value under three-valued logic."""

    route: str
    when: str | None = Field(description="the condition as written; null: the route has none and always holds")
    value: bool | None
    null_fields: list[str] = Field(default_factory=list, description="for a null value: the fields that were null")


class FilterStep(BaseModel):
    """One `only` (each top-level `and` part on its own), in order: how many users it dropped."""

    only: str
    dropped: int
    left: int


class Contender(BaseModel):
    """A candidate as the tie-break read it."""

    id: str
    open: int
    last_assigned_at: str | None


class TieBreak(BaseModel):
    """SPEC 3.4: how the logic chose the winner among the candidates, and who came next."""

    logic: str
    cursor: str | None = Field(default=None, description="round_robin: the pool's cursor before the choice")
    winner: Contender
    runner_up: Contender | None
    decided_by: str = Field(description="what put the winner first, in words")


class Pool(BaseModel):
    team: str | None = Field(description="the team; null: the whole space")
    size: int = Field(description="users in the pool that are not deleted")


class Timer(BaseModel):
    """The timer whose firing wrote the row (a queued contact's timeout, or a release timer)."""

    kind: str = Field(description="`timeout`, `unanswered` or `away`")
    route: str
    wait: str | None = Field(description="the option's duration as written, e.g. 30m")
    started_at: str | None
    fired_at: str | None
    branch: str | None = Field(description="where the contact went next: a route, `unassign`, or null")


class UserVerdict(BaseModel):
    """With `--user U`: why U was (not) chosen."""

    user: str
    verdict: str = Field(description=", ".join(Verdict.texts()))
    says: str = Field(description="the answer in words")
    only: str | None = Field(default=None, description="filtered: the `only` that dropped the user")
    values: dict[str, Any] = Field(default_factory=dict, description="filtered: the user's values that it read")


class Explanation(BaseModel):
    """Why one decision came out as it did, from the state just before it."""

    seq: int | None = Field(description="the decision's number in its run or service (the first is 0)")
    decision: Row
    via: str = Field(
        description="how the contact reached the route: routed, drain (left the queue), branch (of a timer), "
        "timer (the row a timer wrote) or batch"
    )
    contact: dict[str, Any] = Field(default_factory=dict, description="the contact's fields as routing read them")
    routes: list[WhenValue] = Field(default_factory=list, description="each route tried, up to the one taken")
    action: str | None = None
    pool: Pool | None = None
    filters: list[FilterStep] = Field(default_factory=list)
    released: int = Field(default=0, description="users the contact was released from, never candidates")
    candidates: list[str] = Field(default_factory=list, description="the users every `only` let through, by id")
    tie_break: TieBreak | None = None
    nobody: str | None = Field(default=None, description="queued or failed: why nobody could take the contact")
    timer: Timer | None = None
    user: UserVerdict | None = None

    def to_json(self) -> dict[str, Any]:
        """The explanation as JSON values (what `--format json` prints, `json.dumps` of this)."""
        return self.model_dump(mode="json")

    def render_text(self) -> str:
        """The explanation for a reader, one fact a line (what `rota explain` prints)."""
        from .text import render

        return render(self)
