"""Enforcement documents (执法文书): drafts, on-screen signatures, issue, corrections, handover.

An issued version is numbered (per unit, type and year, gapless), rendered to PDF, stored
WORM in the originals bucket with its SHA-256 and attached to its stage. A correction is a
new version of the same series; earlier versions stay and are listed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, object_session

from .. import clock
from ..documents.registry import DOCUMENT_TYPES, dump_fields, validate_fields
from ..documents.render import RenderInput, SignatureImage, render_pdf, render_signature_check
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..events import decision_issued
from ..models import (
    Case,
    Document,
    DocumentCounter,
    DocumentHandover,
    DocumentSignature,
    Unit,
    User,
)
from ..storage import Storage
from . import audit, decision_binding
from . import units as unit_service
from .cases import get_case
from .workflow import doc_title, ensure_open, latest_review, needs_legal_review

# Documents whose issue (and leader signature) is gated by the legal review.
DECISION_TYPES = frozenset({"penalty_decision"})


def doc_key(case_id: int, doc_id: str, name: str) -> str:
    return f"documents/{case_id}/{doc_id}/{name}"


def get_document(session: Session, user: User, doc_id: str) -> tuple[Document, Case]:
    """The document and its case if the user may see the case (404 otherwise)."""
    doc = session.get(Document, doc_id)
    if doc is None:
        raise NotFound(f"document {doc_id} not found", code="document_not_found")
    try:
        case = get_case(session, user, doc.case_id)
    except NotFound:
        raise NotFound(f"document {doc_id} not found", code="document_not_found") from None
    return doc, case


def _ensure_may_write(user: User, case: Case) -> None:
    ensure_open(case)
    if user.role == "officer" and not any(o.id == user.id for o in case.officers):
        raise Forbidden("you are not assigned to this case", code="not_assigned")
    if user.role == "admin":
        raise Forbidden("admins do not handle case documents", code="role_forbidden")


def _validated(doc_type: str, data: dict[str, Any]) -> dict[str, Any]:
    try:
        return dump_fields(doc_type, validate_fields(doc_type, data))
    except ValidationError as exc:
        raise Invalid(
            "文书内容不完整或有误 / the document fields are invalid",
            code="invalid_document_fields",
            details={"fields": exc.messages_dict},
        ) from None


def create_document(
    session: Session,
    user: User,
    case: Case,
    doc_type: str,
    data: dict[str, Any],
    *,
    client_addr: str = "",
) -> Document:
    _ensure_may_write(user, case)
    if doc_type not in DOCUMENT_TYPES:
        raise Invalid(f"unknown document type {doc_type!r}", code="unknown_document_type")
    fields = _validated(doc_type, data)
    doc_id = secrets.token_hex(16)
    doc = Document(
        id=doc_id,
        series_id=doc_id,
        version=1,
        case_id=case.id,
        unit_id=case.unit_id,
        doc_type=doc_type,
        stage=DOCUMENT_TYPES[doc_type].stage,
        fields=fields,
        status="draft",
        created_by_id=user.id,
        created_at=clock.now(),
    )
    session.add(doc)
    session.flush()
    audit.record(
        session,
        actor=user,
        action="document.created",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={"document_id": doc.id, "type": doc_type, "version": 1},
    )
    return doc


def new_version(
    session: Session,
    user: User,
    doc: Document,
    case: Case,
    data: dict[str, Any],
    *,
    client_addr: str = "",
) -> Document:
    """A correction: a new draft version of the series; earlier versions stay. A draft that
    someone signed is corrected so too: it is kept as signed (``withdrawn``) and the new
    version is signed again; one the leader signed is not corrected before it is issued."""
    _ensure_may_write(user, case)
    latest = session.execute(
        sa.select(Document)
        .where(Document.series_id == doc.series_id)
        .order_by(Document.version.desc())
        .limit(1)
        .with_for_update()
    ).scalar_one()
    withdrawn: Document | None = None
    if latest.status == "draft":
        if not latest.signatures:
            raise Conflict(
                "the latest version is still a draft; edit or issue it first",
                code="draft_exists",
                details={"document_id": latest.id},
            )
        if any(s.role == "leader" for s in latest.signatures):
            raise Conflict(
                "负责人已签名，文书不能再修改 / the leader has signed this draft: it can no "
                "longer be edited",
                code="signed_by_leader",
            )
        latest.status, withdrawn = "withdrawn", latest
    fields = _validated(doc.doc_type, data)
    corrected = Document(
        id=secrets.token_hex(16),
        series_id=doc.series_id,
        version=latest.version + 1,
        case_id=case.id,
        unit_id=case.unit_id,
        doc_type=doc.doc_type,
        stage=doc.stage,
        fields=fields,
        status="draft",
        year=latest.year,
        seq=latest.seq,
        number=latest.number,
        created_by_id=user.id,
        created_at=clock.now(),
    )
    session.add(corrected)
    session.flush()
    audit.record(
        session,
        actor=user,
        action="document.corrected",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={
            "document_id": corrected.id,
            "series_id": doc.series_id,
            "version": corrected.version,
            "number": corrected.number,
            **({"withdrawn_signed_draft": withdrawn.id} if withdrawn else {}),
        },
    )
    return corrected


def update_draft(
    session: Session,
    user: User,
    doc: Document,
    case: Case,
    data: dict[str, Any],
    *,
    client_addr: str = "",
) -> Document:
    _ensure_may_write(user, case)
    if doc.status != "draft":
        raise Conflict("an issued document is corrected by a new version", code="not_draft")
    # What the leader signed stays what is issued. Locked as the leader's signature locks it,
    # so an edit and that signature cannot cross.
    session.refresh(doc, with_for_update=True)
    leader_signed = session.execute(
        sa.select(DocumentSignature.id).where(
            DocumentSignature.document_id == doc.id, DocumentSignature.role == "leader"
        )
    ).first()
    if leader_signed:
        raise Conflict(
            "负责人已签名，文书不能再修改 / the leader has signed this draft: it can no longer "
            "be edited",
            code="signed_by_leader",
        )
    fields = _validated(doc.doc_type, data)
    _ensure_unsigned_content(doc, fields)
    doc.fields = fields
    audit.record(
        session,
        actor=user,
        action="document.edited",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={"document_id": doc.id, "version": doc.version},
    )
    return doc


# --- signatures -------------------------------------------------------------------------------


# Who signed, in words (the same as 缺少签名).
SIGNER_WORDS = {
    "officer": ("执法人员", "officer"),
    "party": ("当事人", "party"),
    "leader": ("负责人", "leader"),
    "approver": ("审批人", "approver"),
    "reviewer": ("法制审核人员", "legal reviewer"),
    "recipient": ("受送达人", "recipient"),
}
# A section a later signer writes in a form the earlier ones signed (审批意见): it may still
# be written until one of these roles has signed.
SIGNER_SECTIONS = {"approver_opinion": ("approver", "leader")}


def _ensure_unsigned_content(doc: Document, fields: dict[str, Any]) -> None:
    """A signature attests the content it was given under: once anyone has signed a draft, its
    content stays as signed (a later signer's own section aside). A correction is a new
    version (``new_version``), signed again, with the signed draft kept as it was."""
    if not doc.signatures:
        return
    old = doc.fields or {}
    changed = {k for k in set(old) | set(fields) if old.get(k) != fields.get(k)}
    have = {s.role for s in doc.signatures}
    changed -= {k for k in changed if k in SIGNER_SECTIONS and not have & set(SIGNER_SECTIONS[k])}
    if not changed:
        return
    signed = list(doc.signatures)
    zh = "、".join(f"{SIGNER_WORDS.get(s.role, (s.role,))[0]}{s.signer_name}" for s in signed)
    en = ", ".join(f"{SIGNER_WORDS.get(s.role, ('', s.role))[1]} {s.signer_name}" for s in signed)
    raise Conflict(
        f"{doc_title(doc.doc_type)}已由{zh}签名，签名后内容不能再修改；如需更正，请点"
        "「更正（重新签名）」：已签名的原稿连同签名留存，更正后的新版本须重新签名"
        f" / signed by {en}: the content can no longer be edited; correct it as a new version "
        "(the signed draft is kept with its signatures) and sign that again",
        code="signed_draft",
        details={"document_id": doc.id, "signed_by": sorted(have), "fields": sorted(changed)},
    )


def _png_from_data_url(image: str) -> bytes:
    prefix = "data:image/png;base64,"
    if not image.startswith(prefix):
        raise Invalid(
            "签名须为 PNG 图像 / the signature must be a PNG data URL", code="invalid_signature"
        )
    try:
        return base64.b64decode(image[len(prefix) :], validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(
            "签名图像损坏 / the signature image is corrupt", code="invalid_signature"
        ) from None


def _legal_gate(session: Session, case: Case, doc_type: str) -> None:
    """No decision document before an agreed review; a major one also needs the discussion."""
    if doc_type not in DECISION_TYPES:
        return
    if needs_legal_review(case):
        review = latest_review(session, case.id)
        if review is None or review.status != "agreed":
            who = "重大执法决定" if case.is_major else "本案"
            raise Conflict(
                f"{who}须先经法制审核同意，才能作出并签发处罚决定书"
                " / an agreed legal review is required first",
                code="legal_review_required",
                details={"review_status": review.status if review else None},
            )
    if case.is_major:
        discussed = session.execute(
            sa.select(Document.id).where(
                Document.case_id == case.id,
                Document.doc_type == "collective_discussion_record",
                Document.status == "issued",
            )
        ).first()
        if not discussed:
            raise Conflict(
                "重大执法决定须经集体讨论：缺少已出具的《案件集体讨论笔录》"
                " / a major decision needs the collective discussion record",
                code="collective_discussion_required",
            )


def add_signature(
    session: Session,
    storage: Storage,
    bucket: str,
    user: User,
    doc: Document,
    case: Case,
    *,
    role: str,
    signer_name: str,
    image: str,
    device_signed_at: datetime | None = None,
    shown_content_sha256: str | None = None,
    retain_until: datetime,
    client_addr: str = "",
) -> DocumentSignature:
    _ensure_may_write(user, case)
    if doc.status != "draft":
        raise Conflict(
            "an issued document cannot be signed again; correct it with a new version",
            code="not_draft",
        )
    needed = DOCUMENT_TYPES[doc.doc_type].signatures
    if role not in needed:
        raise Invalid(
            f"{doc.doc_type} takes no {role!r} signature (needs {list(needed)})",
            code="signature_role_invalid",
        )
    own_roles = {"leader": {"leader"}, "reviewer": {"legal"}, "approver": {"supervisor", "leader"}}
    if role in own_roles and user.role not in own_roles[role]:
        raise Forbidden(
            f"only {'/'.join(sorted(own_roles[role]))} signs as {role}", code="role_forbidden"
        )
    if role == "officer" and user.role not in ("officer", "supervisor"):
        raise Forbidden("only enforcement officers sign as officer", code="role_forbidden")
    if role == "leader":
        _legal_gate(session, case, doc.doc_type)
        decision_binding.require_match(
            session, case, doc, shown_content_sha256=shown_content_sha256, signing=True
        )
    png = _png_from_data_url(image)
    try:
        render_signature_check(png)
    except ValueError as exc:
        raise Invalid(str(exc), code="invalid_signature") from None
    count = len(doc.signatures)
    key = doc_key(case.id, doc.id, f"signature-{count + 1}-{role}.png")
    version = storage.put(bucket, key, png, content_type="image/png")
    storage.lock(bucket, key, version_id=version, until=retain_until)
    signature = DocumentSignature(
        document_id=doc.id,
        role=role,
        signer_name=signer_name,
        user_id=user.id if role in ("officer", "leader", "reviewer", "approver") else None,
        captured_by_id=user.id,
        bucket=bucket,
        object_key=key,
        object_version=version,
        sha256=hashlib.sha256(png).hexdigest(),
        signed_at=clock.now(),
        device_signed_at=device_signed_at,
    )
    session.add(signature)
    session.flush()
    session.refresh(doc, ["signatures"])
    audit.record(
        session,
        actor=user,
        action="document.signed",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={
            "document_id": doc.id,
            "role": role,
            "signer": signer_name,
            "sha256": signature.sha256,
            # the content signed: the version's hash as the review-match endpoint gives it
            "content_sha256": decision_binding.content_sha256(doc),
        },
    )
    return signature


# --- numbering and issue ----------------------------------------------------------------------


def next_seq(session: Session, unit_id: int, doc_type: str, year: int) -> int:
    """The next number in the unit's series for this type and year.

    The counter row is created if missing and incremented with UPDATE … RETURNING, which locks
    it until the caller's transaction ends: numbers are gapless (a rolled-back issue gives its
    number back) and two concurrent issues never get the same one.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(DocumentCounter)
        .values(unit_id=unit_id, doc_type=doc_type, year=year, last_seq=0)
        .on_conflict_do_nothing()
    )
    return session.execute(
        sa.update(DocumentCounter)
        .where(
            DocumentCounter.unit_id == unit_id,
            DocumentCounter.doc_type == doc_type,
            DocumentCounter.year == year,
        )
        .values(last_seq=DocumentCounter.last_seq + 1)
        .returning(DocumentCounter.last_seq)
        .execution_options(synchronize_session=False)
    ).scalar_one()


def format_number(unit: Unit, abbr: str, year: int, seq: int) -> str:
    # The unit's prefix (沪静市监), else its full name; never its code (see services/units.py).
    prefix = unit_service.number_prefix(unit, object_session(unit))
    return f"{prefix}{abbr}〔{year}〕{seq}号"


def issue_document(
    session: Session,
    storage: Storage,
    bucket: str,
    user: User,
    doc: Document,
    case: Case,
    *,
    retain_until: datetime,
    client_addr: str = "",
) -> Document:
    _ensure_may_write(user, case)
    if doc.status != "draft":
        raise Conflict("this version is already issued", code="already_issued")
    doc_type = DOCUMENT_TYPES[doc.doc_type]
    have = {s.role for s in doc.signatures}
    missing = [r for r in doc_type.signatures if r not in have]
    if missing:
        raise Conflict(
            "缺少签名：" + "、".join(SIGNER_WORDS.get(r, (r,))[0] for r in missing),
            code="signatures_missing",
            details={"missing": missing},
        )
    _legal_gate(session, case, doc.doc_type)
    decision_binding.require_match(session, case, doc)
    now = clock.now()
    if doc.number is None:
        # Lock order: the audit chain first, then the counter row (every audited write takes
        # the chain lock, so taking the counter first could deadlock with such a writer).
        audit.lock_chain(session)
        year = now.astimezone(clock.ZONE).year
        unit = session.get(Unit, case.unit_id)
        assert unit is not None
        seq = next_seq(session, case.unit_id, doc.doc_type, year)
        doc.year, doc.seq, doc.number = year, seq, format_number(unit, doc_type.abbr, year, seq)
    unit_name = unit_service.display_name(session.get(Unit, case.unit_id), session)
    signatures = [
        SignatureImage(
            role=s.role,
            signer_name=s.signer_name,
            png=storage.get_bytes(s.bucket, s.object_key, version_id=s.object_version),
            signed_at=s.signed_at,
        )
        for s in doc.signatures
    ]
    pdf = render_pdf(
        RenderInput(
            doc_type=doc_type,
            unit_name=unit_name,
            number=doc.number,
            case_number=case.number,
            case_title=case.title,
            fields=doc.fields,
            signatures=signatures,
            version=doc.version,
            issued_at=now,
            content_sha256_note=None,
        )
    )
    key = doc_key(case.id, doc.id, f"v{doc.version}.pdf")
    version = storage.put(bucket, key, pdf, content_type="application/pdf")
    storage.lock(bucket, key, version_id=version, until=retain_until)
    doc.bucket, doc.object_key, doc.object_version = bucket, key, version
    doc.sha256, doc.size = hashlib.sha256(pdf).hexdigest(), len(pdf)
    doc.status, doc.issued_at, doc.issued_by_id = "issued", now, user.id
    for earlier in session.execute(
        sa.select(Document).where(
            Document.series_id == doc.series_id,
            Document.id != doc.id,
            Document.status == "issued",
        )
    ).scalars():
        earlier.status = "superseded"
    _apply_effects(case, doc)
    session.flush()
    if doc.doc_type in PUBLISHED_TYPES and doc.version == 1:
        _prepare_publication(session, case, doc, user)
    audit.record(
        session,
        actor=user,
        action="document.issued",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={
            "document_id": doc.id,
            "type": doc.doc_type,
            "number": doc.number,
            "version": doc.version,
            "sha256": doc.sha256,
            "size": doc.size,
        },
    )
    return doc


# Decisions published after the fact (事后公开); a correction is handled by the admin there.
PUBLISHED_TYPES = frozenset({"penalty_decision", "onsite_penalty_decision"})


def _prepare_publication(session: Session, case: Case, doc: Document, user: User) -> None:
    """Announce the issued decision; disclosure queues it for publication (事后公开)."""
    decision_issued.send(session, case=case, document=doc, actor=user)


def publication_source(case: Case, doc: Document) -> dict[str, Any]:
    """What the public page of an issued decision is made from, before redaction."""
    party = doc.fields.get("party") or {}
    natural = party.get("type") == "natural"
    decided = clock.today(doc.issued_at)
    others = [party["legal_representative"]] if party.get("legal_representative") else []
    return dict(
        unit_id=case.unit_id,
        case_id=case.id,
        document_id=doc.id,
        number=doc.number or "",
        title=f"{DOCUMENT_TYPES[doc.doc_type].title['zh']}（{case.title}）",
        decided_at=decided,
        party_kind="natural" if natural else "legal",
        party_name=party.get("name", ""),
        other_names=others,
        facts=str(doc.fields.get("facts", "")),
        legal_basis=str(doc.fields.get("legal_basis", "")),
        penalties=[
            {"kind": p.get("kind"), "amount": p.get("amount")}
            for p in doc.fields.get("penalties") or []
        ],
        sensitive=(case.decision_draft or {}).get("withhold_reason"),
    )


def _apply_effects(case: Case, doc: Document) -> None:
    """What an issued document changes on the case."""
    if doc.doc_type == "service_receipt" and doc.fields.get("served_at"):
        served = doc.fields["served_at"]
        case.service_date = date.fromisoformat(str(served)[:10])
    if doc.doc_type in ("penalty_decision", "onsite_penalty_decision"):
        penalties = doc.fields.get("penalties") or []
        draft = dict(case.decision_draft or {})
        draft["penalties"] = [{"kind": p.get("kind"), "amount": p.get("amount")} for p in penalties]
        case.decision_draft = draft


def remedy_windows(case: Case) -> dict[str, str] | None:
    """From the date of service: reconsideration within 60 days, litigation within 6 months."""
    if case.service_date is None:
        return None
    served = case.service_date
    month = served.month + 6
    year = served.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    day = min(
        served.day,
        [
            31,
            29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ][month - 1],
    )
    return {
        "served_on": served.isoformat(),
        "reconsideration_until": (served + timedelta(days=60)).isoformat(),
        "litigation_until": date(year, month, day).isoformat(),
    }


# --- handover to the party --------------------------------------------------------------------


def create_handover(
    session: Session,
    user: User,
    doc: Document,
    case: Case,
    *,
    minutes: int,
    client_addr: str = "",
) -> DocumentHandover:
    if doc.status == "superseded":
        raise Conflict(
            "此版本已被更正，请交付现行版本 / corrected since: hand over the current version",
            code="superseded",
        )
    if doc.status != "issued":
        raise Conflict("only an issued document can be handed over", code="not_issued")
    if not DOCUMENT_TYPES[doc.doc_type].for_the_party:
        raise Conflict(
            f"{doc_title(doc.doc_type)}是内部文书，不交付当事人"
            " / an internal document is not handed to the party",
            code="not_for_the_party",
        )
    token = secrets.token_urlsafe(32)
    handover = DocumentHandover(
        id=token,
        document_id=doc.id,
        created_by_id=user.id,
        created_at=clock.now(),
        expires_at=clock.now() + timedelta(minutes=minutes),
    )
    session.add(handover)
    audit.record(
        session,
        actor=user,
        action="document.handover_offered",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={
            "document_id": doc.id,
            "number": doc.number,
            "expires_at": handover.expires_at.isoformat(),
        },
    )
    return handover


def open_handover(session: Session, token: str, *, client_addr: str = "") -> Document:
    """The party opens the link: the document is handed over (事中公示: 出具执法文书)."""
    handover = session.get(DocumentHandover, token)
    now = clock.now()
    if handover is None or handover.expires_at <= now:
        raise NotFound(
            "链接无效或已过期 / the link is invalid or has expired", code="handover_expired"
        )
    doc = session.get(Document, handover.document_id)
    assert doc is not None
    first = handover.first_opened_at is None
    handover.open_count += 1
    if first:
        handover.first_opened_at = now
    audit.record(
        session,
        actor=None,
        action="document.handed_over" if first else "document.reopened",
        object_type="case",
        object_id=doc.case_id,
        client_addr=client_addr,
        details={
            "document_id": doc.id,
            "number": doc.number,
            "sha256": doc.sha256,
            "offered_by": handover.created_by_id,
        },
    )
    return doc


def series_versions(session: Session, doc: Document) -> list[Document]:
    return list(
        session.execute(
            sa.select(Document)
            .where(Document.series_id == doc.series_id)
            .order_by(Document.version)
        ).scalars()
    )


def awaiting_leader_signature(session: Session, user: User) -> list[tuple[Document, Case]]:
    """Drafts in the cases ``user`` sees (not archived) whose type takes the leader's signature
    and that have none yet, the longest waiting first: the leader's signing list."""
    from .cases import visible_cases

    types = [code for code, t in DOCUMENT_TYPES.items() if "leader" in t.signatures]
    cases = visible_cases(user).with_only_columns(Case.id).where(Case.current_stage != "archive")
    signed = sa.select(DocumentSignature.document_id).where(DocumentSignature.role == "leader")
    rows = session.execute(
        sa.select(Document, Case)
        .join(Case, Case.id == Document.case_id)
        .where(
            Document.case_id.in_(cases),
            Document.status == "draft",
            Document.doc_type.in_(types),
            Document.id.not_in(signed),
        )
        .order_by(Document.created_at, Document.id)
    ).all()
    return [(doc, case) for doc, case in rows]


def case_documents(session: Session, case: Case) -> list[Document]:
    return list(
        session.execute(
            sa.select(Document)
            .where(Document.case_id == case.id)
            .order_by(Document.created_at, Document.version)
        ).scalars()
    )
