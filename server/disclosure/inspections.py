"""随机抽查结果公示: random-inspection results, published within 20 working days.

No Flask here: callers pass the session, the acting user and the client address; every state
change is written to the audit log in the caller's transaction.

A result moves ``pending → published → taken_down``; ``blocked`` while the scanner (the same
one as for decisions) finds personal data on the page, until the text is fixed. The item must
be one of the unit's published 随机抽查事项清单; a natural-person object is shown masked (张某),
and its name is masked in the detail text too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from .. import clock
from ..errors import Conflict, Invalid, NotFound
from ..events import calendar_changed
from ..models import Case, User
from ..services import audit
from ..services.calendar import calendar
from ..workcal import WorkCalendar
from . import redact
from .models import RandomInspectionResult
from .service import (
    INSPECTION_RESULT_WORKING_DAYS,
    PARTY_KINDS,
    hit_dict,
    latest_content,
    page_of,
    recount_pending_due_dates,
    scanned_notice,
)
from .service import masked_hits as _masked_hits

# --- vocabulary -----------------------------------------------------------------------------


class InspectionStatus(StrEnum):
    PENDING = "pending"
    BLOCKED = "blocked"
    PUBLISHED = "published"
    TAKEN_DOWN = "taken_down"


RESULT_LABELS: dict[str, str] = {
    "no_problem": "未发现问题",
    "rectification_ordered": "发现问题已责令整改",
    "case_opened": "发现问题已立案查处",
    "not_operating": "未发现经营",
}

# Where a scanner hit is, in the admin's words.
FIELD_LABELS: dict[str, str] = {
    "item": "抽查事项",
    "object_display": "检查对象",
    "inspectors": "检查人员",
    "detail": "检查情况",
    "takedown_notice": "撤下说明",
}
# What the public page shows of a result, in display order (the scanner's input).
PAGE_FIELDS: tuple[str, ...] = ("item", "object_display", "inspectors", "detail")


# --- input ------------------------------------------------------------------------------------


class InspectionResultSchema(Schema):
    """A result as the admin or supervisor records it (``partial`` for an edit)."""

    item = fields.String(required=True, validate=validate.Length(min=1, max=300))
    object_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    object_kind = fields.String(required=True, validate=validate.OneOf(sorted(PARTY_KINDS)))
    inspected_on = fields.Date(required=True)
    # Inspections are made by at least two officers (《行政处罚法》第四十二条).
    inspectors = fields.List(
        fields.String(validate=validate.Length(min=1, max=50)),
        required=True,
        validate=validate.Length(min=2, max=20),
    )
    result = fields.String(required=True, validate=validate.OneOf(list(RESULT_LABELS)))
    detail = fields.String(load_default="", validate=validate.Length(max=5000))
    case_id = fields.Integer(load_default=None, allow_none=True)


# --- dates ------------------------------------------------------------------------------------


def due_by(session: Session, unit_id: int, inspected_on: date) -> date:
    """The last day for the unit to publish a result of an inspection made on
    ``inspected_on``."""
    return calendar(session, unit_id).add_working_days(inspected_on, INSPECTION_RESULT_WORKING_DAYS)


@calendar_changed.connect
def recount_due_dates(
    session: Session, *, changes: dict[int, tuple[WorkCalendar, WorkCalendar]], **who: Any
) -> None:
    """Pending results' publication dates on a changed calendar (as decisions')."""
    for unit_id, (before, after) in changes.items():
        recount_pending_due_dates(
            session,
            RandomInspectionResult,
            "inspected_on",
            _record,
            before,
            after,
            unit_id=unit_id,
            **who,
        )


# --- scanning ---------------------------------------------------------------------------------


def page_fields(row: RandomInspectionResult) -> dict[str, str]:
    """Everything the public page shows of ``row`` as text."""
    return {
        "item": row.item,
        "object_display": row.object_display,
        "inspectors": "、".join(row.inspectors or []),
        "detail": row.detail,
    }


def scan_result(row: RandomInspectionResult) -> list[dict[str, Any]]:
    return [hit_dict(h, FIELD_LABELS) for h in redact.scan_fields(page_fields(row))]


def _rescan(row: RandomInspectionResult) -> None:
    row.block_hits = scan_result(row)
    row.status = (InspectionStatus.BLOCKED if row.block_hits else InspectionStatus.PENDING).value


def _record(
    session: Session,
    row: RandomInspectionResult,
    actor: User | None,
    action: str,
    client_addr: str,
    **details: Any,
) -> None:
    """Audit without the object's name: it may be a natural person's."""
    audit.record(
        session,
        actor=actor,
        action=f"disclosure.inspection_{action}",
        object_type="random_inspection_result",
        object_id=row.id,
        client_addr=client_addr,
        details={
            "unit_id": row.unit_id,
            "item": row.item,
            "inspected_on": row.inspected_on.isoformat(),
            "status": row.status,
            **details,
        },
    )


# --- recording and editing --------------------------------------------------------------------


def listed_items(session: Session, unit_id: int) -> list[str]:
    """The items of the unit's current 随机抽查事项清单."""
    row = latest_content(session, unit_id, "random_inspection_list")
    return [it["item"] for it in row.content.get("items", [])] if row else []


def _check_item(session: Session, unit_id: int, item: str) -> str:
    item = item.strip()
    items = listed_items(session, unit_id)
    if not items:
        raise Invalid(
            "先发布本单位的随机抽查事项清单 / publish the unit's random inspection list first",
            code="no_inspection_list",
        )
    if item not in items:
        raise Invalid(
            f"“{item}”不在本单位的随机抽查事项清单中 / not an item of the unit's list",
            code="unknown_inspection_item",
            details={"items": items},
        )
    return item


def _check_case(session: Session, unit_id: int, case_id: int | None) -> int | None:
    if case_id is None:
        return None
    case = session.get(Case, case_id)
    if case is None or case.unit_id != unit_id:
        raise NotFound(f"case {case_id} not found", code="case_not_found")
    return case.id


def _check_day(inspected_on: date, today: date) -> date:
    if inspected_on > today:
        raise Invalid("检查日期不能晚于今天 / inspected_on is in the future", code="future_date")
    return inspected_on


def _apply_object(row: RandomInspectionResult, detail: str) -> None:
    """Set the public display of the object and mask a natural person's name in the detail."""
    name = row.object_name.strip()
    natural = row.object_kind == "natural"
    row.object_display = redact.mask_name(name) if natural else name
    row.detail = redact.redact_text(detail.strip(), [name] if natural else [])


def record_result(
    session: Session,
    actor: User,
    data: Any,
    *,
    client_addr: str = "",
    today: date | None = None,
) -> RandomInspectionResult:
    """Validate ``data`` and record it for the actor's unit: pending, or blocked on a hit."""
    loaded = InspectionResultSchema().load(data)  # ValidationError → 422
    row = RandomInspectionResult(
        unit_id=actor.unit_id,
        item=_check_item(session, actor.unit_id, loaded["item"]),
        object_name=loaded["object_name"].strip(),
        object_kind=loaded["object_kind"],
        inspected_on=_check_day(loaded["inspected_on"], today or clock.today()),
        inspectors=[name.strip() for name in loaded["inspectors"]],
        result=loaded["result"],
        case_id=_check_case(session, actor.unit_id, loaded["case_id"]),
        created_by=actor.id,
        block_hits=[],
    )
    _apply_object(row, loaded["detail"])
    row.due_by = due_by(session, row.unit_id, row.inspected_on)
    _rescan(row)
    session.add(row)
    session.flush()
    _record(
        session,
        row,
        actor,
        "recorded",
        client_addr,
        result=row.result,
        due_by=row.due_by.isoformat(),
        hits=_masked_hits(row.block_hits),
    )
    return row


def update_result(
    session: Session,
    row: RandomInspectionResult,
    actor: User,
    data: Any,
    *,
    client_addr: str = "",
    today: date | None = None,
) -> RandomInspectionResult:
    """Fix a pending or blocked result (any recorded field); it is scanned again."""
    if row.status not in (InspectionStatus.PENDING, InspectionStatus.BLOCKED):
        raise Conflict(
            f"a result that is {row.status} cannot be edited; take it down and record it again",
            code="not_editable",
        )
    changes = InspectionResultSchema(partial=True).load(data)
    if not changes:
        raise Invalid("nothing to change", code="nothing_to_change")
    if "item" in changes:
        row.item = _check_item(session, row.unit_id, changes["item"])
    if "inspected_on" in changes:
        row.inspected_on = _check_day(changes["inspected_on"], today or clock.today())
        row.due_by = due_by(session, row.unit_id, row.inspected_on)
    if "inspectors" in changes:
        row.inspectors = [name.strip() for name in changes["inspectors"]]
    if "result" in changes:
        row.result = changes["result"]
    if "case_id" in changes:
        row.case_id = _check_case(session, row.unit_id, changes["case_id"])
    if "object_name" in changes:
        row.object_name = changes["object_name"].strip()
    if "object_kind" in changes:
        row.object_kind = changes["object_kind"]
    _apply_object(row, changes.get("detail", row.detail))
    _rescan(row)
    session.flush()
    _record(
        session,
        row,
        actor,
        "edited",
        client_addr,
        fields=sorted(changes),
        due_by=row.due_by.isoformat(),
        hits=_masked_hits(row.block_hits),
    )
    return row


# --- publication ------------------------------------------------------------------------------


def _mark_published(row: RandomInspectionResult, now: datetime) -> None:
    row.status = InspectionStatus.PUBLISHED.value
    row.published_at = now
    row.block_hits = []


def publish(
    session: Session,
    row: RandomInspectionResult,
    actor: User | None,
    *,
    client_addr: str = "",
    now: datetime | None = None,
) -> RandomInspectionResult:
    """Publish now, after scanning the page again; refused (409) while it holds personal data."""
    if row.status not in (InspectionStatus.PENDING, InspectionStatus.BLOCKED):
        raise Conflict(f"a result that is {row.status} cannot be published", code="not_publishable")
    hits = scan_result(row)
    if hits:
        raise Conflict(
            "personal data found on the page; fix the text and publish again",
            code="personal_data_found",
            details={"hits": hits},
        )
    _mark_published(row, now or clock.now())
    _record(session, row, actor, "published", client_addr)
    return row


def publish_due(
    session: Session, today: date, *, now: datetime | None = None
) -> list[RandomInspectionResult]:
    """The daily job: publish every pending result due by ``today``; block on a new hit.

    Blocked results are never published here. Safe to run twice.
    """
    due = session.execute(
        sa.select(RandomInspectionResult)
        .where(
            RandomInspectionResult.status == InspectionStatus.PENDING.value,
            RandomInspectionResult.due_by <= today,
        )
        .order_by(RandomInspectionResult.id)
    ).scalars()
    published = []
    for row in list(due):
        hits = scan_result(row)
        if hits:
            row.status, row.block_hits = InspectionStatus.BLOCKED.value, hits
            _record(session, row, None, "blocked", "", hits=_masked_hits(hits))
            continue
        _mark_published(row, now or clock.now())
        _record(session, row, None, "published", "", automatic=True)
        published.append(row)
    session.flush()
    return published


def take_down(
    session: Session,
    row: RandomInspectionResult,
    actor: User | None,
    notice: str,
    *,
    client_addr: str = "",
    now: datetime | None = None,
) -> RandomInspectionResult:
    """Take a result off the list; ``notice`` (public, so scanned too) says why."""
    notice = scanned_notice(notice, FIELD_LABELS)
    if row.status == InspectionStatus.TAKEN_DOWN:
        raise Conflict("this result is already taken down", code="not_online")
    row.status = InspectionStatus.TAKEN_DOWN.value
    row.takedown_notice = notice
    row.taken_down_at = now or clock.now()
    session.flush()
    _record(session, row, actor, "taken_down", client_addr, notice=notice)
    return row


# --- reading ----------------------------------------------------------------------------------


def managed_result(session: Session, actor: User, result_id: int) -> RandomInspectionResult:
    """A result of the actor's unit; another unit's is 404."""
    row = session.get(RandomInspectionResult, result_id)
    if row is None or row.unit_id != actor.unit_id:
        raise NotFound(
            f"inspection result {result_id} not found", code="inspection_result_not_found"
        )
    return row


def unit_results(
    session: Session, unit_id: int, status: str | None = None
) -> list[RandomInspectionResult]:
    query = sa.select(RandomInspectionResult).where(RandomInspectionResult.unit_id == unit_id)
    if status:
        if status not in {s.value for s in InspectionStatus}:
            raise Invalid(f"unknown status {status!r}", code="invalid_status")
        query = query.where(RandomInspectionResult.status == status)
    return list(
        session.execute(
            query.order_by(
                RandomInspectionResult.inspected_on.desc(), RandomInspectionResult.id.desc()
            )
        ).scalars()
    )


@dataclass(frozen=True)
class ResultSearch:
    item: str = ""
    object: str = ""
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1
    per_page: int = 20


@dataclass(frozen=True)
class ResultPage:
    items: list[RandomInspectionResult]
    total: int
    page: int
    pages: int


def search_published(session: Session, unit_id: int, search: ResultSearch) -> ResultPage:
    """The public list: a unit's published results matching ``search``, newest first."""
    where = [
        RandomInspectionResult.unit_id == unit_id,
        RandomInspectionResult.status == InspectionStatus.PUBLISHED.value,
    ]
    if search.item:
        where.append(RandomInspectionResult.item == search.item)
    if search.object:
        where.append(RandomInspectionResult.object_display.contains(search.object, autoescape=True))
    if search.date_from:
        where.append(RandomInspectionResult.inspected_on >= search.date_from)
    if search.date_to:
        where.append(RandomInspectionResult.inspected_on <= search.date_to)
    items, total, page, pages = page_of(
        session,
        sa.select(RandomInspectionResult).where(*where),
        [RandomInspectionResult.inspected_on.desc(), RandomInspectionResult.id.desc()],
        search.page,
        search.per_page,
    )
    return ResultPage(items=items, total=total, page=page, pages=pages)


def published_items(session: Session, unit_id: int) -> list[str]:
    """The items that have published results (the search's item list)."""
    return list(
        session.execute(
            sa.select(RandomInspectionResult.item)
            .where(
                RandomInspectionResult.unit_id == unit_id,
                RandomInspectionResult.status == InspectionStatus.PUBLISHED.value,
            )
            .distinct()
            .order_by(RandomInspectionResult.item)
        ).scalars()
    )


def takedown_notices(
    session: Session, unit_id: int, *, limit: int = 20
) -> list[RandomInspectionResult]:
    """Results taken down after publication, newest first: the public sees their notices
    (date, item and notice; not the object)."""
    return list(
        session.execute(
            sa.select(RandomInspectionResult)
            .where(
                RandomInspectionResult.unit_id == unit_id,
                RandomInspectionResult.status == InspectionStatus.TAKEN_DOWN.value,
                RandomInspectionResult.published_at.is_not(None),
            )
            .order_by(RandomInspectionResult.taken_down_at.desc(), RandomInspectionResult.id.desc())
            .limit(limit)
        ).scalars()
    )
