"""Compiler, evaluators and routing (SPEC 3): rota.engine."""

from typing import TYPE_CHECKING

from rota.lazy import lazy_names

if TYPE_CHECKING:  # at run time each name is imported when first used (__getattr__ below)
    from .batch import run_batch
    from .clock import format_instant, parse_instant
    from .compiler import CompiledPolicy, CompiledRoute, compile_policy
    from .decisions import BATCH_COLUMNS, OUTCOMES, REPLAY_COLUMNS, Decision
    from .durable import DurableEngine
    from .roster import Roster, User
    from .router import Contact, Router
    from .scheduler import Engine, Event, event_from_record
    from .snapshot import load_roster, snapshot_schema

__getattr__ = lazy_names(
    globals(),
    {
        ".batch": ("run_batch",),
        ".clock": ("format_instant", "parse_instant"),
        ".compiler": ("CompiledPolicy", "CompiledRoute", "compile_policy"),
        ".decisions": ("BATCH_COLUMNS", "OUTCOMES", "REPLAY_COLUMNS", "Decision"),
        ".durable": ("DurableEngine",),
        ".roster": ("Roster", "User"),
        ".router": ("Contact", "Router"),
        ".scheduler": ("Engine", "Event", "event_from_record"),
        ".snapshot": ("load_roster", "snapshot_schema"),
    },
)

__all__ = [
    "BATCH_COLUMNS",
    "OUTCOMES",
    "REPLAY_COLUMNS",
    "CompiledPolicy",
    "CompiledRoute",
    "Contact",
    "Decision",
    "DurableEngine",
    "Engine",
    "Event",
    "Roster",
    "Router",
    "User",
    "compile_policy",
    "event_from_record",
    "format_instant",
    "load_roster",
    "parse_instant",
    "run_batch",
    "snapshot_schema",
]
