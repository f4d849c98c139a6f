"""The service's contract: every request and response body as a model, with examples (/openapi.json).

Request bodies refuse unknown fields and check kinds; response models document
what the endpoints send (the route fast path sends its row as it is, the model
only describes it).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from rota.vocabulary import Outcome, Reason, ReassignTrigger, Status

MAX_ID_LENGTH = 256
# Any text but the control characters (C0 and DEL), `/` included.
ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"

FiniteNumber = Annotated[StrictFloat, Field(allow_inf_nan=False)]
# What an attribute holds (SPEC 1): text, a number, true/false, a list of texts, or null.
AttributeValue = StrictBool | StrictInt | FiniteNumber | StrictStr | list[StrictStr] | None
UserId = Annotated[StrictStr, Field(examples=["u1"])]
Instant = Annotated[str, Field(description="ISO 8601, UTC", examples=["2026-11-25T10:00:00Z"])]


class Strict(BaseModel):
    """A request body: a field it does not have is refused (S609), not dropped."""

    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ requests


class ContactAttributes(BaseModel):
    """A contact's attributes, as in a contacts file: any name, with `assignee` a user id."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, AttributeValue]
    assignee: UserId | StrictInt | None = None


class UserAttributes(BaseModel):
    """A user's attributes, as in a snapshot: any name, with the built-in columns of their kinds."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, AttributeValue]
    status: Status | None = None
    name: StrictStr | None = None
    deleted: StrictBool | None = None


class RouteRequest(Strict):
    """The contact's attributes, as in a contacts file (`assignee` is a user id)."""

    attrs: ContactAttributes = Field(
        default_factory=lambda: ContactAttributes.model_validate({}), examples=[{"tags": ["vip"], "language": "de"}]
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"attrs": {"tags": ["vip"]}}]})


class ReplyRequest(Strict):
    """Who replied to the contact (SPEC 4.1): only its assignee's reply clears its `unanswered` timer."""

    user: UserId

    model_config = ConfigDict(json_schema_extra={"examples": [{"user": "u1"}]})


class UserChange(Strict):
    """Any subset; a new id creates the user (`online` unless said). `deleted: false` undeletes."""

    status: Status | None = None
    name: StrictStr | None = None
    deleted: StrictBool | None = None
    attrs: UserAttributes = Field(
        default_factory=lambda: UserAttributes.model_validate({}), examples=[{"languages": ["de", "en"]}]
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": Status.ONLINE.value, "name": "Ana", "attrs": {"languages": ["de"]}}]
        },
    )


# ------------------------------------------------------------------ answers


class DiagnosticBody(BaseModel):
    """One problem, as `rota check --format json` gives it; a refused request's part is its `file`."""

    file: str = Field(examples=["body.status"])
    line: int
    column: int
    end_line: int
    end_column: int
    severity: str = Field(examples=["error"])
    code: str = Field(examples=["S605"])
    name: str = Field(examples=["unknown-status"])
    message: str
    hint: str | None = None


class ErrorDetail(BaseModel):
    code: str = Field(examples=["invalid_request"])
    message: str = Field(examples=["`status` must be one of online, away, offline"])
    diagnostics: list[DiagnosticBody] | None = None


class ErrorBody(BaseModel):
    """Every refusal: `{"error": {"code", "message", "diagnostics"}}`."""

    error: ErrorDetail


class DecisionRow(BaseModel):
    """A decision, as a replay row (SPEC 5.1)."""

    at: Instant
    contact: str = Field(examples=["c1"])
    route: str | None = Field(examples=["general"])
    outcome: Outcome
    user: str | None = Field(examples=["u1"])
    reason: Reason | None
    deadline: Instant | None


class LoggedDecision(DecisionRow):
    """A committed decision: its place in the log, and the policy version that took it."""

    seq: int
    policy_version: str | None
    candidates: Any = None


class QueueEntryBody(BaseModel):
    contact: str = Field(examples=["c7"])
    route: str = Field(examples=["vip"])
    priority: int
    enqueued_at: Instant
    deadline: Instant


class ReleaseTimerBody(BaseModel):
    """A release timer on the contact (SPEC 4.1): the option of the route that assigned it."""

    trigger: ReassignTrigger
    route: str = Field(examples=["desk"])
    due: Instant | None = Field(description="null while it does not run: an `away` timer, its assignee online")


class ContactBody(BaseModel):
    id: str = Field(examples=["c1"])
    assignee: str | None
    closed: bool
    queued: QueueEntryBody | None
    attrs: dict[str, Any]
    timers: list[ReleaseTimerBody] = Field(description="its release timers, in the order they were set")
    released: list[str] = Field(
        examples=[["u2"]], description="the users it was released from: never its candidates until routed again"
    )


class UserBody(BaseModel):
    id: str = Field(examples=["u1"])
    name: str | None
    status: Status | None
    deleted: bool
    open: int
    teams: list[str] = Field(examples=[["VIP"]])
    last_assigned_at: Instant | None
    attrs: dict[str, Any]


class UserPage(BaseModel):
    """A page of users in id order; pass `next` as `after` for the next page (null: the last page)."""

    users: list[UserBody]
    next: str | None = Field(examples=["u200"])


class TeamSummary(BaseModel):
    team: str = Field(examples=["VIP"])
    members: int
    members_online: int


class TeamBody(BaseModel):
    team: str = Field(examples=["VIP"])
    members: list[UserBody]
    members_online: int


class PolicyFile(BaseModel):
    file: str
    text: str


class PolicyBody(BaseModel):
    """The active policy; `files` for a policy folder. Its version is also the answer's ETag."""

    version: str
    text: str
    files: list[PolicyFile] | None = None


class PolicyChange(BaseModel):
    """What a new or reactivated version does: its routes, and the checker's warnings against the live roster."""

    version: str
    routes: list[str] = Field(examples=[["vip", "general"]])
    active: bool = Field(description="false for a dry run")
    warnings: list[DiagnosticBody]


class PolicyVersion(BaseModel):
    version: str
    created_at: Instant
    active: bool


class Health(BaseModel):
    status: str = Field(examples=["ok"])
