"""Working days (工作日) with a holiday calendar: pure functions, no database.

Monday to Friday are working days unless an override says otherwise: ``False`` marks a
public holiday (法定节假日, including the weekdays given as 调休 rest days) and ``True`` a
make-up working day on a weekend (调休上班).

>>> cal = WorkCalendar(CHINA_2026)
>>> cal.add_working_days(date(2026, 9, 30), 3)  # 国庆 1–7 Oct; Sat 10 Oct is a workday
datetime.date(2026, 10, 10)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

_DAY = timedelta(days=1)


def _days(first: date, last: date, value: bool) -> dict[date, bool]:
    return {first + timedelta(days=i): value for i in range((last - first).days + 1)}


# 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04). Every rest day of each holiday is
# listed, weekend days included, so the table reads like the notice.
CHINA_2026: dict[date, bool] = {
    # 元旦: 1月1日(周四)至3日(周六)放假调休; 1月4日(周日)上班.
    **_days(date(2026, 1, 1), date(2026, 1, 3), False),
    date(2026, 1, 4): True,
    # 春节: 2月15日(周日)至23日(周一)放假调休; 2月14日(周六)、2月28日(周六)上班.
    **_days(date(2026, 2, 15), date(2026, 2, 23), False),
    date(2026, 2, 14): True,
    date(2026, 2, 28): True,
    # 清明节: 4月4日(周六)至6日(周一)放假.
    **_days(date(2026, 4, 4), date(2026, 4, 6), False),
    # 劳动节: 5月1日(周五)至5日(周二)放假调休; 5月9日(周六)上班.
    **_days(date(2026, 5, 1), date(2026, 5, 5), False),
    date(2026, 5, 9): True,
    # 端午节: 6月19日(周五)至21日(周日)放假.
    **_days(date(2026, 6, 19), date(2026, 6, 21), False),
    # 中秋节: 9月25日(周五)至27日(周日)放假.
    **_days(date(2026, 9, 25), date(2026, 9, 27), False),
    # 国庆节: 10月1日(周四)至7日(周三)放假调休; 9月20日(周日)、10月10日(周六)上班.
    **_days(date(2026, 10, 1), date(2026, 10, 7), False),
    date(2026, 9, 20): True,
    date(2026, 10, 10): True,
}


class WorkCalendar:
    """Working days: Monday to Friday, adjusted by ``overrides`` (True workday, False holiday).

    >>> cal = WorkCalendar({date(2026, 1, 1): False})
    >>> cal.add_working_days(date(2025, 12, 31), 1)  # Thu 1 Jan is a holiday
    datetime.date(2026, 1, 2)
    """

    def __init__(self, overrides: Mapping[date, bool] | None = None) -> None:
        self.overrides: dict[date, bool] = dict(overrides or {})

    def is_workday(self, d: date) -> bool:
        override = self.overrides.get(d)
        return override if override is not None else d.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (``start`` itself not counted).

        ``n == 0`` returns ``start``; a negative ``n`` counts back to the n-th working day
        before it.
        """
        step = _DAY if n >= 0 else -_DAY
        d, remaining = start, abs(n)
        while remaining:
            d += step
            if self.is_workday(d):
                remaining -= 1
        return d

    def working_days_between(self, a: date, b: date) -> int:
        """Working days after ``a`` up to and including ``b``; 0 when ``b <= a``."""
        if b <= a:
            return 0
        span = (b - a).days
        weeks, rest = divmod(span, 7)
        count = weeks * 5
        count += sum(1 for i in range(1, rest + 1) if (a + timedelta(days=i)).weekday() < 5)
        for d, workday in self.overrides.items():
            if a < d <= b and workday != (d.weekday() < 5):
                count += 1 if workday else -1
        return count

    def next_workday(self, d: date) -> date:
        """``d`` when it is a working day, else the first working day after it."""
        while not self.is_workday(d):
            d += _DAY
        return d

    def deadline_passed(self, due: date, today: date) -> bool:
        """True once ``today`` is after the deadline.

        A deadline falling on a rest day runs to the next working day (期间届满的最后一日是
        节假日的，以节假日后的第一日为期间届满的日期), so it is met on that day.
        """
        return today > self.next_workday(due)

    def last_passed_due(self, today: date) -> date:
        """The latest due date already passed on ``today``: the last working day before it.

        ``deadline_passed(due, today)`` holds exactly when ``due <= last_passed_due(today)``
        (every day between that working day and ``today`` is a rest day, which runs on to a
        working day not before ``today``), so a database can apply the rest-day rule with a
        plain ``due_on <= :date``.

        >>> WorkCalendar().last_passed_due(date(2027, 3, 8))  # Monday: Friday's has passed
        datetime.date(2027, 3, 5)
        """
        return self.add_working_days(today, -1)


def recount_deadline(start: date, due: date, *, before: WorkCalendar, after: WorkCalendar) -> date:
    """A deadline of working days counted from ``start``, counted again on a changed calendar.

    ``due`` ends a period of n working days on ``before`` (a ``due`` on a rest day counts as
    the working day it runs to); the result ends n working days on ``after``. A holiday
    declared inside the period moves the deadline later, a make-up working day earlier.

    >>> start, due = date(2027, 3, 4), date(2027, 3, 11)  # Thu → Thu: 5 working days
    >>> recount_deadline(start, due, before=WorkCalendar(),
    ...                  after=WorkCalendar({date(2027, 3, 8): False}))
    datetime.date(2027, 3, 12)
    """
    if due <= start:
        return due
    days = before.working_days_between(start, before.next_workday(due))
    return after.add_working_days(start, days)
