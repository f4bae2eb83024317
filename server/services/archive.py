"""Archiving a case (归档) and exporting its self-verifying case file (案卷) as a zip.

The zip format is specified in ``server/archive/verify.py``, which is copied into every
archive so an auditor can check it offline with the Python standard library alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, object_session

from .. import clock
from ..domain import ACTIVITY_LABELS, PROCEDURE_LABELS, STAGE_LABELS, MediaStatus
from ..errors import Conflict
from ..models import (
    AuditEntry,
    AuditHead,
    Case,
    CaseStage,
    Derivative,
    Document,
    MediaItem,
    Unit,
    User,
)
from ..storage import Storage
from ..workflow.coverage import minutes_and_seconds
from . import audit, transparency
from .content_credentials import SIGNABLE, ContentCredentials, Original, derivative_actions
from .custody_export import KIND_WORDS, local_time, pdf_font
from .restore import current_version
from .signing import Signer, key_fingerprint
from .units import display_name

FORMAT = "fieldtrace-case-archive/1"
VERIFY_SOURCE = Path(__file__).resolve().parent.parent / "archive" / "verify.py"
README = """Fieldtrace 案卷 / case archive

manifest.json   每个文件的 SHA-256、案件信息、证据条目与文书 / every file's SHA-256
signature.json  服务器对 manifest 的 Ed25519 签名 / the server's signature of the manifest
custody.json    本案的监管链条目（含链式哈希）/ the case's custody entries with chain hashes
log.json        上述条目在公开审计日志（默克尔树）中的包含证明及签名树头 / each custody entry's
                inclusion proof in the public audit log's Merkle tree, and the signed tree head
verify.py       离线校验（仅需 Python 3 标准库）/ offline check, Python 3 standard library only
derivatives/    照片预览、视频代理等副本，内嵌单位签名的 C2PA 内容凭证（原始文件不在其内）/ copies
                with C2PA content credentials signed for the unit (check with a C2PA reader;
                trust anchor: /public/signing-keys/c2pa-ca.pem)
credentialed/   已签发文书带 C2PA 内容凭证的副本 / issued PDFs with C2PA content credentials

本案卷由以下公钥签名（仅供与公布的公钥核对，不能作为信任依据）：
Signed with this key (compare it with the published key; it is NOT proof by itself):
    {public_key}
    {fingerprint}

请从执法单位公布的页面（/public/signing-keys）或其他独立渠道获取公钥和校验程序，
不要只用本压缩包内的 verify.py：包内的文件可能与案卷一起被替换。
Obtain the public key and the verifier independently (the unit's published page
/public/signing-keys, or another channel you trust), not only the verify.py in this zip:
whoever could replace the archive could replace its verifier too.

    python3 verify.py this-archive.zip --public-key PUBLISHED_HEX

退出码 0：完好且签名公钥与公布的一致；1：发现问题（列出被改动的文件或条目）；
3：未给出 --public-key，未核对签名公钥（UNAUTHENTICATED）。
Exit 0: intact and signed by the published key; 1: a problem (names the altered file or
entry); 3: no --public-key given, so the signing key was not checked (UNAUTHENTICATED).
"""


def retention_years(item: MediaItem, linked: set[str], config: dict[str, Any]) -> int:
    """Evidence used in the decision is kept for the long period, the rest for the normal."""
    if item.key_evidence or item.id in linked:
        return int(config["ARCHIVE_KEY_EVIDENCE_YEARS"])
    return int(config["ARCHIVE_RETENTION_YEARS"])


def _linked_media(docs: list[Document]) -> set[str]:
    """Media ids named in any document field (e.g. the service recording)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key.endswith("media_id") and isinstance(inner, str):
                    found.add(inner)
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    for doc in docs:
        walk(doc.fields)
    return found


def issued_documents(session: Session, case_id: int) -> list[Document]:
    return list(
        session.execute(
            sa.select(Document)
            .where(Document.case_id == case_id, Document.status.in_(("issued", "superseded")))
            .order_by(Document.issued_at, Document.version)
        ).scalars()
    )


def case_file_media(session: Session, case_id: int) -> list[MediaItem]:
    """The case's audio-visual records (音像记录) that belong in its file: every recording
    except an original whose bytes did not match the device's hash (not evidence)."""
    return list(
        session.execute(
            sa.select(MediaItem)
            .where(MediaItem.case_id == case_id, MediaItem.status != MediaStatus.HASH_MISMATCH)
            .order_by(MediaItem.captured_at, MediaItem.id)
        ).scalars()
    )


def _media_entry(item: MediaItem) -> dict[str, Any]:
    from .workflow import MEDIA_LABELS

    activity = ACTIVITY_LABELS.get(item.activity, {}).get("zh", item.activity)
    kind = MEDIA_LABELS.get(item.kind, item.kind)
    note = [f"编号 {item.id[:8]}"]
    if item.duration_s:
        note.append(f"时长 {minutes_and_seconds(timedelta(seconds=item.duration_s))}")
    if sha := item.server_sha256 or item.device_sha256:
        note.append(f"SHA-256 {sha[:8]}…")
    return {
        "title": f"音像记录：{activity}（{kind}）",
        "number": "",
        "date": local_time(item.captured_at)[:10],
        "note": "，".join(note),
    }


def catalogue_fields(docs: Sequence[Document], items: Sequence[MediaItem] = ()) -> dict[str, Any]:
    """The 案卷目录: the issued documents in order of issue, then the audio-visual records
    in order of capture, so the catalogue indexes everything the case file holds."""
    from ..documents.registry import DOCUMENT_TYPES

    entries = [
        {
            "title": DOCUMENT_TYPES[d.doc_type].title["zh"]
            + (f"（第{d.version}版）" if d.version > 1 else ""),
            "number": d.number or "",
            "date": local_time(d.issued_at)[:10],
            "pages": 1,
        }
        for d in docs
    ] + [_media_entry(item) for item in items]
    return {"entries": [{"seq": n, **entry} for n, entry in enumerate(entries, start=1)]}


def ensure_case_file_not_empty(
    case: Case, docs: Sequence[Document], items: Sequence[MediaItem]
) -> None:
    """An archived case file with neither a document nor a recording would seal nothing;
    the stage gate (``workflow.case_file_check``) refuses it first, in the same words."""
    if not docs and not items:
        from .workflow import CASE_FILE_EMPTY

        raise Conflict(
            f"案件 {case.number}：{CASE_FILE_EMPTY['zh']} / {CASE_FILE_EMPTY['en']}",
            code="case_file_empty",
        )


def ensure_media_verified(case: Case, items: Sequence[MediaItem]) -> None:
    """Archiving waits for every recording still being verified: the archive retention is set
    here, once, on verified originals; a recording verified later would keep the short
    default retention of a live case (and an unverified one cannot be locked yet)."""
    pending = [item.id for item in items if item.status == MediaStatus.RECEIVED]
    if pending:
        raise Conflict(
            f"案件 {case.number}：{len(pending)} 个音像记录仍在核验中，请稍后再归档 / "
            f"{len(pending)} recording(s) still being verified, archive when they are: "
            + ", ".join(pending[:10]),
            code="media_verification_pending",
        )


def archive_case(
    session: Session,
    user: User,
    case: Case,
    *,
    storage: Storage | None = None,
    config: dict[str, Any] | None = None,
    client_addr: str = "",
) -> Case:
    """Close the case: issue the catalogue, extend retention of its originals, make it read-only."""
    from ..runtime import runtime
    from .documents import create_document, issue_document

    rt = runtime()
    storage = storage or rt.storage
    config = config or rt.config
    now = clock.now()
    long_until = now + timedelta(days=365 * int(config["ARCHIVE_KEY_EVIDENCE_YEARS"]))
    docs = [d for d in issued_documents(session, case.id) if d.status == "issued"]
    media = case_file_media(session, case.id)
    ensure_case_file_not_empty(case, docs, media)  # before anything is written
    ensure_media_verified(case, media)
    catalogue = create_document(
        session,
        user,
        case,
        "case_catalogue",
        catalogue_fields(docs, media),
        client_addr=client_addr,
    )
    issue_document(
        session,
        storage,
        config["S3_BUCKET_ORIGINALS"],
        user,
        catalogue,
        case,
        retain_until=long_until,
        client_addr=client_addr,
    )
    linked = _linked_media(docs)
    extended = 0
    items = session.execute(
        sa.select(MediaItem).where(MediaItem.case_id == case.id, MediaItem.status == "verified")
    ).scalars()
    for item in items:
        until = now + timedelta(days=365 * retention_years(item, linked, config))
        if item.locked_until is None or item.locked_until < until:
            storage.lock(item.bucket, item.object_key, version_id=item.object_version, until=until)
            item.locked_until = until
            extended += 1
    for doc in issued_documents(session, case.id):
        if doc.object_key:
            storage.lock(
                doc.bucket or "", doc.object_key, version_id=doc.object_version, until=long_until
            )
        for sig in doc.signatures:  # the handwritten signatures are evidence too
            storage.lock(
                sig.bucket, sig.object_key, version_id=sig.object_version, until=long_until
            )
    case.archived_at = now
    audit.record(
        session,
        actor=user,
        action="case.archived",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={"catalogue": catalogue.number, "retention_extended": extended},
    )
    return case


# --- export ------------------------------------------------------------------------------------


def custody_entries(session: Session, case: Case, item_ids: list[str]) -> list[AuditEntry]:
    """Every audit entry about the case or one of its items, in chain order.

    Items are found by their rows and, independently, by the ``upload.completed`` entries
    that recorded the case (uploads since the entry carries ``case_id``): an item whose row
    was deleted still shows in the custody log, so the gap is visible.
    """
    recorded = session.execute(
        sa.select(AuditEntry.object_id).where(
            AuditEntry.action == "upload.completed",
            AuditEntry.object_type == "media",
            AuditEntry.details["case_id"].as_integer() == case.id,
        )
    ).scalars()
    media_ids = sorted(set(item_ids) | set(recorded))
    conditions = [sa.and_(AuditEntry.object_type == "case", AuditEntry.object_id == str(case.id))]
    if media_ids:
        conditions.append(
            sa.and_(AuditEntry.object_type == "media", AuditEntry.object_id.in_(media_ids))
        )
    return list(
        session.execute(
            sa.select(AuditEntry).where(sa.or_(*conditions)).order_by(AuditEntry.seq)
        ).scalars()
    )


# --- integrity at export -----------------------------------------------------------------------

EXPORT_REFUSED = "archive_integrity_mismatch"


def _same_instant(recorded: Any, value: datetime | None) -> bool:
    if recorded is None or value is None:
        return recorded is None and value is None
    try:
        return datetime.fromisoformat(str(recorded)) == value
    except ValueError:
        return False


def derived_hashes(entries: Sequence[AuditEntry]) -> dict[str, dict[str, str]]:
    """Media id → derivative name → SHA-256, as the ``media.derived`` entries recorded them
    (a later run's hash replaces an earlier one; entries before hashes were recorded add
    nothing)."""
    found: dict[str, dict[str, str]] = {}
    for entry in sorted(entries, key=lambda e: e.seq):
        hashes = (entry.details or {}).get("sha256") if entry.action == "media.derived" else None
        if isinstance(hashes, dict):
            found.setdefault(entry.object_id, {}).update(hashes)
    return found


def recorded_differences(
    case: Case, items: Sequence[MediaItem], entries: Sequence[AuditEntry]
) -> list[str]:
    """Where the item rows disagree with what the audit chain recorded when each recording was
    received (``upload.completed``) and verified (``media.verified``); [] when they agree.

    The rows are mutable, the chain entries are not (an edit breaks the chain): a row changed
    behind the application's back must not be signed into a case file.
    """
    by_media: dict[str, list[AuditEntry]] = {}
    for entry in entries:
        if entry.object_type == "media":
            by_media.setdefault(entry.object_id, []).append(entry)
    found: list[str] = []
    known = {item.id for item in items}
    for item in items:
        mine = by_media.get(item.id, [])
        completed = next((e for e in mine if e.action == "upload.completed"), None)
        if completed is None:
            found.append(f"item {item.id}: no upload.completed audit entry")
        else:
            d = completed.details or {}
            pairs: list[tuple[str, Any, Any]] = [
                ("object_key", d.get("key"), item.object_key),
                # the version stored at upload, or the one a restore moved it to (audited)
                ("object_version", current_version(d.get("version_id"), mine), item.object_version),
                ("device_sha256", d.get("device_sha256"), item.device_sha256),
            ]
            pairs += [
                (name, d[name], getattr(item, name))
                for name in (
                    "case_id",
                    "stage",
                    "activity",
                    "captured_at_offset_min",
                    "device_clock_offset_s",
                    "latitude",
                    "longitude",
                    "device_id",
                )
                if name in d
            ]
            for name, was, now in pairs:
                if was != now:
                    found.append(
                        f"item {item.id}: {name} is {now!r}, upload.completed "
                        f"(seq {completed.seq}) recorded {was!r}"
                    )
            for name in ("captured_at", "captured_end_at"):
                if name in d and not _same_instant(d[name], getattr(item, name)):
                    found.append(
                        f"item {item.id}: {name} differs from upload.completed "
                        f"(seq {completed.seq})"
                    )
        for verified in (e for e in mine if e.action == "media.verified"):
            d = verified.details or {}
            if d.get("sha256") != item.server_sha256 or d.get("key", item.object_key) != (
                item.object_key
            ):
                found.append(
                    f"item {item.id}: server_sha256/object differ from media.verified "
                    f"(seq {verified.seq})"
                )
        if item.status == MediaStatus.VERIFIED and item.server_sha256 != item.device_sha256:
            found.append(f"item {item.id}: verified but server and device SHA-256 differ")
    for media_id, mine in sorted(by_media.items()):
        if media_id not in known and any(e.action == "upload.completed" for e in mine):
            found.append(
                f"media {media_id}: recorded for this case by upload.completed "
                f"(seq {mine[0].seq}) but has no item in the case"
            )
    return found


def refuse_export(
    session: Session,
    case: Case,
    problems: list[str],
    *,
    actor: User | None = None,
    client_addr: str = "",
) -> None:
    """Audit the refusal (committed: the refusal must outlive the failed request) and raise."""
    audit.record(
        session,
        actor=actor,
        action="case.archive_export_refused",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={"code": EXPORT_REFUSED, "problems": problems[:50], "count": len(problems)},
    )
    session.commit()
    raise Conflict(
        f"案卷导出被拒绝：存储或数据库中的证据与记录不符 / export refused: the stored evidence "
        f"does not match its records ({len(problems)}): " + "; ".join(problems[:5]),
        code=EXPORT_REFUSED,
    )


def _entry_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at.isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id,
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "client_addr": entry.client_addr,
        "details": entry.details or {},
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }


def cover_pdf(case: Case, unit: Unit, stages: list[CaseStage], counts: dict[str, int]) -> bytes:
    """The case file's cover (案卷封面)."""
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

    font = pdf_font()
    title = ParagraphStyle("t", fontName=font, fontSize=26, leading=34, alignment=1)
    body = ParagraphStyle("b", fontName=font, fontSize=12, leading=20)
    parties = "、".join(p.get("name", "") for p in case.parties or [])
    rows = [
        ("案号", case.number),
        ("案由", case.title),
        ("执法单位", display_name(unit, object_session(unit))),
        ("程序", PROCEDURE_LABELS[case.procedure]["zh"]),
        ("当事人", parties),
        ("立案日期", local_time(case.created_at)[:10]),
        ("归档日期", local_time(case.archived_at)[:10] if case.archived_at else "（未归档）"),
        ("环节", " → ".join(STAGE_LABELS[s.stage]["zh"] for s in stages)),
        (
            "音像资料",
            "，".join(f"{KIND_WORDS[k][0]} {v}" for k, v in sorted(counts.items())) or "无",
        ),
    ]
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=25 * mm, rightMargin=25 * mm)
    table = Table(
        [[Paragraph(escape(k), body), Paragraph(escape(v), body)] for k, v in rows],
        colWidths=[35 * mm, 120 * mm],
    )
    doc.build([Spacer(1, 40 * mm), Paragraph("行政执法案卷", title), Spacer(1, 20 * mm), table])
    return out.getvalue()


class _ZipWriter:
    """Adds members to the zip while recording their size and SHA-256 for the manifest."""

    def __init__(self, fileobj: IO[bytes]) -> None:
        self.zip = zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED)
        self.files: list[dict[str, Any]] = []

    def add(self, path: str, data: bytes, kind: str, **ref: Any) -> dict[str, Any]:
        self.zip.writestr(path, data)
        entry = {
            "path": path,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "kind": kind,
            **ref,
        }
        self.files.append(entry)
        return entry

    def add_stream(self, path: str, chunks: Any, kind: str, **ref: Any) -> dict[str, Any]:
        digest, size = hashlib.sha256(), 0
        with self.zip.open(path, "w", force_zip64=True) as out:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        entry = {"path": path, "sha256": digest.hexdigest(), "size": size, "kind": kind, **ref}
        self.files.append(entry)
        return entry


def _ext(name: str, content_type: str) -> str:
    if "." in name[-6:]:
        return name.rsplit(".", 1)[1][:5]
    return {
        "image/jpeg": "jpg",
        "image/png": "png",
        "image/webp": "webp",
        "video/mp4": "mp4",
        "audio/mp4": "m4a",
        "application/json": "json",
    }.get(content_type, "bin")


def export_archive(
    session: Session,
    storage: Storage,
    signer: Signer,
    case: Case,
    out: IO[bytes],
    *,
    include_originals: bool = False,
    actor: User | None = None,
    client_addr: str = "",
    credentials: ContentCredentials | None = None,
) -> dict[str, Any]:
    """Write the case file to ``out``; returns the manifest (``out`` is closed on refusal).

    With ``credentials``, the copies that leave the system carry C2PA content credentials:
    each photo preview, poster, thumbnail and audio/video proxy is exported as its stored
    derivative with a signed manifest embedded (naming the original's SHA-256 and what was
    done), and each issued PDF gets a credentialed copy (``credentialed/documents/...pdf``; the
    one in ``documents/`` stays byte for byte the PDF issued, as its recorded hash says).
    Originals never get one.

    Refuses (``Conflict`` with code ``archive_integrity_mismatch``, audited as
    ``case.archive_export_refused``) when an item's row disagrees with its audit entries or a
    file read from storage does not hash to its recorded SHA-256: the server must not sign
    evidence changed behind its back. Signs a fresh audit head when no head by this key
    covers the case's last custody entry.
    """

    writers: list[_ZipWriter] = []

    def refuse(problems: list[str]) -> None:
        # Nothing of a refused export may be sent: the partial zip and ``out`` are closed.
        for opened in writers:
            with contextlib.suppress(Exception):
                opened.zip.close()
        out.close()
        refuse_export(session, case, problems, actor=actor, client_addr=client_addr)

    from ..documents.registry import DOCUMENT_TYPES
    from ..documents.render import RenderInput, render_pdf

    unit = session.get(Unit, case.unit_id)
    assert unit is not None
    stages = list(
        session.execute(
            sa.select(CaseStage).where(CaseStage.case_id == case.id).order_by(CaseStage.started_at)
        ).scalars()
    )
    items = list(
        session.execute(
            sa.select(MediaItem).where(MediaItem.case_id == case.id).order_by(MediaItem.captured_at)
        ).scalars()
    )
    docs = issued_documents(session, case.id)
    entries = custody_entries(session, case, [i.id for i in items])
    derived = derived_hashes(entries)
    if problems := recorded_differences(case, items, entries):
        refuse(problems)
    counts: dict[str, int] = {}
    for item in items:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    writer = _ZipWriter(out)
    writers.append(writer)
    writer.add("cover.pdf", cover_pdf(case, unit, stages, counts), "cover")
    catalogue = next((d for d in reversed(docs) if d.doc_type == "case_catalogue"), None)
    if catalogue is None:  # not archived yet: a draft catalogue of what is issued so far
        pdf = render_pdf(
            RenderInput(
                doc_type=DOCUMENT_TYPES["case_catalogue"],
                unit_name=display_name(unit, session),
                number=None,
                case_number=case.number,
                case_title=case.title,
                fields=catalogue_fields(
                    [d for d in docs if d.status == "issued"],
                    [i for i in items if i.status != MediaStatus.HASH_MISMATCH],
                ),
                signatures=[],
                version=1,
                issued_at=None,
                content_sha256_note=None,
            )
        )
        writer.add("catalogue.pdf", pdf, "catalogue")
    documents = []
    for doc in docs:
        # Numbers restart each year: the year keeps 〔2025〕1号 and 〔2026〕1号 apart.
        number = f"{doc.year}-{doc.seq}" if doc.seq else doc.id[:8]
        path = f"documents/{doc.doc_type}-{number}-v{doc.version}.pdf"
        data = storage.get_bytes(
            doc.bucket or "", doc.object_key or "", version_id=doc.object_version
        )
        if doc.sha256 and hashlib.sha256(data).hexdigest() != doc.sha256:
            refuse([f"document {doc.id}: stored PDF does not match its recorded SHA-256"])
        writer.add(
            path,
            data,
            "catalogue" if doc.doc_type == "case_catalogue" else "document",
            document_id=doc.id,
        )
        credentialed = None
        if credentials is not None and doc.sha256:
            # C2PA rewrites a PDF whole: the copy goes beside the issued file, not over it.
            signed_pdf = io.BytesIO()
            stamped = credentials.sign(
                io.BytesIO(data),
                signed_pdf,
                content_type="application/pdf",
                title=path.rsplit("/", 1)[1],
                original=Original(
                    sha256=doc.sha256, content_type="application/pdf", id=doc.id, kind="document"
                ),
                actions=["c2pa.published"],
            )
            copy = writer.add(
                f"credentialed/{path}",
                signed_pdf.getvalue(),
                "document_credentials",
                document_id=doc.id,
            )
            credentialed = {
                "path": copy["path"],
                "sha256": copy["sha256"],
                "size": copy["size"],
                "timestamped": stamped,
            }
        documents.append(
            {
                "content_credentials": credentialed,
                "id": doc.id,
                "series_id": doc.series_id,
                "type": doc.doc_type,
                "title": DOCUMENT_TYPES[doc.doc_type].title["zh"],
                "number": doc.number,
                "version": doc.version,
                "status": doc.status,
                "stage": doc.stage,
                "issued_at": doc.issued_at.isoformat() if doc.issued_at else None,
                "sha256": doc.sha256,
                "path": path,
                "fields": doc.fields,
                "signatures": [
                    {
                        "role": s.role,
                        "signer_name": s.signer_name,
                        "sha256": s.sha256,
                        "signed_at": s.signed_at.isoformat(),
                        "device_signed_at": (
                            s.device_signed_at.isoformat() if s.device_signed_at else None
                        ),
                    }
                    for s in doc.signatures
                ],
            }
        )
        for n, sig in enumerate(doc.signatures, start=1):
            png = storage.get_bytes(sig.bucket, sig.object_key, version_id=sig.object_version)
            if hashlib.sha256(png).hexdigest() != sig.sha256:
                refuse([f"document {doc.id}: stored signature {n} does not match its SHA-256"])
            writer.add(
                f"signatures/{doc.id}/{n}-{sig.role}.png", png, "signature", document_id=doc.id
            )
    item_rows = []
    derivatives = session.execute(
        sa.select(Derivative).where(Derivative.media_item_id.in_([i.id for i in items]))
    ).scalars()
    by_item: dict[str, list[Derivative]] = {}
    for d in derivatives:
        by_item.setdefault(d.media_item_id, []).append(d)
    for item in items:
        row = {
            "id": item.id,
            "kind": item.kind,
            "activity": item.activity,
            "activity_label": ACTIVITY_LABELS.get(item.activity, {}).get("zh"),
            "chosen_stage": item.stage,
            "attached_stage": item.attached_stage,
            "filename": item.filename,
            "size": item.size,
            "status": item.status,
            "device_sha256": item.device_sha256,
            "server_sha256": item.server_sha256,
            "object_key": item.object_key,
            "object_version": item.object_version,
            # Device time as the device reported it (offset in minutes east of UTC), the
            # device's clock error measured at upload, and the server's own times.
            "captured_at": item.captured_at.isoformat(),
            "captured_at_offset_min": item.captured_at_offset_min,
            "captured_end_at": _iso(item.captured_end_at),
            "file_captured_at": _iso(item.file_captured_at),
            "device_clock_offset_s": item.device_clock_offset_s,
            "received_at": item.received_at.isoformat(),
            "stored_at": _iso(item.stored_at),
            "verified_at": _iso(item.verified_at),
            "device_id": item.device_id,
            "uploader_id": item.uploader_id,
            "latitude": item.latitude,
            "longitude": item.longitude,
            "accuracy_m": item.accuracy_m,
            "location_status": item.location_status,
            "capture": item.capture,
            "key_evidence": item.key_evidence,
            "flags": item.flags or [],
            "locked_until": item.locked_until.isoformat() if item.locked_until else None,
            "derivatives": [],
            "original_path": None,
        }
        for d in by_item.get(item.id, []):
            path = f"derivatives/{item.id}/{d.name}.{_ext(d.object_key, d.content_type)}"
            recorded = derived.get(item.id, {}).get(d.name, d.sha256)
            exported: dict[str, Any] = {
                "name": d.name,
                "path": path,
                "sha256": d.sha256,
                "source_sha256": d.source_sha256,
            }
            if credentials is not None and d.content_type in SIGNABLE:
                stored_sha, added, actions, stamped = _add_credentialed(
                    writer, storage, credentials, item, d, path
                )
                exported["content_credentials"] = {
                    "sha256": added["sha256"],
                    "size": added["size"],
                    "actions": actions,
                    "timestamped": stamped,
                }
            else:
                added = writer.add_stream(
                    path,
                    storage.iter_object(d.bucket, d.object_key),
                    "derivative",
                    media_id=item.id,
                )
                stored_sha = added["sha256"]
            if stored_sha != d.sha256 or recorded != d.sha256:
                refuse([f"item {item.id}: derivative {d.name} does not match its SHA-256"])
            row["derivatives"].append(exported)
        if include_originals and item.status == "verified":
            path = f"originals/{item.id}.{_ext(item.filename, item.claimed_content_type)}"
            added = writer.add_stream(
                path,
                storage.iter_object(item.bucket, item.object_key, version_id=item.object_version),
                "original",
                media_id=item.id,
            )
            if added["sha256"] != item.server_sha256:
                refuse([f"item {item.id}: stored original does not match its server SHA-256"])
            row["original_path"] = path
        item_rows.append(row)
    custody = json.dumps(
        {"entries": [_entry_json(e) for e in entries]}, ensure_ascii=False, indent=1
    ).encode()
    writer.add("custody.json", custody, "custody")
    writer.add("verify.py", VERIFY_SOURCE.read_bytes(), "verifier")
    readme = README.format(
        public_key=signer.public_key_hex, fingerprint=key_fingerprint(signer.public_key_hex)
    )
    writer.add("README.txt", readme.encode(), "readme")
    head = head_covering(session, signer, entries[-1].seq if entries else 0)
    log = log_proofs(session, signer, entries)
    writer.add("log.json", json.dumps(log, indent=1).encode(), "log_proofs")
    manifest = {
        "format": FORMAT,
        "generated_at": clock.now().isoformat(),
        "case": {
            "id": case.id,
            "number": case.number,
            "title": case.title,
            "unit": display_name(unit, session),
            "unit_code": unit.code,
            "procedure": case.procedure,
            "case_type": case.case_type,
            "major_property": case.major_property,
            "is_major": case.is_major,
            "current_stage": case.current_stage,
            "created_at": case.created_at.isoformat(),
            "archived_at": case.archived_at.isoformat() if case.archived_at else None,
            "service_date": case.service_date.isoformat() if case.service_date else None,
            "stages": [
                {
                    "stage": s.stage,
                    "started_at": s.started_at.isoformat(),
                    "ended_at": s.ended_at.isoformat() if s.ended_at else None,
                    "reason": s.reason,
                    "override_reason": s.override_reason,
                }
                for s in stages
            ],
            "execution_records": case.execution_records or [],
        },
        "files": writer.files,
        "items": item_rows,
        "documents": documents,
        "custody": {
            "path": "custody.json",
            "count": len(entries),
            "first_seq": entries[0].seq if entries else None,
            "last_seq": entries[-1].seq if entries else None,
        },
        "audit_head": audit.head_document(head),
        "log": {"path": "log.json", "tree_size": log["head"]["tree_size"]},
    }
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1, default=str).encode()
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    writer.zip.writestr("manifest.json", manifest_bytes)
    writer.zip.writestr(
        "signature.json",
        json.dumps(
            {
                "algorithm": "Ed25519",
                "public_key": signer.public_key_hex,
                "manifest_sha256": digest,
                "signature": signer.sign(f"{FORMAT}\n{digest}".encode()),
            },
            indent=1,
        ),
    )
    writer.zip.close()
    return manifest


def _add_credentialed(
    writer: _ZipWriter,
    storage: Storage,
    credentials: ContentCredentials,
    item: MediaItem,
    d: Derivative,
    path: str,
) -> tuple[str, dict[str, Any], list[str], bool]:
    """Add derivative ``d`` with a C2PA manifest embedded; returns the stored file's SHA-256
    (the caller refuses the export when it is not the recorded one), the zip entry, the
    actions stated and whether the signature has an RFC 3161 timestamp. The stored
    derivative is read, never written."""
    original_type = item.detected_content_type or item.claimed_content_type or ""
    actions = derivative_actions(d.name, original_type, d.content_type)
    digest = hashlib.sha256()
    # Large proxies spill to disk: C2PA signing needs a seekable source and destination.
    with (
        tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as source,
        tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as signed,
    ):
        for chunk in storage.iter_object(d.bucket, d.object_key):
            digest.update(chunk)
            source.write(chunk)
        source.seek(0)
        stamped = credentials.sign(
            source,
            signed,
            content_type=d.content_type,
            title=path.rsplit("/", 1)[1],
            original=Original(
                sha256=item.server_sha256 or item.device_sha256,
                content_type=original_type or "application/octet-stream",
                id=item.id,
            ),
            actions=actions,
        )
        signed.seek(0)
        added = writer.add_stream(
            path, iter(lambda: signed.read(1024 * 1024), b""), "derivative", media_id=item.id
        )
    return digest.hexdigest(), added, actions, stamped


def log_proofs(session: Session, signer: Signer, entries: Sequence[AuditEntry]) -> dict[str, Any]:
    """The case's custody entries in the audit log's Merkle tree (RFC 6962): a signed tree
    head covering them (with its RFC 3161 token when trusted time is on) and each entry's
    inclusion proof, so an auditor checks offline that these entries are in the one public
    log, unchanged, without the rest of it (``log.json``; checked by ``verify.py``)."""
    last = entries[-1].seq if entries else 0
    tree_head = transparency.head_covering(session, signer, last)
    proofs = transparency.stored_inclusion_proofs(
        session, [e.seq - 1 for e in entries], tree_head.tree_size
    )
    return {
        "head": transparency.head_document(tree_head),
        "proofs": [
            {
                "seq": e.seq,
                "leaf_index": e.seq - 1,
                "audit_path": [h.hex() for h in proofs[e.seq - 1]],
            }
            for e in entries
        ],
    }


def head_covering(session: Session, signer: Signer, last_seq: int) -> AuditHead:
    """A head signed by ``signer`` at or after ``last_seq``: the newest one, or a new one.

    Signed in the caller's transaction (as ``audit.sign_head``), so it never outlives the
    entries it covers; the worker's sweep keeps the next head in WORM storage.
    """
    head = session.execute(
        sa.select(AuditHead)
        .where(AuditHead.public_key == signer.public_key_hex)
        .order_by(AuditHead.seq.desc(), AuditHead.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if head is None or head.seq < last_seq:
        head = audit.sign_head(session, signer)
    assert head is not None and head.seq >= last_seq
    return head


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def archive_filename(case: Case, at: datetime | None = None) -> str:
    stamp = (at or clock.now()).strftime("%Y%m%d")
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in case.number)
    return f"case-{safe}-{stamp}.zip"
