"""Rules of 行政执法公示: versioned public content, certified officers, decision publication.

No Flask here: callers pass the session, the acting user and the client address; every state
change is written to the audit log in the caller's transaction.

Decisions move ``pending → published → taken_down | expired``; ``blocked`` when the scanner
finds personal data on the page (the admin fixes the text, then publishes) and ``withheld``
when the case must not be published at all (minors, secrets, privacy), with the reason kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from xml.sax.saxutils import escape

import sqlalchemy as sa
from marshmallow import Schema, fields, validate
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import clock
from ..domain import CredentialStatus
from ..errors import Conflict, Invalid, NotFound
from ..events import calendar_changed, decision_issued
from ..models import AuditEntry, Credential, Unit, User
from ..services import audit
from ..services.calendar import calendar
from ..services.credentials import state_problem
from ..services.units import display_name
from ..workcal import WorkCalendar, recount_deadline
from . import redact
from .models import PublicContent, PublishedDecision

# --- vocabulary -----------------------------------------------------------------------------


class ContentKind(StrEnum):
    UNIT_INFO = "unit_info"
    POWER_LIST = "power_list"
    RANDOM_INSPECTION_LIST = "random_inspection_list"
    PROCEDURES = "procedures"
    REMEDIES = "remedies"


CONTENT_LABELS: dict[str, str] = {
    "unit_info": "单位信息",
    "power_list": "权责清单",
    "random_inspection_list": "随机抽查事项清单",
    "procedures": "执法流程",
    "remedies": "救济渠道",
}


class DecisionStatus(StrEnum):
    PENDING = "pending"
    PUBLISHED = "published"
    BLOCKED = "blocked"
    WITHHELD = "withheld"
    TAKEN_DOWN = "taken_down"
    EXPIRED = "expired"


WITHHOLD_REASONS: dict[str, str] = {
    "minors": "涉及未成年人，依法不予公开",
    "state_secret": "涉及国家秘密，依法不予公开",
    "trade_secret": "涉及商业秘密，依法不予公开",
    "privacy": "涉及个人隐私，依法不予公开",
}

PARTY_KINDS = frozenset({"natural", "legal"})
# Publication deadlines in working days, counted on the holiday calendar
# (``services.calendar``: the national notices plus the unit's own days).
DECISION_PUBLISH_WORKING_DAYS = 7
INSPECTION_RESULT_WORKING_DAYS = 20
TAKEDOWN_WORKING_DAYS = 5
# Years a decision stays online after publication, by party kind.
ONLINE_YEARS = {"natural": 2, "legal": 5}

FIELD_LABELS = {
    "number": "决定书文号",
    "title": "标题",
    "party_display": "当事人",
    "penalty_summary": "处罚内容",
    "body": "正文",
    "takedown_notice": "撤下说明",
}


# --- dates ----------------------------------------------------------------------------------


def decision_due_by(session: Session, unit_id: int | None, decided_at: date) -> date:
    """The last day for the unit to publish a decision made on ``decided_at``."""
    return calendar(session, unit_id).add_working_days(decided_at, DECISION_PUBLISH_WORKING_DAYS)


def recount_pending_due_dates(
    session: Session,
    model: Any,
    start: str,
    record: Callable[..., None],
    before: WorkCalendar,
    after: WorkCalendar,
    *,
    unit_id: int,
    actor: User | None = None,
    client_addr: str = "",
) -> list[Any]:
    """Move the publication dates (``due_by``) of the unit's pending rows of ``model`` to a
    changed calendar: the same number of working days from the row's ``start`` date. Each
    move is audited through ``record`` as ``due_moved``; returns the rows moved."""
    moved = []
    pending = session.execute(
        sa.select(model)
        .where(model.status == "pending", model.unit_id == unit_id)
        .order_by(model.id)
    ).scalars()
    for row in pending:
        was = row.due_by
        row.due_by = recount_deadline(getattr(row, start), was, before=before, after=after)
        if row.due_by != was:
            moved.append(row)
            details = {"from": was.isoformat(), "to": row.due_by.isoformat()}
            record(session, row, actor, "due_moved", client_addr, **details)
    return moved


@calendar_changed.connect
def recount_due_dates(
    session: Session, *, changes: dict[int, tuple[WorkCalendar, WorkCalendar]], **who: Any
) -> None:
    """Pending decisions' publication dates on a changed calendar (see above)."""
    for unit_id, (before, after) in changes.items():
        recount_pending_due_dates(
            session,
            PublishedDecision,
            "decided_at",
            _record,
            before,
            after,
            unit_id=unit_id,
            **who,
        )


def add_years(day: date, years: int) -> date:
    """Same month and day ``years`` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


# --- public content: schemas ----------------------------------------------------------------

_TEXT = validate.Length(min=1, max=2000)
_SHORT = validate.Length(min=1, max=300)


class ComplaintContactSchema(Schema):
    phone = fields.String(load_default="", validate=validate.Length(max=100))
    address = fields.String(load_default="", validate=validate.Length(max=300))
    online = fields.String(load_default="", validate=validate.Length(max=300))


class UnitInfoSchema(Schema):
    name = fields.String(required=True, validate=_SHORT)
    address = fields.String(required=True, validate=_SHORT)
    duties = fields.String(required=True, validate=validate.Length(min=1, max=10000))
    complaint_contact = fields.Nested(ComplaintContactSchema, required=True)


class PowerItemSchema(Schema):
    item = fields.String(required=True, validate=_SHORT)
    legal_basis = fields.String(required=True, validate=_TEXT)
    category = fields.String(required=True, validate=validate.Length(min=1, max=50))


class PowerListSchema(Schema):
    items = fields.List(
        fields.Nested(PowerItemSchema), required=True, validate=validate.Length(max=2000)
    )


class RandomInspectionItemSchema(Schema):
    item = fields.String(required=True, validate=_SHORT)
    basis = fields.String(required=True, validate=_TEXT)
    object = fields.String(required=True, validate=_SHORT)
    method = fields.String(required=True, validate=_SHORT)
    frequency = fields.String(required=True, validate=validate.Length(min=1, max=100))


class RandomInspectionListSchema(Schema):
    items = fields.List(
        fields.Nested(RandomInspectionItemSchema),
        required=True,
        validate=validate.Length(max=2000),
    )


class StepSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    description = fields.String(load_default="", validate=validate.Length(max=2000))


class ProceduresSchema(Schema):
    """``steps``: the general procedure (一般程序); ``simple_steps``: 简易程序 (optional)."""

    steps = fields.List(
        fields.Nested(StepSchema), required=True, validate=validate.Length(min=1, max=40)
    )
    simple_steps = fields.List(
        fields.Nested(StepSchema), load_default=list, validate=validate.Length(max=40)
    )


class ComplaintChannelSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    contact = fields.String(required=True, validate=_SHORT)


class RemediesSchema(Schema):
    reconsideration_body = fields.String(required=True, validate=_SHORT)
    reconsideration_days = fields.Integer(load_default=60, validate=validate.Range(1, 3650))
    court = fields.String(required=True, validate=_SHORT)
    litigation_months = fields.Integer(load_default=6, validate=validate.Range(1, 120))
    complaint_channels = fields.List(
        fields.Nested(ComplaintChannelSchema), load_default=list, validate=validate.Length(max=50)
    )


CONTENT_SCHEMAS: dict[str, type[Schema]] = {
    "unit_info": UnitInfoSchema,
    "power_list": PowerListSchema,
    "random_inspection_list": RandomInspectionListSchema,
    "procedures": ProceduresSchema,
    "remedies": RemediesSchema,
}


# --- public content: versions ---------------------------------------------------------------


def require_kind(kind: str) -> str:
    if kind not in CONTENT_SCHEMAS:
        raise NotFound(
            f"unknown content kind {kind!r}; one of {', '.join(CONTENT_SCHEMAS)}",
            code="unknown_content_kind",
        )
    return kind


def latest_content(session: Session, unit_id: int, kind: str) -> PublicContent | None:
    return session.execute(
        sa.select(PublicContent)
        .where(PublicContent.unit_id == unit_id, PublicContent.kind == require_kind(kind))
        .order_by(PublicContent.version.desc())
        .limit(1)
    ).scalar_one_or_none()


def content_versions(session: Session, unit_id: int, kind: str) -> list[PublicContent]:
    """Every version of one kind, newest first."""
    return list(
        session.execute(
            sa.select(PublicContent)
            .where(PublicContent.unit_id == unit_id, PublicContent.kind == require_kind(kind))
            .order_by(PublicContent.version.desc())
        ).scalars()
    )


def save_content(
    session: Session, actor: User, kind: str, data: Any, *, client_addr: str = ""
) -> PublicContent:
    """Validate ``data`` for ``kind`` and store it as the next version of the actor's unit."""
    content = CONTENT_SCHEMAS[require_kind(kind)]().load(data)  # ValidationError → 422
    previous = latest_content(session, actor.unit_id, kind)
    row = PublicContent(
        unit_id=actor.unit_id,
        kind=kind,
        version=(previous.version + 1) if previous else 1,
        content=content,
        created_by=actor.id,
        created_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(
            "someone saved this content at the same moment; reload and try again",
            code="version_conflict",
        ) from None
    audit.record(
        session,
        actor=actor,
        action="disclosure.content_saved",
        object_type="public_content",
        object_id=row.id,
        client_addr=client_addr,
        details={"unit_id": actor.unit_id, "kind": kind, "version": row.version},
    )
    return row


# --- units and officers ----------------------------------------------------------------------


def unit_by_code(session: Session, code: str) -> Unit | None:
    return session.execute(sa.select(Unit).where(Unit.code == code)).scalar_one_or_none()


def public_units(session: Session) -> list[tuple[Unit, str]]:
    """Every unit with its public name (from its unit_info when published), by name."""
    out = []
    for unit in session.execute(sa.select(Unit).order_by(Unit.code)).scalars():
        out.append((unit, display_name(unit, session)))
    return sorted(out, key=lambda pair: pair[1])


@dataclass(frozen=True)
class PublicOfficer:
    """Only what the public may see of a certified officer."""

    name: str
    number: str
    categories: list[str]
    area: str
    valid_to: date


def certified_officers(session: Session, unit_id: int, now: datetime) -> list[PublicOfficer]:
    """The unit's officers holding a credential valid ``now``, one line per credential."""
    rows = session.execute(
        sa.select(Credential)
        .join(User, Credential.user_id == User.id)
        .where(
            User.unit_id == unit_id,
            User.active.is_(True),
            Credential.status == CredentialStatus.ACTIVE.value,
        )
        .order_by(User.name, Credential.number)
    ).scalars()
    return [
        PublicOfficer(
            name=c.user.name,
            number=c.number,
            categories=list(c.categories),
            area=c.area,
            valid_to=clock.local_date(c.valid_to),
        )
        for c in rows
        if state_problem(c, now) is None
    ]


# --- decisions: preparing -------------------------------------------------------------------


@dataclass
class DecisionSource:
    """A decision as the case workflow knows it, before redaction."""

    unit_id: int
    case_id: int | None
    document_id: str | None
    number: str
    title: str
    decided_at: date
    party_kind: str  # natural | legal
    party_name: str
    other_names: list[str] = field(default_factory=list)
    facts: str = ""
    legal_basis: str = ""
    penalties: list[dict[str, Any]] = field(default_factory=list)  # [{kind, amount}]
    sensitive: str | None = None  # minors | state_secret | trade_secret | privacy


def _yuan(amount: Any) -> str:
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    return f"{int(value)}元" if value == value.to_integral_value() else f"{value:.2f}元"


_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff]")


def penalty_label(kind: str) -> str:
    """A penalty kind as the public reads it: ``fine`` → 罚款; a kind written in Chinese by
    hand stays as written; an unknown code is 其他 (never the code)."""
    from ..documents.registry import PENALTY_KINDS

    if kind in PENALTY_KINDS:
        return PENALTY_KINDS[kind][0]
    return kind if _CJK.search(kind) else PENALTY_KINDS["other"][0]


def penalty_summary(penalties: list[dict[str, Any]]) -> str:
    """罚款5000元；警告 (from ``[{"kind": "fine", "amount": 5000}, {"kind": "warning"}]``)."""
    parts = []
    for p in penalties:
        raw = str(p.get("kind", "")).strip()
        kind = penalty_label(raw) if raw else ""
        amount = p.get("amount")
        parts.append(f"{kind}{_yuan(amount)}" if amount not in (None, "", 0) else kind)
    return "；".join(part for part in parts if part)


def build_body(party_display: str, facts: str, legal_basis: str, summary: str) -> str:
    return (
        f"当事人：{party_display}\n违法事实：{facts}\n处罚依据：{legal_basis}\n处罚决定：{summary}"
    )


def page_fields(pd: PublishedDecision) -> dict[str, str]:
    """Everything the public page of ``pd`` shows as text: the scanner's input."""
    return {
        "number": pd.number,
        "title": pd.title,
        "party_display": pd.party_display,
        "penalty_summary": pd.penalty_summary,
        "body": pd.body,
    }


def hit_dict(hit: redact.Hit, labels: dict[str, str] = FIELD_LABELS) -> dict[str, Any]:
    """A scanner hit as the admin sees it: where (field, line, column) and a masked excerpt."""
    where = labels.get(hit.field, hit.field)
    return {
        **hit.as_dict(),
        "message": f"{where}第{hit.line}行第{hit.column}字起疑似"
        f"{redact.KIND_LABELS[hit.kind]}：{hit.excerpt}",
    }


def scan_decision(pd: PublishedDecision) -> list[dict[str, Any]]:
    return [hit_dict(h) for h in redact.scan_fields(page_fields(pd))]


def _record(
    session: Session,
    pd: PublishedDecision,
    actor: User | None,
    action: str,
    client_addr: str,
    **details: Any,
) -> None:
    audit.record(
        session,
        actor=actor,
        action=f"disclosure.decision_{action}",
        object_type="published_decision",
        object_id=pd.id,
        client_addr=client_addr,
        details={"number": pd.number, "status": pd.status, **details},
    )


def scanned_notice(notice: str, labels: dict[str, str] = FIELD_LABELS) -> str:
    """A take-down notice, stripped and scanned: it is published in the entry's place, so
    personal data in it is refused like anywhere else on a public page."""
    notice = notice.strip()
    if not notice:
        raise Invalid("say why it is taken down (public notice)", code="notice_required")
    hits = [hit_dict(h, labels) for h in redact.scan(notice, field="takedown_notice")]
    if hits:
        raise Conflict(
            "personal data found in the notice; fix it and try again",
            code="personal_data_found",
            details={"hits": hits},
        )
    return notice


def masked_hits(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What of a hit goes into the audit log: where and what kind, never the text."""
    return [{k: h[k] for k in ("kind", "field", "line", "column", "excerpt")} for h in hits]


def prepare_publication(
    session: Session,
    src: DecisionSource,
    *,
    due_by: date,
    actor: User | None = None,
    client_addr: str = "",
) -> PublishedDecision:
    """Redact ``src`` into a publication entry: pending, blocked (hits) or withheld."""
    if src.party_kind not in PARTY_KINDS:
        raise Invalid(f"party_kind must be natural or legal, not {src.party_kind!r}")
    if src.sensitive and src.sensitive not in WITHHOLD_REASONS:
        raise Invalid(
            f"sensitive must be one of {', '.join(WITHHOLD_REASONS)}", code="invalid_sensitive"
        )
    natural = src.party_kind == "natural"
    names = [*src.other_names, *([src.party_name] if natural else [])]
    party_display = redact.mask_name(src.party_name) if natural else src.party_name.strip()
    summary = penalty_summary(src.penalties)
    pd = PublishedDecision(
        unit_id=src.unit_id,
        case_id=src.case_id,
        document_id=src.document_id,
        number=src.number.strip(),
        title=redact.redact_text(src.title.strip(), names),
        party_kind=src.party_kind,
        party_display=party_display,
        decided_at=src.decided_at,
        penalty_summary=summary,
        penalty_kinds="".join(f",{p['kind']}" for p in src.penalties if p.get("kind")) + ",",
        body=build_body(
            party_display,
            redact.redact_text(src.facts.strip(), names),
            redact.redact_text(src.legal_basis.strip(), names),
            summary,
        ),
        due_by=due_by,
        block_hits=[],
    )
    if src.sensitive:
        pd.status = DecisionStatus.WITHHELD.value
        pd.withheld_reason = WITHHOLD_REASONS[src.sensitive]
    else:
        pd.block_hits = scan_decision(pd)
        pd.status = (DecisionStatus.BLOCKED if pd.block_hits else DecisionStatus.PENDING).value
    session.add(pd)
    session.flush()
    _record(
        session,
        pd,
        actor,
        "prepared",
        client_addr,
        due_by=due_by.isoformat(),
        withheld_reason=pd.withheld_reason,
        hits=masked_hits(pd.block_hits),
    )
    return pd


# --- decisions: state changes ----------------------------------------------------------------


@decision_issued.connect
def queue_issued_decision(session: Session, *, case: Any, document: Any, actor: User) -> None:
    """事后公开: an issued penalty decision is queued for publication within 7 working days
    of the unit's calendar, redacted and scanned."""
    from ..services.documents import publication_source

    src = DecisionSource(**publication_source(case, document))
    prepare_publication(
        session, src, due_by=decision_due_by(session, case.unit_id, src.decided_at), actor=actor
    )


def _mark_published(pd: PublishedDecision, now: datetime) -> None:
    pd.status = DecisionStatus.PUBLISHED.value
    pd.published_at = now
    pd.offline_after = add_years(clock.local_date(now), ONLINE_YEARS[pd.party_kind])
    pd.block_hits = []


def publish(
    session: Session,
    pd: PublishedDecision,
    actor: User | None,
    *,
    client_addr: str = "",
    now: datetime | None = None,
) -> PublishedDecision:
    """Publish now, after scanning the page again; refused (409) while it holds personal data."""
    if pd.status == DecisionStatus.WITHHELD:
        raise Conflict(f"this decision is withheld: {pd.withheld_reason}", code="withheld")
    if pd.status not in (DecisionStatus.PENDING, DecisionStatus.BLOCKED):
        raise Conflict(
            f"a decision that is {pd.status} cannot be published", code="not_publishable"
        )
    hits = scan_decision(pd)
    if hits:
        raise Conflict(
            "personal data found on the page; fix the text and publish again",
            code="personal_data_found",
            details={"hits": hits},
        )
    _mark_published(pd, now or clock.now())
    _record(
        session,
        pd,
        actor,
        "published",
        client_addr,
        offline_after=pd.offline_after.isoformat() if pd.offline_after else None,
    )
    return pd


def publish_due(
    session: Session, today: date, *, now: datetime | None = None
) -> list[PublishedDecision]:
    """The daily job: publish every pending decision due by ``today``; block on a new hit.

    Blocked and withheld decisions are never published here. Safe to run twice.
    """
    due = session.execute(
        sa.select(PublishedDecision)
        .where(
            PublishedDecision.status == DecisionStatus.PENDING.value,
            PublishedDecision.due_by <= today,
        )
        .order_by(PublishedDecision.id)
    ).scalars()
    published = []
    for pd in list(due):
        hits = scan_decision(pd)
        if hits:
            pd.status = DecisionStatus.BLOCKED.value
            pd.block_hits = hits
            _record(session, pd, None, "blocked", "", hits=masked_hits(hits))
            continue
        _mark_published(pd, now or clock.now())
        _record(session, pd, None, "published", "", automatic=True)
        published.append(pd)
    session.flush()
    return published


def update_text(
    session: Session,
    pd: PublishedDecision,
    actor: User,
    changes: dict[str, str],
    *,
    client_addr: str = "",
) -> PublishedDecision:
    """The admin's fix of a pending or blocked page (body, party_display, title); rescans."""
    if pd.status not in (DecisionStatus.PENDING, DecisionStatus.BLOCKED):
        raise Conflict(
            f"a decision that is {pd.status} cannot be edited; take it down and correct it",
            code="not_editable",
        )
    for name in ("body", "party_display", "title"):
        if changes.get(name) is not None:
            setattr(pd, name, changes[name])
    pd.block_hits = scan_decision(pd)
    pd.status = (DecisionStatus.BLOCKED if pd.block_hits else DecisionStatus.PENDING).value
    session.flush()
    _record(
        session,
        pd,
        actor,
        "edited",
        client_addr,
        fields=sorted(k for k, v in changes.items() if v is not None),
        hits=masked_hits(pd.block_hits),
    )
    return pd


def take_down(
    session: Session,
    pd: PublishedDecision,
    actor: User | None,
    notice: str,
    replacement: DecisionSource | None = None,
    *,
    client_addr: str = "",
    now: datetime | None = None,
) -> PublishedDecision | None:
    """Take a revoked or changed decision off the list, leaving ``notice`` in its place.

    With ``replacement`` (the changed decision) a corrected entry is prepared, linked to this
    one and published at once when its page is clean; it is returned (else None).
    """
    notice = scanned_notice(notice)
    if pd.status not in (DecisionStatus.PUBLISHED, DecisionStatus.PENDING, DecisionStatus.BLOCKED):
        raise Conflict(f"a decision that is {pd.status} cannot be taken down", code="not_online")
    now = now or clock.now()
    pd.status = DecisionStatus.TAKEN_DOWN.value
    pd.takedown_notice = notice
    pd.taken_down_at = now
    corrected = None
    if replacement is not None:
        corrected = prepare_publication(
            session, replacement, due_by=clock.local_date(now), actor=actor, client_addr=client_addr
        )
        corrected.corrected_from_id = pd.id
        if corrected.status == DecisionStatus.PENDING:
            publish(session, corrected, actor, client_addr=client_addr, now=now)
    session.flush()
    _record(
        session,
        pd,
        actor,
        "taken_down",
        client_addr,
        notice=notice,
        corrected_by=corrected.id if corrected else None,
    )
    return corrected


def expire(session: Session, today: date) -> list[PublishedDecision]:
    """The daily job: take offline what reached ``offline_after`` (2 or 5 years). Idempotent."""
    rows = list(
        session.execute(
            sa.select(PublishedDecision).where(
                PublishedDecision.status.in_(
                    [DecisionStatus.PUBLISHED.value, DecisionStatus.TAKEN_DOWN.value]
                ),
                PublishedDecision.offline_after <= today,
            )
        ).scalars()
    )
    for pd in rows:
        pd.status = DecisionStatus.EXPIRED.value
        _record(session, pd, None, "expired", "", offline_after=str(pd.offline_after))
    session.flush()
    return rows


# --- decisions: reading ----------------------------------------------------------------------


def managed_decision(session: Session, actor: User, decision_id: int) -> PublishedDecision:
    """A decision of the admin's unit; another unit's is 404."""
    pd = session.get(PublishedDecision, decision_id)
    if pd is None or pd.unit_id != actor.unit_id:
        raise NotFound(f"decision {decision_id} not found", code="decision_not_found")
    return pd


def unit_decisions(
    session: Session, unit_id: int, status: str | None = None
) -> list[PublishedDecision]:
    query = sa.select(PublishedDecision).where(PublishedDecision.unit_id == unit_id)
    if status:
        if status not in {s.value for s in DecisionStatus}:
            raise Invalid(f"unknown status {status!r}", code="invalid_status")
        query = query.where(PublishedDecision.status == status)
    return list(
        session.execute(
            query.order_by(PublishedDecision.decided_at.desc(), PublishedDecision.id.desc())
        ).scalars()
    )


def _online(today: date) -> sa.ColumnElement[bool]:
    """Published and not past its offline date (even before the expiry job has run)."""
    return sa.and_(
        PublishedDecision.status == DecisionStatus.PUBLISHED.value,
        sa.or_(PublishedDecision.offline_after.is_(None), PublishedDecision.offline_after > today),
    )


@dataclass(frozen=True)
class DecisionSearch:
    q: str = ""
    number: str = ""
    date_from: date | None = None
    date_to: date | None = None
    penalty_type: str = ""
    page: int = 1
    per_page: int = 20


@dataclass(frozen=True)
class SearchPage:
    items: list[PublishedDecision]
    total: int
    page: int
    pages: int


def search_published(
    session: Session, unit_id: int, search: DecisionSearch, today: date
) -> SearchPage:
    """The public list: a unit's online decisions matching ``search``, newest first."""
    where = [PublishedDecision.unit_id == unit_id, _online(today)]
    if search.q:
        where.append(
            sa.or_(
                PublishedDecision.title.contains(search.q, autoescape=True),
                PublishedDecision.body.contains(search.q, autoescape=True),
                PublishedDecision.party_display.contains(search.q, autoescape=True),
            )
        )
    if search.number:
        where.append(PublishedDecision.number.contains(search.number, autoescape=True))
    if search.date_from:
        where.append(PublishedDecision.decided_at >= search.date_from)
    if search.date_to:
        where.append(PublishedDecision.decided_at <= search.date_to)
    if search.penalty_type:
        where.append(
            PublishedDecision.penalty_kinds.contains(f",{search.penalty_type},", autoescape=True)
        )
    items, total, page, pages = page_of(
        session,
        sa.select(PublishedDecision).where(*where),
        [PublishedDecision.decided_at.desc(), PublishedDecision.id.desc()],
        search.page,
        search.per_page,
    )
    return SearchPage(items=items, total=total, page=page, pages=pages)


def page_of(
    session: Session, query: sa.Select[Any], order: list[Any], page: int, per_page: int
) -> tuple[list[Any], int, int, int]:
    """A public list's page: (rows, total, page clamped to 1..pages, pages)."""
    total = session.execute(
        sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
    ).scalar_one()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = list(
        session.execute(
            query.order_by(*order).limit(per_page).offset((page - 1) * per_page)
        ).scalars()
    )
    return rows, total, page, pages


def penalty_types(session: Session, unit_id: int, today: date) -> list[str]:
    """The penalty kinds found among the unit's online decisions (the search's type list)."""
    kinds: set[str] = set()
    for joined in session.execute(
        sa.select(PublishedDecision.penalty_kinds).where(
            PublishedDecision.unit_id == unit_id, _online(today)
        )
    ).scalars():
        kinds.update(k for k in joined.split(",") if k)
    return sorted(kinds)


@dataclass(frozen=True)
class PublicDecision:
    decision: PublishedDecision
    taken_down: bool
    corrected_by: PublishedDecision | None


def public_decision(session: Session, decision_id: int, today: date) -> PublicDecision | None:
    """A decision as the public may see it: online, or its take-down notice; else None."""
    pd = session.get(PublishedDecision, decision_id)
    if pd is None:
        return None
    if pd.status == DecisionStatus.TAKEN_DOWN and pd.published_at is not None:
        corrected = session.execute(
            sa.select(PublishedDecision).where(
                PublishedDecision.corrected_from_id == pd.id, _online(today)
            )
        ).scalar_one_or_none()
        return PublicDecision(pd, taken_down=True, corrected_by=corrected)
    if pd.status == DecisionStatus.PUBLISHED and (
        pd.offline_after is None or pd.offline_after > today
    ):
        return PublicDecision(pd, taken_down=False, corrected_by=None)
    return None


def local_time(at: datetime) -> str:
    """``2026-05-01 10:20`` in Asia/Shanghai."""
    return at.astimezone(clock.ZONE).strftime("%Y-%m-%d %H:%M")


# --- the procedure flow chart ------------------------------------------------------------------


def _wrap(text: str, width: float) -> list[str]:
    """Break ``text`` into lines of at most ``width`` em (CJK 1 em, Latin about half)."""
    lines, line, used = [], "", 0.0
    for ch in text:
        w = 1.0 if ord(ch) > 0x2E7F else 0.55
        if used + w > width and line:
            lines.append(line)
            line, used = "", 0.0
        line += ch
        used += w
    if line:
        lines.append(line)
    return lines or [""]


def procedure_flow_svg(steps: list[dict[str, Any]], *, title: str) -> str:
    """A vertical flow chart of ``steps`` (numbered boxes joined by arrows) as SVG."""
    width, box_x, box_w, font, line_h, pad, gap = 320, 16, 288, 16, 22, 10, 30
    parts: list[str] = []
    y = 44
    for i, step in enumerate(steps, start=1):
        lines = _wrap(f"{i}. {step['name']}", (box_w - 2 * pad) / font)
        height = 2 * pad + line_h * len(lines)
        parts.append(
            f'<rect x="{box_x}" y="{y}" width="{box_w}" height="{height}" rx="8" '
            'fill="#e8f0fa" stroke="#0b4f9c" stroke-width="2"/>'
        )
        for n, text in enumerate(lines):
            ty = y + pad + line_h * n + font
            parts.append(
                f'<text x="{width / 2:g}" y="{ty}" text-anchor="middle">{escape(text)}</text>'
            )
        y += height
        if i < len(steps):
            parts.append(
                f'<line x1="{width / 2:g}" y1="{y}" x2="{width / 2:g}" y2="{y + gap - 4}" '
                'stroke="#1b1b1b" stroke-width="2" marker-end="url(#arrow)"/>'
            )
            y += gap
    total_h = y + 16
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total_h}" '
        f'viewBox="0 0 {width} {total_h}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#1b1b1b"/></marker>'
        "</defs>"
        f'<rect width="{width}" height="{total_h}" fill="#ffffff"/>'
        f"<g font-family=\"system-ui, 'PingFang SC', 'Microsoft YaHei', 'Noto Sans CJK SC', "
        f'sans-serif" font-size="{font}" fill="#1b1b1b">'
        f'<text x="{width / 2:g}" y="28" text-anchor="middle" font-weight="700">'
        f"{escape(title)}</text>" + "".join(parts) + "</g></svg>"
    )


# --- take-down deadlines (撤销或变更的决定 5 个工作日内撤下或更正) ---------------------------

# Remedy outcomes after which a published decision must come down (or be corrected).
TAKEDOWN_OUTCOMES = ("revoked", "changed", "confirmed_illegal")


def takedown_deadlines(session: Session, unit_id: int | None = None) -> dict[int, date]:
    """Published decisions whose case has a revoking or changing remedy outcome, each with
    the last day (5 working days after the outcome, on the unit's calendar) to take it down
    or correct it."""
    from .report_models import RemedyOutcome

    query = (
        sa.select(
            PublishedDecision.id, PublishedDecision.unit_id, sa.func.min(RemedyOutcome.decided_on)
        )
        .join(RemedyOutcome, RemedyOutcome.case_id == PublishedDecision.case_id)
        .where(
            PublishedDecision.status == DecisionStatus.PUBLISHED.value,
            RemedyOutcome.outcome.in_(TAKEDOWN_OUTCOMES),
        )
        .group_by(PublishedDecision.id, PublishedDecision.unit_id)
    )
    if unit_id is not None:
        query = query.where(PublishedDecision.unit_id == unit_id)
    calendars: dict[int, WorkCalendar] = {}
    deadlines = {}
    for pd_id, pd_unit, decided in session.execute(query):
        if pd_unit not in calendars:
            calendars[pd_unit] = calendar(session, pd_unit)
        deadlines[pd_id] = calendars[pd_unit].add_working_days(decided, TAKEDOWN_WORKING_DAYS)
    return deadlines


def flag_overdue_takedowns(session: Session, today: date) -> list[int]:
    """Audit, once per decision, a take-down that is past its deadline (reminds the admins)."""
    late = [pd_id for pd_id, due in takedown_deadlines(session).items() if due < today]
    flagged = []
    for pd_id in late:
        seen = session.execute(
            sa.select(sa.func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == "disclosure.decision_takedown_overdue",
                AuditEntry.object_type == "published_decision",
                AuditEntry.object_id == str(pd_id),
            )
        ).scalar_one()
        if not seen:
            pd = session.get(PublishedDecision, pd_id)
            assert pd is not None
            _record(session, pd, None, "takedown_overdue", "")
            flagged.append(pd_id)
    return flagged
