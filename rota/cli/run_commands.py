"""`rota batch` and `rota replay`: a policy run over contacts or an event log (SPEC 5.1)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from rota import report
from rota.jobs import batch_file, replay_export, replay_file

from .common import OK, Command, InputError, existing_policy, input_file, parse_time, say, warner


def register(command: Command) -> None:
    batch = command("batch", "route every contact against a snapshot in one pass")
    batch.add_argument("policy", metavar="POLICY", help="the policy file")
    batch.add_argument("--snapshot", metavar="DIR", required=True, help="the users, teams and rotation to route to")
    batch.add_argument("--contacts", metavar="FILE", required=True, help="the contacts; format by extension")
    batch.add_argument("--out", metavar="FILE", required=True, help="one row per contact; format by extension")
    batch.add_argument("--now", metavar="T", help="ISO 8601 instant, UTC without a zone (default: now)")
    batch.set_defaults(run=run_batch, one_shot=True)

    replay = command("replay", "run an event log through the engine")
    replay.add_argument("policy", metavar="POLICY", nargs="?", help="the policy file (not with --export)")
    replay.add_argument(
        "--snapshot", metavar="DIR", help="the users, teams and rotation to start from (without --export: required)"
    )
    replay.add_argument(
        "--events", metavar="FILE", help="JSON lines, each with `at` and `type` (without --export: required)"
    )
    replay.add_argument("--out", metavar="FILE", required=True, help="decisions as JSON lines")
    replay.add_argument("--until", metavar="T", help="fire timeouts up to T (default: the last event's time)")
    replay.add_argument(
        "--db", metavar="FILE", help="keep the engine in this DuckDB file: durable, resumable (default: in memory)"
    )
    replay.add_argument(
        "--export",
        metavar="DIR",
        help="instead of POLICY, --snapshot and --events: a folder `rota export` wrote, replayed under the policy "
        "versions it holds, up to its end (or --until)",
    )
    replay.set_defaults(run=run_replay)


def run_batch(arguments, errors: Console) -> int:
    now = parse_time(arguments.now, "--now")
    policy = existing_policy(arguments.policy)
    if not Path(arguments.contacts).is_file():
        raise InputError(f"{arguments.contacts}: no such contacts file")
    with report.progress_bar(errors, "routing contacts") as progress:
        summary = batch_file(
            policy, arguments.snapshot, arguments.contacts, arguments.out, now, progress, warner(errors)
        )
    report.print_batch_summary(errors, summary, arguments.out)
    return OK


def run_replay(arguments, errors: Console) -> int:
    until = parse_time(arguments.until, "--until") if arguments.until else None
    if arguments.export is not None:
        return _replay_export(arguments, until, errors)
    missing = [name for name in ("POLICY", "--snapshot", "--events") if getattr(arguments, _ATTRIBUTE[name]) is None]
    if missing:
        raise InputError(f"rota replay needs {', '.join(missing)} (or --export DIR, a folder rota export wrote)")
    policy = existing_policy(arguments.policy)
    input_file(arguments.events, "event log")
    with report.progress_bar(errors, "replaying events") as progress:
        summary = replay_file(
            policy, arguments.snapshot, arguments.events, arguments.out, until, progress, arguments.db, warner(errors)
        )
    if summary.resumed_after:
        say(errors, f"resumed {arguments.db}: an earlier run had applied {summary.resumed_after:,} of these events")
    report.print_replay_summary(errors, summary, arguments.out)
    return OK


_ATTRIBUTE = {"POLICY": "policy", "--snapshot": "snapshot", "--events": "events"}


def _replay_export(arguments, until, errors: Console) -> int:
    given = [name for name, attribute in _ATTRIBUTE.items() if getattr(arguments, attribute) is not None]
    if given or arguments.db:
        extra = ", ".join(given + (["--db"] if arguments.db else []))
        raise InputError(f"--export holds its own policies, snapshot and events: leave out {extra}")
    if not Path(arguments.export).is_dir():
        raise InputError(f"{arguments.export}: no such export folder; give the folder rota export wrote")
    with report.progress_bar(errors, "replaying the export") as progress:
        summary = replay_export(arguments.export, arguments.out, until, progress)
    report.print_replay_summary(errors, summary, arguments.out)
    return OK
