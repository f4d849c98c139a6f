"""The `rota` command (SPEC 5.1). Exit codes: 0 ok, 1 policy errors, 2 usage or input errors.

Results go to stdout (diagnostics, formatted text); progress and summaries to
stderr. No command ever shows a traceback: every failure is one clear line.
"""

from __future__ import annotations

import argparse
import errno
import json
import re
import socket
import stat
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
from rich.console import Console

from rota.diagnostics import Diagnostic
from rota.dsl import PolicyError, PolicySource, analyze, format_policy, parse
from rota.engine.provenance import RunMismatch
from rota.engine.replay import EventError
from rota.storage import StorageError
from rota.storage.engine_store import EngineFileError
from rota.storage.errors import one_line
from rota.storage.files import replaced_atomically

from . import __version__, report
from .jobs import PolicyNotReadable, batch_file, load_snapshot_warning, read_policy_source, replay_file
from .remote import ServiceError
from .tokens import TokenError

if TYPE_CHECKING:
    from .service import Webhook

OK, POLICY_ERRORS, INPUT_ERRORS = 0, 1, 2


class InputError(Exception):
    """Bad input that is not the policy's fault: a missing file, a bad time."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)
    if not getattr(arguments, "command", None):
        parser.print_help(sys.stderr)
        return INPUT_ERRORS
    errors = report.console_for(sys.stderr)
    try:
        return arguments.run(arguments, errors)
    except PolicyError as error:
        print(str(error))
        return POLICY_ERRORS
    except (InputError, StorageError, EventError, TokenError, EngineFileError, RunMismatch, ServiceError) as error:
        _say(errors, f"rota: error: {error}")
        return INPUT_ERRORS
    except KeyboardInterrupt:
        _say(errors, "rota: interrupted")
        return 130
    except OSError as error:
        _say(errors, f"rota: error: {_os_problem(error)}")
        return INPUT_ERRORS
    except duckdb.Error:  # data rota did not recognise as bad: never DuckDB's own words
        _say(errors, f"rota: error: rota {arguments.command} could not read or write its data; please report it")
        return INPUT_ERRORS
    except Exception:  # a bug: one line, no traceback
        _say(errors, f"rota: error: rota {arguments.command} stopped on an unexpected problem; please report it")
        return INPUT_ERRORS


def _say(errors: Console, line: str) -> None:
    errors.print(line, markup=False, soft_wrap=True)


def _os_problem(error: OSError) -> str:
    if error.strerror is None:  # raised with rota's own message
        return str(error) or "the operating system refused"
    reason = error.strerror.lower()
    return f"{error.filename}: {reason}" if error.filename else reason


class _HelpWithDefaults(argparse.HelpFormatter):
    """Each option's help ends with its default, unless it has none or says it in words.

    Wrapped to a terminal's width, without breaking a word at its hyphens (paths,
    times); not wrapped at all anywhere else, like the rest of rota's output."""

    def __init__(self, prog: str, **options):
        if not sys.stdout.isatty():
            options.setdefault("width", report.UNWRAPPED_WIDTH)
        super().__init__(prog, **options)

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False, break_long_words=False)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if not action.option_strings or "(default" in text:
            return text
        if default is None or default is argparse.SUPPRESS or isinstance(default, bool):
            return text
        return f"{text} (default: {'%(default)g' if isinstance(default, float) else '%(default)s'})"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rota", description="Routing policies, checked and run like code.", formatter_class=_HelpWithDefaults
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", help="`rota COMMAND -h` tells its options")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=help_text, formatter_class=_HelpWithDefaults)

    check = command("check", "compile policies and report every problem")
    check.add_argument("files", nargs="+", metavar="FILE", help="policy files")
    check.add_argument("--snapshot", metavar="DIR", help="check fields, teams and users against a snapshot")
    check.add_argument("--format", choices=("text", "json"), default="text", help="how problems are printed")
    check.add_argument(
        "--plan", action="store_true", help="also say, per route, which path each filter takes (text format only)"
    )
    check.set_defaults(run=run_check)

    fmt = command("fmt", "rewrite policies in canonical form")
    fmt.add_argument("files", nargs="+", metavar="FILE", help="policy files; `-` reads stdin, writes stdout")
    fmt.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is not canonical")
    fmt.set_defaults(run=run_fmt)

    batch = command("batch", "route every contact against a snapshot in one pass")
    batch.add_argument("policy", metavar="POLICY", help="the policy file")
    batch.add_argument("--snapshot", metavar="DIR", required=True, help="the users, teams and rotation to route to")
    batch.add_argument("--contacts", metavar="FILE", required=True, help="the contacts; format by extension")
    batch.add_argument("--out", metavar="FILE", required=True, help="one row per contact; format by extension")
    batch.add_argument("--now", metavar="T", help="ISO 8601 instant, UTC without a zone (default: now)")
    batch.set_defaults(run=run_batch)

    replay = command("replay", "run an event log through the engine")
    replay.add_argument("policy", metavar="POLICY", help="the policy file")
    replay.add_argument("--snapshot", metavar="DIR", required=True, help="the users, teams and rotation to start from")
    replay.add_argument("--events", metavar="FILE", required=True, help="JSON lines, each with `at` and `type`")
    replay.add_argument("--out", metavar="FILE", required=True, help="decisions as JSON lines")
    replay.add_argument("--until", metavar="T", help="fire timeouts up to T (default: the last event's time)")
    replay.add_argument(
        "--db", metavar="FILE", help="keep the engine in this DuckDB file: durable, resumable (default: in memory)"
    )
    replay.set_defaults(run=run_replay)

    simulate = command("simulate", "simulate a day of the desk through the engine; HTML report")
    simulate.add_argument("policy", metavar="POLICY", help="the policy file")
    simulate.add_argument("--snapshot", metavar="DIR", required=True, help="the desk: users, teams and rotation")
    simulate.add_argument("--hours", type=float, default=8.0, metavar="H", help="simulated time")
    simulate.add_argument(
        "--arrivals", type=float, default=60.0, metavar="PER_HOUR", help="contacts arriving per hour, on average"
    )
    simulate.add_argument(
        "--handle-minutes", type=float, default=20.0, metavar="M", help="mean handling time of an assigned contact"
    )
    simulate.add_argument("--seed", type=int, default=1, metavar="S", help="the same seed gives the same report")
    simulate.add_argument(
        "--start",
        metavar="T",
        default="2026-11-25T08:00:00Z",
        help="simulated start, ISO 8601 (the default is a Wednesday)",
    )
    simulate.add_argument("--report", metavar="FILE.html", required=True, help="the self-contained HTML report")
    simulate.add_argument("--png", metavar="FILE", help="the summary picture (default: the report's name, .png)")
    simulate.add_argument(
        "--out", metavar="FILE", help="also write every decision, as `rota replay` does (default: not written)"
    )
    simulate.set_defaults(run=run_simulate)

    log = command("log", "query the decision log of an engine file, or of a running service")
    source = log.add_mutually_exclusive_group(required=True)
    source.add_argument("--db", metavar="FILE", help="the engine's DuckDB file (not one a service has open)")
    source.add_argument("--url", metavar="URL", help="a running rota serve, e.g. http://127.0.0.1:8080")
    _token_option(log, "with --url: ")
    for name in ("contact", "user", "route", "outcome"):
        log.add_argument(f"--{name}", help=f"only decisions with this {name}")
    log.add_argument("--since", metavar="T", help="only decisions at or after T, ISO 8601")
    log.add_argument("--limit", type=int, default=0, metavar="N", help="only the newest N; 0 shows all")
    log.add_argument("--format", choices=("text", "json"), default="text", help="aligned columns, or JSON lines")
    log.set_defaults(run=run_log)

    status = command("status", "the queue length, users online and open contacts of a running service")
    status.add_argument("--url", metavar="URL", required=True, help="a running rota serve, e.g. http://127.0.0.1:8080")
    _token_option(status)
    status.add_argument("--format", choices=("text", "json"), default="text", help="aligned columns, or one JSON line")
    status.set_defaults(run=run_status)

    verify = command("verify", "check the engine's properties and the policy itself on generated runs")
    verify.add_argument("policy", metavar="POLICY", help="the policy file")
    verify.add_argument(
        "--snapshot",
        metavar="DIR",
        help="generate from this snapshot's schema and values; also look for starved users and filters nobody passes",
    )
    verify.add_argument("--examples", type=int, default=200, metavar="N", help="generated runs")
    verify.add_argument("--seed", type=int, default=0, metavar="S", help="the same seed gives the same verdict")
    verify.add_argument(
        "--max-wait",
        metavar="DURATION",
        help="longest total wait an escalation chain may add up to, e.g. 2h or 1d12h (default: none, not checked)",
    )
    verify.add_argument(
        "--failures", metavar="DIR", default="verify-failures", help="where counterexamples are written"
    )
    verify.set_defaults(run=run_verify)

    serve = command("serve", "the routing engine as an HTTP service")
    serve.add_argument("--db", metavar="FILE", required=True, help="the engine's DuckDB file (created when new)")
    serve.add_argument(
        "--policy",
        metavar="FILE_OR_DIR",
        required=True,
        help="a policy file, or a folder whose .rota files are read in name order",
    )
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="the port to listen on")
    serve.add_argument("--token-file", metavar="FILE", help="the bearer token (default: generated beside the db)")
    serve.add_argument("--snapshot", metavar="DIR", help="users and teams to start a new engine file with")
    serve.add_argument("--webhook", metavar="URL", help="post every decision to this http(s) URL (default: none)")
    serve.add_argument(
        "--webhook-secret-file",
        metavar="FILE",
        help="the secret that signs each post (X-Rota-Signature); default: posts are not signed",
    )
    serve.add_argument(
        "--webhook-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long to wait for the receiver's answer before trying again",
    )
    serve.set_defaults(run=run_serve)
    return parser


def _token_option(command: argparse.ArgumentParser, when: str = "") -> None:
    command.add_argument(
        "--token-file",
        metavar="FILE",
        help=f"{when}the service's bearer token (rota serve's --token-file, or the FILE.token it wrote "
        "beside its engine file); without it, the environment variable ROTA_TOKEN",
    )


# ---------------------------------------------------------------------- check


def _policy_source(location: str) -> PolicySource:
    """A policy file, a folder of `.rota` files, or `-` (stdin); a problem reading it is an input error."""
    try:
        return PolicySource.of_text(sys.stdin.read(), "-") if location == "-" else read_policy_source(location)
    except PolicyNotReadable as error:
        raise InputError(str(error)) from None


def _existing_policy(location: str) -> PolicySource:
    if not Path(location).exists():
        raise InputError(f"{location}: no such policy")
    return _policy_source(location)


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
    if arguments.plan and arguments.format == "json":
        raise InputError("`--plan` prints text; use it without `--format json`")
    schema = _schema(arguments.snapshot, errors)
    found = []
    sources = {}
    plans = []
    for location in arguments.files:  # a folder is one policy: its files are checked together
        source = _policy_source(location)
        sources.update(source.texts)
        policy, diagnostics = analyze(source, schema=schema)
        found.extend(diagnostics)
        if arguments.plan and policy is not None and not any(d.is_error for d in diagnostics):
            from rota.engine import compile_policy

            from .plan import policy_plan

            plans.append(policy_plan(compile_policy(policy)))
    if arguments.format == "json":
        print(json.dumps([diagnostic.to_json() for diagnostic in found], indent=2))
    else:
        for diagnostic in found:
            print(diagnostic.render(sources.get(diagnostic.file)))
        for plan in plans:
            print(plan, end="")
        errors.print(report.check_summary(len(sources), found), markup=False)
    return POLICY_ERRORS if any(diagnostic.is_error for diagnostic in found) else OK


# ------------------------------------------------------------------------ fmt


def run_fmt(arguments, errors: Console) -> int:
    not_canonical = []
    for location in arguments.files:
        source = _policy_source(location)
        # A folder is checked as one policy, then each file formatted; formatting runs nothing, so the
        # options this engine does not run yet are formatted like the others.
        policy, diagnostics = analyze(source, engine_runs_reassign=True)
        if policy is None:
            raise PolicyError([d for d in diagnostics if d.is_error], source.texts)
        for path, text in source.files:
            file_policy = policy if source.is_one_file else parse(text, path).policy
            assert file_policy is not None  # the policy was read without an error, so each of its files was
            formatted = format_policy(file_policy)
            if path == "-":
                sys.stdout.write(formatted)
            elif formatted != text:
                not_canonical.append(path)
                if not arguments.check:
                    _rewrite(Path(path), formatted)
    verb = "would reformat" if arguments.check else "reformatted"
    for path in not_canonical:
        errors.print(f"{verb} {path}", markup=False)
    return POLICY_ERRORS if arguments.check and not_canonical else OK


def _rewrite(path: Path, text: str) -> None:
    """Atomically, keeping the file's permissions; a symlink's target is rewritten, the link kept."""
    target = path.resolve()
    with replaced_atomically(target, stat.S_IMODE(target.stat().st_mode)) as temporary:
        Path(temporary).write_text(text, encoding="utf-8")


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
    policy = _existing_policy(arguments.policy)
    if not Path(arguments.contacts).is_file():
        raise InputError(f"{arguments.contacts}: no such contacts file")
    with report.progress_bar(errors, "routing contacts") as progress:
        summary = batch_file(
            policy, arguments.snapshot, arguments.contacts, arguments.out, now, progress, _warner(errors)
        )
    report.print_batch_summary(errors, summary, arguments.out)
    return OK


def run_replay(arguments, errors: Console) -> int:
    until = parse_time(arguments.until, "--until") if arguments.until else None
    policy = _existing_policy(arguments.policy)
    _input_file(arguments.events, "event log")
    with report.progress_bar(errors, "replaying events") as progress:
        summary = replay_file(
            policy, arguments.snapshot, arguments.events, arguments.out, until, progress, arguments.db, _warner(errors)
        )
    if summary.resumed_after:
        _say(errors, f"resumed {arguments.db}: an earlier run had applied {summary.resumed_after:,} of these events")
    report.print_replay_summary(errors, summary, arguments.out)
    return OK


def _input_file(path: str, what: str) -> None:
    if Path(path).is_dir():
        raise InputError(f"{path}: is a folder; give the {what} file")
    if not Path(path).is_file():
        raise InputError(f"{path}: no such {what}")


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
    policy = _existing_policy(arguments.policy)
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
    run, measures = simulate_file(policy, arguments.snapshot, settings, report_path, png_path, _warner(errors))
    if out_path is not None:
        write_rows(run.decisions, out_path)
    print_simulation_summary(errors, run, measures, str(report_path), str(png_path))
    return OK


def run_verify(arguments, errors: Console) -> int:
    from rota.dsl.sources import as_one_file

    from .jobs import compile_policy_file
    from .testing import Snapshot
    from .verify import clear_failures, report_lines, verify

    source = _existing_policy(arguments.policy)
    if arguments.examples < 1:
        raise InputError(f"--examples must be at least 1, got {arguments.examples}")
    max_wait = _duration(arguments.max_wait, "--max-wait") if arguments.max_wait else None
    schema = _schema(arguments.snapshot, errors)
    snapshot = Snapshot.from_directory(arguments.snapshot) if arguments.snapshot else None
    policy = compile_policy_file(source, schema)
    clear_failures(arguments.failures)
    with errors.status("verifying", spinner="dots"):
        outcome = verify(
            policy,
            source.name,
            as_one_file(source, policy.policy),
            snapshot,
            arguments.examples,
            arguments.seed,
            max_wait,
            arguments.failures,
        )
    examples_source = f"from {arguments.snapshot}" if arguments.snapshot else "from scratch"
    print("\n".join(report_lines(outcome, f"{examples_source}, seed {arguments.seed}")))
    return OK if outcome.passed else POLICY_ERRORS


def _duration(text: str, option: str) -> int:
    from rota.dsl.parser import duration_seconds

    if not re.fullmatch(r"(\d+[smhd])+", text.strip()) or duration_seconds(text.strip()) == 0:
        raise InputError(f"{option} {text!r} is not a duration (e.g. 90s, 15m, 2h, 1d12h)")
    return duration_seconds(text.strip())


def run_log(arguments, errors: Console) -> int:
    if arguments.limit < 0:
        raise InputError(f"--limit must be 0 (every decision) or more, got {arguments.limit}")
    since = parse_time(arguments.since, "--since") if arguments.since else None
    filters = {name: getattr(arguments, name) for name in ("contact", "user", "route", "outcome")}
    if arguments.url:
        rows = _service_decisions(arguments, errors, filters, since)
    else:
        if arguments.token_file:
            raise InputError("--token-file goes with --url: an engine file (--db) needs no token")
        rows = report.with_times_as_text(_file_decisions(arguments.db, filters, since, arguments.limit))
    report.print_decisions(rows, arguments.format)
    return OK


def _file_decisions(db: str, filters: dict, since: datetime | None, limit: int) -> list[dict]:
    from rota.storage.engine_store import EngineFileInUse, EngineStore

    try:
        store = EngineStore(db, create=False)
    except EngineFileInUse as error:
        raise InputError(
            f"{error}; to read a running service's log, use `rota log --url URL` (the address rota serve printed)"
        ) from None
    try:
        return store.decisions(**filters, since=since, limit=limit)
    finally:
        store.close()


def _service_decisions(arguments, errors: Console, filters: dict, since: datetime | None) -> list[dict]:
    """The newest --limit decisions (every one for 0) as far as the service gives them in one answer."""
    from rota.engine import format_instant

    from .remote import get_json, service_token, service_url
    from .service.decisions_api import DECISIONS_AT_MOST

    url, token = service_url(arguments.url), service_token(arguments.token_file)
    beyond_one_answer = arguments.limit == 0 or arguments.limit > DECISIONS_AT_MOST
    limit = DECISIONS_AT_MOST if beyond_one_answer else arguments.limit
    rows = get_json(url, "/v1/decisions", token, {**filters, "since": format_instant(since), "limit": limit})
    if beyond_one_answer and len(rows) == DECISIONS_AT_MOST:
        _say(
            errors,
            f"rota: the service answers at most {DECISIONS_AT_MOST:,} decisions at a time: these are the newest; "
            "narrow them with --since or a filter",
        )
    return rows


def run_status(arguments, errors: Console) -> int:
    from .remote import get_json, service_token, service_url

    url, token = service_url(arguments.url), service_token(arguments.token_file)
    report.print_status(get_json(url, "/v1/status", token), arguments.format)
    return OK


def run_serve(arguments, errors: Console) -> int:
    """Every input is checked and the port bound before the engine file or the token is made;
    if the service cannot start, what this command made is removed again."""
    import uvicorn

    from rota.engine import DurableEngine, Roster, load_roster
    from rota.engine.provenance import Run
    from rota.storage.engine_store import remove_engine_file

    from .service import RotaService, create_app, utc_now
    from .tokens import create_token, existing_token, token_path

    if not 0 <= arguments.port < 65536:
        raise InputError(f"--port {arguments.port} is not a port; give one from 1 to 65535, or 0 for any free one")
    source = _policy_source(arguments.policy)
    policy, diagnostics = analyze(source)
    if policy is None:
        raise PolicyError([d for d in diagnostics if d.is_error], source.texts)
    webhook = _webhook(arguments)
    token = existing_token(arguments.token_file, arguments.db)
    token_file = token_path(arguments.token_file, arguments.db)
    roster = (
        load_roster(load_snapshot_warning(arguments.snapshot, _warner(errors)).connection)
        if arguments.snapshot
        else None
    )
    run = Run.serve(source.name, roster)
    with _listening_socket(arguments.host, arguments.port) as listener:
        new_engine_file, made_token = not Path(arguments.db).exists(), False
        engine = server = None
        try:
            engine = DurableEngine.open(arguments.db, source, roster or Roster(), source.name, utc_now(), run=run)
            if token is None:
                token, made_token = create_token(token_file), True
            service = RotaService(engine, token, webhook)
            server = _server(uvicorn.Config(create_app(service), log_level="warning"), service)
            url = f"http://{arguments.host}:{listener.getsockname()[1]}"  # the port bound, for --port 0 too
            _say(
                errors,
                f"rota serving {url} (API docs: {url}/docs); engine file {arguments.db}; bearer token in {token_file}"
                + ("" if webhook is None else f"; decisions posted to {webhook.url}"),
            )
            server.run(sockets=[listener])
        except BaseException as error:
            if server is not None and server.started:  # it served: the file is the service's now
                raise
            if engine is not None:
                engine.store.close()
            if new_engine_file:
                remove_engine_file(arguments.db)
            if made_token:
                token_file.unlink(missing_ok=True)
            if isinstance(error, SystemExit):  # uvicorn's word that the application did not start
                raise InputError(f"{arguments.db}: the service did not start; see the lines above") from None
            raise
    return OK


def _server(config, service):
    """uvicorn's server, which ends the open decision streams as soon as a shutdown begins
    (it waits for every open response to finish, and a stream never does)."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            service.end_streams()
            super().handle_exit(sig, frame)

    return Server(config)


def _webhook(arguments) -> Webhook | None:
    from urllib.parse import urlsplit

    from .service import Webhook
    from .tokens import read_secret

    if arguments.webhook is None:
        if arguments.webhook_secret_file is not None:
            raise InputError("--webhook-secret-file signs the webhook's posts; give --webhook URL too")
        return None
    parts = urlsplit(arguments.webhook)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"--webhook {arguments.webhook}: not an http(s) URL; give one such as http://host:port/path")
    if not 0 < arguments.webhook_timeout <= 300:
        raise InputError(
            f"--webhook-timeout {arguments.webhook_timeout:g}: give a number of seconds above 0, up to 300"
        )
    secret = None
    if arguments.webhook_secret_file is not None:
        secret = read_secret(Path(arguments.webhook_secret_file), "webhook secret file").encode()
    return Webhook(arguments.webhook, secret, arguments.webhook_timeout)


def _listening_socket(host: str, port: int) -> socket.socket:
    """The service's socket, bound first, so a busy port or a bad host stops before anything is made."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError):
        raise InputError(
            f"--host {host}: no such host or address; pass --host 127.0.0.1 or another of this machine's"
        ) from None
    try:
        return socket.create_server(address, family=family, backlog=2048)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise InputError(f"port {port} on {host} is in use; stop the other program or pass --port") from None
        if error.errno == errno.EADDRNOTAVAIL:
            raise InputError(f"--host {host} is not an address of this machine; pass --host 127.0.0.1") from None
        if error.errno == errno.EACCES:
            raise InputError(f"port {port} on {host} needs privileges; pass --port above 1023") from None
        raise InputError(
            f"cannot listen on port {port} of {host}: {_os_problem(error)}; pass another --host or --port"
        ) from None


if __name__ == "__main__":
    sys.exit(main())
