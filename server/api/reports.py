"""执法统计年报 console API (admin or leader of the unit): draft, edit, freeze, publish; and the
reconsideration / litigation outcomes the report counts."""

from __future__ import annotations

from flask import Blueprint, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..disclosure import report as reports
from ..disclosure.report_models import AnnualReport, RemedyOutcome
from ..errors import Invalid
from ..extensions import db
from .common import client_addr, current_user, load_body, login_required

bp = Blueprint("reports", __name__)

ROLES = ("admin", "leader")


class AnnualReportSchema(Schema):
    id = fields.Integer()
    unit_id = fields.Integer()
    year = fields.Integer()
    status = fields.String(metadata={"description": "draft | frozen | published"})
    figures = fields.Dict()
    narrative = fields.String()
    narrative_edited = fields.Boolean()
    computed_at = fields.AwareDateTime()
    snapshot_sha256 = fields.String(allow_none=True)
    frozen_at = fields.AwareDateTime(allow_none=True)
    frozen_by = fields.Integer(allow_none=True)
    frozen_late = fields.Boolean()
    published_at = fields.AwareDateTime(allow_none=True)
    published_by = fields.Integer(allow_none=True)
    freeze_deadline = fields.Method("_deadline")
    public_url = fields.Method("_public_url")

    def _deadline(self, report: AnnualReport) -> str:
        return reports.freeze_deadline(report.year).isoformat()

    def _public_url(self, report: AnnualReport) -> str | None:
        if report.status != reports.ReportStatus.PUBLISHED:
            return None
        code = (report.figures.get("unit") or {}).get("code", "")
        return f"/public/units/{code}/reports/{report.year}"


class AnnualReportListSchema(Schema):
    items = fields.List(fields.Nested(AnnualReportSchema(exclude=("figures",))))


class PermitsSchema(Schema):
    """行政许可 entered by hand (Fieldtrace does not process permits)."""

    applications = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    granted = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    refused = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    source = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "where the numbers come from, e.g. 行政许可审批系统"},
    )

    @validates_schema
    def _within_applications(self, data: dict, **_kwargs) -> None:
        if data["granted"] + data["refused"] > data["applications"]:
            raise ValidationError(
                "准予与不予许可之和不能超过申请数 / granted + refused must not exceed applications",
                "granted",
            )
        if not data["source"].strip():
            raise ValidationError("请填写数据来源 / source is required", "source")


class ReportEditSchema(Schema):
    """The narrative (null or empty: the generated one) and/or the permits of a draft."""

    narrative = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    permits = fields.Nested(PermitsSchema)

    @validates_schema
    def _something(self, data: dict, **_kwargs) -> None:
        if "narrative" not in data and "permits" not in data:
            raise ValidationError("send narrative and/or permits", "_schema")


class RemedyOutcomeSchema(Schema):
    id = fields.Integer(dump_only=True)
    unit_id = fields.Integer(dump_only=True)
    case_id = fields.Integer(required=True, strict=True)
    kind = fields.String(required=True, validate=validate.OneOf(list(reports.REMEDY_KINDS)))
    outcome = fields.String(required=True, validate=validate.OneOf(list(reports.REMEDY_OUTCOMES)))
    decided_on = fields.Date(
        required=True, metadata={"description": "day of the outcome (Asia/Shanghai)"}
    )
    note = fields.String(load_default="", validate=validate.Length(max=2000))
    recorded_by = fields.Integer(dump_only=True)
    recorded_at = fields.AwareDateTime(dump_only=True)


class RemedyOutcomeListSchema(Schema):
    items = fields.List(fields.Nested(RemedyOutcomeSchema))


def _dump(report: AnnualReport) -> dict:
    return AnnualReportSchema().dump(report)


# --- reports --------------------------------------------------------------------------------


@bp.get("/reports")
@login_required(*ROLES)
def list_reports():
    rows = reports.unit_reports(db.session, current_user().unit_id)
    return AnnualReportListSchema().dump({"items": rows})


@bp.get("/reports/<int:year>")
@login_required(*ROLES)
def get_report(year: int):
    return _dump(reports.require_report(db.session, current_user().unit_id, year))


@bp.post("/reports/<int:year>/draft")
@login_required(*ROLES)
def draft_report(year: int):
    user = current_user()
    created = reports.get_report(db.session, user.unit_id, year) is None
    report = reports.draft_report(
        db.session, user.unit_id, year, actor=user, client_addr=client_addr()
    )
    db.session.commit()
    return _dump(report), 201 if created else 200


@bp.put("/reports/<int:year>")
@login_required(*ROLES)
def edit_report(year: int):
    body = load_body(ReportEditSchema())
    user = current_user()
    report = reports.require_report(db.session, user.unit_id, year)
    if "permits" in body:
        reports.enter_permits(db.session, report, user, body["permits"], client_addr=client_addr())
    if "narrative" in body:
        reports.edit_narrative(
            db.session, report, user, body["narrative"], client_addr=client_addr()
        )
    db.session.commit()
    return _dump(report)


@bp.post("/reports/<int:year>/freeze")
@login_required(*ROLES)
def freeze_report(year: int):
    user = current_user()
    report = reports.require_report(db.session, user.unit_id, year)
    reports.freeze(db.session, report, user, client_addr=client_addr())
    db.session.commit()
    return _dump(report)


@bp.post("/reports/<int:year>/publish")
@login_required(*ROLES)
def publish_report(year: int):
    user = current_user()
    report = reports.require_report(db.session, user.unit_id, year)
    reports.publish(db.session, report, user, client_addr=client_addr())
    db.session.commit()
    return _dump(report)


# --- remedy outcomes ------------------------------------------------------------------------


@bp.post("/remedy-outcomes")
@login_required(*ROLES)
def record_remedy_outcome():
    body = load_body(RemedyOutcomeSchema())
    row = reports.record_remedy_outcome(db.session, current_user(), body, client_addr=client_addr())
    db.session.commit()
    return RemedyOutcomeSchema().dump(row), 201


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    if not (raw.isascii() and raw.isdigit()):  # not "²", which int() refuses
        raise Invalid(f"{name} must be a number", code=f"invalid_{name}")
    return int(raw)


@bp.get("/remedy-outcomes")
@login_required(*ROLES)
def list_remedy_outcomes():
    rows: list[RemedyOutcome] = reports.remedy_outcomes(
        db.session,
        current_user().unit_id,
        year=_int_arg("year"),
        case_id=_int_arg("case_id"),
    )
    return RemedyOutcomeListSchema().dump({"items": rows})


# --- OpenAPI -------------------------------------------------------------------------------
# Rows in the format of ``openapi_workflow.ROWS`` (path, method, summary, request, response,
# errors, public) so the spec can list these routes with ``add_paths(spec, ROWS + OPENAPI_ROWS)``.

_Y = "/api/v1/reports/{year}"
_P = "/public/units/{code}/reports/{year}"
_EDIT = (401, 403, 404, 409, 422)

OPENAPI_ROWS: tuple[tuple[str, str, str, str | None, str | None, tuple[int, ...], bool], ...] = (
    (
        "/api/v1/reports",
        "get",
        "The unit's yearly reports (without figures)",
        None,
        "object",
        (401, 403),
        False,
    ),
    (_Y, "get", "One yearly report with its figures", None, "object", (401, 403, 404), False),
    (_Y, "put", "Edit the narrative or the permits of a draft", "object", "object", _EDIT, False),
    (
        f"{_Y}/draft",
        "post",
        "Compute the figures into the draft (201 new, 200 again)",
        None,
        "object",
        _EDIT,
        False,
    ),
    (
        f"{_Y}/freeze",
        "post",
        "归档存底: freeze figures and narrative, record the hash",
        None,
        "object",
        _EDIT,
        False,
    ),
    (f"{_Y}/publish", "post", "Publish a frozen report", None, "object", _EDIT, False),
    (
        "/api/v1/remedy-outcomes",
        "post",
        "Record a reconsideration or litigation outcome",
        "object",
        "object",
        _EDIT,
        False,
    ),
    (
        "/api/v1/remedy-outcomes",
        "get",
        "The unit's remedy outcomes (?year=&case_id=)",
        None,
        "object",
        (401, 403, 422),
        False,
    ),
    (
        "/public/units/{code}/reports/",
        "get",
        "A unit's published yearly reports",
        None,
        "text/html",
        (404,),
        True,
    ),
    (_P, "get", "A published yearly report", None, "text/html", (404,), True),
    (f"{_P}.pdf", "get", "A published yearly report as PDF", None, "application/pdf", (404,), True),
    (f"{_P}.csv", "get", "A published report's figures as CSV", None, "text/csv", (404,), True),
    (
        f"{_P}/charts/{{name}}.svg",
        "get",
        "A chart of a published report",
        None,
        "image/svg+xml",
        (404,),
        True,
    ),
    (
        "/public/reports/{year}",
        "get",
        "A published yearly report (?unit=code)",
        None,
        "text/html",
        (404,),
        True,
    ),
    (
        "/public/reports/{year}.pdf",
        "get",
        "The report as PDF (?unit=code)",
        None,
        "application/pdf",
        (404,),
        True,
    ),
    (
        "/public/reports/{year}.csv",
        "get",
        "The report's figures as CSV (?unit=code)",
        None,
        "text/csv",
        (404,),
        True,
    ),
    (
        "/public/reports/{year}/charts/{name}.svg",
        "get",
        "A chart (?unit=code)",
        None,
        "image/svg+xml",
        (404,),
        True,
    ),
)
