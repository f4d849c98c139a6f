"""What every `rota` command shares: exit codes, the input error, reading policies, times and durations."""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console

from rota import report
from rota.diagnostics import Diagnostic
from rota.dsl import PolicySource
from rota.jobs import PolicyNotReadable, load_snapshot_warning, read_policy_source
from rota.storage.errors import one_line

OK, POLICY_ERRORS, INPUT_ERRORS = 0, 1, 2

# Adds one subcommand: `command(name, help)` gives its parser; the caller sets `run` on it.
Command = Callable[[str, str], argparse.ArgumentParser]


class InputError(Exception):
    """Bad input that is not the policy's fault: a missing file, a bad time."""


def say(errors: Console, line: str) -> None:
    errors.print(line, markup=False, soft_wrap=True)


def os_problem(error: OSError) -> str:
    if error.strerror is None:  # raised with rota's own message
        return str(error) or "the operating system refused"
    reason = error.strerror.lower()
    return f"{error.filename}: {reason}" if error.filename else reason


class HelpWithDefaults(argparse.HelpFormatter):
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


def token_option(command: argparse.ArgumentParser, when: str = "") -> None:
    command.add_argument(
        "--token-file",
        metavar="FILE",
        help=f"{when}the service's bearer token (rota serve's --token-file, or the FILE.token it wrote "
        "beside its engine file); without it, the environment variable ROTA_TOKEN",
    )


def policy_source(location: str) -> PolicySource:
    """A policy file, a folder of `.rota` files, or `-` (stdin); a problem reading it is an input error."""
    try:
        return PolicySource.of_text(sys.stdin.read(), "-") if location == "-" else read_policy_source(location)
    except PolicyNotReadable as error:
        raise InputError(str(error)) from None


def existing_policy(location: str) -> PolicySource:
    if not Path(location).exists():
        raise InputError(f"{location}: no such policy")
    return policy_source(location)


def warner(errors: Console):
    """Print a data warning (a snapshot's) on stderr, one line, as every command that loads a snapshot does."""

    def warn(warning: Diagnostic) -> None:
        errors.print(f"rota: warning: {one_line(warning)}", markup=False, highlight=False, soft_wrap=True)

    return warn


def snapshot_schema(snapshot_dir: str | None, errors: Console):
    if snapshot_dir is None:
        return None
    from rota.engine import snapshot_schema as schema_of

    return schema_of(load_snapshot_warning(snapshot_dir, warner(errors)).connection)


def parse_time(text: str | None, option: str) -> datetime:
    from rota.engine import parse_instant

    if text is None:
        return datetime.now(timezone.utc).replace(tzinfo=None)
    try:
        return parse_instant(text)
    except ValueError:
        raise InputError(f"{option} {text!r} is not an ISO 8601 time (e.g. 2026-11-25T10:00:00Z)") from None


def input_file(path: str, what: str) -> None:
    if Path(path).is_dir():
        raise InputError(f"{path}: is a folder; give the {what} file")
    if not Path(path).is_file():
        raise InputError(f"{path}: no such {what}")


def duration(text: str, option: str) -> int:
    from rota.dsl.parser import written_duration

    seconds = written_duration(text)
    if seconds is None:
        raise InputError(f"{option} {text!r} is not a duration (e.g. 90s, 15m, 2h, 1d12h)")
    return seconds
