"""The executable examples of the docs: found in Markdown, run through rota, compared with what the page shows.

An example starts at a fenced block whose info string is `rota`:

- ```` ```rota ```` a policy that `rota check` passes without a word;
- ```` ```rota error ```` / ```` ```rota warning ```` a policy whose check reports
  errors (or only warnings); the next ```` ```text ```` block is what `rota check`
  prints for it, the file being `policy.rota`;
- ```` ```rota fmt ```` a policy whose canonical form (`rota fmt`) is the next
  ```` ```text ```` block;
- ```` ```rota plan ```` a policy that checks clean and whose plan (what
  `rota check --plan` adds) is the next ```` ```text ```` block.

A ```` ```scenario ```` block after the policy gives a snapshot (the policy is
checked against it) and, with `events:` or `contacts:`, a replay or a batch
whose decisions must be the block's `decisions:` (docs/engine.md explains the
format). A diagnostic shown without its `[CODE]` matches whatever code rota
gives it. ROTA_UPDATE_GOLDEN=1 writes what rota does into the page instead
(read the diff before committing).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from markdown_it import MarkdownIt

import rota
from rota.engine import BATCH_COLUMNS, REPLAY_COLUMNS, format_instant, parse_instant, snapshot_schema
from rota.engine.replay import replay_durable, replay_events
from rota.storage import load_snapshot, read_events

POLICY_FILE = "policy.rota"
DAY = "2026-11-25"  # a Wednesday: a scenario's `09:00` is 09:00 UTC on this day
NULL = "-"
SECTIONS = ("users", "teams", "rotation", "events", "contacts", "decisions")
SETTINGS = ("now", "until", "durable")
# The fields an event type takes by position, in order; `key=value` words are its attrs.
EVENT_FIELDS = {
    "route": ("contact",),
    "close": ("contact",),
    "status": ("user", "status"),
    "user": ("user",),
    "delete": ("user",),
    "join": ("user", "team"),
    "leave": ("user", "team"),
    "reply": ("contact", "user"),
}
CODE_SUFFIX = re.compile(r" \[[A-Z][0-9]{3}\]$")
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
SHORT_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")


class DocFormatError(ValueError):
    """An example the runner cannot read: says where and what to write instead."""


@dataclass(frozen=True)
class Block:
    info: str
    text: str
    line: int  # the fence's line, 1-based
    ordinal: int  # its place among the page's fenced blocks


@dataclass
class Example:
    page: Path
    policy: Block
    scenario: Block | None = None
    output: Block | None = None

    @property
    def mode(self) -> str:
        words = self.policy.info.split()
        return words[1] if len(words) > 1 else "clean"

    @property
    def name(self) -> str:
        return f"{self.page.name}:{self.policy.line}"


def fenced_blocks(page: Path) -> list[Block]:
    tokens = MarkdownIt("commonmark").parse(page.read_text(encoding="utf-8"))
    fences = [token for token in tokens if token.type == "fence"]
    return [Block(token.info.strip(), token.content, token.map[0] + 1, index) for index, token in enumerate(fences)]


def examples(page: Path) -> list[Example]:
    found: list[Example] = []
    current: Example | None = None
    for block in fenced_blocks(page):
        kind = block.info.split()[0] if block.info else ""
        if kind == "rota":
            current = Example(page, block)
            found.append(current)
            if current.mode not in ("clean", "error", "warning", "fmt", "plan"):
                raise DocFormatError(
                    f"{page}:{block.line}: unknown example kind `{block.info}`; "
                    "use rota, rota error, rota warning, rota fmt or rota plan"
                )
        elif kind == "scenario" and current is not None and current.scenario is None and current.output is None:
            current.scenario = block
        elif kind == "scenario":
            raise DocFormatError(f"{page}:{block.line}: a scenario must follow the ```rota block of its policy")
        elif kind == "text" and current is not None and current.mode != "clean" and current.output is None:
            current.output = block
        else:
            current = None
    for example in found:
        if example.mode != "clean" and example.output is None:
            raise DocFormatError(
                f"{page}:{example.policy.line}: a `{example.policy.info}` example needs a ```text block"
            )
    return found


# ------------------------------------------------------------------ scenarios


@dataclass
class Scenario:
    users: list[dict[str, Any]] = field(default_factory=list)
    memberships: list[dict[str, str]] = field(default_factory=list)
    rotation: list[dict[str, str]] = field(default_factory=list)
    events: list[dict[str, Any]] | None = None
    contacts: list[dict[str, Any]] | None = None
    now: str | None = None
    until: str | None = None
    durable: bool = False
    decisions: list[tuple] | None = None
    decisions_at: int | None = None  # the line of `decisions:` inside the block

    @property
    def runs(self) -> bool:
        return self.events is not None or self.contacts is not None


def parse_scenario(text: str, where: str) -> Scenario:
    scenario = Scenario()
    section = None
    for number, raw in enumerate(text.splitlines()):
        line = raw.strip()
        if not line:
            continue
        head, _, rest = line.partition(":")
        if head in SECTIONS and not rest.strip():
            section = head
            if section in ("events", "contacts", "decisions"):
                setattr(scenario, section, [])
            if section == "decisions":
                scenario.decisions_at = number
            continue
        if head in SETTINGS:
            value = rest.strip()
            setattr(scenario, head, value.lower() in ("yes", "true") if head == "durable" else value)
            continue
        try:
            _add_item(scenario, section, line)
        except (ValueError, IndexError) as error:
            raise DocFormatError(f"{where}: scenario line {number + 1} `{line}`: {error}") from None
    if scenario.runs and scenario.decisions is None:
        raise DocFormatError(f"{where}: a scenario with events or contacts needs its `decisions:`")
    return scenario


def _add_item(scenario: Scenario, section: str | None, line: str) -> None:
    if section is None:
        raise ValueError(f"outside a section; start one with {', '.join(s + ':' for s in SECTIONS)}")
    if section in ("teams", "rotation"):
        name, members = _split_label(line)
        if section == "teams":
            scenario.memberships += [{"team": name, "user_id": member} for member in words(members)]
        else:
            scenario.rotation.append({"pool": name, "last_user": members.strip()})
        return
    positional, attrs = _positional_and_attrs(line)
    if section == "users":
        user_id, status = positional
        scenario.users.append({"id": user_id, "status": status, **{k: _user_value(v) for k, v in attrs.items()}})
    elif section == "contacts":
        (contact_id,) = positional
        scenario.contacts.append({"id": contact_id, **attrs})
    elif section == "events":
        scenario.events.append(_event(line, positional, attrs))
    else:
        scenario.decisions.append(_row(positional, with_time=scenario.events is not None))


def _split_label(line: str) -> tuple[str, str]:
    if line.startswith('"'):
        end = line.index('"', 1)
        return json.loads(line[: end + 1]), line[end + 1 :].lstrip(":").strip()
    name, _, rest = line.partition(":")
    return name.strip(), rest


def words(line: str) -> list[str]:
    """Split at spaces outside quotes and brackets: `tags=["a", "b"]` is one word."""
    found, current, depth, quoted, escaped = [], "", 0, False, False
    for character in line:
        if quoted:
            quoted = character != '"' or escaped
            escaped = character == "\\" and not escaped
        elif character == '"':
            quoted = True
        elif character in "[{":
            depth += 1
        elif character in "]}":
            depth -= 1
        elif character.isspace() and depth == 0:
            if current:
                found.append(current)
            current = ""
            continue
        current += character
    return found + ([current] if current else [])


def _value(text: str) -> Any:
    """JSON when the word is JSON (`3`, `true`, `["en"]`, `"a b"`), else the word as text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _positional_and_attrs(line: str) -> tuple[list[str], dict[str, Any]]:
    positional, attrs = [], {}
    for word in words(line):
        key, equals, value = word.partition("=")
        if equals and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
            attrs[key] = _value(value)
        else:
            text = _value(word)
            positional.append(text if isinstance(text, str) else word)
    return positional, attrs


def _user_value(value: Any) -> Any:
    """A user column written as an ISO 8601 time is a timestamp column."""
    if isinstance(value, str) and ISO_TIME.match(value):
        return parse_instant(value)
    return value


def instant(text: str) -> str:
    """`09:00` is that time on the scenario's day (UTC); anything else is ISO 8601."""
    if SHORT_TIME.match(text):
        text = f"{DAY}T{text}Z"
    return format_instant(parse_instant(text))


def _event(line: str, positional: list[str], attrs: dict[str, Any]) -> dict[str, Any]:
    if line.startswith("{"):
        return json.loads(line)
    at, kind, *rest = positional
    names = EVENT_FIELDS.get(kind)
    if names is None:
        raise ValueError(f"unknown event type `{kind}`; use {', '.join(EVENT_FIELDS)}")
    if len(rest) != len(names):
        raise ValueError(f"a `{kind}` event is written `AT {kind} {' '.join(n.upper() for n in names)}`")
    event = {"at": instant(at), "type": kind, **dict(zip(names, rest))}
    if attrs or kind in ("route", "user"):
        event["attrs"] = attrs
    return event


def _row(positional: list[str], with_time: bool) -> tuple:
    width = 7 if with_time else 6
    if len(positional) > width:
        raise ValueError(f"a decision has at most {width} columns")
    values = [None if word == NULL else word for word in positional] + [None] * (width - len(positional))
    if with_time:
        values[0] = instant(values[0])
    if values[-1] is not None:
        values[-1] = instant(values[-1])
    return tuple(values)


def short_row(row: tuple) -> str:
    """A decision as a scenario writes it: times on the day as `09:00`, nulls as `-`, trailing nulls left off."""
    times = (0, 6) if len(row) == 7 else (5,)
    shown = [
        NULL if value is None else _short_time(value) if index in times else str(value)
        for index, value in enumerate(row)
    ]
    while shown and shown[-1] == NULL:
        shown.pop()
    return " ".join(shown)


def _short_time(value: str | None) -> str | None:
    if value is None:
        return None
    prefix = f"{DAY}T"
    if value.startswith(prefix) and value.endswith("Z") and "." not in value:
        clock = value[len(prefix) : -1]
        return clock[:-3] if clock.endswith(":00") else clock
    return value


# --------------------------------------------------------------------- running


@dataclass
class Outcome:
    """What rota did with an example, in the page's words."""

    diagnostics: str = ""
    has_errors: bool = False
    has_warnings: bool = False
    formatted: str | None = None
    plan: str | None = None
    decisions: list[tuple] | None = None


def run(example: Example, workdir: Path) -> Outcome:
    """Check the policy (against the scenario's snapshot, if any), format it, play the scenario.

    The snapshot is loaded once and shared by the check and the run, as `rota replay`
    and `rota batch` do inside one command (each load opens DuckDB, which is most of the time)."""
    policy_text = example.policy.text
    scenario = parse_scenario(example.scenario.text, example.name) if example.scenario else None
    snapshot = load_snapshot(write_snapshot(scenario, workdir / "snapshot")) if scenario else None
    schema = snapshot_schema(snapshot.connection) if snapshot else None
    policy, diagnostics = rota.analyze(policy_text, POLICY_FILE, schema)
    outcome = Outcome(
        diagnostics="".join(d.render(policy_text) + "\n" for d in diagnostics),
        has_errors=any(d.is_error for d in diagnostics),
        has_warnings=any(not d.is_error for d in diagnostics),
    )
    if example.mode == "fmt" and policy is not None:
        outcome.formatted = rota.format_policy(policy)
    if example.mode == "plan" and policy is not None:
        from rota.plan import policy_plan

        outcome.plan = policy_plan(rota.compile_policy(policy))
    if scenario is not None and scenario.runs and policy is not None:
        compiled = rota.compile_policy(policy)
        if scenario.events is not None:
            outcome.decisions = _replay(scenario, compiled, policy_text, snapshot, workdir)
        else:
            outcome.decisions = _batch(scenario, compiled, snapshot, workdir)
    return outcome


def write_snapshot(scenario: Scenario, directory: Path) -> Path:
    """The scenario's tables as Parquet files, so every column has the kind its values have."""
    directory.mkdir()
    tables = {"users": scenario.users, "memberships": scenario.memberships, "rotation": scenario.rotation}
    for name, rows in tables.items():
        if rows or name == "users":
            pq.write_table(_table(rows, ("id", "status") if name == "users" else ()), directory / f"{name}.parquet")
    return directory


def _table(rows: list[dict[str, Any]], always: tuple[str, ...]) -> pa.Table:
    """Every column any row has (`from_pylist` would read only the first row's)."""
    columns = list(dict.fromkeys([*always, *(key for row in rows for key in row)]))
    if not rows:
        return pa.table({column: pa.array([], pa.string()) for column in columns})
    return pa.Table.from_pylist([{column: row.get(column) for column in columns} for row in rows])


def _replay(scenario: Scenario, policy, policy_text: str, snapshot, workdir: Path) -> list[tuple]:
    """`rota replay` (with `--db`, twice: the second run resumes and rewrites `--out` from the log)."""
    events_path, out = workdir / "events.jsonl", workdir / "decisions.jsonl"
    events_path.write_text("".join(json.dumps(event) + "\n" for event in scenario.events), encoding="utf-8")
    until = parse_instant(instant(scenario.until)) if scenario.until else None
    if not scenario.durable:
        engine = rota.Engine(policy, rota.load_roster(snapshot.connection))
        replay_events(engine, read_events(events_path), events_path, out, until)
    for _ in range(2 if scenario.durable else 0):
        durable = rota.DurableEngine.open(
            workdir / "engine.duckdb", policy_text, rota.load_roster(snapshot.connection), POLICY_FILE
        )
        try:
            replay_durable(durable, read_events(events_path), events_path, out, until)
        finally:
            durable.close()
    return _rows(out, REPLAY_COLUMNS)


def _batch(scenario: Scenario, policy, snapshot, workdir: Path) -> list[tuple]:
    """`rota batch`, its output as JSON lines."""
    contacts_path, out = workdir / "contacts.jsonl", workdir / "decisions.jsonl"
    contacts_path.write_text("".join(json.dumps(contact) + "\n" for contact in scenario.contacts), encoding="utf-8")
    now = parse_instant(instant(scenario.now or "09:00"))
    roster = rota.load_roster(snapshot.connection)
    rota.write_table(rota.run_batch(policy, snapshot.connection, roster, rota.read_contacts(contacts_path), now), out)
    return _rows(out, BATCH_COLUMNS)


def _rows(out: Path, columns: tuple[str, ...]) -> list[tuple]:
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    times = ("at", "deadline")
    return [tuple(_same_instant(row[c]) if c in times else row[c] for c in columns) for row in rows]


def _same_instant(text: str | None) -> str | None:
    """Times as replay rows write them (a batch's JSON output adds `.000000`)."""
    return None if text is None else format_instant(parse_instant(text))


# ------------------------------------------------------------------ comparing


@dataclass(frozen=True)
class Mismatch:
    block: Block
    what: str
    expected: str
    actual: str
    replace_from: int = 0  # the block's lines from here on are what `actual` replaces


def mismatches(example: Example, outcome: Outcome) -> Iterator[Mismatch]:
    mode = example.mode
    if mode in ("clean", "plan") and outcome.diagnostics:
        yield Mismatch(example.policy, "a clean policy, but rota check reports", "", outcome.diagnostics)
    if mode == "error" and not outcome.has_errors:
        yield Mismatch(example.policy, "an error example, but rota check finds no error", "", outcome.diagnostics)
    if mode == "warning" and (outcome.has_errors or not outcome.has_warnings):
        yield Mismatch(example.policy, "a warning example: warnings and no error", "", outcome.diagnostics)
    if mode in ("error", "warning"):
        shown = example.output.text
        if _without_codes(outcome.diagnostics, shown) != shown:
            yield Mismatch(example.output, "rota check prints", shown, outcome.diagnostics)
    if mode == "fmt":
        if outcome.formatted != example.output.text:
            yield Mismatch(
                example.output, "rota fmt writes", example.output.text, outcome.formatted or outcome.diagnostics
            )
        elif rota.analyze(outcome.formatted)[1]:
            yield Mismatch(example.output, "the canonical form checks clean", "", outcome.formatted)
    if mode == "plan" and outcome.plan != example.output.text:
        yield Mismatch(example.output, "rota check --plan prints", example.output.text, outcome.plan or "")
    if example.scenario is not None:
        scenario = parse_scenario(example.scenario.text, example.name)
        if scenario.runs:
            expected = [short_row(row) for row in scenario.decisions]
            actual = [short_row(row) for row in outcome.decisions or []]
            if expected != actual:
                yield Mismatch(
                    example.scenario,
                    "the decisions are",
                    "\n".join(expected),
                    "\n".join(actual),
                    scenario.decisions_at + 1,
                )


def _without_codes(rendered: str, shown: str) -> str:
    """Drop ` [E123]` from headlines the page shows without one."""
    shown_lines = set(shown.splitlines())
    lines = []
    for line in rendered.splitlines():
        bare = CODE_SUFFIX.sub("", line)
        lines.append(bare if bare != line and bare in shown_lines else line)
    return "".join(line + "\n" for line in lines)


def update_page(page: Path, mismatch: Mismatch) -> None:
    """Write what rota did into the block (ROTA_UPDATE_GOLDEN=1)."""
    lines = page.read_text(encoding="utf-8").splitlines(keepends=True)
    block = next(b for b in fenced_blocks(page) if b.ordinal == mismatch.block.ordinal)
    start = block.line + mismatch.replace_from  # the first line of content to replace (0-based index)
    end = block.line + len(block.text.splitlines())
    indent = "  " if mismatch.replace_from else ""
    new = [indent + line + "\n" for line in mismatch.actual.splitlines()]
    page.write_text("".join(lines[:start] + new + lines[end:]), encoding="utf-8")
