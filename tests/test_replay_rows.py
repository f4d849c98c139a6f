"""Replay rows are written without `json.dumps`, and must come out byte for byte as it writes them."""

import json
from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from rota.engine import Decision
from rota.engine.replay import json_line

texts = st.one_of(st.none(), st.text())
instants = st.one_of(st.none(), st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))


@given(contact=st.text(), route=texts, outcome=st.text(), user=texts, reason=texts, deadline=instants, at=instants)
def test_a_row_is_what_json_dumps_writes(contact, route, outcome, user, reason, deadline, at):
    decision = Decision(contact, route, outcome, user=user, reason=reason, deadline=deadline, at=at)
    assert json_line(decision) == json.dumps(decision.row(), ensure_ascii=False) + "\n"


def test_a_row_with_values_that_are_not_text_falls_back_to_the_encoder():
    decision = Decision(7, None, "assigned", user=8)  # type: ignore[arg-type]
    assert json_line(decision) == json.dumps(decision.row(), ensure_ascii=False) + "\n"
