"""Which decisions differ between two runs of the same history.

Decisions are matched per contact and occurrence: a contact's first decision
under OLD against its first under NEW, its second against its second, and so
on. A pair differs when any column of the row differs (time, route, outcome,
user, reason, deadline); a decision with no partner (the contact had more
decisions under one policy) differs too. A contact's fate differs when any of
its decisions does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import zip_longest

from rota.engine import Decision


@dataclass(frozen=True)
class ChangedContact:
    contact: str
    old: tuple[Decision, ...]  # every decision of the contact under OLD, in order
    new: tuple[Decision, ...]
    first_difference: int  # the occurrence (0 = the contact's first decision) where they part
    changed_decisions: int

    @property
    def first_old(self) -> Decision | None:
        return self.old[self.first_difference] if self.first_difference < len(self.old) else None

    @property
    def first_new(self) -> Decision | None:
        return self.new[self.first_difference] if self.first_difference < len(self.new) else None

    @property
    def parted_at(self) -> datetime | None:
        """When the runs first decided differently for it; None in a batch, where no time passes."""
        firsts = (self.first_old, self.first_new)
        return min((d.at for d in firsts if d is not None and d.at is not None), default=None)


@dataclass(frozen=True)
class Comparison:
    old_decisions: int
    new_decisions: int
    pairs: int  # decisions matched up: per contact, the longer of its two sequences
    changed_decisions: int
    changed_contacts: tuple[ChangedContact, ...]  # by the time of their first difference, then first seen


def compare_decisions(old: list[Decision], new: list[Decision]) -> Comparison:
    old_by_contact, new_by_contact = _by_contact(old), _by_contact(new)
    contacts = dict.fromkeys([*old_by_contact, *new_by_contact])  # first seen under OLD, then NEW
    changed, pairs = [], 0
    for contact in contacts:
        mine, theirs = old_by_contact.get(contact, []), new_by_contact.get(contact, [])
        pairs += max(len(mine), len(theirs))
        differing = [index for index, (a, b) in enumerate(zip_longest(mine, theirs)) if a != b]
        if differing:
            changed.append(ChangedContact(contact, tuple(mine), tuple(theirs), differing[0], len(differing)))
    ordered = [contact for _, contact in sorted(enumerate(changed), key=lambda item: (_parted(item[1]), item[0]))]
    return Comparison(len(old), len(new), pairs, sum(c.changed_decisions for c in changed), tuple(ordered))


def _parted(contact: ChangedContact) -> datetime:
    return contact.parted_at or datetime.min


def _by_contact(decisions: list[Decision]) -> dict[str, list[Decision]]:
    grouped: dict[str, list[Decision]] = {}
    for decision in decisions:
        grouped.setdefault(decision.contact, []).append(decision)
    return grouped
