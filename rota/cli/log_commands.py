"""`rota log` and `rota status`: what an engine file or a running service has decided and holds."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console

from rota import report

from .common import OK, Command, InputError, parse_time, say, token_option


def register(command: Command) -> None:
    log = command("log", "query the decision log of an engine file, or of a running service")
    source = log.add_mutually_exclusive_group(required=True)
    source.add_argument("--db", metavar="FILE", help="the engine's DuckDB file (not one a service has open)")
    source.add_argument("--url", metavar="URL", help="a running rota serve, e.g. http://127.0.0.1:8080")
    token_option(log, "with --url: ")
    for name in ("contact", "user", "route", "outcome"):
        log.add_argument(f"--{name}", help=f"only decisions with this {name}")
    log.add_argument("--since", metavar="T", help="only decisions at or after T, ISO 8601")
    log.add_argument("--limit", type=int, default=0, metavar="N", help="only the newest N; 0 shows all")
    log.add_argument("--format", choices=("text", "json"), default="text", help="aligned columns, or JSON lines")
    log.set_defaults(run=run_log)

    status = command("status", "the queue length, users online and open contacts of a running service")
    status.add_argument("--url", metavar="URL", required=True, help="a running rota serve, e.g. http://127.0.0.1:8080")
    token_option(status)
    status.add_argument("--format", choices=("text", "json"), default="text", help="aligned columns, or one JSON line")
    status.set_defaults(run=run_status)


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
    from rota.remote import get_json, service_token, service_url
    from rota.service.decisions_api import DECISIONS_AT_MOST

    url, token = service_url(arguments.url), service_token(arguments.token_file)
    beyond_one_answer = arguments.limit == 0 or arguments.limit > DECISIONS_AT_MOST
    limit = DECISIONS_AT_MOST if beyond_one_answer else arguments.limit
    rows = get_json(url, "/v1/decisions", token, {**filters, "since": format_instant(since), "limit": limit})
    if beyond_one_answer and len(rows) == DECISIONS_AT_MOST:
        say(
            errors,
            f"rota: the service answers at most {DECISIONS_AT_MOST:,} decisions at a time: these are the newest; "
            "narrow them with --since or a filter",
        )
    return rows


def run_status(arguments, errors: Console) -> int:
    from rota.remote import get_json, service_token, service_url

    url, token = service_url(arguments.url), service_token(arguments.token_file)
    report.print_status(get_json(url, "/v1/status", token), arguments.format)
    return OK
