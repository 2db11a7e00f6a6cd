"""The scalars the schema replaces answer exactly as Strawberry's own (`schema.scalars`)."""

from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from schema.scalars import datetime_text

EVERY_YEAR = {"min_value": datetime(1, 1, 1), "max_value": datetime(9999, 12, 31, 23, 59, 59)}


@settings(max_examples=2000)
@given(st.datetimes(**EVERY_YEAR, timezones=st.one_of(st.just(UTC))))
def test_a_utc_datetime_is_written_as_isoformat_writes_it(value: datetime) -> None:
    assert datetime_text(value) == value.isoformat()


@given(st.datetimes(**EVERY_YEAR, timezones=st.one_of(st.none(), st.timezones())))
def test_any_other_datetime_is_written_by_isoformat(value: datetime) -> None:
    assert datetime_text(value) == value.isoformat()


def test_a_whole_second_has_no_fraction_and_an_offset_keeps_its_seconds() -> None:
    assert datetime_text(datetime(2026, 12, 7, 6, 0, tzinfo=UTC)) == "2026-12-07T06:00:00+00:00"
    odd = timezone(timedelta(hours=5, minutes=30, seconds=15))
    assert datetime_text(datetime(2026, 1, 2, tzinfo=odd)) == "2026-01-02T00:00:00+05:30:15"


def test_a_date_is_written_by_isoformat() -> None:
    assert datetime_text(date(2026, 12, 7)) == "2026-12-07"
