"""The engine kept in a DuckDB file: every decision is on disk before it is reported.

Events are applied in memory and their effects written by `commit`, in one
transaction per group of events (group commit); callers report decisions
only from what `commit` returns. Reopening the file restores users, counts,
cursors, contacts with their release timers and the users they were
released from, the queue with its deadlines, and the count of events
applied, so a replay killed at any moment carries on where it stopped, and
fires no timer twice: a timer is in its contact's row, in the same commit
as the decisions that set or fired it.
Given the run at hand (`provenance.Run`), opening a used file first checks
that it holds that run, and refuses another one before writing anything.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from rota.dsl.sources import PolicySource, as_source
from rota.dsl.types import SnapshotSchema
from rota.storage.engine_store import Changes, EngineStore, decode_attributes, encode_attributes

from .clock import format_instant
from .compiler import CompiledPolicy, compile_policy
from .decisions import Decision
from .history import HistoryError, Input, PolicySwitch, input_from_record, input_line, state_at, state_of
from .provenance import EVENTS_DIGEST, EventLog, Held, Run, RunMismatch
from .queue import QueueEntry
from .releases import ReleaseTimer, timer_columns, timers_of_row
from .roster import TEAMS, JournalReader, Roster, User
from .router import Contact
from .scheduler import ContactState, Engine, Event


class DurableEngine:
    def __init__(
        self, store: EngineStore, engine: Engine, policy_text: str, events_applied: int = 0, now: datetime | None = None
    ):
        self.store = store
        self.engine = engine
        self.policy_text = policy_text  # as stored: `PolicySource.encode`
        self.events_applied = events_applied
        self._pending: list[Decision] = []
        self._touched_contacts: set[str] = set()
        # Open contacts' attributes as last written, with the text they encode to: a contact is
        # written at each step (routed, queued, assigned, closed) but its attributes change rarely.
        self._attribute_texts: dict[str, tuple[dict, str]] = {}
        # Versions are kept with the time they were first seen (the epoch when no clock was given).
        # Every version taken since the last commit (two may come between commits: each is kept).
        self._new_policies: list[tuple] = [(engine.policy.version, policy_text, now or datetime(1970, 1, 1))]
        self._decision_count = store.count("decisions")
        self.log: EventLog | None = None  # a replay's EventLog: its digest is written with every commit
        self._fingerprint: dict[str, str] = {}  # written with the next commit
        self._changes = JournalReader(engine.roster.journal)  # the users changed since the last commit
        self._write_all_users = False
        # The service's history (`keep_history`): inputs applied since the last commit, (seq, at, JSON line),
        # and the state the history starts from when this file has none yet.
        self._history: list[tuple] | None = None
        self._input_count = 0
        self._history_base: list[tuple] = []
        self._replaced_text: str | None = None  # the stored policy this opening replaced, if it did
        engine.releases.changed = set()  # contacts whose release timers changed: the next commit writes their rows

    # ------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        path: str | Path,
        policy: str | PolicySource | None = None,
        roster: Roster | None = None,
        file: str = "<policy>",
        now: datetime | None = None,
        run: Run | None = None,
    ) -> DurableEngine:
        """Open (or create, from `roster`) an engine file; a given policy (one file's text, named `file`, or a
        PolicySource) replaces the stored one.

        With `run`, a used file must hold that run (RunMismatch says what it holds
        instead, and the file is left as it was), and the run's fingerprint is kept in it."""
        from rota.dsl import load_policy

        store = EngineStore(path)
        try:
            meta = store.meta()
            stored = meta.get("policy_text")
            if policy is not None:
                source = as_source(policy, file)
            elif stored is not None:
                source = PolicySource.decode(stored, file)
            else:
                raise RunMismatch(f"{path}: holds no policy yet; give one")
            text = source.encode()
            compiled = compile_policy(load_policy(source))
            held = None if store.is_empty() else Held(meta, store.count("users"), store.count("decisions"))
            refusal = None if run is None or held is None else run.refusal(str(path), held, compiled.version)
            if refusal is not None:
                raise RunMismatch(refusal)
        except BaseException:
            store.close()
            raise
        if held is None:
            durable = cls(store, Engine(compiled, roster or Roster()), text, now=now)
            durable._follow(run, held)
            durable._write_everything()
            return durable
        engine = Engine(compiled, _load_roster(store, meta))
        _load_contacts(store, engine)
        engine.queue.next_sequence = int(meta.get("next_sequence", 0))
        engine.releases.next_order = max(engine.releases.next_order, int(meta.get("next_timer_order", 0)))
        durable = cls(store, engine, text, held.events_applied, now)
        durable._follow(run, held)
        if policy is not None and text != stored:
            durable._replaced_text = stored
        if (policy is not None and text != stored) or durable._fingerprint:
            durable.commit()
        return durable

    def _follow(self, run: Run | None, held: Held | None) -> None:
        """Keep `run`'s fingerprint in the file from the next commit on."""
        if run is not None:
            self.log = run.log
            self._fingerprint = {
                key: value for key, value in run.meta(held).items() if held is None or held.meta.get(key) != value
            }

    def _write_everything(self) -> None:
        self._write_all_users = True
        self.commit()

    # ---------------------------------------------------------------- steps

    @property
    def policy(self) -> CompiledPolicy:
        return self.engine.policy

    def handle(self, event: Event) -> list[Decision]:
        """Apply one event in memory; its decisions become durable at the next commit."""
        decisions = self.engine.handle(event)
        if event.contact is not None:
            self._touched_contacts.add(event.contact)
        self.events_applied += 1
        self._keep(event)
        self._remember(decisions)
        return decisions

    def advance(self, until: datetime, inclusive: bool = True) -> list[Decision]:
        decisions = self.engine.advance(until, inclusive)
        self._remember(decisions)
        return decisions

    def _remember(self, decisions: list[Decision]) -> None:
        self._pending.extend(decisions)
        self._touched_contacts.update(decision.contact for decision in decisions)

    def commit(self) -> list[Decision]:
        """Write everything since the last commit in one transaction; returns the decisions it made durable."""
        changes, decisions = self.prepare_commit()
        self.store.commit(changes)
        return decisions

    def prepare_commit(self) -> tuple[Changes, list[Decision]]:
        """What the next commit writes, taken from memory (cheap): a separate writer may
        then `store.commit` it while events go on, provided commits keep their order."""
        engine, roster = self.engine, self.engine.roster
        changed, teams_changed = self._changed_users()
        changes = Changes(
            users=[_user_row(roster.users[user_id]) for user_id in changed],
            memberships={user_id: list(roster.users[user_id].teams) for user_id in teams_changed},
            cursors=dict(roster.cursors),
            meta={
                "policy_text": self.policy_text,
                "policy_version": self.policy.version,
                "next_order": str(roster.next_order),
                "next_sequence": str(engine.queue.next_sequence),
                "next_timer_order": str(engine.releases.next_order),
                "events_applied": str(self.events_applied),
                **self._fingerprint,
            },
        )
        if self.log is not None:
            changes.meta[EVENTS_DIGEST] = self.log.digest(self.events_applied)
        self._fingerprint = {}
        changes.policies, self._new_policies = self._new_policies, []
        if self._history is not None:
            changes.inputs, self._history = self._history, []
            changes.history_base, self._history_base = self._history_base, []
        contacts, queued, timers = engine.contacts, engine.queue.entries, engine.releases.timers
        changed_timers = engine.releases.changed
        assert changed_timers is not None  # set when this engine was made durable
        for contact_id in sorted(self._touched_contacts | changed_timers):
            state = contacts.get(contact_id)
            if state is None:
                continue
            contact = state.contact
            row: tuple = (contact.id, contact.assignee, state.closed, self._attributes_text(state))
            if contact.released or contact_id in timers:  # a shorter row has no SPEC 4.1 state (the store says)
                row += (sorted(contact.released) or None,) + timer_columns(timers.get(contact_id))
            changes.contacts.append(row)
            entry = queued.get(contact_id)
            if entry is None:
                changes.unqueued.append(contact_id)
            else:
                changes.queued.append(
                    (entry.contact, entry.route, entry.enqueued_at, entry.deadline, entry.priority, entry.sequence)
                )
        changed_timers.clear()
        first, version = self._decision_count, self.policy.version
        changes.decisions = [
            (
                first + index,
                decision.at,
                decision.contact,
                decision.route,
                decision.outcome,
                decision.user,
                decision.reason,
                decision.deadline,
                version,
                decision.candidates,
            )
            for index, decision in enumerate(self._pending)
        ]
        self._decision_count += len(self._pending)
        durable, self._pending = self._pending, []
        self._touched_contacts.clear()
        return changes, durable

    def _changed_users(self) -> tuple[list[str], list[str]]:
        """The ids of the users changed since the last commit, and of those whose teams changed."""
        entries = self._changes.read()
        if entries is None or self._write_all_users:  # all of them, when the journal no longer says which
            self._write_all_users = False
            everyone = sorted(self.engine.roster.users)
            return everyone, everyone
        users = self.engine.roster.users
        changed = sorted({user_id for _, user_id in entries if user_id in users})
        teams = sorted({user_id for change, user_id in entries if change is TEAMS and user_id in users})
        return changed, teams

    def _attributes_text(self, state: ContactState) -> str:
        """The contact's attributes encoded, again only when they were replaced (they never change in place)."""
        contact = state.contact
        known = self._attribute_texts.get(contact.id)
        if known is None or known[0] is not contact.attributes:
            known = self._attribute_texts[contact.id] = (contact.attributes, encode_attributes(contact.attributes))
        if state.closed:  # routed again, it comes with new attributes
            del self._attribute_texts[contact.id]
        return known[1]

    @property
    def policy_source(self) -> PolicySource:
        """The active policy's files and texts."""
        return PolicySource.decode(self.policy_text)

    def use_policy(self, policy: str | PolicySource, now: datetime, file: str = "<policy>") -> CompiledPolicy:
        """A new version (one file's text, named `file`, or a PolicySource) takes effect between two decisions
        (and is kept at the next commit); PolicyError when it does not compile."""
        from rota.dsl import load_policy

        source = as_source(policy, file)
        compiled = compile_policy(load_policy(source))
        self._remember(self.engine.advance(now, inclusive=False))  # as at any input: what was due goes first
        self.engine.use_policy(compiled)
        self.policy_text = source.encode()
        self._new_policies.append((compiled.version, self.policy_text, now))
        self._keep(PolicySwitch(now, compiled.version))
        return compiled

    # ------------------------------------------------------------- history

    def keep_history(self, now: datetime) -> datetime:
        """From now on every input applied (event or policy version) is kept, in the commit of its decisions.
        A file without a history starts one here, from the state it holds at `now`; one with a history
        records the policy it was opened with as a version taking effect at `now`, after the timeouts due.
        Returns the latest instant the history holds: the caller's clock must go on after it."""
        self._history = []
        self._input_count = self.store.count("inputs")
        base = self.store.history_base()
        if base is None:
            self._history_base = [(now, json.dumps(state_of(self.engine, now), ensure_ascii=False))]
            return now
        now = max(now, self.store.last_input_at() or base[0])  # inputs come after the base
        self._fire_under_replaced_policy(now)
        self._keep(PolicySwitch(now, self.policy.version))
        return now

    def _fire_under_replaced_policy(self, now: datetime) -> None:
        """Fire what fell due before `now` under the policy this opening replaced (if it did), as a replay
        of the history fires it before the opening's `policy` event."""
        from rota.dsl import load_policy

        opened_with = self.engine.policy
        if self._replaced_text is not None:
            self.engine.use_policy(compile_policy(load_policy(PolicySource.decode(self._replaced_text))))
        self._remember(self.engine.advance(now, inclusive=False))
        self.engine.use_policy(opened_with)

    def _keep(self, entry: Input) -> None:
        if self._history is not None:
            self._history.append((self._input_count, entry.at, input_line(entry)))
            self._input_count += 1

    def history(self, since: datetime, until: datetime) -> dict[str, Any]:
        """The state at `since` and the inputs from `since` through `until`, as `rota export` writes them:
        `{"since", "until", "history_began", "snapshot", "events", "policies"}`. Reads only committed rows
        (the file, not memory): safe beside the writer. HistoryError when the window is not in the history."""
        base = self.store.history_base()
        if base is None:
            raise HistoryError("this engine file keeps no history yet: it starts when rota serve next opens it")
        began = base[0]
        if since < began:
            raise HistoryError(f"the kept history begins at {format_instant(began)}: start the window there or later")
        texts = {row["version"]: row["text"] for row in self.store.policies()}
        compiled: dict[str, CompiledPolicy] = {}

        def policy_of(version: str) -> CompiledPolicy:
            if version not in compiled:
                from rota.dsl import load_policy

                compiled[version] = compile_policy(load_policy(PolicySource.decode(texts[version])))
            return compiled[version]

        rows = self.store.inputs(until)
        inputs = [input_from_record(json.loads(body), texts) for _, _, body in rows]
        engine = state_at(json.loads(base[1]), inputs, policy_of, since)
        window = [entry for entry in inputs if entry.at >= since]
        versions = [engine.policy.version] + [e.version for e in window if isinstance(e, PolicySwitch)]
        return {
            "since": format_instant(since),
            "until": format_instant(until),
            "history_began": format_instant(began),
            "snapshot": state_of(engine, since),
            "events": [json.loads(body) for _, at, body in rows if at >= since],
            "policies": [{"version": version, "text": texts[version]} for version in dict.fromkeys(versions)],
        }

    def logged(self) -> list[Decision]:
        """Every decision committed so far, oldest first."""
        return [
            Decision(
                row["contact"],
                row["route"],
                row["outcome"],
                row["user"],
                row["reason"],
                row["deadline"],
                row["at"],
                row["candidates"],
            )
            for row in self.store.decisions()
        ]

    def close(self) -> None:
        self.commit()
        self.store.close()

    def write(self, changes: Changes) -> None:
        """Write what `prepare_commit` gathered, in one transaction (the service's writer thread)."""
        self.store.commit(changes)

    def abandon(self) -> None:
        """Close the file as last committed, dropping what memory holds beyond it (after a failed write)."""
        self.store.close()

    # ------------------------------------------------------------- queries

    def queued(self) -> list[QueueEntry]:
        """The queue in queue order (SPEC 4)."""
        return self.engine.queue.in_order()

    def queue_entry(self, contact_id: str) -> QueueEntry | None:
        return self.engine.queue.entries.get(contact_id)

    @property
    def queue_length(self) -> int:
        return len(self.engine.queue)

    def user(self, user_id: str) -> User | None:
        return self.engine.roster.users.get(user_id)

    def users(
        self,
        status: str | None = None,
        team: str | None = None,
        deleted: bool | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[User]:
        """Users in id order, of a status, a team and deleted or not (None: any), from the first id past `after`."""
        roster = self.engine.roster
        ids = roster.members.get(team, set()) if team is not None else roster.users.keys()
        chosen = sorted(
            (roster.users[user_id] for user_id in ids if after is None or user_id > after),
            key=lambda user: user.id,
        )
        chosen = [
            user
            for user in chosen
            if (status is None or user.status == status) and (deleted is None or user.deleted == deleted)
        ]
        return chosen[:limit] if limit is not None else chosen

    def teams(self) -> dict[str, list[User]]:
        """Every team with a member, by name, its members in id order (a team is there while it has members)."""
        roster = self.engine.roster
        return {team: self.users(team=team) for team in sorted(roster.members) if roster.members[team]}

    def team(self, name: str) -> list[User] | None:
        """A team's members in id order; None for a team with no member."""
        return self.users(team=name) if self.engine.roster.members.get(name) else None

    def roster_schema(self) -> SnapshotSchema:
        """What a new policy is checked against, as `rota check --snapshot` checks a snapshot's: the teams
        with a member and the user ids (user attributes have no declared columns here)."""
        roster = self.engine.roster
        teams = frozenset(team for team, members in roster.members.items() if members)  # names only, no member lists
        return SnapshotSchema(user_columns=None, teams=teams, user_ids=frozenset(roster.users))

    def contact(self, contact_id: str) -> ContactState | None:
        return self.engine.contacts.get(contact_id)

    def release_timers(self, contact_id: str) -> list[ReleaseTimer]:
        """The contact's release timers (SPEC 4.1), `unanswered` first."""
        return list(self.engine.releases.timers.get(contact_id, {}).values())

    def decisions(self, **filters: Any) -> list[dict[str, Any]]:
        """Committed decision rows, filtered as `EngineStore.decisions` says."""
        return self.store.decisions(**filters)

    def decisions_after(self, seq: int, limit: int) -> list[tuple]:
        """Committed decision rows after sequence number `seq`, as `EngineStore.decisions_after` says."""
        return self.store.decisions_after(seq, limit)

    def last_committed_seq(self) -> int:
        """The sequence number of the newest committed decision (-1 before the first); numbers start at 0."""
        return self.store.count("decisions") - 1

    def delivered_through(self, destination: str) -> int | None:
        return self.store.delivered_through(destination)

    def save_delivered_through(self, destination: str, seq: int) -> None:
        self.store.save_delivered_through(destination, seq)

    def policy_versions(self) -> list[dict[str, Any]]:
        """Every policy version kept, with its text and when it was first seen."""
        return self.store.policies()


def _user_row(user: User) -> tuple:
    return (
        user.id,
        user.name,
        user.status,
        user.deleted,
        user.open,
        user.last_assigned_at,
        user.assigned_order,
        encode_attributes(user.attributes),
    )


def _load_roster(store: EngineStore, meta: dict[str, str]) -> Roster:
    users = [
        User(
            id=row[0],
            name=row[1],
            status=row[2],
            deleted=row[3],
            open=row[4],
            last_assigned_at=row[5],
            assigned_order=row[6],
            attributes=decode_attributes(row[7]),
        )
        for row in store.rows("users", "id")
    ]
    roster = Roster(
        users={user.id: user for user in users},
        cursors=dict(store.rows("rotation", "pool")),
        next_order=int(meta.get("next_order", 0)),
    )
    for team, user_id in store.rows("memberships", "team, user_id"):
        roster.join(user_id, team)
    return roster


def _load_contacts(store: EngineStore, engine: Engine) -> None:
    entries = {row[0]: QueueEntry(*row) for row in store.rows("queue", "sequence")}
    for contact_id, assignee, closed, attributes, released, *timer_row in store.rows("contacts", "id"):
        contact = Contact(contact_id, assignee, decode_attributes(attributes), frozenset(released or ()))
        engine.restore(contact, closed, entries.get(contact_id))
        for timer in timers_of_row(contact_id, assignee, tuple(timer_row)):
            engine.releases.restore(timer)
