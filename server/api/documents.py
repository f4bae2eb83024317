"""Enforcement documents: types, drafts, signatures, issue, corrections, PDF and handover."""

from __future__ import annotations

from datetime import timedelta

import segno
from flask import Blueprint, Response, url_for

from .. import clock
from ..documents.registry import DOCUMENT_TYPES, describe
from ..extensions import db
from ..runtime import runtime
from ..schemas import (
    DocumentCreateSchema,
    DocumentFieldsSchema,
    DocumentSchema,
    SignatureCreateSchema,
)
from ..services import audit, decision_binding
from ..services import cases as case_service
from ..services import documents as service
from .common import audit_read, client_addr, current_user, load_body, login_required

bp = Blueprint("documents", __name__)
CASE_ROLES = ("officer", "supervisor", "legal", "leader")


def _dump(doc, versions=None) -> dict:
    data = DocumentSchema().dump(doc)
    if versions is not None:
        data["versions"] = DocumentSchema(
            only=("id", "version", "status", "number", "sha256", "issued_at", "created_at")
        ).dump(versions, many=True)
    return data


def _retain_until():
    return clock.now() + timedelta(days=int(runtime().config["RETENTION_DAYS"]))


@bp.get("/document-types")
@login_required()
def document_types():
    return {"items": [describe(t) for t in DOCUMENT_TYPES.values()]}


@bp.post("/cases/<int:case_id>/documents")
@login_required(*CASE_ROLES)
def create(case_id: int):
    body = load_body(DocumentCreateSchema())
    user = current_user()
    case = case_service.get_case(db.session, user, case_id)
    doc = service.create_document(
        db.session, user, case, body["type"], body["fields_"], client_addr=client_addr()
    )
    db.session.commit()
    return _dump(doc), 201, {"Location": f"/api/v1/documents/{doc.id}"}


@bp.get("/cases/<int:case_id>/documents")
@login_required()
def list_for_case(case_id: int):
    user = current_user()
    case = case_service.get_case(db.session, user, case_id)
    docs = service.case_documents(db.session, case)
    audit_read(user, "document.listed", "case", case.id, {"ids": [d.id for d in docs]})
    return {"items": DocumentSchema().dump(docs, many=True)}


@bp.get("/documents/<doc_id>")
@login_required()
def show(doc_id: str):
    user = current_user()
    doc, case = service.get_document(db.session, user, doc_id)
    audit_read(user, "document.viewed", "case", case.id, {"document": doc.id})
    return _dump(doc, service.series_versions(db.session, doc))


@bp.get("/documents/<doc_id>/review-match")
@login_required()
def review_match(doc_id: str):
    """Whether the document is what the agreed legal review agreed to (checked before the
    leader signs; the server checks again at the signature and at issue)."""
    user = current_user()
    doc, case = service.get_document(db.session, user, doc_id)
    match = decision_binding.review_match(db.session, case, doc).as_dict()
    audit_read(
        user,
        "document.review_match_viewed",
        "case",
        case.id,
        {"document": doc.id, "consistent": match["consistent"], "round": match["round"]},
    )
    return match


@bp.get("/documents/awaiting-signature")
@login_required("leader")
def awaiting_signature():
    """The drafts waiting for the leader's signature in the leader's unit, oldest first."""
    user = current_user()
    rows = service.awaiting_leader_signature(db.session, user)
    items = []
    for doc, case in rows:
        match = decision_binding.review_match(db.session, case, doc)
        items.append(
            {
                **DocumentSchema(
                    only=("id", "doc_type", "title", "version", "status", "number", "created_at")
                ).dump(doc),
                "case": {
                    "id": case.id,
                    "number": case.number,
                    "title": case.title,
                    "current_stage": case.current_stage,
                },
                "bound": match.bound,
                "consistent": match.consistent,
                "review_state": match.state,
            }
        )
    audit_read(
        user,
        "document.awaiting_signature_listed",
        "unit",
        user.unit_id,
        {"ids": [doc.id for doc, _ in rows]},
    )
    return {"items": items}


@bp.put("/documents/<doc_id>")
@login_required(*CASE_ROLES)
def edit(doc_id: str):
    body = load_body(DocumentFieldsSchema())
    user = current_user()
    doc, case = service.get_document(db.session, user, doc_id)
    service.update_draft(db.session, user, doc, case, body["fields_"], client_addr=client_addr())
    db.session.commit()
    return _dump(doc)


@bp.post("/documents/<doc_id>/versions")
@login_required(*CASE_ROLES)
def correct(doc_id: str):
    body = load_body(DocumentFieldsSchema())
    user = current_user()
    doc, case = service.get_document(db.session, user, doc_id)
    new = service.new_version(
        db.session, user, doc, case, body["fields_"], client_addr=client_addr()
    )
    db.session.commit()
    return _dump(new, service.series_versions(db.session, new)), 201


@bp.post("/documents/<doc_id>/signatures")
@login_required(*CASE_ROLES)
def sign(doc_id: str):
    body = load_body(SignatureCreateSchema())
    user = current_user()
    doc, case = service.get_document(db.session, user, doc_id)
    rt = runtime()
    service.add_signature(
        db.session,
        rt.storage,
        rt.config["S3_BUCKET_ORIGINALS"],
        user,
        doc,
        case,
        role=body["role"],
        signer_name=body["signer_name"],
        image=body["image"],
        device_signed_at=body["device_signed_at"],
        shown_content_sha256=body["shown_content_sha256"],
        retain_until=_retain_until(),
        client_addr=client_addr(),
    )
    db.session.commit()
    return _dump(doc), 201


@bp.post("/documents/<doc_id>/issue")
@login_required(*CASE_ROLES)
def issue(doc_id: str):
    user = current_user()
    doc, case = service.get_document(db.session, user, doc_id)
    rt = runtime()
    service.issue_document(
        db.session,
        rt.storage,
        rt.config["S3_BUCKET_ORIGINALS"],
        user,
        doc,
        case,
        retain_until=_retain_until(),
        client_addr=client_addr(),
    )
    db.session.commit()
    return _dump(doc, service.series_versions(db.session, doc))


@bp.get("/documents/<doc_id>/pdf")
@login_required()
def pdf(doc_id: str):
    user = current_user()
    doc, case = service.get_document(db.session, user, doc_id)
    if not doc.object_key:
        from ..errors import Conflict

        raise Conflict("this version is a draft and has no PDF yet", code="not_issued")
    data = runtime().storage.get_bytes(
        doc.bucket or "", doc.object_key, version_id=doc.object_version
    )
    audit.record(
        db.session,
        actor=user,
        action="document.downloaded",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr(),
        details={"document_id": doc.id, "number": doc.number, "sha256": doc.sha256},
    )
    db.session.commit()
    return Response(
        data,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{doc.doc_type}-v{doc.version}.pdf"',
            "X-Content-SHA256": doc.sha256 or "",
        },
    )


@bp.post("/documents/<doc_id>/handover")
@login_required("officer", "supervisor")
def handover(doc_id: str):
    user = current_user()
    doc, case = service.get_document(db.session, user, doc_id)
    minutes = int(runtime().config["DOCUMENT_HANDOVER_MINUTES"])
    offered = service.create_handover(
        db.session, user, doc, case, minutes=minutes, client_addr=client_addr()
    )
    db.session.commit()
    url = url_for("public.handover_document", token=offered.id, _external=True)
    qr = segno.make(url, error="m").svg_inline(
        scale=4, border=4, omitsize=True, title="扫码领取执法文书"
    )
    return {"url": url, "expires_at": offered.expires_at.isoformat(), "qr_svg": qr}, 201
