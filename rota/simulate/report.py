"""The report of a simulation: one self-contained HTML file, a PNG summary, a table on stderr.

The HTML holds its CSS and its plots (SVG, text kept as text) inline, so it
can be mailed or attached to a ticket as it is. Plots are drawn with
matplotlib's object API (no pyplot, no global backend), with fixed SVG ids and
no timestamps, so the same run gives the same bytes.
"""

from __future__ import annotations

import html
import io
import math
from collections import Counter
from datetime import timezone
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from rich.console import Console
from rich.table import Table

from rota.engine import load_roster, snapshot_schema
from rota.storage import Warn
from rota.storage.files import replaced_atomically
from rota.vocabulary import Outcome

from ..jobs import PolicyLocation, compile_policy_file, load_snapshot_warning, policy_name
from ..waits import WaitSummary, duration, percentile
from ..wording import plural
from .desk import SimulationRun, SimulationSettings, simulate, without_reassign
from .measures import (
    ASSIGNED_AFTER_WAITING,
    ASSIGNED_AT_ONCE,
    FAILED,
    NO_ROUTE,
    ROUTE_FATES,
    TIMED_OUT,
    UNASSIGNED,
    WAITING_AT_END,
    SimulationMeasures,
    measure,
)
from .releases import COMPARISON_COLUMNS, RELEASE_COLUMNS, absent_line, comparison_rows, release_counts, release_rows

FATE_COLOURS = {
    ASSIGNED_AT_ONCE: "#4c9a6a",
    ASSIGNED_AFTER_WAITING: "#a6d4a0",
    TIMED_OUT: "#e8a33d",
    WAITING_AT_END: "#8fa8c8",
    FAILED: "#c8553d",
    UNASSIGNED: "#9a8fb0",
}
BAR_COLOUR = "#3b6ea5"
# Past this many agents, plots stop naming each one (a label per row would be unreadable).
NAMED_AGENTS_AT_MOST = 60
SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


# ------------------------------------------------------------------ numbers


def ratio_text(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.2f}"


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def route_names(run: SimulationRun, measures: SimulationMeasures) -> list[str]:
    """The routes contacts took, in policy order."""
    used = set(measures.route_fates) | set(measures.queue_waits)
    return [route.name for route in run.policy.routes if route.name in used]


def headline(run: SimulationRun, measures: SimulationMeasures) -> list[tuple[str, str]]:
    """What a team lead reads first: one line per question."""
    arrived = measures.arrived
    endings = measures.endings
    assigned = len(measures.time_to_assignment)
    on_arrival = sum(1 for seconds in measures.time_to_assignment if seconds == 0)
    waits = WaitSummary.of(measures.time_to_assignment)
    counts = measures.assigned_by_agent
    rows = [
        ("contacts arrived", f"{arrived:,} in {run.settings.hours:g} h"),
        (
            "assigned",
            f"{assigned:,} ({_share(assigned, arrived)}); on arrival {on_arrival:,} ({_share(on_arrival, arrived)})",
        ),
        (
            "time to assignment",
            f"p50 {duration(waits.p50)} · p90 {duration(waits.p90)} · max {duration(waits.maximum)}",
        ),
        ("timed out", f"{measures.outcomes[Outcome.TIMED_OUT.value]:,}"),
        ("failed", _failures(run, endings[FAILED])),
        ("waiting at the end", f"{endings[WAITING_AT_END]:,} (peak queue {measures.peak_queue:,})"),
    ]
    if measures.releases:
        rows.append(("released", release_counts(measures.releases)))
    rows.append(("held by an absent agent", absent_line(measures)))
    if endings[NO_ROUTE] or endings[UNASSIGNED]:
        rows.append(("no route / unassigned", f"{endings[NO_ROUTE]:,} / {endings[UNASSIGNED]:,}"))
    if counts:
        busiest = max(counts, key=lambda user: (counts[user], user))
        quietest = min(counts, key=lambda user: (counts[user], user))
        rows.append(
            (
                "fairness",
                f"Gini {measures.gini:.3f} · max/min {ratio_text(measures.max_min_ratio)} over {plural(len(counts), 'agent')}",
            )
        )
        rows.append(("busiest / least busy", f"{busiest} {counts[busiest]} · {quietest} {counts[quietest]}"))
    return rows


def _failures(run: SimulationRun, count: int) -> str:
    """`11 (user_deleted 11)`: failed contacts, by reason."""
    reasons = Counter(decision.reason for decision in run.decisions if decision.outcome == Outcome.FAILED)
    detail = ", ".join(f"{reason} {number}" for reason, number in sorted(reasons.items()))
    return f"{count:,} ({detail})" if detail else f"{count:,}"


def route_rows(run: SimulationRun, measures: SimulationMeasures) -> list[list[str]]:
    """Per route: how contacts that took it fared, and how long they waited in its queue."""
    rows = []
    for name in route_names(run, measures):
        fates = measures.route_fates.get(name, Counter())
        waits = measures.wait_summary(name)
        compiled = run.policy.route_named(name)
        assert compiled is not None  # route_names are the policy's own
        route = compiled.route
        timeout = duration(route.timeout_seconds) if route.queues else "–"
        rows.append(
            [name, f"{sum(fates.values()):,}"]
            + [f"{fates[fate]:,}" for fate in ROUTE_FATES]
            + [duration(waits.p50), duration(waits.p90), duration(waits.maximum), timeout]
        )
    return rows


def branch_lines(measures: SimulationMeasures, route: str) -> list[str]:
    """Where a route's timeouts led, one line per branch: `tier2: 39 assigned, 173 queued`."""
    by_branch: dict[str, list[str]] = {}
    for (source, branch, outcome), count in sorted(measures.branches.items()):
        if source == route:
            by_branch.setdefault(branch, []).append(f"{count:,} {outcome}")
    return [f"{branch}: {', '.join(counts)}" for branch, counts in by_branch.items()]


def branch_rows(run: SimulationRun, measures: SimulationMeasures) -> list[list[str]]:
    """Per route whose timeout fired: how often, and where each timeout led."""
    rows = []
    for name in route_names(run, measures):
        if measures.timeouts[name]:
            rows.append([name, f"{measures.timeouts[name]:,}", "; ".join(branch_lines(measures, name))])
    return rows


ROUTE_COLUMNS = ["route", "entered"] + list(ROUTE_FATES) + ["wait p50", "wait p90", "wait max", "timeout"]
TERMINAL_ROUTE_COLUMNS = [
    "route",
    "entered",
    ASSIGNED_AT_ONCE,
    ASSIGNED_AFTER_WAITING,
    TIMED_OUT,
    WAITING_AT_END,
    FAILED,
    "wait p50",
    "wait p90",
    "wait max",
]
TERMINAL_HEADINGS = {
    ASSIGNED_AT_ONCE: "at once",
    ASSIGNED_AFTER_WAITING: "waited",
    TIMED_OUT: "timed out",
    WAITING_AT_END: "at end",
    "wait p50": "p50",
    "wait p90": "p90",
    "wait max": "max",
}


# -------------------------------------------------------------------- plots


def _local_hours(run: SimulationRun) -> tuple[list[float], str]:
    """Sample times as hours since midnight of the first day, in the policy's timezone (UTC without one)."""
    zone = run.policy.zone or timezone.utc
    local_times = [moment.replace(tzinfo=timezone.utc).astimezone(zone) for moment in run.samples.times]
    midnight = local_times[0].replace(hour=0, minute=0, second=0, microsecond=0)
    return [(moment - midnight).total_seconds() / 3600 for moment in local_times], getattr(zone, "key", "UTC")


def _clock_ticks(axes, hours: list[float]) -> None:
    first, last = math.floor(hours[0]), math.ceil(hours[-1])
    step = max(1, (last - first) // 8)
    ticks = list(range(first, last + 1, step))
    axes.set_xticks(ticks, [f"{tick % 24:02d}:00" for tick in ticks])


def draw_load(axes, run: SimulationRun, measures: SimulationMeasures) -> None:
    """Heatmap: one row per counted agent, colour = open contacts at each sample."""
    agents = list(measures.assigned_by_agent)
    hours, zone_label = _local_hours(run)
    if not agents or len(hours) < 2:
        axes.text(0.5, 0.5, "no agents to show", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return
    grid = [run.samples.open_by_user[agent] for agent in agents]
    half_step = (hours[1] - hours[0]) / 2  # each cell is centred on its sample's time
    image = axes.imshow(
        grid,
        aspect="auto",
        cmap="YlOrRd",
        interpolation="nearest",
        vmin=0,
        extent=(hours[0] - half_step, hours[-1] + half_step, len(agents) - 0.5, -0.5),
    )
    if len(agents) <= NAMED_AGENTS_AT_MOST:
        axes.set_yticks(
            range(len(agents)), [f"{agent} {run.names.get(agent) or ''}".strip() for agent in agents], fontsize=7
        )
    else:
        axes.set_yticks([])
        axes.set_ylabel(f"{len(agents):,} agents, by id")
    _clock_ticks(axes, hours)
    axes.set_xlabel(f"time ({zone_label})")
    axes.set_title("Open contacts per agent over time")
    colour_bar = axes.figure.colorbar(image, ax=axes, label="open contacts", fraction=0.04, pad=0.02)
    colour_bar.locator = MaxNLocator(integer=True)  # counts are whole
    colour_bar.update_ticks()


def draw_queue(axes, run: SimulationRun) -> None:
    hours, zone_label = _local_hours(run)
    axes.step(hours, run.samples.queue_length, where="post", color=BAR_COLOUR)
    axes.fill_between(hours, run.samples.queue_length, step="post", color=BAR_COLOUR, alpha=0.2)
    _clock_ticks(axes, hours)
    axes.set_ylim(bottom=0)
    axes.set_xlabel(f"time ({zone_label})")
    axes.set_ylabel("contacts waiting")
    axes.set_title("Queue length over time")


def draw_assigned(axes, measures: SimulationMeasures) -> None:
    """Bars: contacts assigned per counted agent, the mean as a line, the fairness measures in the title."""
    counts = measures.assigned_by_agent
    agents = list(counts)
    many = len(agents) > NAMED_AGENTS_AT_MOST
    if many:  # unnamed bars read best as a distribution, busiest first
        agents.sort(key=lambda agent: -counts[agent])
    axes.bar(range(len(agents)), [counts[agent] for agent in agents], color=BAR_COLOUR, width=1.0 if many else 0.8)
    if agents:
        mean = sum(counts.values()) / len(agents)
        axes.axhline(mean, color="#444444", linestyle="--", linewidth=1, label=f"mean {mean:.1f}")
        axes.legend(loc="upper right", fontsize=8, frameon=False)
    if many:
        axes.margins(x=0.005)
        axes.set_xticks([])
        axes.set_xlabel(f"{len(agents):,} agents, busiest first")
    else:
        axes.set_xticks(range(len(agents)), agents, rotation=90, fontsize=7)
    axes.set_ylabel("contacts assigned")
    axes.set_title(f"Assigned per agent: Gini {measures.gini:.3f}, max/min {ratio_text(measures.max_min_ratio)}")


def draw_waits(axes, run: SimulationRun, measures: SimulationMeasures) -> None:
    """Per route: the spread of queue waits (box: quartiles, whiskers: the extremes), p90 marked."""
    routes = [name for name in route_names(run, measures) if measures.queue_waits.get(name)]
    if not routes:
        axes.text(0.5, 0.5, "no assignments", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return
    data = [[seconds / 60 for seconds in measures.queue_waits[name]] for name in routes]
    positions = list(range(len(routes), 0, -1))  # first route on top
    axes.bxp(
        [_box(minutes) for minutes in data],
        positions=positions,
        orientation="horizontal",
        widths=0.5,
        showfliers=False,
        medianprops={"color": "#222222"},
        patch_artist=True,
        boxprops={"facecolor": "#cfe0f1", "edgecolor": BAR_COLOUR},
    )
    longest = max(max(values) for values in data)
    for position, name in zip(positions, routes):
        summary = measures.wait_summary(name)
        axes.plot(summary.p90 / 60, position, marker="D", color="#e8a33d", markersize=5)
        note = (
            "all assigned at once"
            if summary.maximum == 0
            else f"p50 {duration(summary.p50)} · p90 {duration(summary.p90)} · max {duration(summary.maximum)}"
        )
        axes.annotate(note, (0, position + 0.3), xytext=(4, 0), textcoords="offset points", fontsize=7, color="#333333")
    axes.set_yticks(positions, routes)
    axes.set_xlim(left=0, right=max(longest * 1.1, 1))
    axes.set_ylim(0.4, len(routes) + 0.8)
    axes.set_xlabel("minutes in the route's queue (0 = assigned at once)")
    axes.set_title("Queue waits per route (◆ = p90)")


def _box(values: list[float]) -> dict[str, object]:
    """A box of the waits plot, by the percentiles every number of the report uses; whiskers at the extremes."""
    ordered = sorted(values)
    quartiles = {name: percentile(ordered, percent) for name, percent in (("q1", 25), ("med", 50), ("q3", 75))}
    return {**quartiles, "whislo": ordered[0], "whishi": ordered[-1], "fliers": []}


def draw_route_fates(axes, run: SimulationRun, measures: SimulationMeasures) -> None:
    """Stacked bars: what became of the contacts that took each route."""
    routes = route_names(run, measures)
    if not routes:
        axes.text(0.5, 0.5, "no contact took a route", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return
    positions = list(range(len(routes), 0, -1))
    lefts = [0] * len(routes)
    for fate in ROUTE_FATES:
        widths = [measures.route_fates.get(name, Counter())[fate] for name in routes]
        if any(widths):
            axes.barh(positions, widths, left=lefts, color=FATE_COLOURS[fate], label=fate, height=0.6)
            lefts = [left + width for left, width in zip(lefts, widths)]
    for position, name, total in zip(positions, routes, lefts):
        note = f"{total:,}" + "".join(f"\ntimed out → {line}" for line in branch_lines(measures, name))
        axes.annotate(note, (total, position), xytext=(4, 0), textcoords="offset points", va="center", fontsize=7)
    axes.set_yticks(positions, routes)
    axes.set_xlim(right=max(max(lefts, default=1) * 1.75, 1))
    axes.set_xlabel("contacts entering the route (on arrival or by a timeout branch)")
    axes.set_title("What happened on each route")
    axes.legend(loc="lower right", fontsize=7, frameon=False)


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def plot_figures(run: SimulationRun, measures: SimulationMeasures) -> list[tuple[str, Figure]]:
    """The report's plots, each in its own figure, with a caption."""
    agents = len(measures.assigned_by_agent)
    routes = max(1, len(route_names(run, measures)))
    load = _figure(10, min(12.0, max(3.0, 0.22 * agents + 1.2)))
    draw_load(load.subplots(), run, measures)
    queue = _figure(10, 2.4)
    draw_queue(queue.subplots(), run)
    assigned = _figure(10, 3.4)
    draw_assigned(assigned.subplots(), measures)
    waits = _figure(10, 0.9 * routes + 1.4)
    draw_waits(waits.subplots(), run, measures)
    fates = _figure(10, 0.7 * routes + 1.6)
    draw_route_fates(fates.subplots(), run, measures)
    return [("load", load), ("queue", queue), ("assigned", assigned), ("waits", waits), ("routes", fates)]


def summary_figure(run: SimulationRun, measures: SimulationMeasures, title: str) -> Figure:
    """The four plots a team lead needs, on one page, for the terminal or a README."""
    figure = Figure(figsize=(15, 9.5), layout="constrained")
    figure.suptitle(title, fontsize=13)
    grid = figure.add_gridspec(2, 2, height_ratios=(1.15, 1))
    draw_load(figure.add_subplot(grid[0, 0]), run, measures)
    draw_assigned(figure.add_subplot(grid[0, 1]), measures)
    draw_waits(figure.add_subplot(grid[1, 0]), run, measures)
    draw_route_fates(figure.add_subplot(grid[1, 1]), run, measures)
    return figure


def svg_of(figure: Figure, salt: str) -> str:
    """Inline SVG (no XML prolog), ids salted per figure so several can share a page."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"rota-{salt}", "svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata=SVG_METADATA)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


# --------------------------------------------------------------------- HTML

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 2rem auto;
       max-width: 1020px; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.settings { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6rem 0; }
th, td { padding: 0.3rem 0.7rem; border-bottom: 1px solid #ddd; text-align: right; }
table.routes { font-size: 0.85rem; } table.routes th, table.routes td { padding: 0.3rem 0.45rem; }
.wide { overflow-x: auto; }
th:first-child, td:first-child { text-align: left; }
table.headline th { text-align: left; font-weight: 600; width: 13rem; } table.headline td { text-align: left; }
figure { margin: 1rem 0; } figure svg { width: 100%; height: auto; }
figcaption, .note { color: #555; font-size: 0.9rem; }
"""


def _table(header: list[str] | None, rows: list[list[str]], css_class: str = "") -> str:
    head = "<tr>" + "".join(f"<th>{html.escape(cell)}</th>" for cell in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{css_class}">{head}{body}</table>'


def _headline_table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>" for name, value in rows)
    return f'<table class="headline">{body}</table>'


CAPTIONS = {
    "load": "Each row is an agent who counts for fairness; colour is how many contacts the agent held open "
    "(the snapshot's backlog included), sampled every few minutes.",
    "queue": "Contacts waiting in the queue, all routes together.",
    "assigned": "Contacts assigned to each agent during the simulation. Gini: 0 is perfectly even; "
    "max/min: the busiest agent's count over the least busy one's (∞ when someone got none).",
    "waits": "Time from entering a route's queue to being assigned by that route, for every assignment the route "
    "made (0 when assigned on arrival). The box holds the middle half, whiskers run to the extremes.",
    "routes": "Every time a contact took a route (on arrival or by a timeout branch): what became of it there, "
    "and where its timeouts led.",
}
REASSIGN_NOTE = (
    "A contact sits with an absent agent while its assignee is away or offline. The baseline is the same desk "
    "(the same contacts, absences and reply times) with the policy's <code>reassign</code> options taken out."
)


def _reassign_section(run: SimulationRun, measures: SimulationMeasures, baseline: SimulationMeasures | None) -> str:
    """Releases by route and reason, and the desk with and without them; only for a policy that reassigns."""
    if baseline is None:
        return ""
    routes = [route.name for route in run.policy.routes]
    releases = (
        _table(RELEASE_COLUMNS, release_rows(routes, measures))
        if measures.releases
        else '<p class="note">No release timer fired.</p>'
    )
    return f"""<h2>Reassignment</h2>
{releases}
{_table(COMPARISON_COLUMNS, comparison_rows(measures, baseline))}
<p class="note">{REASSIGN_NOTE}</p>
"""


def render_html(
    run: SimulationRun,
    measures: SimulationMeasures,
    title: str,
    settings_line: str,
    baseline: SimulationMeasures | None = None,
) -> str:
    figures = "".join(
        f"<figure>{svg_of(figure, name)}<figcaption>{html.escape(CAPTIONS[name])}</figcaption></figure>"
        for name, figure in plot_figures(run, measures)
    )
    timeouts = (
        _table(["route", "timed out", "led to"], branch_rows(run, measures))
        if measures.timeouts
        else '<p class="note">No contact waited as long as its route\'s timeout.</p>'
    )
    endings = [[ending, f"{count:,}"] for ending, count in sorted(measures.endings.items(), key=lambda e: -e[1])]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{CSS}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="settings">{html.escape(settings_line)}</p>
<h2>At a glance</h2>
{_headline_table(headline(run, measures))}
<h2>Routes</h2>
<div class="wide">{_table(ROUTE_COLUMNS, route_rows(run, measures), "routes")}</div>
<h2>Timeouts and their branches</h2>
{timeouts}
{_reassign_section(run, measures, baseline)}<h2>Where the contacts ended</h2>
{_table(["contacts", "count"], endings)}
<h2>Plots</h2>
{figures}
<p class="note">A simulation, not a forecast: arrivals, handling times and breaks are drawn at random
(seed {run.settings.seed}); the routing is the real engine's. See the README, "Simulating a policy", for the model
and the definitions.</p>
</body></html>
"""


def write_report(
    run: SimulationRun,
    measures: SimulationMeasures,
    title: str,
    settings_line: str,
    html_path: str | Path,
    png_path: str | Path,
    baseline: SimulationMeasures | None = None,
) -> None:
    page = render_html(run, measures, title, settings_line, baseline)
    with replaced_atomically(html_path) as temporary:
        Path(temporary).write_text(page, encoding="utf-8")
    picture = summary_figure(run, measures, f"{title}\n{settings_line}")
    with replaced_atomically(png_path) as temporary:
        picture.savefig(temporary, format="png", dpi=80, metadata={"Software": None})


# ------------------------------------------------------------------- stderr


def print_simulation_summary(
    console: Console,
    run: SimulationRun,
    measures: SimulationMeasures,
    html_path: str,
    png_path: str,
    baseline: SimulationMeasures | None = None,
) -> None:
    console.print(
        f"simulated {run.settings.hours:g} h, {plural(measures.arrived, 'contact')}, "
        f"{plural(len(run.decisions), 'decision')} in {run.seconds:.2f}s",
        markup=False,
        highlight=False,
    )
    glance = Table(show_header=False, box=None, pad_edge=False)
    glance.add_column(style="bold")
    glance.add_column()
    for name, value in headline(run, measures):
        glance.add_row(name, value)
    console.print(glance)
    # The terminal gets the columns that fit in 80 characters; the HTML has them all.
    routes = Table(box=None, pad_edge=False, padding=(0, 0, 0, 1), header_style="bold")
    for column in TERMINAL_ROUTE_COLUMNS:
        routes.add_column(
            TERMINAL_HEADINGS.get(column, column), justify="left" if column == "route" else "right", no_wrap=True
        )
    for row in route_rows(run, measures):
        cells = dict(zip(ROUTE_COLUMNS, row))
        routes.add_row(*(cells[column] for column in TERMINAL_ROUTE_COLUMNS))
    console.print(routes)
    if baseline is not None:
        console.print(_comparison_table(run, measures, baseline))
    console.print(f"wrote {html_path} and {png_path}", markup=False, highlight=False)


def _comparison_table(run: SimulationRun, measures: SimulationMeasures, baseline: SimulationMeasures) -> Table:
    table = Table(box=None, pad_edge=False, padding=(0, 0, 0, 1), header_style="bold")
    for column in COMPARISON_COLUMNS:
        table.add_column(column, justify="right" if column else "left", no_wrap=bool(column))
    for row in comparison_rows(measures, baseline):
        table.add_row(*row)
    return table


def settings_text(run: SimulationRun, policy_path: str, snapshot_dir: str) -> str:
    settings = run.settings
    start = settings.start.replace(tzinfo=timezone.utc).strftime("%Y-%m-%d %H:%MZ")
    return (
        f"{policy_path} over {snapshot_dir}: {settings.hours:g} h from {start}, "
        f"{settings.arrivals_per_hour:g} arrivals/h, handling {settings.handle_minutes:g} min on average, "
        f"replies after {settings.reply_minutes:g} ± {settings.reply_spread:g} min, "
        f"{settings.away_share:.0%} away once for {settings.away_minutes:g} ± {settings.away_spread:g} min, "
        f"seed {settings.seed}"
    )


# ----------------------------------------------------------------------- job


def simulate_file(
    policy_path: PolicyLocation,
    snapshot_dir: str,
    settings: SimulationSettings,
    html_path: str | Path,
    png_path: str | Path,
    warn: Warn | None = None,
) -> tuple[SimulationRun, SimulationMeasures, SimulationMeasures | None]:
    """`rota simulate`: check the policy (a file or a folder) against the snapshot, run the desk, write the report.

    A policy with `reassign` options is run a second time without them, as the baseline the report shows."""
    snapshot = load_snapshot_warning(snapshot_dir, warn)
    policy = compile_policy_file(policy_path, snapshot_schema(snapshot.connection))
    name = policy_name(policy_path)
    run = simulate(policy, load_roster(snapshot.connection), settings)
    measures = measure(run)
    baseline = None
    if any(route.route.reassigns for route in policy.routes):
        baseline = measure(simulate(without_reassign(policy), load_roster(snapshot.connection), settings))
    write_report(
        run,
        measures,
        f"rota simulate: {Path(name).name}",
        settings_text(run, name, str(snapshot_dir)),
        html_path,
        png_path,
        baseline,
    )
    return run, measures, baseline
