"""What run an engine file holds, so that a used file is never taken for a fresh one.

`rota replay --db` and `rota serve` keep a fingerprint in the file's `meta`
table: which command made it, the policy it started with (its version, a
hash of meaning, and the file it came from), a digest of the snapshot it
started from (the users, teams and cursors loaded, not the files' dates) and,
for a replay, the event log's name and a digest of the events applied so far,
written with every commit beside their count. A reopened file is compared
with the run at hand before anything is written to it: the same run resumes,
another one is refused with a message that says what the file holds and the
way out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from .roster import Roster
from .scheduler import Event

# Keys of the fingerprint in the engine file's meta table (beside `policy_version` and `events_applied`).
RUN, POLICY_FILE, SNAPSHOT, EVENTS_SOURCE, EVENTS_DIGEST = (
    "run",
    "policy_file",
    "snapshot",
    "events_source",
    "events_digest",
)
NO_SNAPSHOT = "none"
_HASHED_AT_ONCE = 1024  # events encoded in one call (one call per event costs twice as much)
SHOWN_DIGEST = 8  # hex digits of a digest shown in a message
WAY_OUT = "use a new --db file, or delete this one to start over"

# Canonical JSON: key order and spacing in the input do not change a digest.
_CANONICAL = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":"))


class RunKind(str, Enum):
    REPLAY = "replay"
    SERVE = "serve"


class RunMismatch(ValueError):
    """The engine file holds another run; the message names the file, what it holds and the way out."""


def snapshot_digest(roster: Roster) -> str:
    """A digest of what a snapshot loads: every user with its fields and teams, and the rotation cursors."""
    users = [
        (
            user.id,
            user.name,
            user.status,
            user.deleted,
            user.open,
            user.last_assigned_at,
            user.assigned_order,
            sorted(user.teams),
            user.attributes,
        )
        for user in sorted(roster.users.values(), key=lambda user: user.id)
    ]
    return hashlib.sha256(_CANONICAL.encode([users, sorted(roster.cursors.items())]).encode()).hexdigest()[:16]


class EventLog:
    """A replay's events in the order they are applied, with a running digest of a prefix.

    The digest covers what the engine reads of each event (time, type, ids,
    status, attributes), so line numbers, blank lines and key order do not
    count. Asked for growing counts (the check on opening, then each commit),
    it hashes every event once."""

    def __init__(self, source: str, events: Sequence[Event]):
        self.source = source
        self.events = events
        self._hash = hashlib.sha256()
        self._hashed = 0

    def digest(self, count: int) -> str:
        """The digest of the first `count` events (`count` never below an earlier call's)."""
        if count < self._hashed:
            raise ValueError(f"the digest of {self._hashed} events is taken; {count} is fewer")
        for start in range(self._hashed, count, _HASHED_AT_ONCE):
            batch = self.events[start : min(start + _HASHED_AT_ONCE, count)]
            text = _CANONICAL.encode(
                [(e.at.isoformat(), e.type, e.contact, e.user, e.team, e.status, e.attrs) for e in batch]
            )
            # The events without the list's brackets, each followed by a comma: the same bytes
            # however the prefix was cut into calls.
            self._hash.update(text[1:-1].encode() + b",")
        self._hashed = max(self._hashed, count)
        return self._hash.hexdigest()[:16]


@dataclass(frozen=True)
class Held:
    """What a used engine file holds, read from its meta table and counts."""

    meta: dict[str, str]
    users: int
    decisions: int

    @property
    def kind(self) -> str | None:
        return self.meta.get(RUN)  # None: written before rota kept fingerprints

    @property
    def events_applied(self) -> int:
        return int(self.meta.get("events_applied", 0))

    def description(self) -> str:
        meta = self.meta
        policy = f"policy {_short(meta.get('policy_version'))}"
        if meta.get(POLICY_FILE):
            policy += f" ({meta[POLICY_FILE]})"
        if self.kind == RunKind.REPLAY:
            return (
                f"holds a replay of {policy} from snapshot {_short(meta.get(SNAPSHOT))} "
                f"after {_count(self.events_applied, 'event')} of {meta.get(EVENTS_SOURCE)}"
            )
        if self.kind == RunKind.SERVE:
            counts = f"{_count(self.users, 'user')}, {_count(self.decisions, 'decision')}"
            return f"is the engine file of a `rota serve` ({policy}, {counts})"
        return f"holds an engine of {policy} with {_count(self.decisions, 'decision')}"


@dataclass(frozen=True)
class Run:
    """The run a command is about to make in an engine file."""

    kind: RunKind
    policy_file: str
    snapshot: str  # snapshot_digest(...), or NO_SNAPSHOT
    log: EventLog | None = None

    @classmethod
    def replay(cls, policy_file: str, roster: Roster, log: EventLog) -> Run:
        return cls(RunKind.REPLAY, policy_file, snapshot_digest(roster), log)

    @classmethod
    def serve(cls, policy_file: str, roster: Roster | None) -> Run:
        """`roster` is the one `--snapshot` loaded, or None without one."""
        return cls(RunKind.SERVE, policy_file, NO_SNAPSHOT if roster is None else snapshot_digest(roster))

    def meta(self, held: Held | None = None) -> dict[str, str]:
        """The fingerprint written to a new file, or to `held`, a file from before fingerprints,
        at the next commit (the events' digest is added at each commit). Such a served file's
        start is unknown: no snapshot is claimed for it."""
        meta = {RUN: self.kind.value, POLICY_FILE: self.policy_file, SNAPSHOT: self.snapshot}
        if held is not None and held.kind is None and self.kind == RunKind.SERVE:
            del meta[SNAPSHOT]
        if self.log is not None:
            meta[EVENTS_SOURCE] = self.log.source
        return meta

    def refusal(self, path: str, held: Held, policy_version: str) -> str | None:
        """Why this run must not go on in the file that holds `held`, in one line; None when it may."""
        if self.kind == RunKind.REPLAY:
            return self._replay_refusal(path, held, policy_version)
        return self._serve_refusal(path, held)

    def _replay_refusal(self, path: str, held: Held, policy_version: str) -> str | None:
        if held.kind == RunKind.SERVE:
            return f"{path}: {held.description()}; a replay needs a file of its own: use a new --db file"
        differences = []
        if held.meta.get("policy_version") != policy_version:
            differences.append(f"policy {_short(policy_version)} ({self.policy_file})")
        if held.kind is not None and held.meta.get(SNAPSHOT) != self.snapshot:
            differences.append(f"snapshot {_short(self.snapshot)}")
        log, applied = self.log, held.events_applied
        if log is not None and applied > len(log.events):
            differences.append(f"only {len(log.events):,} events from {log.source}")
        elif log is not None and held.kind is not None and log.digest(applied) != held.meta.get(EVENTS_DIGEST):
            differences.append(f"{log.source}, whose first {applied:,} events differ")
        if not differences:
            return None
        return f"{path}: {held.description()}; this run has {_listed(differences)}: {WAY_OUT}"

    def _serve_refusal(self, path: str, held: Held) -> str | None:
        if held.kind == RunKind.REPLAY:
            return f"{path}: {held.description()}; rota serve needs a file of its own: {WAY_OUT}"
        if self.snapshot != NO_SNAPSHOT and held.meta.get(SNAPSHOT) != self.snapshot:
            started = held.meta.get(SNAPSHOT)
            origin = (
                "no snapshot"
                if started == NO_SNAPSHOT
                else "another snapshot"
                if started
                else "a snapshot it did not record (it predates fingerprints)"
            )
            return (
                f"{path}: already holds {_count(held.users, 'user')}, from {origin}; --snapshot only seeds a new engine "
                "file: drop --snapshot to serve the file as it is, or use a new --db file"
            )
        return None


def _short(digest: str | None) -> str:
    return (digest or "unknown")[:SHOWN_DIGEST]


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
