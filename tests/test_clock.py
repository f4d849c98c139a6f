"""Times in event logs: the quick reading of `...Z` agrees with the general one."""

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from rota.engine.clock import parse_instant, to_utc

moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1))
FORMS = [
    lambda m: m.isoformat(),
    lambda m: m.isoformat(sep=" "),
    lambda m: m.isoformat(timespec="minutes"),
    lambda m: m.strftime("%Y%m%dT%H%M%S"),
    lambda m: m.date().isoformat(),
    lambda m: m.isoformat() + "+02:00",
]


def general_reading(text: str) -> datetime:
    return to_utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))


@given(moment=moments, form=st.sampled_from(FORMS), padding=st.sampled_from(["", " ", "\n"]))
def test_a_time_ending_in_z_reads_as_the_general_reading_gives(moment, form, padding):
    text = padding + form(moment) + "Z" + padding
    try:
        expected = general_reading(text)
    except ValueError:
        expected = None
    try:
        assert parse_instant(text) == expected
    except ValueError:
        assert expected is None


def test_offsets_and_zones():
    assert parse_instant("2026-11-25T10:00:00+01:00") == datetime(2026, 11, 25, 9)
    assert parse_instant("2026-11-25T10:00:00Z") == datetime(2026, 11, 25, 10)
    assert parse_instant("2026-11-25T10:00:00") == datetime(2026, 11, 25, 10)
    aware = datetime(2026, 11, 25, 10, tzinfo=timezone(timedelta(hours=-3)))
    assert parse_instant(aware.isoformat()) == datetime(2026, 11, 25, 13)
