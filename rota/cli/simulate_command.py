"""`rota simulate`: a day of the desk through the engine, as an HTML report."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from .common import OK, Command, InputError, existing_policy, parse_time, warner

WEEK_IN_MINUTES = 7 * 24 * 60
# Bounds that keep a simulation to seconds, not hours.
SIMULATION_LIMITS = {"--hours": (0, 24 * 31), "--arrivals": (0, 100_000), "--handle-minutes": (0, WEEK_IN_MINUTES)}
# How agents come and go and answer (rota.simulate.desk): default, metavar, the highest value (0 is the lowest:
# no spread, nobody away), help.
PRESENCE_OPTIONS = {
    "--reply-minutes": (3.0, "M", WEEK_IN_MINUTES, "mean time from an assignment to the assignee's reply (lognormal)"),
    "--reply-spread": (2.0, "M", WEEK_IN_MINUTES, "standard deviation of the reply time, minutes"),
    "--away-share": (0.2, "SHARE", 1, "share of agents who go away once mid-shift, keeping their contacts (0 to 1)"),
    "--away-minutes": (45.0, "M", WEEK_IN_MINUTES, "mean length of that absence (lognormal)"),
    "--away-spread": (30.0, "M", WEEK_IN_MINUTES, "standard deviation of the absence, minutes"),
}
SIMULATED_CONTACTS_AT_MOST = 500_000


def register(command: Command) -> None:
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
    for option, (default, metavar, _, help_text) in PRESENCE_OPTIONS.items():
        simulate.add_argument(option, type=float, default=default, metavar=metavar, help=help_text)
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


def run_simulate(arguments, errors: Console) -> int:
    from rota.engine.replay import write_rows
    from rota.simulate import SimulationSettings
    from rota.simulate.report import print_simulation_summary, simulate_file

    values = {
        "--hours": arguments.hours,
        "--arrivals": arguments.arrivals,
        "--handle-minutes": arguments.handle_minutes,
    }
    for option, value in values.items():
        low, high = SIMULATION_LIMITS[option]
        if not low < value <= high and not (option == "--arrivals" and value == 0):
            raise InputError(f"{option} must be above {low} and at most {high:,}, got {value:g}")
    for option, (_, _, high, _) in PRESENCE_OPTIONS.items():
        value = getattr(arguments, option[2:].replace("-", "_"))
        if not 0 <= value <= high:
            raise InputError(f"{option} must be from 0 to {high:,}, got {value:g}")
    if arguments.arrivals * arguments.hours > SIMULATED_CONTACTS_AT_MOST:
        raise InputError(
            f"--arrivals times --hours is {arguments.arrivals * arguments.hours:,.0f} contacts; "
            f"at most {SIMULATED_CONTACTS_AT_MOST:,} (simulate fewer hours)"
        )
    policy = existing_policy(arguments.policy)
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
        away_share=arguments.away_share,
        away_minutes=arguments.away_minutes,
        away_spread=arguments.away_spread,
        reply_minutes=arguments.reply_minutes,
        reply_spread=arguments.reply_spread,
    )
    run, measures, baseline = simulate_file(policy, arguments.snapshot, settings, report_path, png_path, warner(errors))
    if out_path is not None:
        write_rows(run.decisions, out_path)
    print_simulation_summary(errors, run, measures, str(report_path), str(png_path), baseline)
    return OK
