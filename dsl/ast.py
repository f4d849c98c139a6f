"""The typed syntax tree of a policy (SPEC section 2).

Every node is a small frozen dataclass named after the domain. Positions are
kept for diagnostics but left out of equality, so two policies that mean the
same thing compare equal however they were laid out (`parse(fmt(p)) == parse(p)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rota import vocabulary

SCOPES = vocabulary.Scope.texts()
# Plain text, as the parser gives a written `using`: the logic travels into decisions and the journal.
DEFAULT_LOGIC = vocabulary.DEFAULT_LOGIC.value
DEFAULT_PRIORITY = 0
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600
MAX_REASSIGN_SECONDS = 7 * 24 * 3600
# The order a route's `reassign` options are kept and written in, and their timers set (SPEC 4.1).
TRIGGERS = vocabulary.ReassignTrigger.texts()
DEFAULT_TIMEOUT_SECONDS = MAX_TIMEOUT_SECONDS
UNASSIGN_BRANCH = vocabulary.UNASSIGN_BRANCH


@dataclass(frozen=True)
class Position:
    """Where a node is written; `file` names its file, which matters in a policy of several files."""

    line: int
    column: int
    end_line: int = 0
    end_column: int = 0
    file: str = ""


NOWHERE = Position(0, 0)


def _position() -> Position:
    return field(default=NOWHERE, compare=False, repr=False)


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Literal:
    """A string, int, float, bool or None written in the policy."""

    value: str | int | float | bool | None
    position: Position = _position()


@dataclass(frozen=True)
class ListLiteral:
    items: tuple[Literal, ...]
    position: Position = _position()


@dataclass(frozen=True)
class Field:
    """`user.F`, `contact.F` or `now.F`; bare names are resolved by context."""

    scope: str
    name: str
    position: Position = _position()


@dataclass(frozen=True)
class Not:
    operand: Expr
    position: Position = _position()


@dataclass(frozen=True)
class BoolOp:
    """`and` / `or`, Kleene logic."""

    operator: str
    left: Expr
    right: Expr
    position: Position = _position()


@dataclass(frozen=True)
class Compare:
    operator: str
    left: Expr
    right: Expr
    position: Position = _position()


Expr = Literal | ListLiteral | Field | Not | BoolOp | Compare


def children(expr: Expr) -> tuple[Expr, ...]:
    if isinstance(expr, Not):
        return (expr.operand,)
    if isinstance(expr, (BoolOp, Compare)):
        return (expr.left, expr.right)
    if isinstance(expr, ListLiteral):
        return expr.items
    return ()


def fields_of(expr: Expr) -> list[Field]:
    """Every field an expression reads, left to right."""
    found: list[Field] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Field):
            found.append(node)
        stack.extend(reversed(children(node)))
    return found


# -------------------------------------------------------------------- actions


@dataclass(frozen=True)
class AssignToUser:
    user: Expr
    position: Position = _position()


@dataclass(frozen=True)
class AssignToTeam:
    team: str
    position: Position = _position()


@dataclass(frozen=True)
class AssignToSpace:
    position: Position = _position()


@dataclass(frozen=True)
class Unassign:
    position: Position = _position()


Action = AssignToUser | AssignToTeam | AssignToSpace | Unassign

# -------------------------------------------------------------------- options


@dataclass(frozen=True)
class Using:
    logic: str
    position: Position = _position()


@dataclass(frozen=True)
class Only:
    condition: Expr
    position: Position = _position()


@dataclass(frozen=True)
class Priority:
    value: int
    position: Position = _position()


@dataclass(frozen=True)
class Timeout:
    """`timeout 30m -> general`; branch is a route name, UNASSIGN_BRANCH or None."""

    seconds: int
    branch: str | None = None
    position: Position = _position()
    branch_position: Position = _position()


@dataclass(frozen=True)
class Reassign:
    """`reassign when unanswered 5m -> general`: a release timer on the contacts the route assigns (SPEC 4.1).

    `trigger` is a ReassignTrigger's text; branch is a route name, UNASSIGN_BRANCH or None (the route
    that assigned the contact routes it again)."""

    trigger: str
    seconds: int
    branch: str | None = None
    position: Position = _position()
    branch_position: Position = _position()


Option = Using | Only | Priority | Timeout | Reassign
# The canonical order of a route's options (SPEC 2.2's order); reassigns then go by trigger.
OPTION_ORDER = {Using: 0, Only: 1, Priority: 2, Timeout: 3, Reassign: 4}


def option_order(option: Option) -> tuple[int, int]:
    return (OPTION_ORDER[type(option)], TRIGGERS.index(option.trigger) if isinstance(option, Reassign) else 0)


# --------------------------------------------------------------------- routes


@dataclass(frozen=True)
class Route:
    """One route. Options are kept as written (in canonical order) so the
    checker can report duplicates and misplaced ones; the properties give
    their meaning with the spec's defaults."""

    name: str
    when: Expr | None
    action: Action
    options: tuple[Option, ...] = ()
    position: Position = _position()
    name_position: Position = _position()

    def _first(self, kind: type):
        return next((option for option in self.options if isinstance(option, kind)), None)

    @property
    def logic(self) -> str:
        using = self._first(Using)
        return using.logic if using else DEFAULT_LOGIC

    @property
    def filters(self) -> tuple[Expr, ...]:
        return tuple(option.condition for option in self.options if isinstance(option, Only))

    @property
    def priority(self) -> int:
        priority = self._first(Priority)
        return priority.value if priority else DEFAULT_PRIORITY

    @property
    def timeout_seconds(self) -> int:
        timeout = self._first(Timeout)
        return timeout.seconds if timeout else DEFAULT_TIMEOUT_SECONDS

    @property
    def branch(self) -> str | None:
        timeout = self._first(Timeout)
        return timeout.branch if timeout else None

    @property
    def reassigns(self) -> tuple[Reassign, ...]:
        """The route's `reassign` options, `unanswered` before `away`."""
        return tuple(option for option in self.options if isinstance(option, Reassign))

    @property
    def queues(self) -> bool:
        """Team and space actions may queue; a specific user and unassign never do."""
        return isinstance(self.action, (AssignToTeam, AssignToSpace))


@dataclass(frozen=True)
class Comment:
    """A `#` comment, kept so `rota fmt` does not drop it."""

    text: str
    line: int
    column: int
    trailing: bool  # written after code on the same line


@dataclass(frozen=True)
class Policy:
    """A policy; `file` names where it was read from (a file, or the folder of a policy of several files)."""

    routes: tuple[Route, ...]
    timezone: str | None = None
    timezone_position: Position = _position()
    file: str = field(default="<policy>", compare=False)
    comments: tuple[Comment, ...] = field(default=(), compare=False, repr=False)

    def route(self, name: str) -> Route | None:
        return next((route for route in self.routes if route.name == name), None)
