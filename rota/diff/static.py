"""The static difference of two policies: routes added, removed, reordered and changed.

Computed from the parsed policies, never from their files' text: each route is
written out in canonical form (`rota fmt`'s, without comments) and compared
part by part, so a comment, a blank line or an option written in another
order is no change, and `only open<5` against `only open < 5` is none either.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from rota.dsl import Policy, Route, format_policy


@dataclass(frozen=True)
class CanonicalRoute:
    """A route's parts as `rota fmt` writes them."""

    condition: str  # `when ...`, or "" for a route that always holds
    action: str
    options: tuple[str, ...]

    @classmethod
    def of(cls, route: Route) -> CanonicalRoute:
        header, action, *options = format_policy(Policy(routes=(route,))).splitlines()[:-1]  # the last is `}`
        condition = header.removeprefix(f"route {route.name}").removesuffix("{").strip()
        return cls(condition, action.strip(), tuple(option.strip() for option in options))


@dataclass(frozen=True)
class RouteChange:
    """What changed in a route both policies have; a part that did not change is None (or empty)."""

    route: str
    condition: tuple[str, str] | None = None  # (old, new); "" is no `when`
    action: tuple[str, str] | None = None
    options_removed: tuple[str, ...] = ()
    options_added: tuple[str, ...] = ()

    @classmethod
    def between(cls, name: str, old: CanonicalRoute, new: CanonicalRoute) -> RouteChange | None:
        if old == new:
            return None
        return cls(
            name,
            (old.condition, new.condition) if old.condition != new.condition else None,
            (old.action, new.action) if old.action != new.action else None,
            tuple(option for option in old.options if option not in new.options),
            tuple(option for option in new.options if option not in old.options),
        )


@dataclass(frozen=True)
class StaticDiff:
    old_order: tuple[str, ...]
    new_order: tuple[str, ...]
    added: tuple[str, ...]  # in NEW's order
    removed: tuple[str, ...]  # in OLD's order
    moved: tuple[str, ...]  # routes of both whose place among the others changed, in NEW's order
    changed: tuple[RouteChange, ...]  # in NEW's order
    timezone: tuple[str | None, str | None] | None = None  # (old, new) when it changed

    @property
    def identical(self) -> bool:
        return not (self.added or self.removed or self.moved or self.changed or self.timezone)


def static_diff(old: Policy, new: Policy) -> StaticDiff:
    old_routes = {route.name: route for route in old.routes}
    new_routes = {route.name: route for route in new.routes}
    kept_old = [name for name in old_routes if name in new_routes]
    kept_new = [name for name in new_routes if name in old_routes]
    changes = (
        RouteChange.between(name, CanonicalRoute.of(old_routes[name]), CanonicalRoute.of(new_routes[name]))
        for name in kept_new
    )
    return StaticDiff(
        old_order=tuple(old_routes),
        new_order=tuple(new_routes),
        added=tuple(name for name in new_routes if name not in old_routes),
        removed=tuple(name for name in old_routes if name not in new_routes),
        moved=_moved(kept_old, kept_new),
        changed=tuple(change for change in changes if change is not None),
        timezone=(old.timezone, new.timezone) if old.timezone != new.timezone else None,
    )


def _moved(old_order: list[str], new_order: list[str]) -> tuple[str, ...]:
    """The routes whose place changed: those off the runs of routes difflib finds kept in order."""
    matcher = difflib.SequenceMatcher(a=old_order, b=new_order, autojunk=False)
    in_place = {name for block in matcher.get_matching_blocks() for name in new_order[block.b : block.b + block.size]}
    return tuple(name for name in new_order if name not in in_place)
