"""`rota export`: a window of a running service's kept history, as a folder `rota replay --export` runs."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from rota import report

from .common import OK, Command, InputError, parse_time, say, token_option

# Rebuilding the state at --since replays the history before it: longer than a plain read.
EXPORT_WITHIN_SECONDS = 600.0


def register(command: Command) -> None:
    export = command("export", "a window of a running service's history: the state at its start and the events")
    export.add_argument("--url", metavar="URL", required=True, help="a running rota serve, e.g. http://127.0.0.1:8080")
    token_option(export)
    export.add_argument("--since", metavar="T", required=True, help="the window's start, ISO 8601: the snapshot's time")
    export.add_argument(
        "--until", metavar="T", required=True, help="the window's end, ISO 8601, inclusive (at most: now)"
    )
    export.add_argument("dir", metavar="DIR", help="a new (or empty) folder to write; rota replay --export DIR runs it")
    export.set_defaults(run=run_export)


def run_export(arguments, errors: Console) -> int:
    from rota.engine import format_instant
    from rota.export_folder import write_export
    from rota.remote import get_json, service_token, service_url

    since, until = parse_time(arguments.since, "--since"), parse_time(arguments.until, "--until")
    if until < since:
        raise InputError("--until is before --since: give the window's start first")
    directory = Path(arguments.dir)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InputError(f"{directory}: exists and is not an empty folder; give a new folder for the export")
    url, token = service_url(arguments.url), service_token(arguments.token_file)
    say(errors, f"rota: asking {url} for its history from {format_instant(since)} to {format_instant(until)}")
    query = {"since": format_instant(since), "until": format_instant(until)}
    export = get_json(url, "/v1/export", token, query, timeout=EXPORT_WITHIN_SECONDS)
    with report.progress_bar(errors, "writing events") as progress:
        write_export(directory, export, progress)
    say(
        errors,
        f"rota: wrote {directory}: {len(export['snapshot']['users']):,} users, "
        f"{len(export['snapshot']['contacts']):,} contacts and {len(export['events']):,} events from "
        f"{export['since']} to {export['until']} under {len(export['policies'])} policy version(s); "
        f"run it with: rota replay --export {directory} --out FILE",
    )
    return OK
