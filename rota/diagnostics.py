"""Every finding rota reports, as one kind of value with a stable code and a place.

Syntax errors, type checks, the policy checks of `rota verify`, problems in
data files and the service's 422 answers are all `Diagnostic`s: a `Code` (a
stable id such as `E104` with a short name and the help text the docs list),
the file, the start and end of the place, a message in the user's words and,
when one helps, a hint. Warnings are the same value with another severity.

This module is a leaf: the language, the engine, storage and the service all
import it, and it imports none of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"

    def __str__(self) -> str:
        return self.value


ERROR = Severity.ERROR
WARNING = Severity.WARNING
# A source line longer than this is shown cut around the caret.
SHOWN_LINE_WIDTH = 100


@dataclass(frozen=True)
class Code:
    """One kind of problem: `id` is stable across releases, `name` reads in a sentence."""

    id: str
    name: str
    summary: str
    severity: Severity = ERROR

    def __str__(self) -> str:
        return f"{self.id} {self.name}"


CODES: dict[str, Code] = {}


def code(id: str, name: str, summary: str, severity: Severity = ERROR) -> Code:
    """Register a code; ids and names are unique (the docs list every one, `tests/test_diagnostic_codes.py`)."""
    if id in CODES or any(known.name == name for known in CODES.values()):
        raise ValueError(f"diagnostic code {id} {name} registered twice")
    CODES[id] = Code(id, name, summary, severity)
    return CODES[id]


# E1xx: the text cannot be read as a policy.
SYNTAX = code("E101", "syntax", "the text does not follow the grammar of SPEC 2.2")
UNCLOSED = code("E102", "unclosed", "a `{`, `(`, `[` or string is opened and never closed")
TOO_LARGE = code("E103", "too-large", "the file, a list, the nesting or the number of routes is over a limit")
DUPLICATE_TIMEZONE = code("E104", "duplicate-timezone", "two files of a policy folder both give `timezone`")

# E3xx: the policy's structure.
DUPLICATE_ROUTE = code("E301", "duplicate-route", "two routes have the same name, in one file or across a folder")

# E2xx: a name or a type the policy uses is not one there is (SPEC 2.3); checked by dsl/type_check.py and dsl/checker.py.
UNKNOWN_FIELD = code("E201", "unknown-field", "a field that `now` or the snapshot's users do not have")
UNKNOWN_SCOPE = code("E202", "unknown-scope", "a field scope other than `user`, `contact` and `now`")
USER_IN_WHEN = code("E203", "user-in-when", "a user field read where no user is known yet (`when`, `assign to user`)")
TYPE_MISMATCH = code("E204", "type-mismatch", "two values of kinds that never compare (a number with a string)")
NOT_A_CONDITION = code("E205", "not-a-condition", "`when`, `only`, `and`, `or` or `not` given a value, not a condition")
NEVER_TRUE = code("E206", "never-true", "an ordering against `null` (`< null`), which is never true")
UNKNOWN_VALUE = code("E207", "unknown-value", "a comparison with a status or weekday there is not")
MIXED_LIST = code("E208", "mixed-list", "a list whose items are of different kinds")
NOT_A_TIME = code("E209", "not-a-time", "a text compared with a time that does not read as ISO 8601")
NOT_A_LIST = code("E210", "not-a-list", "`in` with something on its right that is not a list")
LIST_COMPARED = code("E211", "list-compared", "a list compared whole, or looked for in a list")
UNORDERED = code("E212", "unordered", "true/false values ordered with `<`, `<=`, `>` or `>=`")
NOT_A_USER_ID = code("E213", "not-a-user-id", "`assign to user` given a value that cannot be a user id")
UNKNOWN_TIMEZONE = code("E220", "unknown-timezone", "a timezone that is not an IANA name")
UNKNOWN_TEAM = code(
    "E221", "unknown-team", "a team the snapshot does not have: the route fails with team_empty", WARNING
)
UNKNOWN_USER = code("E222", "unknown-user", "a user the snapshot does not have: the route fails", WARNING)

# E3xx: the routes do not fit together (SPEC 2.2); checked by dsl/checker.py.
UNKNOWN_BRANCH = code("E310", "unknown-branch", "a timeout or reassign branch that names no route")
BRANCH_CYCLE = code("E311", "branch-cycle", "timeout branches that lead back where they started")
OPTION_TWICE = code(
    "E312", "option-twice", "`using`, `priority`, `timeout` or a `reassign` of one trigger given twice in one route"
)
OPTION_WITHOUT_QUEUE = code("E313", "option-without-queue", "`using`, `only` or `timeout` on a route that never queues")
TIMEOUT_RANGE = code("E314", "timeout-range", "a timeout of zero, or longer than 7 days")
REASSIGN_WITH_UNASSIGN = code(
    "E315", "reassign-with-unassign", "`reassign` on an `unassign` route, which assigns nobody"
)
REASSIGN_NEEDS_BRANCH = code(
    "E316", "reassign-needs-branch", "`reassign` on an `assign to user` route without `->`: it would pick the same user"
)
REASSIGN_RANGE = code("E317", "reassign-range", "a `reassign` wait of zero, or longer than 7 days")
# E318 (reassign-not-run) refused `reassign` until the engine ran SPEC 4.1; retired, never to be reused.

# D4xx: a data file (snapshot, contacts, events) cannot be used as it is.
DATA_UNREADABLE = code("D401", "data-unreadable", "the file is missing, unreadable, not UTF-8 or not in its format")
DATA_MISSING_COLUMN = code("D402", "data-missing-column", "a required column is absent")
DATA_BAD_VALUE = code("D403", "data-bad-value", "a value is not of the kind its column needs")
DATA_MIXED_KINDS = code("D404", "data-mixed-kinds", "a column mixes values of different kinds")
DATA_DUPLICATE = code("D405", "data-duplicate", "an id that must be unique appears twice")
DATA_DROPPED = code("D406", "data-dropped", "rows were left out (a membership of an unknown user)", WARNING)
DATA_NO_VALUES = code("D407", "data-no-values", "an attribute column holds no value in any row", WARNING)
DATA_BAD_HEADER = code("D408", "data-bad-header", "a CSV header leaves a column name empty or names one twice")
DATA_RAGGED_ROW = code("D409", "data-ragged-row", "a CSV row has more or fewer cells than the header")


# V5xx: `rota verify`'s policy checks (rota/policy_checks.py).
UNREACHABLE_ROUTE = code("V501", "unreachable-route", "a route no contact can reach")
EMPTY_POOL = code("V502", "empty-pool", "a reachable route whose team (or space) has no users in the snapshot")
FILTER_NEVER_PASSES = code(
    "V503", "filter-never-passes", "a reachable route's filters that no user of the snapshot passes"
)
STARVED_USERS = code("V504", "starved-users", "users that no reachable route can ever choose")
ESCALATION_TOO_LONG = code("V505", "escalation-too-long", "a chain of timeouts that adds up to more than --max-wait")
REASSIGN_NEVER_ASSIGNS = code(
    "V506", "reassign-never-assigns", "a `reassign` whose branch can never assign: its pool is the user just released"
)
WAIT_CHAIN_TOO_LONG = code(
    "V507", "wait-chain-too-long", "a chain of waits through a release (timeouts and reassigns) over --max-wait"
)

# S6xx: a request the service refuses (rota/service/), beside the policy's own codes in a 422.
BODY_NOT_JSON = code("S601", "body-not-json", "the body does not parse as JSON (answered 400)")
BODY_NOT_OBJECT = code("S602", "body-not-object", "the body is JSON, but not an object")
ATTRS_NOT_OBJECT = code("S603", "attrs-not-object", "`attrs` is not a JSON object")
NAME_NOT_TEXT = code("S604", "name-not-text", "`name` is not a string (or null)")
UNKNOWN_STATUS = code("S605", "unknown-status", "`status` is not one of the statuses of SPEC 1")
PARAMETER_NOT_TIME = code("S606", "parameter-not-time", "a time parameter (`since`) that is not ISO 8601")
INVALID_PARAMETER = code("S607", "invalid-parameter", "a path or query parameter of the wrong kind (`limit=ten`)")
BAD_ATTRIBUTE = code(
    "S608", "bad-attribute", "a built-in attribute of the wrong kind (`assignee` not text, `deleted` not a bool)"
)
UNKNOWN_BODY_FIELD = code("S609", "unknown-body-field", "a body field the endpoint does not have (`open`, `languages`)")
ATTRIBUTE_VALUE = code(
    "S610", "attribute-value", "an attribute value that is not text, a number, true/false, a list of texts or null"
)
BAD_ID = code("S611", "bad-id", "an id in the path that is empty, too long or holds a control character")
NO_ROUTE = code("S612", "no-route", "a policy with no route, sent without `allow_empty=true`")
VERSION_MISMATCH = code("S613", "version-mismatch", "`If-Match` names another version than the active one (409)")

# T7xx: a policy test file (`rota test`, rota/policytest/) cannot be used as it is.
TEST_NOT_YAML = code("T701", "test-not-yaml", "the test file is unreadable, not UTF-8 or not YAML")
TEST_UNKNOWN_KEY = code("T702", "test-unknown-key", "a key the test format does not have (often a typo)")
TEST_BAD_VALUE = code("T703", "test-bad-value", "a value of the wrong kind: not a list, not a time, an unknown status")
TEST_MISSING_KEY = code("T704", "test-missing-key", "a key the test format needs is absent (a case's `name`)")
TEST_DUPLICATE = code("T705", "test-duplicate", "a key, a user id or a case name given twice")
TEST_NO_POLICY = code("T706", "test-no-policy", "the policy a test file is for does not exist")
TEST_UNKNOWN_ROUTE = code("T707", "test-unknown-route", "an expectation names a route the policy does not have")
TEST_UNKNOWN_NAME = code("T708", "test-unknown-name", "an expectation names a contact or a user its case does not have")


@dataclass(frozen=True)
class Diagnostic:
    """One finding. `line` 0 is the whole file (or, in the service, the whole part of a request
    `file` names); `end_line`/`end_column` are where the place ends, the column just past it,
    when known (JSON gives the start again when not)."""

    file: str
    line: int
    column: int
    message: str
    hint: str | None = None
    severity: Severity = ERROR
    code: Code = SYNTAX
    end_line: int | None = None
    end_column: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def sort_key(self) -> tuple:
        return (self.file, self.line, self.column, self.message)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line or self.line,
            "end_column": self.end_column or self.column,
            "severity": self.severity.value,
            "code": self.code.id,
            "name": self.code.name,
            "message": self.message,
            "hint": self.hint,
        }

    def headline(self) -> str:
        """`FILE:LINE:COL: error: MESSAGE [CODE]`; a place of line 0 is the whole file."""
        place = f"{self.file}:{self.line}:{self.column}" if self.line > 0 else self.file
        return f"{place}: {self.severity.value}: {self.message} [{self.code.id}]"

    def render(self, source: str | None = None) -> str:
        """The headline, then the source line with a caret (cut around it when long), then the hint."""
        lines = [self.headline()]
        source_line = _line_of(source, self.line)
        if source_line is not None:
            shown, caret = _cut_around(source_line, max(self.column, 1) - 1)
            lines.append(f"  {shown}".rstrip())
            lines.append("  " + " " * caret + "^")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


def _line_of(source: str | None, line: int) -> str | None:
    if source is None or line < 1:
        return None
    lines = source.split("\n")  # lines as the parser counts them
    if line > len(lines):
        return None
    return lines[line - 1].rstrip("\r").expandtabs(1)


def _cut_around(text: str, caret: int) -> tuple[str, int]:
    """At most SHOWN_LINE_WIDTH characters of `text` around `caret`, `...` marking each cut."""
    if len(text) <= SHOWN_LINE_WIDTH:
        return text, caret
    half = SHOWN_LINE_WIDTH // 2
    start = max(0, min(caret - half, len(text) - SHOWN_LINE_WIDTH))
    end = start + SHOWN_LINE_WIDTH
    prefix = "..." if start > 0 else ""
    suffix = "..." if end < len(text) else ""
    return prefix + text[start:end] + suffix, caret - start + len(prefix)


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(set(diagnostics), key=Diagnostic.sort_key)
