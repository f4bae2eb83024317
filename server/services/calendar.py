"""Working-day calendars: the national holiday notices, and each unit's own days.

Every deadline in working days (legal review, publication, take-down) is counted on
``calendar(session, unit_id)``: the State Council's notice of each year (shipped as data in
``server/calendars/`` for every year known when the code was written, later ones imported with
``fieldtrace calendar import`` or the admin screen), with the unit's own closures on top, which
only that unit's admin changes and which move only that unit's deadlines.

A year with no notice loaded is counted Monday to Friday but never silently: the calendar
knows its years, so a deadline reaching into such a year is shown as an estimate
(「日历未配置，期限仅按周一至周五估算」), and from 1 November the admins and legal reviewers are
reminded until next year's notice is loaded.

A change is announced on :data:`calendar_changed`; the legal review and disclosure services
listen and recount the deadlines still running, in the same transaction.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import clock
from ..errors import Invalid
from ..events import calendar_changed
from ..models import CalendarDay, CalendarYear, Unit, User
from ..workcal import Notice, NoticeError, WorkCalendar, parse_notice, shipped_notices
from . import audit

ESTIMATE_NOTE = {
    "zh": "日历未配置，期限仅按周一至周五估算",
    "en": "No holiday calendar is loaded for that year: the deadline is only a Monday-to-Friday "
    "estimate",
}
# From this day of the year, next year's notice is asked for (the State Council publishes it
# in late October or November).
REMIND_FROM = (11, 1)

__all__ = ["calendar", "calendar_changed", "import_notice", "set_unit_days", "status"]


def notices(session: Session) -> dict[int, Notice]:
    """Every national notice known: the shipped ones, replaced by imported ones of a year."""
    known = dict(shipped_notices())
    for row in session.execute(sa.select(CalendarYear)).scalars():
        known[row.year] = parse_notice(
            {"year": row.year, "source": row.source, "holidays": row.holidays}
        )
    return known


def calendar(session: Session, unit_id: int | None) -> WorkCalendar:
    """The calendar deadlines of ``unit_id`` count on (``None``: the national one alone)."""
    known = notices(session)
    overrides: dict[date, bool] = {}
    for notice in sorted(known.values(), key=lambda n: n.year):
        overrides.update(notice.overrides)
    if unit_id is not None:
        rows = session.execute(
            sa.select(CalendarDay.day, CalendarDay.is_workday).where(CalendarDay.unit_id == unit_id)
        )
        overrides.update({day: workday for day, workday in rows})
    return WorkCalendar(overrides, known_years=frozenset(known))


def unit_days(session: Session, unit_id: int) -> list[CalendarDay]:
    return list(
        session.execute(
            sa.select(CalendarDay).where(CalendarDay.unit_id == unit_id).order_by(CalendarDay.day)
        ).scalars()
    )


def set_unit_days(
    session: Session, user: User, days: list[dict[str, Any]], *, client_addr: str = ""
) -> None:
    """Record the admin's unit's own days off and working days; its running deadlines are
    recounted (listeners of :data:`calendar_changed`), other units' are untouched."""
    # Taken first, as every deadline count takes it: a deadline counted meanwhile either sees
    # the new calendar or is recounted here.
    audit.lock_chain(session)
    before = calendar(session, user.unit_id)
    for day in days:
        row = session.get(CalendarDay, (user.unit_id, day["day"])) or CalendarDay(
            unit_id=user.unit_id, day=day["day"]
        )
        row.is_workday, row.note = day["is_workday"], day.get("note", "")
        session.add(row)
    session.flush()
    audit.record(
        session,
        actor=user,
        action="config.calendar_changed",
        object_type="unit",
        object_id=user.unit_id,
        client_addr=client_addr,
        details={"days": [d["day"].isoformat() for d in days]},
    )
    after = calendar(session, user.unit_id)
    calendar_changed.send(
        session,
        changes={user.unit_id: (before, after)},
        actor=user,
        client_addr=client_addr,
    )


def import_notice(
    session: Session, doc: Any, *, actor: User | None = None, client_addr: str = ""
) -> Notice:
    """Load (or correct) a year's national notice; every unit's running deadlines are
    recounted on it, so estimates reaching into that year become real dates."""
    try:
        notice = parse_notice(doc)
    except NoticeError as exc:
        raise Invalid(str(exc), code=exc.code) from None
    audit.lock_chain(session)
    units = list(session.execute(sa.select(Unit.id).order_by(Unit.id)).scalars())
    before = {unit_id: calendar(session, unit_id) for unit_id in units}
    row = session.get(CalendarYear, notice.year) or CalendarYear(year=notice.year)
    row.source, row.holidays = notice.source, list(notice.holidays)
    row.imported_at, row.imported_by_id = clock.now(), actor.id if actor else None
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="config.national_calendar_imported",
        object_type="calendar_year",
        object_id=notice.year,
        client_addr=client_addr,
        details={
            "source": notice.source,
            "rest_days": sum(1 for v in notice.overrides.values() if not v),
            "work_days": sum(1 for v in notice.overrides.values() if v),
        },
    )
    changes = {unit_id: (before[unit_id], calendar(session, unit_id)) for unit_id in units}
    calendar_changed.send(session, changes=changes, actor=actor, client_addr=client_addr)
    return notice


def estimate_note(cal: WorkCalendar, start: date, due: date) -> dict[str, str] | None:
    """The words to show beside a deadline counted over a year with no notice loaded."""
    return ESTIMATE_NOTE if cal.estimated(start, due) else None


def status(session: Session, today: date | None = None) -> dict[str, Any]:
    """Which years are loaded, and whether next year's notice is now due to be loaded."""
    today = today or clock.today()
    known = notices(session)
    shipped = shipped_notices()
    imported = {row.year: row for row in session.execute(sa.select(CalendarYear)).scalars()}
    missing = [y for y in (today.year, today.year + 1) if y not in known]
    remind = today.year not in known or (
        (today.month, today.day) >= REMIND_FROM and today.year + 1 not in known
    )
    return {
        "today": today.isoformat(),
        "years": [
            {
                "year": year,
                "source": known[year].source,
                "origin": "imported" if year in imported else "shipped",
                "imported_at": imported[year].imported_at.isoformat() if year in imported else None,
                "shipped": year in shipped,
            }
            for year in sorted(known)
        ],
        "missing_years": missing,
        "remind": remind,
        "message": _reminder(missing) if remind else None,
    }


def _reminder(missing: list[int]) -> dict[str, str]:
    years_zh = "、".join(f"{y}年" for y in missing)
    years_en = ", ".join(str(y) for y in missing)
    return {
        "zh": f"{years_zh}的节假日安排尚未导入：法制审核和公示期限只能按周一至周五估算。"
        "请管理员导入国务院办公厅的节假日安排通知。",
        "en": f"The national holiday notice for {years_en} is not loaded yet: legal review and "
        "publication deadlines can only be estimated Monday to Friday. An admin should "
        "import the State Council's holiday notice.",
    }
