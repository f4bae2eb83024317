"""行政执法公示 console API (admins): public content versions and decision publication."""

from __future__ import annotations

from flask import Blueprint, request
from marshmallow import Schema, fields, validate

from ..disclosure import service as disclosure
from ..disclosure.models import PublicContent, PublishedDecision  # noqa: F401  (create_all)
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
    rows = disclosure.unit_decisions(db.session, current_user().unit_id, status)
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
