"""Working days (工作日) with a holiday calendar: pure functions, no database.

Monday to Friday are working days unless an override says otherwise: ``False`` marks a
public holiday (法定节假日, including the weekdays given as 调休 rest days) and ``True`` a
make-up working day on a weekend (调休上班).

>>> cal = WorkCalendar(CHINA_2026)
>>> cal.add_working_days(date(2026, 9, 30), 3)  # 国庆 1–7 Oct; Sat 10 Oct is a workday
datetime.date(2026, 10, 10)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

_DAY = timedelta(days=1)


# The State Council's yearly notices (国务院办公厅关于部分节假日安排的通知), one JSON file a
# year in ``server/calendars/``, in the form ``fieldtrace calendar import`` takes for a new one:
# {"year": 2026, "source": "...", "holidays": [{"name": "春节", "rest": [days off, weekends
# included], "work": [make-up working weekends]}]}.
NATIONAL_DIR = Path(__file__).parent / "calendars"


class NoticeError(ValueError):
    """A holiday notice that cannot be right; ``code`` names the problem."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Notice:
    """One year's national holiday arrangement."""

    year: int
    source: str
    holidays: tuple[dict[str, Any], ...]
    overrides: Mapping[date, bool]


def parse_notice(doc: Any) -> Notice:
    """Check a notice and turn it into day overrides (False rest day, True make-up workday).

    >>> n = parse_notice({"year": 2027, "source": "通知", "holidays": [
    ...     {"name": "元旦", "rest": ["2027-01-01", "2027-01-02", "2027-01-03"], "work": []}]})
    >>> n.overrides[date(2027, 1, 1)]
    False
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("holidays"), list):
        raise NoticeError(
            "invalid_notice",
            "需要 {year, source, holidays: [...]} / expected an object with year, source "
            "and holidays",
        )
    year = doc.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1990 <= year <= 2100:
        raise NoticeError(
            "invalid_notice_year",
            "年份应为1990至2100之间的整数 / year must be an integer from 1990 to 2100",
        )
    source = doc.get("source")
    if not isinstance(source, str) or not source.strip() or len(source) > 200:
        raise NoticeError(
            "invalid_notice_source",
            "请写明通知名称（200字以内）/ name the notice (at most 200 characters)",
        )
    # A notice lists its own year's days; a make-up day may sit a few days into the next or
    # previous year (a holiday spanning New Year).
    first, last = date(year, 1, 1) - timedelta(days=31), date(year, 12, 31) + timedelta(days=31)
    overrides: dict[date, bool] = {}
    holidays = []
    for holiday in doc["holidays"]:
        if not isinstance(holiday, dict) or not isinstance(holiday.get("name"), str):
            raise NoticeError(
                "invalid_notice_holiday", "每个节日需要名称 / every holiday needs a name"
            )
        entry: dict[str, Any] = {"name": holiday["name"].strip()[:40], "rest": [], "work": []}
        for kind, workday in (("rest", False), ("work", True)):
            days = holiday.get(kind, [])
            if not isinstance(days, list):
                raise NoticeError(
                    "invalid_notice_day", f"{kind} 应为日期列表 / {kind} must be a list of dates"
                )
            for text in days:
                try:
                    day = date.fromisoformat(text) if isinstance(text, str) else None
                except ValueError:
                    day = None
                if day is None or not first <= day <= last:
                    raise NoticeError(
                        "invalid_notice_day",
                        f"日期无效或不在{year}年：{text!r} / not a date of {year}: {text!r}",
                    )
                if workday and day.weekday() < 5:
                    raise NoticeError(
                        "invalid_notice_day",
                        f"调休上班日应为周末：{day} / a make-up working day must be a weekend "
                        f"day: {day}",
                    )
                if overrides.get(day, workday) != workday:
                    raise NoticeError(
                        "invalid_notice_day",
                        f"{day} 既是休息日又是上班日 / {day} is both a rest day and a working day",
                    )
                overrides[day] = workday
                entry[kind].append(day.isoformat())
        holidays.append(entry)
    if not any(not workday for workday in overrides.values()):
        raise NoticeError("invalid_notice", "通知中没有任何放假日期 / the notice names no day off")
    return Notice(year, source.strip(), tuple(holidays), overrides)


@cache
def shipped_notices() -> dict[int, Notice]:
    """The notices shipped with Fieldtrace, by year."""
    notices = {}
    for path in sorted(NATIONAL_DIR.glob("*.json")):
        notice = parse_notice(json.loads(path.read_text(encoding="utf-8")))
        notices[notice.year] = notice
    return notices


CHINA_2026: Mapping[date, bool] = shipped_notices()[2026].overrides


class WorkCalendar:
    """Working days: Monday to Friday, adjusted by ``overrides`` (True workday, False holiday).

    >>> cal = WorkCalendar({date(2026, 1, 1): False})
    >>> cal.add_working_days(date(2025, 12, 31), 1)  # Thu 1 Jan is a holiday
    datetime.date(2026, 1, 2)
    """

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        *,
        known_years: frozenset[int] | None = None,
    ) -> None:
        self.overrides: dict[date, bool] = dict(overrides or {})
        # Years whose holidays are loaded; None: treat every year as known (plain Mon–Fri).
        self.known_years = known_years

    def estimated(self, start: date, end: date) -> bool:
        """True when a day after ``start`` up to ``end`` falls in a year with no holiday
        notice loaded: a count over it is only a Monday-to-Friday estimate.

        >>> cal = WorkCalendar(known_years=frozenset({2026}))
        >>> cal.estimated(date(2026, 12, 28), date(2027, 1, 4))
        True
        """
        if self.known_years is None:
            return False
        low, high = min(start, end), max(start, end)
        return any(year not in self.known_years for year in range(low.year, high.year + 1))

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
