"""Cases: list, open, show, advance stage, list media."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, request

from ..extensions import db
from ..models import Case, MediaItem
from ..schemas import (
    CaseCreateSchema,
    CaseSchema,
    GapListSchema,
    MediaListSchema,
    PageQuerySchema,
    StageAdvanceSchema,
)
from ..services import audit, workflow
from ..services import cases as case_service
from ..services.rules import refresh_gaps
from .common import audit_read, client_addr, current_user, load_body, login_required

bp = Blueprint("cases", __name__)


def _dump_case(case: Case, counts: dict[str, int]) -> dict:
    data = CaseSchema().dump(case)
    data["media_counts"] = counts
    return data


@bp.get("/cases")
@login_required()
def list_cases():
    query = PageQuerySchema().load(request.args)
    user = current_user()
    base = case_service.visible_cases(user)
    filters: dict[str, object] = {}
    if number := request.args.get("number"):
        base = base.where(Case.number == number)
        filters["number"] = number
    if request.args.get("has_gaps") == "1":
        base = base.where(Case.gap_count > 0)
        filters["has_gaps"] = True
    total = db.session.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
    rows = list(
        db.session.execute(
            base.order_by(Case.created_at.desc(), Case.id.desc())
            .limit(query["per_page"])
            .offset((query["page"] - 1) * query["per_page"])
        ).scalars()
    )
    counts = case_service.media_counts(db.session, [c.id for c in rows])
    # The cases carry their parties (names, ID numbers): who saw which is audited.
    data = {
        "items": [_dump_case(c, counts[c.id]) for c in rows],
        "total": total,
        "page": query["page"],
        "per_page": query["per_page"],
    }
    details = {
        "ids": [c.id for c in rows],
        "filters": filters,
        "page": query["page"],
        "per_page": query["per_page"],
        "total": total,
    }
    audit_read(user, "case.listed", "unit", user.unit_id, details)
    return data


@bp.post("/cases")
@login_required("officer", "supervisor")
def create_case():
    body = load_body(CaseCreateSchema())
    case = case_service.create_case(db.session, current_user(), body, client_addr=client_addr())
    db.session.commit()
    return _dump_case(case, {}), 201, {"Location": f"/api/v1/cases/{case.id}"}


@bp.get("/cases/<int:case_id>")
@login_required()
def get_case(case_id: int):
    user = current_user()
    case = case_service.get_case(db.session, user, case_id)
    audit.record(
        db.session,
        actor=user,
        action="case.viewed",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr(),
    )
    counts = case_service.media_counts(db.session, [case.id])[case.id]
    data = _dump_case(case, counts)
    db.session.commit()
    return data


@bp.post("/cases/<int:case_id>/stage")
@login_required("officer", "supervisor", "leader")
def advance_stage(case_id: int):
    body = load_body(StageAdvanceSchema())
    user = current_user()
    case = case_service.get_case(db.session, user, case_id)
    workflow.advance_stage(
        db.session,
        user,
        case,
        body["to_stage"],
        body["reason"],
        override_reason=body.get("override_reason"),
        client_addr=client_addr(),
    )
    db.session.commit()
    return _dump_case(case, case_service.media_counts(db.session, [case.id])[case.id])


@bp.get("/cases/<int:case_id>/media")
@login_required()
def case_media(case_id: int):
    user = current_user()
    case = case_service.get_case(db.session, user, case_id)
    query = sa.select(MediaItem).where(MediaItem.case_id == case.id)
    if sha := request.args.get("sha256"):
        query = query.where(MediaItem.device_sha256 == sha.lower())
    items = list(db.session.execute(query.order_by(MediaItem.captured_at)).scalars())
    audit.record(
        db.session,
        actor=user,
        action="case.media_listed",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr(),
        details={"count": len(items)},
    )
    data = MediaListSchema().dump({"items": items})
    db.session.commit()
    return data


@bp.get("/cases/<int:case_id>/gaps")
@login_required()
def gaps(case_id: int):
    """Recording gaps: must-film activities without audio/video, major-property stages."""
    case = case_service.get_case(db.session, current_user(), case_id)
    found = refresh_gaps(db.session, case)
    db.session.commit()
    return GapListSchema().dump({"case_id": case_id, "gaps": found})
