"""Working days with holidays and make-up workdays (调休)."""

from __future__ import annotations

import doctest
from datetime import date, timedelta

import pytest

from server import workcal
from server.workcal import CHINA_2026, WorkCalendar, recount_deadline

# A made-up calendar, so the tests do not lean on any official notice: a Monday-to-Wednesday
# holiday in March 2027 with Saturday 13 March as the make-up working day.
HOLIDAY = [date(2027, 3, 8), date(2027, 3, 9), date(2027, 3, 10)]
MAKE_UP_SATURDAY = date(2027, 3, 13)
CAL = WorkCalendar({**dict.fromkeys(HOLIDAY, False), MAKE_UP_SATURDAY: True})


def test_default_week() -> None:
    plain = WorkCalendar()
    assert [plain.is_workday(date(2027, 3, d)) for d in range(1, 8)] == [True] * 5 + [False] * 2
    assert plain.add_working_days(date(2027, 3, 5), 1) == date(2027, 3, 8)  # Fri → Mon


def test_overrides() -> None:
    assert not CAL.is_workday(date(2027, 3, 9))
    assert CAL.is_workday(MAKE_UP_SATURDAY)
    assert not CAL.is_workday(date(2027, 3, 14))


def test_ten_working_days_over_a_weekend_and_a_holiday() -> None:
    # From Thu 4 Mar: Fri 5 (1), weekend, Mon–Wed holiday, Thu 11 (2), Fri 12 (3),
    # Sat 13 make-up (4), Mon 15 – Fri 19 (5–9), Mon 22 (10).
    assert CAL.add_working_days(date(2027, 3, 4), 10) == date(2027, 3, 22)
    assert WorkCalendar().add_working_days(date(2027, 3, 4), 10) == date(2027, 3, 18)


def test_make_up_saturday_is_counted() -> None:
    assert CAL.add_working_days(date(2027, 3, 12), 1) == MAKE_UP_SATURDAY
    assert CAL.working_days_between(date(2027, 3, 12), date(2027, 3, 13)) == 1
    assert CAL.working_days_between(date(2027, 3, 12), date(2027, 3, 15)) == 2


def test_start_not_counted_and_zero_or_negative() -> None:
    assert CAL.add_working_days(date(2027, 3, 8), 0) == date(2027, 3, 8)
    assert CAL.add_working_days(date(2027, 3, 8), 1) == date(2027, 3, 11)  # start is a holiday
    assert CAL.add_working_days(date(2027, 3, 15), -2) == date(2027, 3, 12)  # skips Sun, not Sat
    assert CAL.add_working_days(date(2027, 3, 11), -1) == date(2027, 3, 5)


def test_between_is_zero_unless_b_is_after_a() -> None:
    a = date(2027, 3, 4)
    assert CAL.working_days_between(a, a) == 0
    assert CAL.working_days_between(a, a - timedelta(days=30)) == 0
    assert CAL.working_days_between(a, date(2027, 3, 22)) == 10
    assert CAL.working_days_between(date(2027, 3, 7), date(2027, 3, 10)) == 0  # all rest days


@pytest.mark.parametrize("cal", [WorkCalendar(), CAL, WorkCalendar(CHINA_2026)])
def test_between_and_add_agree(cal: WorkCalendar) -> None:
    start = date(2026, 12, 20)
    for offset in range(0, 120, 3):
        a = start + timedelta(days=offset)
        for n in range(0, 25):
            b = cal.add_working_days(a, n)
            assert cal.working_days_between(a, b) == n
            if cal.is_workday(a):
                assert cal.add_working_days(b, -n) == a
        for days in range(0, 40):
            b = a + timedelta(days=days)
            slow = sum(cal.is_workday(a + timedelta(days=i)) for i in range(1, days + 1))
            assert cal.working_days_between(a, b) == slow


def test_deadline_passed() -> None:
    assert not CAL.deadline_passed(date(2027, 3, 5), date(2027, 3, 5))
    assert CAL.deadline_passed(date(2027, 3, 5), date(2027, 3, 6))
    # Due on a rest day: runs to the next working day (the make-up Saturday here).
    assert not CAL.deadline_passed(date(2027, 3, 9), date(2027, 3, 11))
    assert CAL.deadline_passed(date(2027, 3, 9), date(2027, 3, 12))
    assert CAL.next_workday(date(2027, 3, 6)) == date(2027, 3, 11)


@pytest.mark.parametrize("cal", [WorkCalendar(), CAL, WorkCalendar(CHINA_2026)])
def test_last_passed_due_is_the_deadline_passed_rule_as_one_date(cal: WorkCalendar) -> None:
    # What lets the overdue filter stay a plain ``due_on <= :date`` in SQL.
    for offset in range(0, 400, 1):
        today = date(2026, 1, 1) + timedelta(days=offset)
        cut = cal.last_passed_due(today)
        for back in range(0, 20):
            due = today - timedelta(days=back)
            assert cal.deadline_passed(due, today) == (due <= cut), (due, today)


def test_recount_deadline_on_a_changed_calendar() -> None:
    plain = WorkCalendar()
    start = date(2027, 3, 4)  # Thu; 10 working days → Thu 18 Mar
    due = plain.add_working_days(start, 10)
    assert due == date(2027, 3, 18)
    # The holiday declared inside the period: 3 days later (Sat 13 is a make-up workday).
    assert recount_deadline(start, due, before=plain, after=CAL) == date(2027, 3, 22)
    # And back: the same count on the old calendar.
    assert recount_deadline(start, date(2027, 3, 22), before=CAL, after=plain) == due
    # Unchanged calendar, unchanged deadline; a day off after the deadline changes nothing.
    assert recount_deadline(start, due, before=plain, after=plain) == due
    later = WorkCalendar({date(2027, 3, 19): False})
    assert recount_deadline(start, due, before=plain, after=later) == due
    # A deadline left on a rest day counts as the working day it runs to.
    assert recount_deadline(start, date(2027, 3, 20), before=plain, after=plain) == date(
        2027, 3, 22
    )
    assert recount_deadline(start, start, before=plain, after=CAL) == start


def test_china_2026_holds_what_the_notice_says() -> None:
    cal = WorkCalendar(CHINA_2026)
    assert not any(cal.is_workday(date(2026, 1, d)) for d in (1, 2, 3))
    assert not any(cal.is_workday(date(2026, 2, d)) for d in range(15, 24))
    # A make-up working day only makes sense on a weekend.
    assert all(d.weekday() >= 5 for d, workday in CHINA_2026.items() if workday)
    assert all(d.year == 2026 for d in CHINA_2026)


def test_docstring_examples() -> None:
    assert doctest.testmod(workcal).failed == 0
