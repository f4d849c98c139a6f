"""`rota diff OLD NEW`: what changes if NEW replaces OLD, on a snapshot and its history; a deploy gate."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from rota import report

from .common import OK, POLICY_ERRORS, Command, InputError, existing_policy, input_file, parse_time, say, warner


def register(command: Command) -> None:
    diff = command(
        "diff",
        "run two policies on the same history and say what changes if NEW replaces OLD; "
        "exit 1 when more decisions change than --max-changed",
    )
    diff.add_argument("old", metavar="OLD", help="the policy in use: a file or a folder of .rota files")
    diff.add_argument("new", metavar="NEW", help="the policy that would replace it")
    diff.add_argument("--snapshot", metavar="DIR", help="the users, teams and rotation both runs start from")
    history = diff.add_mutually_exclusive_group(required=True)
    history.add_argument("--events", metavar="LOG", help="an event log, replayed in memory under each policy")
    history.add_argument("--contacts", metavar="FILE", help="contacts, routed in one pass (as rota batch) under each")
    history.add_argument(
        "--export",
        metavar="DIR",
        help="a folder `rota export` wrote: both policies run from the state at its start through its events "
        "(no --snapshot then)",
    )
    diff.add_argument("--now", metavar="T", help="with --contacts: the instant they are routed at (default: now)")
    diff.add_argument(
        "--until",
        metavar="T",
        help="with --events or --export: fire timeouts up to T (default: the last event's time, or the export's end)",
    )
    diff.add_argument(
        "--first",
        type=int,
        default=10,
        metavar="N",
        help="show the first N contacts whose fate differs, each decision explained (0: none, and no time spent explaining)",
    )
    diff.add_argument(
        "--max-changed",
        type=int,
        metavar="N",
        help="exit 1 when more than N decisions differ (default: no gate, exit 0)",
    )
    diff.add_argument("--format", choices=("text", "json"), default="text", help="the report's form")
    diff.set_defaults(run=run_diff)


def run_diff(arguments: argparse.Namespace, errors: Console) -> int:
    from rota.diff import diff_export, diff_files
    from rota.diff.text import diff_json, print_diff

    for option in ("first", "max_changed"):
        value = getattr(arguments, option)
        if value is not None and value < 0:
            raise InputError(f"--{option.replace('_', '-')} must be 0 or more, got {value}")
    _check_history(arguments)
    if arguments.now is not None and arguments.contacts is None:
        raise InputError("--now is the instant a batch of --contacts is routed at; an event log has its own times")
    if arguments.until is not None and arguments.contacts is not None:
        raise InputError("--until applies to an event log (--events or --export), not to --contacts")
    old, new = existing_policy(arguments.old), existing_policy(arguments.new)
    until = parse_time(arguments.until, "--until") if arguments.until else None
    if arguments.export is not None:
        diff = diff_export(old, new, arguments.export, until, arguments.first)
    else:
        diff = diff_files(
            old,
            new,
            arguments.snapshot,
            events=arguments.events,
            contacts=arguments.contacts,
            now=parse_time(arguments.now, "--now") if arguments.contacts else None,
            until=until,
            warn=warner(errors),
            explain_first=arguments.first,
        )
    names = (arguments.old, arguments.new)
    if arguments.format == "json":
        print(json.dumps(diff_json(diff, names, arguments.first, arguments.max_changed)))
    else:
        print_diff(report.console_for(sys.stdout), diff, names, arguments.first)
    if diff.within(arguments.max_changed):
        return OK
    say(
        errors,
        f"rota diff: {diff.changed_decisions:,} decisions differ, more than --max-changed {arguments.max_changed:,}",
    )
    return POLICY_ERRORS


def _check_history(arguments: argparse.Namespace) -> None:
    """The history's files exist, and --snapshot goes with --events or --contacts only."""
    if arguments.export is not None:
        if arguments.snapshot is not None:
            raise InputError("--export holds its own snapshot (the state at its start); leave out --snapshot")
        if not Path(arguments.export).is_dir():
            raise InputError(f"{arguments.export}: no such export folder; give the folder rota export wrote")
        return
    if arguments.snapshot is None:
        raise InputError("give --snapshot DIR (or --export DIR, a folder rota export wrote)")
    if arguments.events is not None:
        input_file(arguments.events, "event log")
    else:
        input_file(arguments.contacts, "contacts file")
