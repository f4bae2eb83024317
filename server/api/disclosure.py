"""行政执法公示 console API (admins): public content versions, decision publication and
random-inspection results (supervisors may record and fix those too)."""

from __future__ import annotations

from flask import Blueprint, request
from marshmallow import Schema, fields, validate

from ..disclosure import inspections
from ..disclosure import service as disclosure
from ..disclosure.models import (  # noqa: F401  (create_all)
    PublicContent,
    PublishedDecision,
    RandomInspectionResult,
)
from ..errors import Invalid, NotFound
from ..extensions import db
from .common import client_addr, current_user, load_body, login_required

bp = Blueprint("disclosure", __name__)


class PublicContentSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    version = fields.Integer()
    content = fields.Dict()
    created_by = fields.Integer(allow_none=True)
    created_at = fields.AwareDateTime()


class PublicContentVersionsSchema(Schema):
    kind = fields.String()
    items = fields.List(fields.Nested(PublicContentSchema))


class PublishedDecisionSchema(Schema):
    id = fields.Integer()
    unit_id = fields.Integer()
    case_id = fields.Integer(allow_none=True)
    document_id = fields.String(allow_none=True)
    number = fields.String()
    title = fields.String()
    party_kind = fields.String()
    party_display = fields.String()
    decided_at = fields.Date()
    penalty_summary = fields.String()
    body = fields.String()
    status = fields.String()
    withheld_reason = fields.String()
    block_hits = fields.List(fields.Dict())
    published_at = fields.AwareDateTime(allow_none=True)
    due_by = fields.Date()
    offline_after = fields.Date(allow_none=True)
    takedown_notice = fields.String()
    taken_down_at = fields.AwareDateTime(allow_none=True)
    corrected_from_id = fields.Integer(allow_none=True)
    # Set when a remedy outcome revoked or changed the decision: take it down by this day.
    takedown_due_by = fields.Date(allow_none=True, dump_default=None)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class PublishedDecisionListSchema(Schema):
    items = fields.List(fields.Nested(PublishedDecisionSchema))


class DecisionEditSchema(Schema):
    body = fields.String(validate=validate.Length(min=1, max=100_000))
    party_display = fields.String(validate=validate.Length(min=1, max=200))
    title = fields.String(validate=validate.Length(min=1, max=300))


class TakeDownSchema(Schema):
    notice = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class InspectionResultOutSchema(Schema):
    id = fields.Integer()
    unit_id = fields.Integer()
    item = fields.String()
    object_name = fields.String()
    object_kind = fields.String()
    object_display = fields.String()
    inspected_on = fields.Date()
    inspectors = fields.List(fields.String())
    result = fields.String()
    result_label = fields.Function(lambda r: inspections.RESULT_LABELS.get(r.result, r.result))
    detail = fields.String()
    case_id = fields.Integer(allow_none=True)
    status = fields.String()
    due_by = fields.Date()
    block_hits = fields.List(fields.Dict())
    published_at = fields.AwareDateTime(allow_none=True)
    takedown_notice = fields.String()
    taken_down_at = fields.AwareDateTime(allow_none=True)
    created_by = fields.Integer(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class InspectionResultListSchema(Schema):
    items = fields.List(fields.Nested(InspectionResultOutSchema))


def _json_object() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise Invalid("send a JSON object body", code="invalid_json")
    return data


# --- public content ------------------------------------------------------------------------


@bp.get("/disclosure/<kind>")
@login_required("admin")
def get_content(kind: str):
    row = disclosure.latest_content(db.session, current_user().unit_id, kind)
    if row is None:
        raise NotFound(f"no {kind} has been saved for your unit yet", code="content_not_found")
    return PublicContentSchema().dump(row)


@bp.put("/disclosure/<kind>")
@login_required("admin")
def save_content(kind: str):
    disclosure.require_kind(kind)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise Invalid("send the content as a JSON object", code="invalid_json")
    row = disclosure.save_content(db.session, current_user(), kind, data, client_addr=client_addr())
    db.session.commit()
    return PublicContentSchema().dump(row)


@bp.get("/disclosure/<kind>/versions")
@login_required("admin")
def content_versions(kind: str):
    rows = disclosure.content_versions(db.session, current_user().unit_id, kind)
    return PublicContentVersionsSchema().dump({"kind": kind, "items": rows})


# --- decisions -----------------------------------------------------------------------------


@bp.get("/disclosure/decisions")
@login_required("admin")
def list_decisions():
    status = request.args.get("status") or None
    unit_id = current_user().unit_id
    rows = disclosure.unit_decisions(db.session, unit_id, status)
    deadlines = disclosure.takedown_deadlines(db.session, unit_id)
    for pd in rows:
        pd.takedown_due_by = deadlines.get(pd.id)  # read by the schema; not a column
    return PublishedDecisionListSchema().dump({"items": rows})


@bp.get("/disclosure/decisions/<int:decision_id>")
@login_required("admin")
def get_decision(decision_id: int):
    pd = disclosure.managed_decision(db.session, current_user(), decision_id)
    return PublishedDecisionSchema().dump(pd)


@bp.put("/disclosure/decisions/<int:decision_id>")
@login_required("admin")
def edit_decision(decision_id: int):
    changes = load_body(DecisionEditSchema())
    user = current_user()
    pd = disclosure.managed_decision(db.session, user, decision_id)
    disclosure.update_text(db.session, pd, user, changes, client_addr=client_addr())
    db.session.commit()
    return PublishedDecisionSchema().dump(pd)


@bp.post("/disclosure/decisions/<int:decision_id>/publish")
@login_required("admin")
def publish_decision(decision_id: int):
    user = current_user()
    pd = disclosure.managed_decision(db.session, user, decision_id)
    disclosure.publish(db.session, pd, user, client_addr=client_addr())
    db.session.commit()
    return PublishedDecisionSchema().dump(pd)


@bp.post("/disclosure/decisions/<int:decision_id>/take-down")
@login_required("admin")
def take_down_decision(decision_id: int):
    body = load_body(TakeDownSchema())
    user = current_user()
    pd = disclosure.managed_decision(db.session, user, decision_id)
    disclosure.take_down(db.session, pd, user, body["notice"], client_addr=client_addr())
    db.session.commit()
    return PublishedDecisionSchema().dump(pd)


# --- random-inspection results (随机抽查结果) ----------------------------------------------------

# Supervisors record what their inspectors found; publishing and taking down stay with admins.
_RECORDERS = ("admin", "supervisor")


@bp.post("/disclosure/inspections")
@login_required(*_RECORDERS)
def record_inspection():
    row = inspections.record_result(
        db.session, current_user(), _json_object(), client_addr=client_addr()
    )
    db.session.commit()
    return InspectionResultOutSchema().dump(row), 201


@bp.get("/disclosure/inspections")
@login_required(*_RECORDERS)
def list_inspections():
    status = request.args.get("status") or None
    rows = inspections.unit_results(db.session, current_user().unit_id, status)
    return InspectionResultListSchema().dump({"items": rows})


@bp.get("/disclosure/inspections/<int:result_id>")
@login_required(*_RECORDERS)
def get_inspection(result_id: int):
    row = inspections.managed_result(db.session, current_user(), result_id)
    return InspectionResultOutSchema().dump(row)


@bp.put("/disclosure/inspections/<int:result_id>")
@login_required(*_RECORDERS)
def edit_inspection(result_id: int):
    user = current_user()
    row = inspections.managed_result(db.session, user, result_id)
    inspections.update_result(db.session, row, user, _json_object(), client_addr=client_addr())
    db.session.commit()
    return InspectionResultOutSchema().dump(row)


@bp.post("/disclosure/inspections/<int:result_id>/publish")
@login_required("admin")
def publish_inspection(result_id: int):
    user = current_user()
    row = inspections.managed_result(db.session, user, result_id)
    inspections.publish(db.session, row, user, client_addr=client_addr())
    db.session.commit()
    return InspectionResultOutSchema().dump(row)


@bp.post("/disclosure/inspections/<int:result_id>/take-down")
@login_required("admin")
def take_down_inspection(result_id: int):
    body = load_body(TakeDownSchema())
    user = current_user()
    row = inspections.managed_result(db.session, user, result_id)
    inspections.take_down(db.session, row, user, body["notice"], client_addr=client_addr())
    db.session.commit()
    return InspectionResultOutSchema().dump(row)
