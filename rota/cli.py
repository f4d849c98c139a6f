"""The `rota` command (SPEC 5.1). Exit codes: 0 ok, 1 policy errors, 2 usage or input errors.

Results go to stdout (diagnostics, formatted text); progress and summaries to
stderr. No command ever shows a traceback: every failure is one clear line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import duckdb
from rich.console import Console

from rota.diagnostics import Diagnostic
from rota.dsl import PolicyError, analyze, format_policy
from rota.engine.replay import EventError
from rota.storage import StorageError
from rota.storage.errors import one_line

from . import report
from .jobs import batch_file, load_snapshot_warning, read_policy_text, replay_file
from .tokens import TokenError

OK, POLICY_ERRORS, INPUT_ERRORS = 0, 1, 2


class InputError(Exception):
    """Bad input that is not the policy's fault: a missing file, a bad time."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    if not getattr(arguments, "command", None):
        parser.print_help(sys.stderr)
        return INPUT_ERRORS
    errors = Console(stderr=True, highlight=False)
    try:
        return arguments.run(arguments, errors)
    except PolicyError as error:
        print(str(error))
        return POLICY_ERRORS
    except (InputError, StorageError, EventError, TokenError) as error:
        errors.print(f"rota: error: {error}", markup=False)
        return INPUT_ERRORS
    except KeyboardInterrupt:
        errors.print("rota: interrupted", markup=False)
        return 130
    except (OSError, duckdb.Error) as error:
        errors.print(f"rota: error: {str(error).strip().splitlines()[0]}", markup=False)
        return INPUT_ERRORS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rota", description="Routing policies, checked and run like code.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser("check", help="compile policies and report every problem")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--snapshot", metavar="DIR", help="check fields, teams and users against a snapshot")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.set_defaults(run=run_check)

    fmt = commands.add_parser("fmt", help="rewrite policies in canonical form")
    fmt.add_argument("files", nargs="+", metavar="FILE", help="policy files; `-` reads stdin, writes stdout")
    fmt.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is not canonical")
    fmt.set_defaults(run=run_fmt)

    batch = commands.add_parser("batch", help="route every contact against a snapshot in one pass")
    batch.add_argument("policy", metavar="POLICY")
    batch.add_argument("--snapshot", metavar="DIR", required=True)
    batch.add_argument("--contacts", metavar="FILE", required=True)
    batch.add_argument("--out", metavar="FILE", required=True, help="output; format by extension")
    batch.add_argument("--now", metavar="T", help="ISO 8601 instant (UTC without a zone); default: now")
    batch.set_defaults(run=run_batch)

    replay = commands.add_parser("replay", help="run an event log through the engine")
    replay.add_argument("policy", metavar="POLICY")
    replay.add_argument("--snapshot", metavar="DIR", required=True)
    replay.add_argument("--events", metavar="FILE", required=True, help="JSON lines, each with `at` and `type`")
    replay.add_argument("--out", metavar="FILE", required=True, help="decisions as JSON lines")
    replay.add_argument("--until", metavar="T", help="fire timeouts up to T (default: the last event's time)")
    replay.add_argument("--db", metavar="FILE", help="keep the engine in this DuckDB file: durable, resumable")
    replay.set_defaults(run=run_replay)

    simulate = commands.add_parser("simulate", help="simulate a day of the desk through the engine; HTML report")
    simulate.add_argument("policy", metavar="POLICY")
    simulate.add_argument("--snapshot", metavar="DIR", required=True)
    simulate.add_argument("--hours", type=float, default=8.0, metavar="H", help="simulated time (default 8)")
    simulate.add_argument(
        "--arrivals",
        type=float,
        default=60.0,
        metavar="PER_HOUR",
        help="contacts arriving per hour, on average (default 60)",
    )
    simulate.add_argument(
        "--handle-minutes",
        type=float,
        default=20.0,
        metavar="M",
        help="mean handling time of an assigned contact (default 20)",
    )
    simulate.add_argument("--seed", type=int, default=1, metavar="S", help="the same seed gives the same report")
    simulate.add_argument(
        "--start",
        metavar="T",
        default="2026-11-25T08:00:00Z",
        help="simulated start, ISO 8601 (default 2026-11-25T08:00:00Z, a Wednesday)",
    )
    simulate.add_argument("--report", metavar="FILE.html", required=True, help="the self-contained HTML report")
    simulate.add_argument("--png", metavar="FILE", help="the summary picture (default: the report's name, .png)")
    simulate.add_argument("--out", metavar="FILE", help="also write every decision, as `rota replay` does (JSON lines)")
    simulate.set_defaults(run=run_simulate)

    log = commands.add_parser("log", help="query the decision log of an engine file")
    log.add_argument("--db", metavar="FILE", required=True)
    for name in ("contact", "user", "route", "outcome"):
        log.add_argument(f"--{name}", help=f"only decisions with this {name}")
    log.add_argument("--since", metavar="T", help="only decisions at or after T")
    log.add_argument("--limit", type=int, default=0, help="only the newest N")
    log.add_argument("--format", choices=("text", "json"), default="text")
    log.set_defaults(run=run_log)

    verify = commands.add_parser("verify", help="check the engine's properties and the policy itself on generated runs")
    verify.add_argument("policy", metavar="POLICY")
    verify.add_argument(
        "--snapshot",
        metavar="DIR",
        help="generate from this snapshot's schema and values; also look for starved users and filters nobody passes",
    )
    verify.add_argument("--examples", type=int, default=200, metavar="N", help="generated runs (default 200)")
    verify.add_argument("--seed", type=int, default=0, metavar="S", help="the same seed gives the same verdict")
    verify.add_argument(
        "--max-wait", metavar="DURATION", help="longest total wait an escalation chain may add up to, e.g. 2h or 1d12h"
    )
    verify.add_argument(
        "--failures",
        metavar="DIR",
        default="verify-failures",
        help="where counterexamples are written (default verify-failures/)",
    )
    verify.set_defaults(run=run_verify)

    serve = commands.add_parser("serve", help="the routing engine as an HTTP service")
    serve.add_argument("--db", metavar="FILE", required=True, help="the engine's DuckDB file (created when new)")
    serve.add_argument(
        "--policy",
        metavar="FILE_OR_DIR",
        required=True,
        help="a policy file, or a folder whose .rota files are read in name order",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--token-file", metavar="FILE", help="the bearer token (default: generated beside the db)")
    serve.add_argument("--snapshot", metavar="DIR", help="users and teams to start a new engine file with")
    serve.set_defaults(run=run_serve)
    return parser


# ---------------------------------------------------------------------- check


def _read(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else read_policy_text(path)
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read: {getattr(error, 'strerror', None) or error}") from None


def _warner(errors: Console):
    """Print a data warning (a snapshot's) on stderr, one line, as every command that loads a snapshot does."""

    def warn(warning: Diagnostic) -> None:
        errors.print(f"rota: warning: {one_line(warning)}", markup=False, highlight=False, soft_wrap=True)

    return warn


def _schema(snapshot_dir: str | None, errors: Console):
    if snapshot_dir is None:
        return None
    from rota.engine import snapshot_schema

    return snapshot_schema(load_snapshot_warning(snapshot_dir, _warner(errors)).connection)


def run_check(arguments, errors: Console) -> int:
    schema = _schema(arguments.snapshot, errors)
    found = []
    sources = {}
    for path in arguments.files:
        sources[path] = _read(path)
        found.extend(analyze(sources[path], path, schema)[1])
    if arguments.format == "json":
        print(json.dumps([diagnostic.to_json() for diagnostic in found], indent=2))
    else:
        for diagnostic in found:
            print(diagnostic.render(sources.get(diagnostic.file)))
        errors.print(report.check_summary(len(arguments.files), found), markup=False)
    return POLICY_ERRORS if any(diagnostic.is_error for diagnostic in found) else OK


# ------------------------------------------------------------------------ fmt


def run_fmt(arguments, errors: Console) -> int:
    not_canonical = []
    for path in arguments.files:
        source = _read(path)
        policy, diagnostics = analyze(source, path)
        if policy is None:
            raise PolicyError([d for d in diagnostics if d.is_error], {path: source})
        formatted = format_policy(policy)
        if path == "-":
            sys.stdout.write(formatted)
        elif formatted != source:
            not_canonical.append(path)
            if not arguments.check:
                Path(path).write_text(formatted, encoding="utf-8")
    verb = "would reformat" if arguments.check else "reformatted"
    for path in not_canonical:
        errors.print(f"{verb} {path}", markup=False)
    return POLICY_ERRORS if arguments.check and not_canonical else OK


# ---------------------------------------------------------------------- batch


def parse_time(text: str | None, option: str) -> datetime:
    from rota.engine import parse_instant

    if text is None:
        return datetime.now(timezone.utc).replace(tzinfo=None)
    try:
        return parse_instant(text)
    except ValueError:
        raise InputError(f"{option} {text!r} is not an ISO 8601 time (e.g. 2026-11-25T10:00:00Z)") from None


def run_batch(arguments, errors: Console) -> int:
    now = parse_time(arguments.now, "--now")
    for path, what in ((arguments.policy, "policy"), (arguments.contacts, "contacts file")):
        if not Path(path).is_file():
            raise InputError(f"{path}: no such {what}")
    with report.progress_bar(errors, "routing contacts") as progress:
        summary = batch_file(
            arguments.policy, arguments.snapshot, arguments.contacts, arguments.out, now, progress, _warner(errors)
        )
    report.print_batch_summary(errors, summary, arguments.out)
    return OK


def run_replay(arguments, errors: Console) -> int:
    until = parse_time(arguments.until, "--until") if arguments.until else None
    for path, what in ((arguments.policy, "policy"), (arguments.events, "event log")):
        if not Path(path).is_file():
            raise InputError(f"{path}: no such {what}")
    with report.progress_bar(errors, "replaying events") as progress:
        summary = replay_file(
            arguments.policy,
            arguments.snapshot,
            arguments.events,
            arguments.out,
            until,
            progress,
            arguments.db,
            _warner(errors),
        )
    report.print_replay_summary(errors, summary, arguments.out)
    return OK


# Bounds that keep a simulation to seconds, not hours.
SIMULATION_LIMITS = {"--hours": (0, 24 * 31), "--arrivals": (0, 100_000), "--handle-minutes": (0, 7 * 24 * 60)}
SIMULATED_CONTACTS_AT_MOST = 500_000


def run_simulate(arguments, errors: Console) -> int:
    from rota.engine.replay import write_rows

    from .simulate import SimulationSettings
    from .simulate_report import print_simulation_summary, simulate_file

    values = {
        "--hours": arguments.hours,
        "--arrivals": arguments.arrivals,
        "--handle-minutes": arguments.handle_minutes,
    }
    for option, value in values.items():
        low, high = SIMULATION_LIMITS[option]
        if not low < value <= high and not (option == "--arrivals" and value == 0):
            raise InputError(f"{option} must be above {low} and at most {high:,}, got {value:g}")
    if arguments.arrivals * arguments.hours > SIMULATED_CONTACTS_AT_MOST:
        raise InputError(
            f"--arrivals times --hours is {arguments.arrivals * arguments.hours:,.0f} contacts; "
            f"at most {SIMULATED_CONTACTS_AT_MOST:,} (simulate fewer hours)"
        )
    if not Path(arguments.policy).is_file():
        raise InputError(f"{arguments.policy}: no such policy")
    report_path = Path(arguments.report)
    png_path = Path(arguments.png) if arguments.png else report_path.with_suffix(".png")
    out_path = Path(arguments.out) if arguments.out else None
    for path in [report_path, png_path] + ([out_path] if out_path else []):
        if not path.parent.is_dir():
            raise InputError(f"{path}: no such directory {path.parent}")
    settings = SimulationSettings(
        hours=arguments.hours,
        arrivals_per_hour=arguments.arrivals,
        handle_minutes=arguments.handle_minutes,
        seed=arguments.seed,
        start=parse_time(arguments.start, "--start"),
    )
    run, measures = simulate_file(
        arguments.policy, arguments.snapshot, settings, report_path, png_path, _warner(errors)
    )
    if out_path is not None:
        write_rows(run.decisions, out_path)
    print_simulation_summary(errors, run, measures, str(report_path), str(png_path))
    return OK


def run_verify(arguments, errors: Console) -> int:
    from .jobs import compile_policy_file
    from .testing import Snapshot
    from .verify import clear_failures, report_lines, verify

    if not Path(arguments.policy).is_file():
        raise InputError(f"{arguments.policy}: no such policy")
    if arguments.examples < 1:
        raise InputError(f"--examples must be at least 1, got {arguments.examples}")
    max_wait = _duration(arguments.max_wait, "--max-wait") if arguments.max_wait else None
    schema = _schema(arguments.snapshot, errors)
    snapshot = Snapshot.from_directory(arguments.snapshot) if arguments.snapshot else None
    policy = compile_policy_file(arguments.policy, schema)
    clear_failures(arguments.failures)
    with errors.status("verifying", spinner="dots"):
        outcome = verify(
            policy,
            arguments.policy,
            _read(arguments.policy),
            snapshot,
            arguments.examples,
            arguments.seed,
            max_wait,
            arguments.failures,
        )
    source = f"from {arguments.snapshot}" if arguments.snapshot else "from scratch"
    print("\n".join(report_lines(outcome, f"{source}, seed {arguments.seed}")))
    return OK if outcome.passed else POLICY_ERRORS


def _duration(text: str, option: str) -> int:
    from rota.dsl.parser import duration_seconds

    if not re.fullmatch(r"(\d+[smhd])+", text.strip()) or duration_seconds(text.strip()) == 0:
        raise InputError(f"{option} {text!r} is not a duration (e.g. 90s, 15m, 2h, 1d12h)")
    return duration_seconds(text.strip())


def run_log(arguments, errors: Console) -> int:
    from rota.storage.engine_store import EngineStore

    if not Path(arguments.db).is_file():
        raise InputError(f"{arguments.db}: no such engine file")
    since = parse_time(arguments.since, "--since") if arguments.since else None
    store = EngineStore(arguments.db)
    rows = store.decisions(
        contact=arguments.contact,
        user=arguments.user,
        route=arguments.route,
        outcome=arguments.outcome,
        since=since,
        limit=arguments.limit,
    )
    store.close()
    report.print_decisions(rows, arguments.format)
    return OK


def run_serve(arguments, errors: Console) -> int:
    import uvicorn

    from rota.engine import DurableEngine, Roster, load_roster

    from .service import RotaService, create_app, utc_now
    from .tokens import load_or_create_token

    policy_path, text = _policy_source(arguments.policy)
    policy, diagnostics = analyze(text, policy_path)
    if policy is None:
        raise PolicyError([d for d in diagnostics if d.is_error], {policy_path: text})
    token, token_path = load_or_create_token(arguments.token_file, arguments.db)
    new_file = not Path(arguments.db).exists()
    seeds = arguments.snapshot and new_file
    roster = load_roster(load_snapshot_warning(arguments.snapshot, _warner(errors)).connection) if seeds else Roster()
    engine = DurableEngine.open(arguments.db, text, roster, policy_path, utc_now())
    app = create_app(RotaService(engine, token))
    url = f"http://{arguments.host}:{arguments.port}"
    errors.print(
        f"rota serving {url} (API docs: {url}/docs); engine file {arguments.db}; bearer token in {token_path}",
        markup=False,
        highlight=False,
    )
    uvicorn.run(app, host=arguments.host, port=arguments.port, log_level="warning")
    return OK


def _policy_source(location: str) -> tuple[str, str]:
    path = Path(location)
    if path.is_dir():
        files = sorted(path.glob("*.rota"))
        if not files:
            raise InputError(f"{path}: no .rota files in this folder")
        return str(path), "\n".join(_read(str(file)) for file in files)
    return str(path), _read(str(path))


if __name__ == "__main__":
    sys.exit(main())
