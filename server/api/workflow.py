"""Case workflow: completeness, decision draft, execution, legal review, archive export,
and the unit's configuration (major-decision list, working-day calendar)."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, request, send_file

from .. import clock
from ..errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from ..extensions import db
from ..models import LegalReview, MajorDecisionItem, User
from ..runtime import runtime
from ..schemas import (
    CalendarDaySchema,
    CalendarPutSchema,
    DecisionDraftSchema,
    ExecutionRecordSchema,
    LegalOpinionSchema,
    LegalReviewSchema,
    LegalReviewSubmitSchema,
    MajorDecisionItemSchema,
    NoteSchema,
    ReasonSchema,
    ResolutionSchema,
)
from ..services import archive as archive_service
from ..services import audit, documents, workflow
from ..services import calendar as calendar_service
from ..services import cases as case_service
from ..services import legal_review as review_service
from .common import audit_read, client_addr, current_user, load_body, login_required

bp = Blueprint("workflow", __name__)


@bp.get("/cases/<int:case_id>/completeness")
@login_required()
def completeness(case_id: int):
    case = case_service.get_case(db.session, current_user(), case_id)
    return workflow.completeness(db.session, case)


@bp.put("/cases/<int:case_id>/decision-draft")
@login_required("officer", "supervisor")
def decision_draft(case_id: int):
    body = load_body(DecisionDraftSchema())
    user = current_user()
    case = case_service.get_case(db.session, user, case_id)
    workflow.ensure_open(case)
    review_service.set_decision_draft(db.session, case, body)
    audit.record(
        db.session,
        actor=user,
        action="case.decision_drafted",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr(),
        details={"draft": body, "major": case.is_major},
    )
    db.session.commit()
    return {
        "decision_draft": case.decision_draft,
        "is_major": case.is_major,
        "legal_review_required": workflow.needs_legal_review(case),
        "major_items": [m.title for m in workflow.matching_major_items(db.session, case)],
    }


@bp.post("/cases/<int:case_id>/execution")
@login_required("officer", "supervisor")
def add_execution(case_id: int):
    body = load_body(ExecutionRecordSchema())
    user = current_user()
    case = case_service.get_case(db.session, user, case_id)
    workflow.ensure_open(case)
    if case.current_stage != "execution":
        raise Conflict(
            "执行情况在执行阶段登记 / record execution in the execution stage",
            code="not_in_execution_stage",
        )
    record = {**body, "on": body["on"].isoformat(), "by": user.id, "at": clock.now().isoformat()}
    case.execution_records = [*(case.execution_records or []), record]
    audit.record(
        db.session,
        actor=user,
        action="case.execution_recorded",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr(),
        details=record,
    )
    db.session.commit()
    return {"execution_records": case.execution_records}, 201


# --- legal review --------------------------------------------------------------------------


def _dump_reviews(reviews: list[LegalReview], **options: Any) -> list[dict]:
    """The rounds as JSON; ``overdue`` by the unit's calendar as it stands, like the queue
    filter, and ``due_note`` when the deadline is only an estimate (no holiday notice for a
    year it reaches into)."""
    today, calendars = clock.today(), {}
    dumped = []
    for review, data in zip(
        reviews, LegalReviewSchema(**options).dump(reviews, many=True), strict=True
    ):
        if review.unit_id not in calendars:
            calendars[review.unit_id] = review_service.calendar(db.session, review.unit_id)
        cal = calendars[review.unit_id]
        note = calendar_service.estimate_note(
            cal, clock.local_date(review.submitted_at), review.due_on
        )
        dumped.append(
            {
                **data,
                "overdue": review_service.is_overdue(review, today, cal),
                "due_estimated": note is not None,
                "due_note": note,
            }
        )
    return dumped


def _dump_review(review: LegalReview) -> dict:
    return _dump_reviews([review])[0]


@bp.post("/cases/<int:case_id>/legal-reviews")
@login_required("officer", "supervisor", "leader")  # leader: only to re-review a changed decision
def submit_review(case_id: int):
    body = load_body(LegalReviewSubmitSchema())
    user = current_user()
    case = case_service.get_case(db.session, user, case_id)
    review = review_service.submit(
        db.session,
        user,
        case,
        report=body["report"],
        decision_draft=body["decision_draft"],
        days=int(runtime().config["LEGAL_REVIEW_DAYS"]),
        client_addr=client_addr(),
    )
    db.session.commit()
    return _dump_review(review), 201


@bp.get("/cases/<int:case_id>/legal-reviews")
@login_required()
def case_reviews(case_id: int):
    user = current_user()
    case = case_service.get_case(db.session, user, case_id)
    rows = list(
        db.session.execute(
            sa.select(LegalReview).where(LegalReview.case_id == case.id).order_by(LegalReview.round)
        ).scalars()
    )
    audit_read(user, "legal_review.listed", "case", case.id, {"ids": [r.id for r in rows]})
    return {"items": _dump_reviews(rows)}


_REVIEW_STATUSES = ("submitted", "agreed", "returned", "transfer")


@bp.get("/legal-reviews")
@login_required("legal", "supervisor", "leader")
def review_queue():
    user = current_user()
    query = sa.select(LegalReview).where(LegalReview.unit_id == user.unit_id)
    if status := request.args.get("status"):
        if status not in _REVIEW_STATUSES:
            raise Invalid(
                f"status must be one of {', '.join(_REVIEW_STATUSES)}", code="invalid_status"
            )
        query = query.where(LegalReview.status == status)
    if request.args.get("overdue") == "1":
        cal = review_service.calendar(db.session, user.unit_id)
        query = query.where(review_service.overdue_filter(clock.today(), cal))
    rows = list(db.session.execute(query.order_by(LegalReview.due_on, LegalReview.id)).scalars())
    filters = {k: v for k, v in request.args.items() if k in ("status", "overdue")}
    audit_read(
        user,
        "legal_review.listed",
        "unit",
        user.unit_id,
        {"ids": [r.id for r in rows], "filters": filters},
    )
    return {"items": _dump_reviews(rows, exclude=("package",))}


@bp.get("/legal-reviews/checklist")
@login_required()
def review_checklist():
    """The reviewer's checklist items with their Chinese labels, in order."""
    return {"items": [{"item": code, "label": label} for code, label in review_service.CHECKLIST]}


@bp.get("/legal-reviews/<int:review_id>")
@login_required()
def show_review(review_id: int):
    user = current_user()
    review, case = review_service.get_review(db.session, user, review_id)
    audit_read(user, "legal_review.viewed", "case", case.id, {"review": review.id})
    return _dump_review(review)


@bp.post("/legal-reviews/<int:review_id>/opinion")
@login_required("legal")
def give_opinion(review_id: int):
    body = load_body(LegalOpinionSchema())
    user = current_user()
    review, case = review_service.get_review(db.session, user, review_id)
    review_service.give_opinion(
        db.session,
        user,
        review,
        case,
        outcome=body["outcome"],
        checklist=body["checklist"],
        opinion=body["opinion"],
        client_addr=client_addr(),
    )
    # The written opinion: 法制审核意见书, signed by the reviewer on screen and issued.
    fields = review_service.opinion_fields(review, user)
    fields["reviewed_on"] = clock.today().isoformat()
    doc = documents.create_document(
        db.session, user, case, "legal_review_opinion", fields, client_addr=client_addr()
    )
    rt = runtime()
    bucket = rt.config["S3_BUCKET_ORIGINALS"]
    until = clock.now() + timedelta(days=int(rt.config["RETENTION_DAYS"]))
    documents.add_signature(
        db.session,
        rt.storage,
        bucket,
        user,
        doc,
        case,
        role="reviewer",
        signer_name=user.name,
        image=body["signature"],
        retain_until=until,
        client_addr=client_addr(),
    )
    documents.issue_document(
        db.session,
        rt.storage,
        bucket,
        user,
        doc,
        case,
        retain_until=until,
        client_addr=client_addr(),
    )
    review.opinion_document_id = doc.id
    db.session.commit()
    return _dump_review(review)


def _review_action(review_id: int):
    user = current_user()
    review, case = review_service.get_review(db.session, user, review_id)
    return user, review, case


@bp.post("/legal-reviews/<int:review_id>/materials")
@login_required("legal")
def request_materials(review_id: int):
    body = load_body(NoteSchema())
    user, review, case = _review_action(review_id)
    review_service.request_materials(
        db.session,
        user,
        review,
        case,
        note=body["note"],
        days=int(runtime().config["LEGAL_MATERIALS_DAYS"]),
        client_addr=client_addr(),
    )
    db.session.commit()
    return _dump_review(review)


@bp.post("/legal-reviews/<int:review_id>/materials/<int:index>/supplied")
@login_required("officer", "supervisor")
def supply_materials(review_id: int, index: int):
    body = load_body(NoteSchema())
    user, review, case = _review_action(review_id)
    review_service.supply_materials(
        db.session, user, review, case, index=index, note=body["note"], client_addr=client_addr()
    )
    db.session.commit()
    return _dump_review(review)


@bp.post("/legal-reviews/<int:review_id>/extension")
@login_required("legal")
def request_extension(review_id: int):
    body = load_body(ReasonSchema())
    user, review, case = _review_action(review_id)
    review_service.request_extension(
        db.session, user, review, case, reason=body["reason"], client_addr=client_addr()
    )
    db.session.commit()
    return _dump_review(review)


@bp.post("/legal-reviews/<int:review_id>/extension/approve")
@login_required("leader")
def approve_extension(review_id: int):
    user, review, case = _review_action(review_id)
    review_service.approve_extension(
        db.session,
        user,
        review,
        case,
        days=int(runtime().config["LEGAL_REVIEW_EXTENSION_DAYS"]),
        client_addr=client_addr(),
    )
    db.session.commit()
    return _dump_review(review)


@bp.post("/legal-reviews/<int:review_id>/disagreement")
@login_required("officer", "supervisor")
def disagree(review_id: int):
    body = load_body(ReasonSchema())
    user, review, case = _review_action(review_id)
    review_service.record_disagreement(
        db.session, user, review, case, reason=body["reason"], client_addr=client_addr()
    )
    db.session.commit()
    return _dump_review(review)


@bp.post("/legal-reviews/<int:review_id>/disagreement/resolve")
@login_required("leader")
def resolve(review_id: int):
    body = load_body(ResolutionSchema())
    user, review, case = _review_action(review_id)
    review_service.resolve_disagreement(
        db.session,
        user,
        review,
        case,
        resolution=body["resolution"],
        note=body["note"],
        client_addr=client_addr(),
    )
    db.session.commit()
    return _dump_review(review)


# --- archive --------------------------------------------------------------------------------


@bp.get("/cases/<int:case_id>/archive.zip")
@login_required("supervisor", "legal", "leader")
def export_archive(case_id: int):
    user = current_user()
    case = case_service.get_case(db.session, user, case_id)
    originals = request.args.get("originals") == "1"
    rt = runtime()
    # Closed by the response once sent (send_file wraps it); large archives spill to disk.
    out = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)  # noqa: SIM115
    manifest = archive_service.export_archive(
        db.session,
        rt.storage,
        rt.signer,
        case,
        out,
        include_originals=originals,
        actor=user,
        client_addr=client_addr(),
        credentials=rt.credentials,
    )
    audit.record(
        db.session,
        actor=user,
        action="case.archive_exported",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr(),
        details={"originals": originals, "files": len(manifest["files"])},
    )
    db.session.commit()
    out.seek(0)
    return send_file(
        out,
        mimetype="application/zip",
        as_attachment=True,
        download_name=archive_service.archive_filename(case),
    )


# --- unit configuration: major-decision list and working-day calendar ------------------------


def _config_admin() -> User:
    user = current_user()
    if user.role not in ("admin", "leader"):
        raise Forbidden("only an admin or the leader configures this", code="role_forbidden")
    return user


@bp.get("/major-decisions")
@login_required()
def list_major():
    user = current_user()
    rows = db.session.execute(
        sa.select(MajorDecisionItem)
        .where(MajorDecisionItem.unit_id == user.unit_id)
        .order_by(MajorDecisionItem.id)
    ).scalars()
    return {"items": MajorDecisionItemSchema().dump(list(rows), many=True)}


@bp.post("/major-decisions")
@login_required("admin", "leader")
def add_major():
    body = load_body(MajorDecisionItemSchema())
    user = _config_admin()
    item = MajorDecisionItem(unit_id=user.unit_id, **body)
    db.session.add(item)
    db.session.flush()
    audit.record(
        db.session,
        actor=user,
        action="config.major_decision_added",
        object_type="unit",
        object_id=user.unit_id,
        client_addr=client_addr(),
        details={"id": item.id, **body},
    )
    db.session.commit()
    return MajorDecisionItemSchema().dump(item), 201


@bp.put("/major-decisions/<int:item_id>")
@login_required("admin", "leader")
def edit_major(item_id: int):
    body = load_body(MajorDecisionItemSchema())
    user = _config_admin()
    item = db.session.get(MajorDecisionItem, item_id)
    if item is None or item.unit_id != user.unit_id:
        raise NotFound("no such entry", code="not_found")
    for key, value in body.items():
        setattr(item, key, value)
    audit.record(
        db.session,
        actor=user,
        action="config.major_decision_changed",
        object_type="unit",
        object_id=user.unit_id,
        client_addr=client_addr(),
        details={"id": item.id, **body},
    )
    db.session.commit()
    return MajorDecisionItemSchema().dump(item)


@bp.get("/calendar")
@login_required()
def list_calendar():
    """The user's unit's own days, and which national holiday notices are loaded."""
    user = current_user()
    rows = calendar_service.unit_days(db.session, user.unit_id)
    return {
        "items": CalendarDaySchema().dump(rows, many=True),
        **calendar_service.status(db.session),
    }


@bp.put("/calendar")
@login_required("admin")
def set_calendar():
    """The admin's unit's own days off and working days; only its deadlines move."""
    days = load_body(CalendarPutSchema())["items"]
    user = _config_admin()
    # Deadlines still running are recounted on the new calendar in the same transaction.
    calendar_service.set_unit_days(db.session, user, days, client_addr=client_addr())
    db.session.commit()
    return {"items": CalendarDaySchema().dump(days, many=True)}


@bp.post("/calendar/national")
@login_required("admin")
def import_national_calendar():
    """Load a year's national holiday notice (the State Council's), as
    ``fieldtrace calendar import``; every unit's running deadlines are recounted on it."""
    user = _config_admin()
    body = request.get_json(silent=True)
    if body is None:
        raise DomainError(
            "请提交JSON格式的通知 / send the notice as a JSON object", code="invalid_json"
        )
    notice = calendar_service.import_notice(db.session, body, actor=user, client_addr=client_addr())
    db.session.commit()
    return {"year": notice.year, "source": notice.source, "holidays": list(notice.holidays)}, 201
