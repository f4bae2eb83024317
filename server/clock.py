"""The one clock: every "now" and every local date of the system comes from here.

Dates that matter (deadlines, credential validity, publication dates, the report's year) are
the unit's local dates in Asia/Shanghai, whatever zone the host runs in. Tests move the clock
with :func:`travel` instead of reading the host clock; the host clock itself cannot be faked
here, since S3 refuses requests signed more than 15 minutes away from its own time.

    >>> from server import clock
    >>> with clock.travel(datetime(2026, 12, 31, 16, 0, 30, tzinfo=UTC)):
    ...     clock.today()
    datetime.date(2027, 1, 1)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, timezone

# Mainland China has kept UTC+8 without daylight saving since 1991; a fixed offset needs no
# tz database on the machine.
ZONE = timezone(timedelta(hours=8), "Asia/Shanghai")

_lock = threading.Lock()
_offset = timedelta(0)


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC) + _offset


def local_now() -> datetime:
    """The current instant in the unit's zone."""
    return now().astimezone(ZONE)


def today(at: datetime | None = None) -> date:
    """The unit's local date today, or of the instant ``at`` when one is given."""
    return local_date(at) if at is not None else local_now().date()


def local_date(at: datetime) -> date:
    """The unit's local date of an aware instant (a naive one is taken as UTC)."""
    return aware(at).astimezone(ZONE).date()


def local(at: datetime) -> datetime:
    """An aware instant shown in the unit's zone (a naive one is taken as UTC)."""
    return aware(at).astimezone(ZONE)


def aware(at: datetime) -> datetime:
    """``at`` with UTC attached when it carries no zone (SQLite hands back naive UTC)."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def day_start(day: date) -> datetime:
    """Local midnight starting ``day``, as a UTC instant."""
    return datetime.combine(day, time(0), ZONE).astimezone(UTC)


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar year, as UTC instants."""
    return day_start(date(year, 1, 1)), day_start(date(year + 1, 1, 1))


def set_now(at: datetime) -> None:
    """Move the clock so that it reads ``at`` now; it keeps running from there."""
    global _offset
    with _lock:
        _offset = aware(at) - datetime.now(UTC)


def reset() -> None:
    """Back to the host clock."""
    global _offset
    with _lock:
        _offset = timedelta(0)


@contextmanager
def travel(at: datetime) -> Iterator[None]:
    """Run a block with the clock reading ``at`` at its start (then running on)."""
    global _offset
    with _lock:
        saved = _offset
    set_now(at)
    try:
        yield
    finally:
        with _lock:
            _offset = saved
