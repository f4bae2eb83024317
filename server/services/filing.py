"""立案审批 (一般程序): the officer fills and signs the 立案审批表; the supervisor approves it
or returns it for correction (退回补正).

Approval is one act on the supervisor's screen: their opinion goes into the form's 审批意见,
they sign as 审批人, the form is issued (numbered, PDF, Object Lock) and the case enters
investigation, all in one transaction, so a case is never left approved but not filed.

Returning keeps the form the officer signed as it was signed (``withdrawn``, with the
signature) and opens a new version with the same content and the reason as 审批意见; the
officer corrects it, signs again, and it waits for approval as before.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..domain import Role, Stage
from ..errors import Conflict, Forbidden, Invalid
from ..models import Case, Document, User
from ..storage import Storage
from . import audit, case_team, documents, workflow


def pending_filing_approval(session: Session, case: Case) -> Document | None:
    """The case's latest 立案审批表 still in draft, if any."""
    return session.execute(
        sa.select(Document)
        .where(
            Document.case_id == case.id,
            Document.doc_type == "filing_approval",
            Document.status == "draft",
        )
        .order_by(Document.created_at.desc(), Document.version.desc())
        .limit(1)
    ).scalar_one_or_none()


def _awaiting_approval(actor: User, case: Case, session: Session) -> Document:
    """The officer's signed 立案审批表 a supervisor may act on now (approve or return)."""
    if actor.role not in (Role.SUPERVISOR, Role.LEADER):
        raise Forbidden(
            "只有执法机构负责人可以审批立案 / only a supervisor approves a filing",
            code="role_forbidden",
        )
    workflow.ensure_open(case)
    if case.procedure != "general" or case.current_stage != Stage.FILING:
        raise Conflict(
            "只有处于立案环节的一般程序案件需要立案审批 / only a general-procedure case in "
            "filing is approved",
            code="not_awaiting_filing_approval",
        )
    doc = pending_filing_approval(session, case)
    if doc is None or not any(s.role == "officer" for s in doc.signatures):
        raise Conflict(
            "承办人尚未填写并签名《立案审批表》 / the case officer has not filled and signed "
            "the filing approval form yet",
            code="filing_approval_missing",
        )
    return doc


def return_for_correction(
    session: Session, actor: User, case: Case, *, reason: str, client_addr: str = ""
) -> Document:
    """退回补正: the new version of the 立案审批表 the officer corrects and signs again."""
    doc = _awaiting_approval(actor, case, session)
    reason = reason.strip()
    if len(reason) < 2:
        raise Invalid(
            "请写明退回的理由和需要补正的内容 / say why the form is returned and what to correct",
            code="reason_required",
        )
    fields = {**(doc.fields or {}), "approver_opinion": f"退回补正：{reason}"}
    corrected = documents.new_version(session, actor, doc, case, fields, client_addr=client_addr)
    audit.record(
        session,
        actor=actor,
        action="filing.returned",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={"document_id": doc.id, "new_document_id": corrected.id, "reason": reason},
    )
    return corrected


def approve(
    session: Session,
    storage: Storage,
    bucket: str,
    actor: User,
    case: Case,
    *,
    opinion: str,
    signer_name: str,
    image: str,
    device_signed_at: datetime | None,
    retain_until: datetime,
    now: datetime,
    client_addr: str = "",
) -> Document:
    """Approve the filing: 审批意见, the approver's signature, issue, and on to investigation."""
    doc = _awaiting_approval(actor, case, session)
    found = case_team.team(session, case, now, required=case_team.credential_required())
    if not found["enough"]:
        raise Conflict(
            found["message"] + "：请先指派办案人员 / " + found["message_en"],
            code="too_few_officers",
            details={"certified": found["certified"], "minimum": found["minimum"]},
        )
    if opinion:
        documents.update_draft(
            session,
            actor,
            doc,
            case,
            {**(doc.fields or {}), "approver_opinion": opinion},
            client_addr=client_addr,
        )
    documents.add_signature(
        session,
        storage,
        bucket,
        actor,
        doc,
        case,
        role="approver",
        signer_name=signer_name,
        image=image,
        device_signed_at=device_signed_at,
        retain_until=retain_until,
        client_addr=client_addr,
    )
    documents.issue_document(
        session,
        storage,
        bucket,
        actor,
        doc,
        case,
        retain_until=retain_until,
        client_addr=client_addr,
    )
    workflow.advance_stage(
        session,
        actor,
        case,
        Stage.INVESTIGATION.value,
        f"立案审批同意：{opinion}" if opinion else "立案审批同意",
        client_addr=client_addr,
    )
    return doc
