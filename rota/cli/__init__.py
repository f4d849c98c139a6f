"""The `rota` command (SPEC 5.1). Exit codes: 0 ok, 1 policy errors, 2 usage or input errors.

Results go to stdout (diagnostics, formatted text); progress and summaries to
stderr. No command ever shows a traceback: every failure is one clear line.

Each module here adds its commands to the parser (`register`); the order of
`COMMAND_MODULES` is the order of `rota -h`.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import NoReturn

import duckdb

import rota
from rota import report
from rota.dsl import PolicyError

from . import (
    diff_command,
    explain_command,
    export_command,
    log_commands,
    policy_commands,
    run_commands,
    serve_command,
    simulate_command,
    test_command,
    verify_command,
)
from .common import INPUT_ERRORS, POLICY_ERRORS, HelpWithDefaults, InputError, os_problem, say

COMMAND_MODULES = (
    policy_commands,
    run_commands,
    simulate_command,
    log_commands,
    export_command,
    verify_command,
    diff_command,
    explain_command,
    test_command,
    serve_command,
)


def run() -> NoReturn:
    """The `rota` executable: `main`, in a process of its own.

    A command that sets `one_shot` (`rota batch`) closes everything it opens and
    makes hundreds of thousands of objects that live to its end, with no cycles
    among them: it runs without the cycle collector, which would walk them again
    and again for nothing, and the process ends as soon as its output is flushed,
    without the interpreter's teardown (0.1 s of freeing NumPy's, Arrow's and
    DuckDB's modules and the batch's objects one by one)."""
    code = main(one_shot=True)
    sys.stdout.flush()
    sys.stderr.flush()
    if gc.isenabled():  # a command that keeps the usual ending
        sys.exit(code)
    os._exit(code)


def main(argv: list[str] | None = None, one_shot: bool = False) -> int:
    """`rota ARGS`: the exit code. `one_shot`: the process ends with the command (see `run`)."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    if not getattr(arguments, "command", None):
        parser.print_help(sys.stderr)
        return INPUT_ERRORS
    if one_shot and getattr(arguments, "one_shot", False):
        gc.disable()
    errors = report.console_for(sys.stderr)
    try:
        return arguments.run(arguments, errors)
    except PolicyError as error:
        print(str(error))
        return POLICY_ERRORS
    except _input_errors() as error:
        say(errors, f"rota: error: {error}")
        return INPUT_ERRORS
    except KeyboardInterrupt:
        say(errors, "rota: interrupted")
        return 130
    except OSError as error:
        say(errors, f"rota: error: {os_problem(error)}")
        return INPUT_ERRORS
    except duckdb.Error:  # data rota did not recognise as bad: never DuckDB's own words
        say(errors, f"rota: error: rota {arguments.command} could not read or write its data; please report it")
        return INPUT_ERRORS
    except Exception:  # a bug: one line, no traceback
        say(errors, f"rota: error: rota {arguments.command} stopped on an unexpected problem; please report it")
        return INPUT_ERRORS


def _input_errors() -> tuple[type[Exception], ...]:
    """The failures that are the input's fault. An `except` names them only once something failed, so
    their modules (the replay's, the durable store's, the service client's) load only for the commands
    that use them: `rota batch` never does."""
    from rota.engine.provenance import RunMismatch
    from rota.engine.replay import EventError
    from rota.remote import ServiceError
    from rota.storage import StorageError
    from rota.storage.engine_store import EngineFileError
    from rota.tokens import TokenError

    return (InputError, StorageError, EventError, TokenError, EngineFileError, RunMismatch, ServiceError)


class _Version(argparse.Action):
    """`--version`, which looks the version up only when asked (see rota.__version__)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **options) -> None:
        options.update(nargs=0, default=argparse.SUPPRESS, help="show program's version number and exit")
        super().__init__(option_strings, dest, **options)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog} {rota.__version__}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rota", description="Routing policies, checked and run like code.", formatter_class=HelpWithDefaults
    )
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", help="`rota COMMAND -h` tells its options")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=help_text, formatter_class=HelpWithDefaults)

    for module in COMMAND_MODULES:
        module.register(command)
    return parser


if __name__ == "__main__":
    run()
