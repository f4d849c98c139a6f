"""rota: routing policies for customer-messaging desks, checked, tested and replayed like code.

The language lives in rota.dsl, routing in rota.engine, snapshots and files
in rota.storage; the names most users need are re-exported here.
"""

from typing import TYPE_CHECKING, Any

from rota.lazy import lazy_names

if TYPE_CHECKING:  # at run time each name is imported when first used (__getattr__ below)
    from rota.dsl import Diagnostic, PolicyError, analyze, check, format_policy, load_policy, parse
    from rota.engine import (
        CompiledPolicy,
        Contact,
        Decision,
        DurableEngine,
        Engine,
        Event,
        Roster,
        Router,
        User,
        compile_policy,
        load_roster,
        run_batch,
    )
    from rota.storage import StorageError, load_snapshot, read_contacts, write_table

    from .jobs import BatchSummary, ReplaySummary, batch_file, compile_policy_file, replay_file

    __version__: str

_lazy_name = lazy_names(
    globals(),
    {
        "rota.dsl": ("Diagnostic", "PolicyError", "analyze", "check", "format_policy", "load_policy", "parse"),
        "rota.engine": (
            "CompiledPolicy",
            "Contact",
            "Decision",
            "DurableEngine",
            "Engine",
            "Event",
            "Roster",
            "Router",
            "User",
            "compile_policy",
            "load_roster",
            "run_batch",
        ),
        "rota.storage": ("StorageError", "load_snapshot", "read_contacts", "write_table"),
        ".jobs": ("BatchSummary", "ReplaySummary", "batch_file", "compile_policy_file", "replay_file"),
    },
)


def __getattr__(name: str) -> Any:
    if name == "__version__":  # the installed distribution's, from pyproject.toml, looked up when asked:
        from importlib.metadata import version  # the look-up costs every command 10-20 ms

        return version("rota")
    return _lazy_name(name)


__all__ = [
    "BatchSummary",
    "CompiledPolicy",
    "Contact",
    "Decision",
    "Diagnostic",
    "DurableEngine",
    "Engine",
    "Event",
    "PolicyError",
    "ReplaySummary",
    "Roster",
    "Router",
    "StorageError",
    "User",
    "analyze",
    "batch_file",
    "check",
    "compile_policy",
    "compile_policy_file",
    "format_policy",
    "load_policy",
    "load_roster",
    "load_snapshot",
    "parse",
    "read_contacts",
    "replay_file",
    "run_batch",
    "write_table",
]
