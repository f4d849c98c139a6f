"""The kept history at the engine level (no HTTP), over generated runs: however the service's clock
ticked between inputs and whenever the policy changed, an export from any instant of the history,
replayed, gives every decision the engine made in the window, in order (README "History and export")."""

import json
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rota.dsl import load_policy
from rota.engine import DurableEngine, compile_policy
from rota.engine.history import engine_from_state, input_from_record, run_inputs
from rota.testing import vocabulary
from rota.testing.strategies import START, event_logs, snapshots

FIRST = """\
route vip when "vip" in contact.tags {
  assign to team "Desk"
  using round_robin
  only online
  only open < 2
  timeout 30m -> anyone
  reassign when away 10m
}

route anyone {
  assign to space
  using least_open
  only online
  only open < 3
  timeout 2h
  reassign when unanswered 20m
}
"""
SECOND = FIRST.replace("only open < 2", "only open < 4").replace("using round_robin", "using least_open")
COMPILED = {policy.version: policy for policy in (compile_policy(load_policy(text)) for text in (FIRST, SECOND))}
TEXTS = dict(zip(COMPILED, (FIRST, SECOND)))
WORDS = vocabulary(next(iter(COMPILED.values())))

# Between two inputs the service may tick (fire what is due) or take a new policy version.
Step = st.sampled_from(("nothing", "nothing", "tick", "switch"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    snapshot=snapshots(WORDS),
    log=event_logs(WORDS, 30, replies=True),
    steps=st.lists(Step, min_size=40, max_size=40),
    cut=st.integers(0, 40),
)
def test_an_export_from_any_instant_replays_as_the_engine_ran(snapshot, log, steps, cut):
    durable = DurableEngine.open(":memory:", FIRST, snapshot.roster(), now=START)
    durable.keep_history(START)
    moments, previous, versions = [START], START, list(TEXTS)
    for index, event in enumerate(log.events):
        between = previous + (event.at - previous) / 2
        if steps[index] == "tick" and between > previous:
            durable.advance(between)
        elif steps[index] == "switch" and between > previous:
            versions.reverse()
            durable.use_policy(TEXTS[versions[0]], between)
        durable.handle(event)
        moments.append(event.at)
        previous = event.at
        if index % 5 == 0:
            durable.commit()
    until = log.until
    durable.advance(until)
    durable.commit()
    since = moments[min(cut, len(moments) - 1)] + timedelta(microseconds=cut % 2)  # at an input, or just after

    export = json.loads(json.dumps(durable.history(since, until)))  # as GET /v1/export sends it
    assert [kept["version"] for kept in export["policies"]][0] == export["snapshot"]["policy"]
    engine = engine_from_state(export["snapshot"], COMPILED[export["snapshot"]["policy"]])
    inputs = [input_from_record(record, COMPILED) for record in export["events"]]
    replayed = run_inputs(engine, inputs, COMPILED.__getitem__) + engine.advance(until)
    made = [decision for decision in durable.logged() if since <= decision.at <= until]
    assert [decision.row() for decision in replayed] == [decision.row() for decision in made]


def test_the_history_starts_where_it_was_first_kept_and_goes_on_after_a_reopening(tmp_path):
    path, began = tmp_path / "engine.duckdb", datetime(2026, 11, 23, 9, 0)
    durable = DurableEngine.open(path, FIRST, now=began)
    assert durable.keep_history(began) == began
    durable.close()
    reopened = DurableEngine.open(path, SECOND, now=began)
    later = reopened.keep_history(began - timedelta(hours=1))  # a clock set back: the history's end still holds
    reopened.close()
    assert later == began
    reopened = DurableEngine.open(path)
    export = reopened.history(began, began)
    reopened.close()
    assert export["history_began"] == "2026-11-23T09:00:00Z"
    assert export["events"] == [{"at": "2026-11-23T09:00:00Z", "type": "policy", "version": list(TEXTS)[1]}]
