"""`rota verify`: the engine's properties and the policy itself, checked on generated runs."""

from __future__ import annotations

from rich.console import Console

from .common import OK, POLICY_ERRORS, Command, InputError, duration, existing_policy, snapshot_schema


def register(command: Command) -> None:
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
        help="longest total wait a chain of timeouts and releases may add up to, e.g. 2h or 1d12h (default: none, not checked)",
    )
    verify.add_argument(
        "--failures", metavar="DIR", default="verify-failures", help="where counterexamples are written"
    )
    verify.set_defaults(run=run_verify)


def run_verify(arguments, errors: Console) -> int:
    from rota.dsl.sources import as_one_file
    from rota.jobs import compile_policy_file
    from rota.testing import Snapshot
    from rota.verify import clear_failures, report_lines, verify

    source = existing_policy(arguments.policy)
    if arguments.examples < 1:
        raise InputError(f"--examples must be at least 1, got {arguments.examples}")
    max_wait = duration(arguments.max_wait, "--max-wait") if arguments.max_wait else None
    schema = snapshot_schema(arguments.snapshot, errors)
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
