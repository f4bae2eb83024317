"""The one clock: local dates are Beijing's, whatever the host's zone or hour."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest

from server import clock
from tests.conftest import clock_instant

HOST_NOON = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)


def test_instants_sit_either_side_of_beijing_midnight() -> None:
    before = clock_instant("before-midnight", HOST_NOON)
    after = clock_instant("after-midnight", HOST_NOON)
    assert before == datetime(2026, 12, 8, 15, 59, 30, tzinfo=UTC)
    assert after - before == timedelta(minutes=1)
    with clock.travel(before):
        assert clock.today() == date(2026, 12, 8)
    with clock.travel(after):
        assert clock.today() == date(2026, 12, 9)


def test_new_year_is_the_coming_one() -> None:
    assert clock_instant("new-year", HOST_NOON) == datetime(2026, 12, 31, 16, 0, 30, tzinfo=UTC)
    later = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)
    assert clock_instant("new-year", later).year == 2027
    with clock.travel(clock_instant("new-year", HOST_NOON)):
        assert clock.today() == date(2027, 1, 1)
        assert clock.local_now().hour == 0


def test_an_instant_needs_its_offset() -> None:
    with pytest.raises(pytest.UsageError):
        clock_instant("2026-12-31T16:00:30", HOST_NOON)
    assert clock_instant("2027-01-01T00:00:30+08:00", HOST_NOON).hour == 0


def test_travel_runs_on_and_comes_back() -> None:
    before = clock.now()
    with clock.travel(datetime(2030, 6, 1, tzinfo=UTC)):
        assert abs(clock.now() - datetime(2030, 6, 1, tzinfo=UTC)) < timedelta(seconds=5)
    assert abs(clock.now() - before) < timedelta(seconds=5)


def test_local_dates_of_stored_times() -> None:
    naive = datetime(2026, 12, 31, 16, 30)  # SQLite hands back naive UTC
    assert clock.local_date(naive) == date(2027, 1, 1)
    assert clock.day_start(date(2027, 1, 1)) == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    start, end = clock.year_bounds(2027)
    assert (start, end - start) == (clock.day_start(date(2027, 1, 1)), timedelta(days=365))
    assert clock.today(naive) == date(2027, 1, 1)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", "America/Los_Angeles"])
def test_the_host_zone_changes_nothing(zone: str) -> None:
    code = (
        "from datetime import datetime, UTC\n"
        "from server import clock\n"
        "clock.set_now(datetime(2026, 12, 31, 16, 0, 30, tzinfo=UTC))\n"
        "print(clock.today(), clock.local_now().strftime('%H:%M'), clock.day_start(clock.today()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "TZ": zone},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[:3] == ["2027-01-01", "00:00", "2026-12-31"]


def test_the_suite_clock_is_beijing_local() -> None:
    # Whatever --clock this run uses, "today" is the Beijing date of the clock's instant.
    assert clock.today() == (clock.now() + timedelta(hours=8)).date()
