"""The users, their teams and the round-robin cursors that routing reads and moves.

`assigned_order` is the total order of assignments that SPEC 3.5 asks for:
snapshot timestamps are ranked (ties share a rank, never-assigned users are
-1), and every new assignment takes the next number, so it is later than
anything in the snapshot and than every earlier assignment, even at the same
instant.

Every change of a user is recorded in the roster's one `Journal`, as
(what changed, whose): the candidate sets and indexes of the live engine,
the drain, the durable engine's commit and the batch's candidate sets each
follow it with a `JournalReader` of their own. The batch's pass journals a
rising count once per user when it ends (`give_unjournalled`), as nothing
reads those while it runs.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rota.vocabulary import Status

NEVER_ASSIGNED = -1
KEPT_CHANGES = 65_536  # the journal drops its older half past twice this many entries


@dataclass(slots=True, eq=False)
class User:
    id: str
    status: str | None = Status.ONLINE.value
    name: str | None = None
    deleted: bool = False
    open: int = 0
    last_assigned_at: datetime | None = None
    assigned_order: int = NEVER_ASSIGNED
    teams: list[str] = field(default_factory=list)
    attributes: dict = field(default_factory=dict)

    def least_open_key(self) -> tuple[int, int, str]:
        """Fewest open contacts, then least recently assigned, then smallest id."""
        return (self.open, self.assigned_order, self.id)


def as_user_id(value: Any) -> str | None:
    """User ids are strings; a whole number names the user with that id too."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():  # a column mixing 2 and 2.5 holds 2 as 2.0
        return str(int(value))
    return None


class Change(enum.IntEnum):
    """What changed about a user, as the roster's journal records it: one bit each, so that a
    reader folds a user's entries into one number with `|` (and an IntEnum hashes as fast as an int)."""

    PROFILE = 1  # status, name, attributes or deletion
    TEAMS = 2  # joined or left a team (its profile changed too)
    COUNT = 4  # open count rose or the assignment order moved
    COUNT_FELL = 8  # open count fell: a contact was taken away


# The members bound once: an attribute of an Enum class is looked up through EnumType's `__getattr__`
# hook, several times slower than a global's, and the journal records a change at every assignment.
PROFILE, TEAMS, COUNT, COUNT_FELL = Change.PROFILE, Change.TEAMS, Change.COUNT, Change.COUNT_FELL
# A journal entry: what changed, and whose.
Entry = tuple[Change, str]
# The kinds that change who a route's members are (counts never do).
PROFILE_CHANGES = frozenset({Change.PROFILE, Change.TEAMS})
PROFILE_BITS = Change.PROFILE | Change.TEAMS


class Journal:
    """The roster's changes in order. Each reader keeps its own position (an
    absolute count of entries) and reads what came after; only recent entries
    are kept, so a reader further behind than that is told so (None) and
    starts afresh from the roster itself."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.start = 0  # the absolute position of entries[0]
        self.end = 0  # the absolute position after the last entry (an attribute: readers check it at every step)
        self.falls = 0  # how many COUNT_FELL entries were ever recorded: a reader of those alone checks this first
        # How many entries other than a rising count were ever recorded: under caps, which are monotone,
        # only those can make a user eligible where it was not (the drain checks this first).
        self.not_rises = 0
        # Each (change, user) entry made once and kept: the journal holds up to 2 * KEPT_CHANGES of them, and
        # an entry made anew at each record (one an assignment) would be that many more objects for the cycle
        # collector (an enum member is one it tracks, so the tuple is never untracked) to walk.
        self._made: dict[Change, dict[str, Entry]] = {kind: {} for kind in Change}

    def record(self, change: Change, user_id: str) -> None:
        made = self._made[change]
        entry = made.get(user_id)
        if entry is None:
            entry = made[user_id] = (change, user_id)
        self.entries.append(entry)
        self.end += 1
        if change is not COUNT:
            self.not_rises += 1
            if change is COUNT_FELL:
                self.falls += 1
        if len(self.entries) > 2 * KEPT_CHANGES:
            del self.entries[:KEPT_CHANGES]
            self.start += KEPT_CHANGES

    def since(self, position: int) -> list[Entry] | None:
        """The entries from `position` on; None when some of them are no longer kept."""
        if position < self.start:
            return None
        return self.entries[position - self.start :]


class JournalReader:
    """One reader's place in a journal: it starts at the end, at what comes next."""

    def __init__(self, journal: Journal):
        self.journal = journal
        self.position = journal.end

    @property
    def behind(self) -> bool:
        return self.position != self.journal.end

    def read(self) -> list[Entry] | None:
        """The entries since the last read (None: some are no longer kept); moves to the end."""
        entries = self.journal.since(self.position)
        self.position = self.journal.end
        return entries

    def skip(self) -> None:
        """Moves to the end without reading: the caller knows the entries since change nothing for it."""
        self.position = self.journal.end


@dataclass(eq=False)
class Roster:
    users: dict[str, User] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    cursors: dict[str, str] = field(default_factory=dict)
    next_order: int = 0
    # Every change of a user, for the readers that keep something derived up to date:
    # candidate sets, indexes, the drain, the durable engine's commit, the batch's sets.
    journal: Journal = field(default_factory=Journal)
    _pools: dict = field(default_factory=dict, repr=False)
    _profile_version: int = 0  # how many profile changes so far: a pool is kept until the next

    def profile_changed(self, user_id: str) -> None:
        """The user's status, name, attributes or deletion changed (the caller changed them)."""
        self._profile_version += 1
        self.journal.record(PROFILE, user_id)

    def in_pool(self, user: User, team: str | None) -> bool:
        return not user.deleted and (team is None or user.id in self.members.get(team, ()))

    def pool_is_empty(self, team: str | None) -> bool:
        users = self.users.values() if team is None else (self.users[u] for u in self.members.get(team, ()))
        return all(user.deleted for user in users)

    @classmethod
    def build(
        cls,
        users: Iterable[User],
        memberships: Iterable[tuple[str, str]] = (),
        cursors: dict[str, str] | None = None,
    ) -> Roster:
        roster = cls(users={user.id: user for user in users}, cursors=dict(cursors or {}))
        roster._add_memberships(memberships)  # a new roster has no reader to tell of them
        roster.rank_snapshot_assignments()
        return roster

    def rank_snapshot_assignments(self) -> None:
        moments = sorted({u.last_assigned_at for u in self.users.values() if u.last_assigned_at is not None})
        rank: dict[datetime | None, int] = {moment: index for index, moment in enumerate(moments)}  # None: never
        for user in self.users.values():
            user.assigned_order = rank.get(user.last_assigned_at, NEVER_ASSIGNED)
        self.next_order = len(moments)

    # -------------------------------------------------------------- membership

    def join(self, user_id: str, team: str) -> None:
        self.join_all([(team, user_id)])

    def join_all(self, memberships: Iterable[tuple[str, str]]) -> None:
        """Each known user joins each team given as (team, user_id); a membership already held changes nothing."""
        for user_id in self._add_memberships(memberships):
            self._teams_changed(user_id)

    def _add_memberships(self, memberships: Iterable[tuple[str, str]]) -> Iterable[str]:
        """`join_all` but for telling the journal: the users whose teams changed. Each user's teams are
        sorted once (a snapshot has a membership or more per user)."""
        joined: dict[str, set[str]] = {}
        for team, user_id in memberships:
            if user_id in self.users:
                members = self.members.setdefault(team, set())
                if user_id not in members:
                    members.add(user_id)
                    joined.setdefault(user_id, set()).add(team)
        for user_id, teams in joined.items():
            user = self.users[user_id]
            user.teams = sorted(user.teams + list(teams))
        return joined.keys()

    def leave(self, user_id: str, team: str) -> None:
        members = self.members.get(team)
        if members and user_id in members:
            members.discard(user_id)
            user = self.users[user_id]
            user.teams = [name for name in user.teams if name != team]
            self._teams_changed(user_id)

    def _teams_changed(self, user_id: str) -> None:
        self._profile_version += 1
        self.journal.record(TEAMS, user_id)

    def pool(self, team: str | None) -> list[User]:
        """The users a team (or, for None, the space) routes to: not deleted, by id."""
        cached = self._pools.get(team)
        if cached is not None and cached[0] == self._profile_version:
            return cached[1]
        users: Iterable[User]
        if team is None:
            users = self.users.values()
        else:
            users = (self.users[user_id] for user_id in self.members.get(team, ()))
        pool = sorted((user for user in users if not user.deleted), key=lambda user: user.id)
        self._pools[team] = (self._profile_version, pool)
        return pool

    # -------------------------------------------------------------- assignment

    def give(self, user: User, previous_assignee: str | None, now: datetime) -> None:
        """Assign a contact to `user`, taking it from its previous assignee (SPEC 3.5)."""
        self.give_unjournalled(user, previous_assignee, now)
        self.journal.record(COUNT, user.id)

    # The batch's pass gives without journalling the rises: a million entries nobody reads, since its
    # candidate sets only look for falls (still journalled by `take_away`). It ends with `journal_rises_since`.

    def give_unjournalled(self, user: User, previous_assignee: str | None, now: datetime) -> None:
        if previous_assignee != user.id:
            user.open += 1
            if previous_assignee is not None:
                self.take_away(previous_assignee)
        user.last_assigned_at = now
        user.assigned_order = self.next_order
        self.next_order += 1

    def give_in_bulk_unjournalled(self, given: Iterable[tuple[User, int, int]], contacts: int, now: datetime) -> None:
        """`give_unjournalled(user, None, now)` for `contacts` contacts held by nobody, in one step: `given` names
        each user once, with how many of them it gets and the turn (0 to contacts - 1) of its last one."""
        start = self.next_order
        for user, count, last_turn in given:
            user.open += count
            user.last_assigned_at = now
            user.assigned_order = start + last_turn
        self.next_order += contacts

    def journal_rises_since(self, order: int) -> None:
        """One COUNT entry for each user given a contact since `next_order` was `order`."""
        for user in self.users.values():
            if user.assigned_order >= order:
                self.journal.record(COUNT, user.id)

    def take_away(self, assignee: str | None) -> None:
        """The assignee no longer holds one of its contacts; never below zero."""
        holder = self.users.get(assignee) if assignee is not None else None
        if holder is not None and holder.open > 0:
            holder.open -= 1
            self.journal.record(COUNT_FELL, holder.id)
