"""Forms that know the case: suggested document fields and decision draft, and the preview of
the package a legal-review round would freeze (services/prefill.py, services/legal_review.py).

Nothing here writes case data; each read of the case's documents is audited like a view."""

from __future__ import annotations

from flask import Blueprint, request

from ..errors import Invalid
from ..extensions import db
from ..schemas import LegalReviewSubmitSchema
from ..services import cases as case_service
from ..services import legal_review as review_service
from ..services import prefill
from .common import audit_read, current_user, load_body, login_required

bp = Blueprint("case_forms", __name__)
CASE_ROLES = ("officer", "supervisor", "legal", "leader")


@bp.get("/cases/<int:case_id>/documents/prefill")
@login_required(*CASE_ROLES)
def document_prefill(case_id: int):
    doc_type = request.args.get("type", "")
    if not doc_type:
        raise Invalid("give the document type: ?type=<code>", code="type_required")
    user = current_user()
    case = case_service.get_case(db.session, user, case_id)
    suggestion = prefill.suggest(db.session, user, case, doc_type)
    used = sorted({s["document_id"] for s in suggestion["sources"].values() if "document_id" in s})
    audit_read(user, "document.prefilled", "case", case.id, {"type": doc_type, "from": used})
    return suggestion


@bp.get("/cases/<int:case_id>/legal-reviews/draft")
@login_required("officer", "supervisor")
def review_draft(case_id: int):
    user = current_user()
    case = case_service.get_case(db.session, user, case_id)
    suggestion = prefill.suggest_draft(db.session, user, case)
    audit_read(user, "legal_review.draft_suggested", "case", case.id, {})
    return suggestion


@bp.post("/cases/<int:case_id>/legal-reviews/preview")
@login_required("officer", "supervisor")
def review_preview(case_id: int):
    body = load_body(LegalReviewSubmitSchema())
    user = current_user()
    case = case_service.get_case(db.session, user, case_id)
    result = review_service.preview(
        db.session, user, case, report=body["report"], decision_draft=body["decision_draft"]
    )
    ids = [d["id"] for d in result["package"]["documents"]]
    audit_read(user, "legal_review.previewed", "case", case.id, {"documents": ids})
    return result


OPENAPI_ROWS: tuple[tuple[str, str, str, str | None, str | None, tuple[int, ...], bool], ...] = (
    (
        "/api/v1/cases/{case_id}/documents/prefill",
        "get",
        "Suggested fields for a new document of ?type=<code>, each with where it came from",
        None,
        "object",
        (401, 403, 404, 422),
        False,
    ),
    (
        "/api/v1/cases/{case_id}/legal-reviews/draft",
        "get",
        "The decision draft and report to submit for legal review, as far as the case knows",
        None,
        "object",
        (401, 403, 404),
        False,
    ),
    (
        "/api/v1/cases/{case_id}/legal-reviews/preview",
        "post",
        "The package a new legal-review round would freeze now (nothing is written)",
        "LegalReviewSubmit",
        "object",
        (401, 403, 404, 409, 422),
        False,
    ),
)
