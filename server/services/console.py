"""Supervisor console: a unit's cases and media at a glance, a case's timeline, annotations.

Lists are scoped to the viewer's unit first (every query starts from an index whose first
column is the unit), so their cost follows the size of one unit, not of the whole system;
the attention flags come from per-case counters and a per-item code list that the models
keep current (see ``server.models.refresh_case_summaries``), never from JSON at read time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from .. import clock
from ..domain import STAGE_ORDER, MediaKind, MediaStatus, Role, Stage
from ..errors import Conflict, Forbidden, Invalid
from ..models import (
    CLOCK_SKEW_CODES,
    AuditEntry,
    Case,
    CaseStage,
    MediaBookmark,
    MediaItem,
    User,
    case_officers,
    has_flag,
)
from . import audit
from .cases import get_case, visible_cases

CONSOLE_ROLES = frozenset({Role.SUPERVISOR.value, Role.LEGAL.value, Role.LEADER.value})
BOOKMARK_ROLES = CONSOLE_ROLES
CASE_FLAGS = ("gap", "unverified", "hash_mismatch", "unattached", "clock_skew", "late_upload")
UNATTACHED = "unattached"
# Credential displays this long before filing or the first recording still belong to a case:
# officers show the credential at the door, before they film or file.
CREDENTIAL_LEAD = timedelta(hours=1)
MAX_CREDENTIAL_EVENTS = 1000
_RECORDINGS = (MediaKind.VIDEO.value, MediaKind.AUDIO.value)
_KINDS = [k.value for k in MediaKind]
_STAGE_RANK = {s.value: i for i, s in enumerate(STAGE_ORDER)}

_CASE_FLAG_COLUMNS = {
    "gap": Case.gap_count,
    "unverified": Case.unverified_count,
    "hash_mismatch": Case.hash_mismatch_count,
    "unattached": Case.unattached_count,
    "clock_skew": Case.clock_skew_count,
    "late_upload": Case.late_upload_count,
    # Case workflow: a legal review past its deadline; stages advanced over missing records.
    "review_overdue": sa.cast(Case.review_overdue, sa.Integer),
    "override": Case.override_count,
}
_CASE_FLAG_ATTRS = {
    "gap": "gap_count",
    "unverified": "unverified_count",
    "hash_mismatch": "hash_mismatch_count",
    "unattached": "unattached_count",
    "clock_skew": "clock_skew_count",
    "late_upload": "late_upload_count",
    "review_overdue": "review_overdue",
    "override": "override_count",
}


def effective_stage_sql() -> sa.ColumnElement[str | None]:
    """Where an item counts: its placement; before the pipeline placed it, the officer's
    choice; nowhere (unattached) once the pipeline could not place it."""
    return sa.case(
        (MediaItem.attached_stage.is_not(None), MediaItem.attached_stage),
        (has_flag(UNATTACHED), sa.null()),
        else_=MediaItem.stage,
    )


def require_console(user: User) -> None:
    """Only supervisors and legal reviewers use the unit-wide views."""
    if user.role not in CONSOLE_ROLES:
        raise Forbidden("the console is for supervisors and legal reviewers", code="role_forbidden")


@dataclass(frozen=True)
class Filters:
    """List filters; all optional. Dates are calendar days in Asia/Shanghai, both included."""

    officer_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    number: str | None = None
    stage: str | None = None
    activity: str | None = None
    kind: str | None = None
    flag: str | None = None
    q: str | None = None
    case_id: int | None = None

    @classmethod
    def from_query(cls, data: dict[str, Any]) -> Filters:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})

    def used(self) -> dict[str, Any]:
        """The filters given, by their query names, for the audit entry of a list."""
        names = {"date_from": "from", "date_to": "to"}
        return {
            names.get(k, k): v.isoformat() if isinstance(v, date) else v
            for k, v in self.__dict__.items()
            if v is not None
        }


@dataclass
class Page:
    items: list[Any]
    total: int
    page: int
    per_page: int


def _page(
    session: Session, query: sa.Select[Any], order: list[Any], page: int, per_page: int
) -> tuple[list[Any], int]:
    """One page of rows and the exact total (one unit's rows: see the module docstring)."""
    total = session.execute(
        sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
    ).scalar_one()
    rows = list(
        session.execute(
            query.order_by(*order).limit(per_page).offset((page - 1) * per_page)
        ).scalars()
    )
    return rows, total


def _audit_list(
    session: Session, user: User, action: str, ids: list[Any], f: Filters, page: Page, addr: str
) -> None:
    """One entry per list request: which rows it showed, to whom, under which filters."""
    audit.record(
        session,
        actor=user,
        action=action,
        object_type="unit",
        object_id=user.unit_id,
        client_addr=addr,
        details={
            "view": "console",
            "ids": ids,
            "filters": f.used(),
            "page": page.page,
            "per_page": page.per_page,
            "total": page.total,
        },
    )


def _day_bounds(
    column: sa.ColumnElement[datetime], date_from: date | None, date_to: date | None
) -> list[sa.ColumnElement[bool]]:
    where = []
    if date_from is not None:
        where.append(column >= clock.day_start(date_from))
    if date_to is not None:
        where.append(column < clock.day_start(date_to + timedelta(days=1)))
    return where


# --- cases ----------------------------------------------------------------------------------


def case_query(user: User, f: Filters) -> sa.Select[tuple[Case]]:
    """The unit's cases matching the filters (unordered)."""
    query = visible_cases(user)
    if f.officer_id is not None:
        assigned = sa.select(case_officers.c.case_id).where(case_officers.c.user_id == f.officer_id)
        query = query.where(Case.id.in_(assigned))
    query = query.where(*_day_bounds(Case.created_at, f.date_from, f.date_to))
    if f.number:
        query = query.where(Case.number.startswith(f.number, autoescape=True))
    if f.stage:
        query = query.where(Case.current_stage == f.stage)
    if f.activity or f.kind:
        having = sa.select(MediaItem.id).where(MediaItem.case_id == Case.id)
        if f.activity:
            having = having.where(MediaItem.activity == f.activity)
        if f.kind:
            having = having.where(MediaItem.kind == f.kind)
        query = query.where(having.exists())
    if f.flag:
        query = query.where(_CASE_FLAG_COLUMNS[f.flag] > 0)
    if f.q:
        query = query.where(Case.title.icontains(f.q, autoescape=True))
    if f.case_id is not None:
        query = query.where(Case.id == f.case_id)
    return query


@dataclass
class CaseRow:
    """One line of the console's case list."""

    case: Case
    officers: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)


def case_flags(case: Case) -> dict[str, int]:
    return {name: int(getattr(case, attr) or 0) for name, attr in _CASE_FLAG_ATTRS.items()}


def stage_counts(session: Session, case_ids: list[int]) -> dict[int, dict[str, dict[str, int]]]:
    """Per case: every reached stage → items per kind (zeros included), plus ``unattached``
    when some items have no stage. Items that failed verification are not evidence and are
    not counted (their flag says so)."""
    counts: dict[int, dict[str, dict[str, int]]] = {cid: {} for cid in case_ids}
    if not case_ids:
        return counts
    reached = session.execute(
        sa.select(CaseStage.case_id, CaseStage.stage).where(CaseStage.case_id.in_(case_ids))
    )
    for case_id, stage in reached:
        counts[case_id][stage] = dict.fromkeys(_KINDS, 0)
    stage_col = effective_stage_sql().label("stage")
    rows = session.execute(
        sa.select(MediaItem.case_id, stage_col, MediaItem.kind, sa.func.count())
        .where(MediaItem.case_id.in_(case_ids), MediaItem.status != MediaStatus.HASH_MISMATCH.value)
        .group_by(MediaItem.case_id, stage_col, MediaItem.kind)
    )
    for case_id, stage, kind, n in rows:
        per_kind = counts[case_id].setdefault(stage or UNATTACHED, dict.fromkeys(_KINDS, 0))
        per_kind[kind] = per_kind.get(kind, 0) + n
    return counts


def list_cases(
    session: Session, user: User, f: Filters, *, page: int, per_page: int, client_addr: str = ""
) -> Page:
    """The unit's cases, newest first, with officers, counts per stage and kind, and flags.
    Audited (``case.listed``: the ids shown)."""
    require_console(user)
    cases, total = _page(
        session, case_query(user, f), [Case.created_at.desc(), Case.id.desc()], page, per_page
    )
    ids = [c.id for c in cases]
    officers: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if ids:
        for case_id, officer_id, name in session.execute(
            sa.select(case_officers.c.case_id, User.id, User.name)
            .join(User, User.id == case_officers.c.user_id)
            .where(case_officers.c.case_id.in_(ids))
            .order_by(User.id)
        ):
            officers[case_id].append({"id": officer_id, "name": name})
    counts = stage_counts(session, ids)
    rows = [CaseRow(c, officers[c.id], counts[c.id], case_flags(c)) for c in cases]
    listed = Page(rows, total, page, per_page)
    _audit_list(session, user, "case.listed", ids, f, listed, client_addr)
    return listed


# --- media ----------------------------------------------------------------------------------


def media_query(session: Session, user: User, f: Filters) -> sa.Select[tuple[MediaItem]]:
    """The unit's media items matching the filters (unordered). Dates apply to capture time,
    ``officer_id`` to the uploader, ``stage`` to where the item is placed, ``number`` and
    ``q`` to its case."""
    query = sa.select(MediaItem).where(MediaItem.unit_id == user.unit_id)
    if f.case_id is not None:
        get_case(session, user, f.case_id)  # another unit's case is 404, not an empty list
        query = query.where(MediaItem.case_id == f.case_id)
    if f.officer_id is not None:
        query = query.where(MediaItem.uploader_id == f.officer_id)
    query = query.where(*_day_bounds(MediaItem.captured_at, f.date_from, f.date_to))
    if f.stage:
        query = query.where(effective_stage_sql() == f.stage)
    if f.activity:
        query = query.where(MediaItem.activity == f.activity)
    if f.kind:
        query = query.where(MediaItem.kind == f.kind)
    if f.flag in ("unverified", "hash_mismatch"):
        status = MediaStatus.RECEIVED if f.flag == "unverified" else MediaStatus.HASH_MISMATCH
        query = query.where(MediaItem.status == status.value)
    elif f.flag == "clock_skew":
        query = query.where(has_flag(*CLOCK_SKEW_CODES))
    elif f.flag in ("unattached", "late_upload"):
        query = query.where(has_flag(f.flag))
    if f.number or f.q or f.flag == "gap":
        of_case = sa.select(Case.id).where(Case.unit_id == user.unit_id)
        if f.number:
            of_case = of_case.where(Case.number.startswith(f.number, autoescape=True))
        if f.q:
            of_case = of_case.where(Case.title.icontains(f.q, autoescape=True))
        if f.flag == "gap":
            of_case = of_case.where(Case.gap_count > 0)
        query = query.where(MediaItem.case_id.in_(of_case))
    return query


def list_media(
    session: Session, user: User, f: Filters, *, page: int, per_page: int, client_addr: str = ""
) -> Page:
    """The unit's media items, newest capture first (with uploader and place of capture).
    Audited (``media.listed``: the ids shown)."""
    require_console(user)
    query = media_query(session, user, f)
    total = session.execute(
        sa.select(sa.func.count()).select_from(query.with_only_columns(MediaItem.id).subquery())
    ).scalar_one()
    # Page the ids first: PostgreSQL then filters and orders inside the covering index
    # (index-only), and only the page's rows are read in full.
    ids = list(
        session.execute(
            query.with_only_columns(MediaItem.id)
            .order_by(MediaItem.captured_at.desc(), MediaItem.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).scalars()
    )
    rows = {
        item.id: item
        for item in session.execute(
            sa.select(MediaItem)
            .where(MediaItem.id.in_(ids))
            .options(
                selectinload(MediaItem.uploader),
                selectinload(MediaItem.derivatives),
                selectinload(MediaItem.case),
            )
        ).scalars()
    }
    listed = Page([rows[i] for i in ids], total, page, per_page)
    _audit_list(session, user, "media.listed", ids, f, listed, client_addr)
    return listed


# --- timeline -------------------------------------------------------------------------------


def effective_stage(item: MediaItem) -> str | None:
    """Python twin of ``effective_stage_sql``."""
    if item.attached_stage is not None:
        return item.attached_stage
    if UNATTACHED in item.flag_codes():
        return None
    return item.stage


@dataclass
class Timeline:
    case: Case
    stages: list[dict[str, Any]]
    unattached: list[MediaItem]
    credential_events: list[dict[str, Any]]
    gaps: list[dict[str, Any]]
    counts: dict[str, dict[str, int]]
    flags: dict[str, int]


def timeline(session: Session, user: User, case_id: int, *, client_addr: str = "") -> Timeline:
    """Stages in legal order with their media, unattached items, the officers' credential
    displays during the case, and its recording gaps. Viewing it is audited."""
    case = get_case(session, user, case_id)
    items = list(
        session.execute(
            sa.select(MediaItem)
            .where(MediaItem.case_id == case.id)
            .order_by(MediaItem.captured_at, MediaItem.id)
            .options(selectinload(MediaItem.uploader), selectinload(MediaItem.derivatives))
        ).scalars()
    )
    stage_rows = sorted(case.stages, key=lambda s: _STAGE_RANK.get(s.stage, len(_STAGE_RANK)))
    by_stage: dict[str, list[MediaItem]] = {s.stage: [] for s in stage_rows}
    unattached: list[MediaItem] = []
    for item in items:
        stage = effective_stage(item)
        by_stage.get(stage or UNATTACHED, unattached).append(item)
    stages = [
        {
            "stage": s.stage,
            "started_at": s.started_at,
            "ended_at": s.ended_at,
            "items": by_stage[s.stage],
        }
        for s in stage_rows
    ]
    audit.record(
        session,
        actor=user,
        action="case.viewed",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={"view": "timeline"},
    )
    return Timeline(
        case=case,
        stages=stages,
        unattached=unattached,
        credential_events=credential_events(session, case, items),
        gaps=list(case.recording_gaps or []),
        counts=stage_counts(session, [case.id])[case.id],
        flags=case_flags(case),
    )


def credential_events(session: Session, case: Case, items: list[MediaItem]) -> list[dict[str, Any]]:
    """亮证 by the case's officers from shortly before filing or the first recording until
    the case is archived (or now), oldest first."""
    officers = {o.id: o for o in case.officers}
    if not officers:
        return []
    start = min([case.created_at, *(i.captured_at for i in items)]) - CREDENTIAL_LEAD
    query = sa.select(
        AuditEntry.at, AuditEntry.actor_id, AuditEntry.object_id, AuditEntry.details
    ).where(
        AuditEntry.action == "credential.displayed",
        AuditEntry.object_type == "credential",
        AuditEntry.actor_id.in_(list(officers)),
        AuditEntry.at >= start,
    )
    archived = next((s for s in case.stages if s.stage == Stage.ARCHIVE.value), None)
    if archived is not None:
        query = query.where(AuditEntry.at <= archived.started_at)
    rows = session.execute(query.order_by(AuditEntry.at).limit(MAX_CREDENTIAL_EVENTS))
    return [
        {
            "at": at,
            "officer": officers[actor_id].name,
            "officer_id": actor_id,
            "action": "credential.displayed",
            "credential_id": int(object_id) if str(object_id).isdigit() else None,
            "number": (details or {}).get("number"),
        }
        for at, actor_id, object_id, details in rows
    ]


# --- annotations ----------------------------------------------------------------------------


def list_bookmarks(
    session: Session, user: User, item: MediaItem, *, client_addr: str = ""
) -> list[MediaBookmark]:
    """The item's bookmarks by time; reading them enters the item's custody trail."""
    bookmarks = list(
        session.execute(
            sa.select(MediaBookmark)
            .where(MediaBookmark.media_item_id == item.id)
            .order_by(MediaBookmark.at_s, MediaBookmark.id)
            .options(selectinload(MediaBookmark.author))
        ).scalars()
    )
    audit.record(
        session,
        actor=user,
        action="media.bookmarks_listed",
        object_type="media",
        object_id=item.id,
        client_addr=client_addr,
        details={"ids": [b.id for b in bookmarks]},
    )
    return bookmarks


def add_bookmark(
    session: Session, user: User, item: MediaItem, at_s: float, note: str, *, client_addr: str = ""
) -> MediaBookmark:
    """A time-coded note on a video or audio item (supervisor, legal reviewer); audited."""
    if user.role not in BOOKMARK_ROLES:
        raise Forbidden("only supervisors and legal reviewers add bookmarks", code="role_forbidden")
    if item.kind not in _RECORDINGS:
        raise Invalid("bookmarks mark a time in a video or audio recording", code="not_a_recording")
    if at_s < 0 or (item.duration_s is not None and at_s > item.duration_s + 0.5):
        raise Invalid(
            f"at_s is outside the recording (0 to {item.duration_s} s)", code="outside_recording"
        )
    bookmark = MediaBookmark(
        media_item_id=item.id,
        at_s=at_s,
        note=note.strip(),
        author_id=user.id,
        created_at=clock.now(),
    )
    session.add(bookmark)
    session.flush()
    audit.record(
        session,
        actor=user,
        action="media.bookmarked",
        object_type="media",
        object_id=item.id,
        client_addr=client_addr,
        details={"bookmark_id": bookmark.id, "at_s": at_s, "note": bookmark.note},
    )
    return bookmark


def mark_key_evidence(
    session: Session, user: User, item: MediaItem, key: bool, reason: str, *, client_addr: str = ""
) -> MediaItem:
    """重要 mark on or off (supervisor), with who, why and when on the item and in the trail."""
    if user.role != Role.SUPERVISOR:
        raise Forbidden("only a supervisor marks key evidence", code="role_forbidden")
    reason = reason.strip()
    if not reason:
        raise Invalid("give a reason", code="reason_required")
    if item.key_evidence == key:
        raise Conflict(
            f"the item is already {'marked' if key else 'not marked'} as key evidence",
            code="key_evidence_unchanged",
        )
    item.key_evidence = key
    item.key_evidence_reason = reason
    item.key_evidence_by = user.id
    item.key_evidence_user = user
    item.key_evidence_at = clock.now()
    audit.record(
        session,
        actor=user,
        action="media.key_evidence_marked" if key else "media.key_evidence_unmarked",
        object_type="media",
        object_id=item.id,
        client_addr=client_addr,
        details={"key": key, "reason": reason},
    )
    return item
