"""The case's handling officers (办案人员) and the supervisor's 立案审批.

Request bodies are declared here, next to their only routes (keeps merges of the shared
schemas module small).
"""

from __future__ import annotations

from datetime import timedelta

from apispec import APISpec
from flask import Blueprint
from marshmallow import Schema, fields, validate

from .. import clock
from ..extensions import db
from ..runtime import runtime
from ..schemas import CaseSchema
from ..services import case_team, filing
from ..services import cases as case_service
from .common import audit_read, client_addr, current_user, load_body, login_required

bp = Blueprint("case_team", __name__)


class OfficerAssignSchema(Schema):
    officer_ids = fields.List(
        fields.Integer(), required=True, validate=validate.Length(min=1, max=20)
    )


class FilingApprovalSchema(Schema):
    opinion = fields.String(load_default="", validate=validate.Length(max=2000))
    signer_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    image = fields.String(required=True, validate=validate.Length(min=30, max=800_000))
    device_signed_at = fields.AwareDateTime(allow_none=True, load_default=None)


class FilingReturnSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=2000))


@bp.get("/officers")
@login_required("officer", "supervisor", "leader")
def unit_officers():
    """The unit's officers with their credential standing today (to pick a partner, assign)."""
    user = current_user()
    items = case_team.unit_officers(
        db.session, user, clock.now(), required=case_team.credential_required()
    )
    audit_read(user, "officer.listed", "unit", user.unit_id, {"ids": [i["id"] for i in items]})
    return {"items": items, "minimum": case_team.minimum()}


@bp.get("/me/standing")
@login_required("officer", "supervisor")
def my_standing():
    """持证上岗 up front: does the signed-in officer hold a valid credential now, and if not,
    why, in words (told at sign-in and on the capture screen, before recording)."""
    found = case_team.standing(
        db.session, current_user(), clock.now(), required=case_team.credential_required()
    )
    return {
        "valid": found["certified"],
        "reason": found["reason"],
        "message": found["message"],
        "message_en": found["message_en"],
    }


@bp.get("/cases/<int:case_id>/officers")
@login_required()
def case_officers(case_id: int):
    """The case's officers, their standing now, and whether on-site work may go ahead."""
    case = case_service.get_case(db.session, current_user(), case_id)
    return case_team.team(db.session, case, clock.now(), required=case_team.credential_required())


@bp.put("/cases/<int:case_id>/officers")
@login_required("supervisor", "leader")
def assign_officers(case_id: int):
    body = load_body(OfficerAssignSchema())
    user = current_user()
    case = case_service.get_case(db.session, user, case_id)
    case_team.assign(
        db.session,
        user,
        case,
        body["officer_ids"],
        clock.now(),
        required=case_team.credential_required(),
        client_addr=client_addr(),
    )
    db.session.commit()
    return case_team.team(db.session, case, clock.now(), required=case_team.credential_required())


@bp.post("/cases/<int:case_id>/filing-approval")
@login_required("supervisor", "leader")
def approve_filing(case_id: int):
    body = load_body(FilingApprovalSchema())
    user = current_user()
    case = case_service.get_case(db.session, user, case_id)
    rt = runtime()
    doc = filing.approve(
        db.session,
        rt.storage,
        rt.config["S3_BUCKET_ORIGINALS"],
        user,
        case,
        opinion=body["opinion"].strip(),
        signer_name=body["signer_name"],
        image=body["image"],
        device_signed_at=body["device_signed_at"],
        retain_until=clock.now() + timedelta(days=int(rt.config["RETENTION_DAYS"])),
        now=clock.now(),
        client_addr=client_addr(),
    )
    db.session.commit()
    return {
        "case": CaseSchema().dump(case),
        "document": {"id": doc.id, "number": doc.number, "status": doc.status},
    }


@bp.post("/cases/<int:case_id>/filing-approval/return")
@login_required("supervisor", "leader")
def return_filing(case_id: int):
    body = load_body(FilingReturnSchema())
    user = current_user()
    case = case_service.get_case(db.session, user, case_id)
    doc = filing.return_for_correction(
        db.session, user, case, reason=body["reason"], client_addr=client_addr()
    )
    db.session.commit()
    return {
        "case": CaseSchema().dump(case),
        "document": {"id": doc.id, "version": doc.version, "status": doc.status},
    }


_C = "/api/v1/cases/{case_id}"
_W = (401, 403, 404, 409, 422)
OPENAPI_ROWS: tuple[tuple[str, str, str, str | None, str | None, tuple[int, ...], bool], ...] = (
    (
        "/api/v1/officers",
        "get",
        "The unit's officers, each with their credential standing today (certified, why not)",
        None,
        "object",
        (401, 403),
        False,
    ),
    (
        "/api/v1/me/standing",
        "get",
        "持证上岗: whether the signed-in officer holds a valid credential now, and why not",
        None,
        "object",
        (401, 403),
        False,
    ),
    (
        f"{_C}/officers",
        "get",
        "The case's officers with their standing; whether two certified ones are on it",
        None,
        "object",
        (401, 404),
        False,
    ),
    (
        f"{_C}/officers",
        "put",
        "Assign the case's officers (supervisor): at least two, each with a valid credential",
        "OfficerAssign",
        "object",
        _W,
        False,
    ),
    (
        f"{_C}/filing-approval",
        "post",
        "立案审批 (supervisor): opinion, signature as 审批人, issue the form, enter investigation",
        "FilingApproval",
        "object",
        _W,
        False,
    ),
    (
        f"{_C}/filing-approval/return",
        "post",
        "退回补正 (supervisor): the signed 立案审批表 is kept, a new version for the officer to "
        "correct and sign again carries the reason as 审批意见",
        "FilingReturn",
        "object",
        _W,
        False,
    ),
)


def add_openapi(spec: APISpec) -> None:
    from .openapi_workflow import add_paths

    for name, schema in (
        ("OfficerAssign", OfficerAssignSchema),
        ("FilingApproval", FilingApprovalSchema),
        ("FilingReturn", FilingReturnSchema),
    ):
        if name not in spec.components.schemas:
            spec.components.schema(name, schema=schema)
    add_paths(spec, OPENAPI_ROWS)
