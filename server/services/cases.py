"""Cases, who may see them, and their stages."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import clock
from ..domain import UNIT_WIDE_ROLES, Role, Stage
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..models import Case, CaseStage, MediaItem, User, case_officers
from . import audit


def visible_cases(user: User) -> sa.Select[tuple[Case]]:
    """Officers see cases they are assigned to; supervisors and legal reviewers their unit's.

    Admins manage accounts and see no evidence (separation of duties).
    """
    query = sa.select(Case)
    if user.role == Role.OFFICER:
        assigned = sa.select(case_officers.c.case_id).where(case_officers.c.user_id == user.id)
        return query.where(Case.id.in_(assigned))
    if user.role in UNIT_WIDE_ROLES:
        return query.where(Case.unit_id == user.unit_id)
    return query.where(sa.false())


def get_case(session: Session, user: User, case_id: int) -> Case:
    """The case if this user may see it; otherwise 404, so other units' cases stay invisible."""
    case = session.execute(visible_cases(user).where(Case.id == case_id)).scalar_one_or_none()
    if case is None:
        raise NotFound(f"case {case_id} not found", code="case_not_found")
    return case


def can_record(user: User, case: Case) -> bool:
    """Assigned officers and the unit's supervisors may add evidence to an open case."""
    if case.archived_at is not None:
        return False
    if user.role == Role.OFFICER:
        return any(o.id == user.id for o in case.officers)
    return user.role == Role.SUPERVISOR and case.unit_id == user.unit_id


def _next_number(session: Session, unit_id: int) -> str:
    year = clock.now().year
    prefix = f"{year}-"
    count = session.execute(
        sa.select(sa.func.count(Case.id)).where(
            Case.unit_id == unit_id, Case.number.like(f"{prefix}%")
        )
    ).scalar_one()
    return f"{prefix}{count + 1:05d}"


def create_case(
    session: Session, user: User, data: dict[str, Any], *, client_addr: str = ""
) -> Case:
    if user.role not in (Role.OFFICER, Role.SUPERVISOR):
        raise Forbidden("only officers and supervisors open cases", code="role_forbidden")
    officer_ids = set(data.get("officer_ids") or [])
    if user.role == Role.OFFICER:
        officer_ids.add(user.id)
    officers = list(
        session.execute(
            sa.select(User).where(
                User.id.in_(officer_ids),
                User.unit_id == user.unit_id,
                User.role == Role.OFFICER,
                User.active.is_(True),
            )
        ).scalars()
    )
    missing = officer_ids - {o.id for o in officers}
    if missing:
        raise Invalid(
            f"not an active officer of your unit: {sorted(missing)}", code="invalid_officers"
        )
    number = data.get("number") or _next_number(session, user.unit_id)
    if session.execute(
        sa.select(Case.id).where(Case.unit_id == user.unit_id, Case.number == number)
    ).first():
        raise Conflict(f"case number {number} already exists in your unit", code="case_exists")
    now = clock.now()
    case = Case(
        unit_id=user.unit_id,
        number=number,
        title=data["title"],
        case_type=data.get("case_type", ""),
        parties=data.get("parties", []),
        location=data.get("location", ""),
        major_property=bool(data.get("major_property", False)),
        procedure=data.get("procedure", "general"),
        current_stage=Stage.FILING.value,
        created_by_id=user.id,
        created_at=now,
        officers=officers,
    )
    session.add(case)
    session.flush()
    session.add(
        CaseStage(
            case_id=case.id,
            stage=Stage.FILING.value,
            started_at=now,
            opened_by_id=user.id,
            reason="立案",
        )
    )
    audit.record(
        session,
        actor=user,
        action="case.created",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={
            "number": number,
            "title": case.title,
            "officers": sorted(officer_ids),
            "procedure": case.procedure,
        },
    )
    return case


def stage_reached(case: Case, stage: str) -> bool:
    try:
        return Stage(stage).order <= Stage(case.current_stage).order
    except ValueError:
        return False


def media_counts(session: Session, case_ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {cid: {} for cid in case_ids}
    if not case_ids:
        return counts
    rows = session.execute(
        sa.select(MediaItem.case_id, MediaItem.kind, sa.func.count())
        .where(MediaItem.case_id.in_(case_ids))
        .group_by(MediaItem.case_id, MediaItem.kind)
    )
    for case_id, kind, n in rows:
        counts[case_id][kind] = n
    return counts
