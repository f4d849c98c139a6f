"""`rota test`: run the policies' unit tests (docs/testing.md), with coverage."""

from __future__ import annotations

from rich.console import Console

from .common import INPUT_ERRORS, OK, POLICY_ERRORS, Command, InputError, say


def register(command: Command) -> None:
    test = command("test", "run the policies' unit tests (NAME.test.yaml beside NAME.rota), with coverage")
    test.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="a folder (every *.test.yaml and *.rota under it), a policy (its NAME.test.yaml) or a test file",
    )
    test.add_argument(
        "--coverage",
        action="store_true",
        help="list the routes, branches, failure outcomes and `only` filters no test exercised, with a percentage",
    )
    test.add_argument(
        "--min-coverage",
        type=float,
        metavar="P",
        help="fail (exit 1) when less than P percent of the items are exercised (implies --coverage)",
    )
    test.add_argument("--format", choices=("text", "json"), default="text", help="how results are printed")
    test.epilog = "exit status: 0 every case passed, 1 a case failed or coverage is under P, 2 a bad test file or PATH"
    test.set_defaults(run=run_test)


def run_test(arguments, errors: Console) -> int:
    from rota.policytest import NothingToTest, percent, run_suite
    from rota.policytest.output import as_json, summary, text_lines

    minimum = arguments.min_coverage
    if minimum is not None and not 0 <= minimum <= 100:
        raise InputError(f"--min-coverage must be a percentage from 0 to 100, got {minimum:g}")
    with_coverage = arguments.coverage or minimum is not None
    try:
        suite = run_suite(arguments.paths)
    except NothingToTest as error:
        raise InputError(str(error)) from None
    if arguments.format == "json":
        print(as_json(suite, with_coverage))
    else:
        print("\n".join(text_lines(suite, with_coverage)))
    for path in suite.untested:
        say(errors, f"rota: warning: {path}: no tests (write them in {path.with_suffix('.test.yaml')})")
    say(errors, summary(suite))
    if suite.bad_input:
        return INPUT_ERRORS
    below = minimum is not None and percent(suite.coverage) < minimum
    if below:
        say(errors, f"rota: coverage {percent(suite.coverage):.1f}% is under --min-coverage {minimum:g}%")
    return OK if suite.all_passed and not below else POLICY_ERRORS
