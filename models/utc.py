"""UTC time: the clock (`utcnow`) and the column type every timestamp is stored in."""

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator
from pydantic_core import PydanticCustomError
from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in_utc(value: datetime) -> datetime:
    """`value` in UTC; an instant that UTC cannot write (year 1 at +14:00 is year 0 there) is
    bad input, not an overflow deep in a driver."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_out_of_range", "must fall between the years 1 and 9999 in UTC"
        ) from None


def _timestamp_text(value: object) -> object:
    """RFC 3339 text (or a datetime, from GraphQL): not a number of seconds, whose zone the
    client never stated."""
    if isinstance(value, int | float):
        raise PydanticCustomError(
            "datetime_type", "must be an RFC 3339 timestamp with a time zone, as text"
        )
    return value


# A timestamp from a client: RFC 3339 with a time zone (else bad input), kept in UTC.
UTCInstant = Annotated[AwareDatetime, BeforeValidator(_timestamp_text), AfterValidator(_in_utc)]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database.

    PostgreSQL keeps the zone; SQLite stores text and hands back naive values, so values are
    written as naive UTC there and UTC is reattached on the way out. Comparisons and ordering then
    agree.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """Nothing to do on PostgreSQL: its sessions run in UTC (`create_db_engine`), so the
        driver already answers aware UTC values, and a call per value costs on every list."""
        if dialect.name == "postgresql":
            return None
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]
