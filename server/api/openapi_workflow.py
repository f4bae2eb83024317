"""OpenAPI paths of the case workflow (issue #6) and public disclosure (issue #7), as a table.

Each row: path, method, summary, request schema (or None), response (a schema name, or a
media type such as ``application/pdf``), error statuses, and whether it is public.
"""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec

from .. import schemas as s

Row = tuple[str, str, str, str | None, str | None, tuple[int, ...], bool]

_C = "/api/v1/cases/{case_id}"
_D = "/api/v1/documents/{doc_id}"
_R = "/api/v1/legal-reviews/{review_id}"
_W = (401, 403, 404, 409, 422)

ROWS: tuple[Row, ...] = (
    (
        f"{_C}/completeness",
        "get",
        "What each stage needs, has and misses (in words)",
        None,
        "object",
        (401, 404),
        False,
    ),
    (
        f"{_C}/decision-draft",
        "put",
        "Set the draft decision; recomputes whether it is major",
        "DecisionDraft",
        "object",
        _W,
        False,
    ),
    (
        f"{_C}/execution",
        "post",
        "Record a payment or a compulsory-execution application",
        "ExecutionRecord",
        "object",
        _W,
        False,
    ),
    (
        f"{_C}/documents",
        "get",
        "Every version of every enforcement document of the case",
        None,
        "object",
        (401, 404),
        False,
    ),
    (
        f"{_C}/documents",
        "post",
        "Create a draft document (fields validated by its type)",
        "DocumentCreate",
        "Document",
        _W,
        False,
    ),
    (
        f"{_C}/legal-reviews",
        "get",
        "The legal-review rounds of the case",
        None,
        "object",
        (401, 404),
        False,
    ),
    (
        f"{_C}/legal-reviews",
        "post",
        "Submit for legal review; the package is frozen in the round",
        "LegalReviewSubmit",
        "LegalReview",
        _W,
        False,
    ),
    (
        f"{_C}/archive.zip",
        "get",
        "The self-verifying case file (案卷); ?originals=1 adds them",
        None,
        "application/zip",
        (401, 403, 404),
        False,
    ),
    (
        "/api/v1/document-types",
        "get",
        "Document types with their form fields",
        None,
        "object",
        (401,),
        False,
    ),
    (_D, "get", "A document with the versions of its series", None, "Document", (401, 404), False),
    (_D, "put", "Edit a draft", "DocumentFields", "Document", _W, False),
    (
        f"{_D}/versions",
        "post",
        "Correct an issued document: a new draft version",
        "DocumentFields",
        "Document",
        _W,
        False,
    ),
    (
        f"{_D}/signatures",
        "post",
        "Add a handwritten signature captured on screen (PNG)",
        "SignatureCreate",
        "Document",
        _W,
        False,
    ),
    (
        f"{_D}/issue",
        "post",
        "Number, render (PDF), store WORM and issue the draft",
        None,
        "Document",
        _W,
        False,
    ),
    (
        f"{_D}/pdf",
        "get",
        "The issued PDF (audited)",
        None,
        "application/pdf",
        (401, 404, 409),
        False,
    ),
    (
        f"{_D}/review-match",
        "get",
        "Whether a decision is what the agreed legal review agreed to: {consistent, review_id, "
        "round, differences: [{field, label, reviewed, now}], content_sha256} (audited)",
        None,
        "object",
        (401, 404),
        False,
    ),
    (
        "/api/v1/documents/awaiting-signature",
        "get",
        "Leader: the drafts waiting for the leader's signature, oldest first (audited)",
        None,
        "object",
        (401, 403),
        False,
    ),
    (
        f"{_D}/handover",
        "post",
        "A short-lived public link + QR code for the party's copy",
        None,
        "object",
        _W,
        False,
    ),
    (
        "/api/v1/legal-reviews",
        "get",
        "The unit's review queue (?status=, ?overdue=1)",
        None,
        "object",
        (401, 403),
        False,
    ),
    (
        "/api/v1/legal-reviews/checklist",
        "get",
        "The reviewer's checklist items and labels",
        None,
        "object",
        (401,),
        False,
    ),
    (_R, "get", "One review round", None, "LegalReview", (401, 404), False),
    (
        f"{_R}/opinion",
        "post",
        "The reviewer's checklist, outcome and signed opinion",
        "LegalOpinion",
        "LegalReview",
        _W,
        False,
    ),
    (
        f"{_R}/materials",
        "post",
        "Ask for missing materials (due in 3 working days)",
        "Note",
        "LegalReview",
        _W,
        False,
    ),
    (
        f"{_R}/materials/{{index}}/supplied",
        "post",
        "The undertaking side supplies the materials asked for",
        "Note",
        "LegalReview",
        _W,
        False,
    ),
    (
        f"{_R}/extension",
        "post",
        "Ask the leader for 3 more working days",
        "Reason",
        "LegalReview",
        _W,
        False,
    ),
    (
        f"{_R}/extension/approve",
        "post",
        "Approve the extension (leader)",
        None,
        "LegalReview",
        _W,
        False,
    ),
    (
        f"{_R}/disagreement",
        "post",
        "The undertaking side disagrees with the opinion",
        "Reason",
        "LegalReview",
        _W,
        False,
    ),
    (
        f"{_R}/disagreement/resolve",
        "post",
        "The leader resolves the disagreement",
        "Resolution",
        "LegalReview",
        _W,
        False,
    ),
    (
        "/api/v1/major-decisions",
        "get",
        "The unit's list of major decisions",
        None,
        "object",
        (401,),
        False,
    ),
    (
        "/api/v1/major-decisions",
        "post",
        "Add an entry (admin, leader)",
        "MajorDecisionItem",
        "MajorDecisionItem",
        _W,
        False,
    ),
    (
        "/api/v1/major-decisions/{item_id}",
        "put",
        "Change an entry (admin, leader)",
        "MajorDecisionItem",
        "MajorDecisionItem",
        _W,
        False,
    ),
    (
        "/api/v1/calendar",
        "get",
        "The unit's own days off and working days, the national notices loaded, and whether "
        "next year's is due",
        None,
        "object",
        (401,),
        False,
    ),
    (
        "/api/v1/calendar",
        "put",
        "Set the unit's own days off and make-up working days (admin); only its deadlines move",
        "object",
        "object",
        _W,
        False,
    ),
    (
        "/api/v1/calendar/national",
        "post",
        "Load a year's national holiday notice (admin): {year, source, holidays: [{name, rest, "
        "work}]}; every unit's running deadlines are recounted",
        "object",
        "object",
        _W,
        False,
    ),
    (
        "/public/documents/{token}",
        "get",
        "The party's copy of a document (出具执法文书)",
        None,
        "application/pdf",
        (404,),
        True,
    ),
    # Public disclosure (行政执法公示)
    (
        "/api/v1/disclosure/{kind}",
        "get",
        "Current public content of a kind (admin)",
        None,
        "object",
        (401, 403, 404),
        False,
    ),
    (
        "/api/v1/disclosure/{kind}",
        "put",
        "Publish a new version of the content (admin)",
        "object",
        "object",
        _W,
        False,
    ),
    (
        "/api/v1/disclosure/{kind}/versions",
        "get",
        "Every version of the content (admin)",
        None,
        "object",
        (401, 403, 404),
        False,
    ),
    (
        "/api/v1/disclosure/decisions",
        "get",
        "Decisions prepared for publication (admin)",
        None,
        "object",
        (401, 403),
        False,
    ),
    (
        "/api/v1/disclosure/decisions/{decision_id}",
        "get",
        "One prepared decision (admin)",
        None,
        "object",
        (401, 403, 404),
        False,
    ),
    (
        "/api/v1/disclosure/decisions/{decision_id}",
        "put",
        "Fix the published text; it is scanned again (admin)",
        "object",
        "object",
        _W,
        False,
    ),
    (
        "/api/v1/disclosure/decisions/{decision_id}/publish",
        "post",
        "Publish; refused while personal data is found (admin)",
        None,
        "object",
        _W,
        False,
    ),
    (
        "/api/v1/disclosure/decisions/{decision_id}/take-down",
        "post",
        "Take a revoked or changed decision down with a public notice (admin)",
        "object",
        "object",
        _W,
        False,
    ),
    # 随机抽查结果公示 (within 20 working days)
    (
        "/api/v1/disclosure/inspections",
        "get",
        "Random-inspection results (admin, supervisor)",
        None,
        "object",
        (401, 403),
        False,
    ),
    (
        "/api/v1/disclosure/inspections",
        "post",
        "Record a random-inspection result",
        "object",
        "object",
        _W,
        False,
    ),
    (
        "/api/v1/disclosure/inspections/{result_id}",
        "get",
        "One result",
        None,
        "object",
        (401, 403, 404),
        False,
    ),
    (
        "/api/v1/disclosure/inspections/{result_id}",
        "put",
        "Edit a result; scanned again",
        "object",
        "object",
        _W,
        False,
    ),
    (
        "/api/v1/disclosure/inspections/{result_id}/publish",
        "post",
        "Publish; refused while personal data is found (admin)",
        None,
        "object",
        _W,
        False,
    ),
    (
        "/api/v1/disclosure/inspections/{result_id}/take-down",
        "post",
        "Take a result down with a public notice (admin)",
        "object",
        "object",
        _W,
        False,
    ),
    (
        "/public/units/{code}/inspection-results",
        "get",
        "Published random-inspection results",
        None,
        "text/html",
        (404,),
        True,
    ),
    ("/public/", "get", "Enforcement units", None, "text/html", (), True),
    ("/public/units/{code}/", "get", "A unit's disclosure index", None, "text/html", (404,), True),
    ("/public/units/{code}/officers", "get", "Certified officers", None, "text/html", (404,), True),
    ("/public/units/{code}/powers", "get", "权责清单", None, "text/html", (404,), True),
    (
        "/public/units/{code}/random-inspections",
        "get",
        "随机抽查事项清单",
        None,
        "text/html",
        (404,),
        True,
    ),
    (
        "/public/units/{code}/procedures",
        "get",
        "Enforcement procedures",
        None,
        "text/html",
        (404,),
        True,
    ),
    (
        "/public/units/{code}/procedures.svg",
        "get",
        "The procedure flow chart",
        None,
        "image/svg+xml",
        (404,),
        True,
    ),
    (
        "/public/units/{code}/remedies",
        "get",
        "Remedies and complaint channels",
        None,
        "text/html",
        (404,),
        True,
    ),
    (
        "/public/units/{code}/decisions",
        "get",
        "Search published decisions",
        None,
        "text/html",
        (404,),
        True,
    ),
    (
        "/public/decisions/{decision_id}",
        "get",
        "A published decision or its take-down notice",
        None,
        "text/html",
        (404,),
        True,
    ),
)

_PARAM = re.compile(r"{(\w+)}")


def _response(kind: str | None) -> dict[str, Any]:
    if kind is None or kind == "object":
        return {
            "description": "OK",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    if "/" in kind:
        return {"description": "OK", "content": {kind: {"schema": {"type": "string"}}}}
    return {"description": "OK", "content": {"application/json": {"schema": kind}}}


def add_paths(spec: APISpec, rows: tuple[Row, ...] = ROWS) -> None:
    for name in (
        "DecisionDraft",
        "ExecutionRecord",
        "DocumentCreate",
        "DocumentFields",
        "SignatureCreate",
        "Document",
        "LegalReviewSubmit",
        "LegalOpinion",
        "LegalReview",
        "Note",
        "Reason",
        "Resolution",
        "MajorDecisionItem",
    ):
        if name not in spec.components.schemas:
            spec.components.schema(name, schema=getattr(s, f"{name}Schema"))
    paths: dict[str, dict[str, Any]] = {}
    for path, method, summary, body, response, errors, public in rows:
        op: dict[str, Any] = {
            "summary": summary,
            "responses": {
                "200": _response(response),
                **{
                    str(c): {
                        "description": "error",
                        "content": {"application/json": {"schema": "Error"}},
                    }
                    for c in errors
                },
            },
            "parameters": [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in _PARAM.findall(path)
            ],
        }
        if not public:
            op["security"] = [{"bearer": []}]
        if body:
            schema: Any = {"type": "object"} if body == "object" else body
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema}},
            }
        paths.setdefault(path, {})[method] = op
    for path, operations in paths.items():
        spec.path(path, operations=operations)
