"""Legal review of major enforcement decisions (重大执法决定法制审核).

A round is submitted with its package frozen (documents with hashes, completeness report,
the officers' credential displays, the draft decision). The reviewer works through the
checklist and agrees, returns it for correction (a new round follows) or proposes transfer
to the judicial organs; the opinion is issued as the 法制审核意见书. Deadlines count working
days on the unit's calendar, and follow it when it changes: a holiday declared while a round
runs moves its deadline (a listener of ``calendar.calendar_changed``), and the overdue checks
apply the calendar as it stands when they run (a deadline on a rest day runs to the next
working day).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import clock
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..events import calendar_changed
from ..models import Case, LegalReview, MediaItem, User
from ..workcal import WorkCalendar, recount_deadline
from . import audit
from . import calendar as calendar_service
from .console import credential_events
from .decision_binding import differing_decisions, freeze_decision_documents
from .workflow import completeness, ensure_open, matching_major_items

CHECKLIST: tuple[tuple[str, str], ...] = (
    ("authority", "执法主体合法，具有管辖权"),
    ("credentials", "执法人员具备执法资格，已出示执法证件"),
    ("facts", "案件事实清楚"),
    ("evidence", "证据合法、充分"),
    ("law_applied", "适用法律正确，裁量符合裁量基准"),
    ("procedure", "程序合法"),
    ("documents", "执法文书完备、规范"),
    ("within_power", "未超越本机关法定职权"),
    ("no_crime", "未涉嫌犯罪，无需移送司法机关"),
)
CHECKLIST_CODES = [code for code, _ in CHECKLIST]
OUTCOME_LABELS = {"agree": "同意", "returned": "存在问题，退回补正", "transfer": "建议移送司法机关"}
_STATUS_OF_OUTCOME = {"agree": "agreed", "returned": "returned", "transfer": "transfer"}


def calendar(session: Session, unit_id: int | None) -> WorkCalendar:
    """The calendar the unit's deadlines count on (national notices and its own days)."""
    return calendar_service.calendar(session, unit_id)


@calendar_changed.connect
def _recount_on_calendar_change(
    session: Session,
    *,
    changes: dict[int, tuple[WorkCalendar, WorkCalendar]],
    actor: User | None = None,
    client_addr: str = "",
    **_: Any,
) -> None:
    for unit_id, (before, after) in changes.items():
        recount_deadlines(
            session, before, after, unit_id=unit_id, actor=actor, client_addr=client_addr
        )


def _counting_deadlines(
    session: Session, unit_id: int, review: LegalReview | None = None
) -> WorkCalendar:
    """The calendar to count a deadline on, read under the lock a calendar change takes
    first, so it is the committed one; ``review`` is re-read too, in case its deadlines were
    just recounted."""
    audit.lock_chain(session)
    if review is not None:
        session.refresh(review)
    return calendar(session, unit_id)


def recount_deadlines(
    session: Session,
    before: WorkCalendar,
    after: WorkCalendar,
    *,
    unit_id: int,
    actor: User | None = None,
    today: date | None = None,
    client_addr: str = "",
) -> list[LegalReview]:
    """Move the deadlines of the unit's open rounds and of their unanswered materials
    requests from ``before`` to ``after``; an overdue flag whose new deadline has not passed
    is lifted."""
    today = today or clock.today()
    moved = []
    open_rounds = session.execute(
        sa.select(LegalReview)
        .where(LegalReview.status == "submitted", LegalReview.unit_id == unit_id)
        .order_by(LegalReview.id)
    ).scalars()
    for review in open_rounds:
        old_due = review.due_on
        review.due_on = recount_deadline(
            clock.today(review.submitted_at), old_due, before=before, after=after
        )
        if review.overdue_flagged_at and not after.deadline_passed(review.due_on, today):
            review.overdue_flagged_at = None
            review.case.review_overdue = False
        requests, materials = [dict(r) for r in review.materials_requests], []
        for n, request in enumerate(requests):
            if request.get("supplied_at"):
                continue
            was = date.fromisoformat(request["due_on"])
            due = recount_deadline(
                clock.today(datetime.fromisoformat(request["requested_at"])),
                was,
                before=before,
                after=after,
            )
            if due == was:
                continue
            request["due_on"] = due.isoformat()
            if request.get("overdue") and not after.deadline_passed(due, today):
                del request["overdue"]
            materials.append({"request": n, "from": was.isoformat(), "to": due.isoformat()})
        if materials:
            review.materials_requests = requests
        if review.due_on == old_due and not materials:
            continue
        moved.append(review)
        audit.record(
            session,
            actor=actor,
            action="legal_review.deadline_moved",
            object_type="case",
            object_id=review.case_id,
            client_addr=client_addr,
            details={
                "review_id": review.id,
                "round": review.round,
                "from": old_due.isoformat(),
                "to": review.due_on.isoformat(),
                "materials": materials,
                "cause": "calendar_changed",
            },
        )
    return moved


def get_review(session: Session, user: User, review_id: int) -> tuple[LegalReview, Case]:
    from .cases import get_case

    review = session.get(LegalReview, review_id)
    if review is None:
        raise NotFound(f"legal review {review_id} not found", code="review_not_found")
    try:
        case = get_case(session, user, review.case_id)
    except NotFound:
        raise NotFound(f"legal review {review_id} not found", code="review_not_found") from None
    return review, case


def _package(session: Session, case: Case, report: str, draft: dict[str, Any]) -> dict[str, Any]:
    from .documents import case_documents

    items = list(
        session.execute(sa.select(MediaItem).where(MediaItem.case_id == case.id)).scalars()
    )
    return {
        "report": report,
        "decision_draft": draft,
        # What the review binds (decision_binding): the operative content of the decision
        # documents drafted so far, compared at the leader's signature and at issue.
        "decision_documents": freeze_decision_documents(session, case),
        "documents": [
            {
                "id": d.id,
                "type": d.doc_type,
                "number": d.number,
                "version": d.version,
                "status": d.status,
                "sha256": d.sha256,
            }
            for d in case_documents(session, case)
        ],
        "media": [
            {
                "id": i.id,
                "kind": i.kind,
                "stage": i.attached_stage or i.stage,
                "activity": i.activity,
                "sha256": i.server_sha256 or i.device_sha256,
                "status": i.status,
            }
            for i in items
        ],
        "completeness": completeness(session, case),
        "credential_displays": [
            {**e, "at": e["at"].isoformat()} for e in credential_events(session, case, items)
        ],
        "major_items": [m.title for m in matching_major_items(session, case)],
    }


def set_decision_draft(session: Session, case: Case, draft: dict[str, Any]) -> None:
    case.decision_draft = draft
    case.is_major = bool(matching_major_items(session, case))


def check_may_submit(session: Session, user: User, case: Case) -> LegalReview | None:
    """Refuse unless ``user`` may submit a round of ``case`` now; the last round, if any."""
    ensure_open(case)
    last = session.execute(
        sa.select(LegalReview)
        .where(LegalReview.case_id == case.id)
        .order_by(LegalReview.round.desc())
        .limit(1)
    ).scalar_one_or_none()
    # A decision drafted differently from what the agreed round reviewed needs a new round,
    # also in the decision stage, and the leader who found the difference may send it.
    rereview = (
        last is not None and last.status == "agreed" and bool(differing_decisions(session, case))
    )
    submitters = ("officer", "supervisor", "leader") if rereview else ("officer", "supervisor")
    if user.role not in submitters:
        raise Forbidden("the undertaking officers submit for legal review", code="role_forbidden")
    if user.role == "officer" and not any(o.id == user.id for o in case.officers):
        raise Forbidden("you are not assigned to this case", code="not_assigned")
    if case.current_stage not in (("review", "decision") if rereview else ("review",)):
        raise Conflict(
            "案件须处于审查阶段才能提交法制审核 / submit in the review stage",
            code="not_in_review_stage",
        )
    if last is not None and last.status in ("submitted", "agreed") and not rereview:
        raise Conflict(
            f"第{last.round}轮法制审核{'尚在进行' if last.status == 'submitted' else '已同意'}",
            code="review_in_progress" if last.status == "submitted" else "review_agreed",
        )
    return last


def preview(
    session: Session, user: User, case: Case, *, report: str, decision_draft: dict[str, Any]
) -> dict[str, Any]:
    """The round ``submit`` would open now and the package it would freeze, written nowhere:
    what the submitter confirms before submitting."""
    last = check_may_submit(session, user, case)
    return {
        "round": (last.round + 1) if last else 1,
        "package": _package(session, case, report, decision_draft),
    }


def submit(
    session: Session,
    user: User,
    case: Case,
    *,
    report: str,
    decision_draft: dict[str, Any],
    days: int,
    client_addr: str = "",
) -> LegalReview:
    last = check_may_submit(session, user, case)
    set_decision_draft(session, case, decision_draft)
    cal = _counting_deadlines(session, case.unit_id)
    now = clock.now()
    review = LegalReview(
        case_id=case.id,
        unit_id=case.unit_id,
        round=(last.round + 1) if last else 1,
        status="submitted",
        report=report,
        decision_draft=decision_draft,
        package=_package(session, case, report, decision_draft),
        submitted_by_id=user.id,
        submitted_at=now,
        due_on=cal.add_working_days(clock.today(now), days),
        materials_requests=[],
    )
    session.add(review)
    case.legal_review_status = "submitted"
    case.review_overdue = False
    session.flush()
    audit.record(
        session,
        actor=user,
        action="legal_review.submitted",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={
            "review_id": review.id,
            "round": review.round,
            "due_on": review.due_on.isoformat(),
            "major": case.is_major,
        },
    )
    return review


def _require_reviewer(user: User, review: LegalReview) -> None:
    if user.role != "legal":
        raise Forbidden("only the legal section reviews", code="role_forbidden")
    if review.status != "submitted":
        raise Conflict(f"this round is already {review.status}", code="review_closed")


def _checked_list(checklist: list[dict[str, Any]]) -> list[dict[str, Any]]:
    given = {c["item"]: c for c in checklist}
    unknown = set(given) - set(CHECKLIST_CODES)
    missing = [code for code in CHECKLIST_CODES if code not in given]
    if unknown or missing:
        raise Invalid(
            "审核清单须逐项填写 / answer every checklist item",
            code="checklist_incomplete",
            details={"missing": missing, "unknown": sorted(unknown)},
        )
    labels = dict(CHECKLIST)
    return [
        {
            "item": code,
            "label": labels[code],
            "passed": bool(given[code]["passed"]),
            "note": given[code].get("note", ""),
        }
        for code in CHECKLIST_CODES
    ]


def give_opinion(
    session: Session,
    user: User,
    review: LegalReview,
    case: Case,
    *,
    outcome: str,
    checklist: list[dict[str, Any]],
    opinion: str,
    client_addr: str = "",
) -> LegalReview:
    """Record the reviewer's outcome; the caller issues the opinion document."""
    _require_reviewer(user, review)
    ensure_open(case)
    items = _checked_list(checklist)
    raised = [c for c in items if not c["passed"]]
    if outcome == "agree" and raised:
        raise Conflict(
            "存在未通过的审核事项，不能同意：" + "、".join(c["label"] for c in raised),
            code="checklist_not_passed",
            details={"raised": [c["item"] for c in raised]},
        )
    if outcome == "returned" and not raised:
        raise Invalid(
            "退回补正须指出存在问题的审核事项 / mark the items with problems", code="nothing_raised"
        )
    if outcome == "transfer" and all(c["item"] != "no_crime" for c in raised):
        raise Invalid(
            "建议移送须在“涉嫌犯罪”一项说明 / raise the suspected-crime item",
            code="transfer_without_crime",
        )
    for raised_item in raised:
        if not raised_item["note"]:
            raise Invalid(f"请说明问题：{raised_item['label']}", code="note_required")
    review.status = _STATUS_OF_OUTCOME[outcome]
    review.checklist = items
    review.opinion = opinion
    review.reviewer_id = user.id
    review.decided_at = clock.now()
    case.legal_review_status = review.status
    case.review_overdue = False
    audit.record(
        session,
        actor=user,
        action="legal_review.decided",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={
            "review_id": review.id,
            "round": review.round,
            "outcome": outcome,
            "raised": [c["item"] for c in raised],
        },
    )
    return review


def opinion_fields(review: LegalReview, reviewer: User) -> dict[str, Any]:
    """The 法制审核意见书's fields from a decided round."""
    outcome = next(k for k, v in _STATUS_OF_OUTCOME.items() if v == review.status)
    return {
        "checklist": [
            {"item": c["label"], "passed": c["passed"], "note": c["note"]}
            for c in review.checklist or []
        ],
        "opinion": review.opinion or "",
        "outcome": outcome,
        "reviewer": reviewer.name,
    }


def request_materials(
    session: Session,
    user: User,
    review: LegalReview,
    case: Case,
    *,
    note: str,
    days: int,
    client_addr: str = "",
) -> LegalReview:
    cal = _counting_deadlines(session, review.unit_id, review)
    _require_reviewer(user, review)
    now = clock.now()
    due = cal.add_working_days(clock.today(now), days)
    review.materials_requests = [
        *review.materials_requests,
        {
            "note": note,
            "requested_at": now.isoformat(),
            "due_on": due.isoformat(),
            "by": user.id,
        },
    ]
    audit.record(
        session,
        actor=user,
        action="legal_review.materials_requested",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={"review_id": review.id, "note": note, "due_on": due.isoformat()},
    )
    return review


def supply_materials(
    session: Session,
    user: User,
    review: LegalReview,
    case: Case,
    *,
    index: int,
    note: str,
    client_addr: str = "",
) -> LegalReview:
    """The undertaking officers answer a materials request (补充材料)."""
    ensure_open(case)
    if user.role not in ("officer", "supervisor"):
        raise Forbidden("the undertaking side supplies materials", code="role_forbidden")
    requests = [dict(r) for r in review.materials_requests]
    if not 0 <= index < len(requests):
        raise NotFound("no such materials request", code="materials_request_not_found")
    if requests[index].get("supplied_at"):
        raise Conflict("these materials were already supplied", code="already_supplied")
    requests[index] |= {
        "supplied_at": clock.now().isoformat(),
        "supplied_by": user.id,
        "supplied_note": note,
    }
    review.materials_requests = requests
    audit.record(
        session,
        actor=user,
        action="legal_review.materials_supplied",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={"review_id": review.id, "request": index, "note": note},
    )
    return review


def request_extension(
    session: Session,
    user: User,
    review: LegalReview,
    case: Case,
    *,
    reason: str,
    client_addr: str = "",
) -> LegalReview:
    _require_reviewer(user, review)
    if review.extension:
        raise Conflict("an extension was already requested for this round", code="extension_exists")
    review.extension = {
        "reason": reason,
        "requested_by": user.id,
        "requested_at": clock.now().isoformat(),
        "approved": False,
    }
    audit.record(
        session,
        actor=user,
        action="legal_review.extension_requested",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={"review_id": review.id, "reason": reason},
    )
    return review


def approve_extension(
    session: Session,
    user: User,
    review: LegalReview,
    case: Case,
    *,
    days: int,
    client_addr: str = "",
) -> LegalReview:
    if user.role != "leader":
        raise Forbidden("the leader approves an extension", code="role_forbidden")
    cal = _counting_deadlines(session, review.unit_id, review)
    if not review.extension or review.extension.get("approved"):
        raise Conflict("no pending extension request", code="no_extension_request")
    review.due_on = cal.add_working_days(review.due_on, days)
    review.extension = {
        **review.extension,
        "approved": True,
        "approved_by": user.id,
        "approved_at": clock.now().isoformat(),
    }
    if not cal.deadline_passed(review.due_on, clock.today()):
        # The new deadline is watched afresh: flagged (once) if it passes too.
        review.overdue_flagged_at = None
        case.review_overdue = False
    audit.record(
        session,
        actor=user,
        action="legal_review.extension_approved",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={"review_id": review.id, "due_on": review.due_on.isoformat()},
    )
    return review


def record_disagreement(
    session: Session,
    user: User,
    review: LegalReview,
    case: Case,
    *,
    reason: str,
    client_addr: str = "",
) -> LegalReview:
    ensure_open(case)
    if user.role not in ("officer", "supervisor"):
        raise Forbidden("the undertaking side records a disagreement", code="role_forbidden")
    if review.status not in ("returned", "transfer"):
        raise Conflict(
            "only a returned or transfer opinion can be disputed", code="nothing_to_dispute"
        )
    if review.disagreement and not review.disagreement.get("resolution"):
        raise Conflict(
            "a disagreement is already waiting for the leader", code="disagreement_pending"
        )
    review.disagreement = {"reason": reason, "by": user.id, "at": clock.now().isoformat()}
    audit.record(
        session,
        actor=user,
        action="legal_review.disagreement",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={"review_id": review.id, "reason": reason},
    )
    return review


def resolve_disagreement(
    session: Session,
    user: User,
    review: LegalReview,
    case: Case,
    *,
    resolution: str,
    note: str,
    client_addr: str = "",
) -> LegalReview:
    """The leader decides: uphold the opinion, or accept the objection (the round agrees)."""
    if user.role != "leader":
        raise Forbidden("the leader resolves a disagreement", code="role_forbidden")
    if not review.disagreement or review.disagreement.get("resolution"):
        raise Conflict("no open disagreement", code="no_disagreement")
    review.disagreement = {
        **review.disagreement,
        "resolution": resolution,
        "note": note,
        "resolved_by": user.id,
        "resolved_at": clock.now().isoformat(),
    }
    if resolution == "accept_objection":
        review.status = "agreed"
        case.legal_review_status = "agreed"
    audit.record(
        session,
        actor=user,
        action="legal_review.disagreement_resolved",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={"review_id": review.id, "resolution": resolution, "note": note},
    )
    return review


def overdue_filter(today: date, cal: WorkCalendar) -> sa.ColumnElement[bool]:
    """Open rounds whose deadline has passed on ``today`` by the calendar ``cal`` (pass the
    unit's current ``calendar(session, unit_id)``): a deadline on a rest day runs to the next
    working day."""
    return sa.and_(
        LegalReview.status == "submitted", LegalReview.due_on <= cal.last_passed_due(today)
    )


def is_overdue(review: LegalReview, today: date, cal: WorkCalendar) -> bool:
    """``overdue_filter`` for one loaded round."""
    return review.status == "submitted" and cal.deadline_passed(review.due_on, today)


def flag_overdue(session: Session, today: date | None = None) -> list[LegalReview]:
    """Mark reviews past their due date (once each) and flag their cases for supervisors."""
    today = today or clock.today()
    late: list[LegalReview] = []
    units = session.execute(
        sa.select(LegalReview.unit_id).where(LegalReview.status == "submitted").distinct()
    ).scalars()
    for unit_id in sorted(units):
        # Each unit's calendar, and the deadlines as a calendar change left them.
        cal = _counting_deadlines(session, unit_id)
        late += session.execute(
            sa.select(LegalReview).where(
                overdue_filter(today, cal),
                LegalReview.unit_id == unit_id,
                LegalReview.overdue_flagged_at.is_(None),
            )
        ).scalars()
        _flag_late_materials(session, today, cal, unit_id)
    for review in late:
        review.overdue_flagged_at = clock.now()
        case = session.get(Case, review.case_id)
        if case is not None:
            case.review_overdue = True
        audit.record(
            session,
            actor=None,
            action="legal_review.overdue",
            object_type="case",
            object_id=review.case_id,
            details={"review_id": review.id, "due_on": review.due_on.isoformat()},
        )
    return late


def _flag_late_materials(session: Session, today: date, cal: WorkCalendar, unit_id: int) -> None:
    """Materials not supplied within their working days: marked once on the request."""
    open_rounds = session.execute(
        sa.select(LegalReview).where(
            LegalReview.status == "submitted", LegalReview.unit_id == unit_id
        )
    ).scalars()
    for review in open_rounds:
        requests = [dict(r) for r in review.materials_requests]
        late = [
            n
            for n, r in enumerate(requests)
            if not r.get("supplied_at")
            and not r.get("overdue")
            and cal.deadline_passed(date.fromisoformat(r["due_on"]), today)
        ]
        if not late:
            continue
        for n in late:
            requests[n]["overdue"] = True
        review.materials_requests = requests
        audit.record(
            session,
            actor=None,
            action="legal_review.materials_overdue",
            object_type="case",
            object_id=review.case_id,
            details={"review_id": review.id, "requests": late},
        )
