"""Receipts the officer holds (存证回执): a signed statement, issued when an item is verified,
of what the server received and when, and where that verification sits in the audit log.

The receipt's body (format ``fieldtrace-receipt/1``, described in ``server/archive/verify.py``)
is signed with the unit's published Ed25519 key and stored as issued (``MediaReceipt``): a
later move to another stage or a new key leaves it as the officer got it. The file served
(``receipt_file``) adds, outside the signature, the smallest signed tree head that covers the
verification entry and the entry's inclusion proof in it; both verify on their own (the
head's signature, RFC 6962), so anyone checks the file offline with ``verify.py receipt``.
When no head covers the entry yet, one is signed on demand.

``check_online`` is the public page's check: the offline one, plus what only the server
knows now: the item still stands verified with these bytes (not quarantined since), and the
log the receipt points into was not rewritten (the entry is still there with its hash; the
receipt's head is consistent with today's head).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import clock
from ..archive import verify as offline
from ..domain import MediaStatus
from ..models import AuditEntry, MediaItem, MediaReceipt, TreeHead
from . import transparency
from .signing import Signer

FORMAT = offline.RECEIPT_FORMAT
# A receipt file is a few hundred bytes; anything much larger is not one.
MAX_RECEIPT_BYTES = 64 * 1024


class ReceiptUnavailable(Exception):
    """The item has no receipt (not verified, or verified without a log entry)."""


def _iso(at: datetime | None, offset_min: int | None = None) -> str | None:
    """ISO 8601 to the millisecond (what a phone's clock gives), in the device's zone when
    known: a receipt's signed part stays under 1 KB, to fit a QR code."""
    if at is None:
        return None
    if offset_min is not None:
        at = at.astimezone(timezone(timedelta(minutes=offset_min)))
    return at.isoformat(timespec="milliseconds")


def _verification_entry(session: Session, item_id: str) -> AuditEntry | None:
    return session.execute(
        sa.select(AuditEntry)
        .where(
            AuditEntry.object_type == "media",
            AuditEntry.object_id == item_id,
            AuditEntry.action == "media.verified",
        )
        .order_by(AuditEntry.seq)
        .limit(1)
    ).scalar_one_or_none()


def receipt_body(item: MediaItem, entry: AuditEntry) -> dict[str, Any]:
    """The signed part of an item's receipt."""
    body: dict[str, Any] = {
        "format": FORMAT,
        "item_id": item.id,
        "kind": item.kind,
        "device_sha256": item.device_sha256,
        "server_sha256": item.server_sha256,
        "size": int(item.size),
        "captured_at": _iso(item.captured_at, item.captured_at_offset_min),
        "received_at": _iso(item.received_at),
        "verified_at": _iso(item.verified_at),
        "case_id": item.case_id,
        "case_number": item.case.number,
        "stage": item.attached_stage or item.stage,
        "log_seq": int(entry.seq),
        "log_entry_hash": entry.entry_hash,
    }
    body["field_check"] = offline.receipt_field_check(body)
    return body


def issue(session: Session, signer: Signer, item: MediaItem) -> MediaReceipt:
    """The item's receipt, signed and stored on first call (in the caller's transaction);
    the stored one afterwards. Raises :class:`ReceiptUnavailable` before verification."""
    existing = session.get(MediaReceipt, item.id)
    if existing is not None:
        return existing
    if item.status != MediaStatus.VERIFIED or not item.server_sha256:
        raise ReceiptUnavailable(f"item {item.id} is not verified")
    entry = _verification_entry(session, item.id)
    if entry is None:
        raise ReceiptUnavailable(f"item {item.id} has no verification entry in the log")
    body = receipt_body(item, entry)
    receipt = MediaReceipt(
        media_item_id=item.id,
        body=offline.canonical_json(body).decode(),
        public_key=signer.public_key_hex,
        signature=signer.sign(offline.receipt_message(body)),
        issued_at=clock.now(),
    )
    try:
        with session.begin_nested():  # two first requests at once: the other one's stands
            session.add(receipt)
    except sa.exc.IntegrityError:
        stored = session.get(MediaReceipt, item.id, populate_existing=True)
        if stored is None:
            raise
        return stored
    return receipt


def issue_for(session: Session, signer: Signer, item_id: str) -> MediaReceipt | None:
    """Issue the receipt of a just-verified item (the pipeline's call); None if it has none."""
    item = session.get(MediaItem, item_id)
    if item is None:
        return None
    try:
        return issue(session, signer, item)
    except ReceiptUnavailable:
        return None


def _covering_head(session: Session, signer: Signer, seq: int) -> TreeHead | None:
    """The smallest signed tree head that holds entry ``seq``, signing one if none does."""
    head = session.execute(
        sa.select(TreeHead).where(TreeHead.tree_size >= seq).order_by(TreeHead.tree_size).limit(1)
    ).scalar_one_or_none()
    if head is None:
        head = transparency.sign_tree_head(session, signer)
        if head is not None and head.tree_size < seq:  # growth stopped before it (a gap)
            return None
    return head


def receipt_file(session: Session, signer: Signer, receipt: MediaReceipt) -> dict[str, Any]:
    """The receipt as served: the signed body and signature, with a tree head covering its
    verification entry and the inclusion proof (outside the signature; each verifies)."""
    body = json.loads(receipt.body)
    document: dict[str, Any] = {
        "receipt": body,
        "signature": {
            "algorithm": "Ed25519",
            "public_key": receipt.public_key,
            "value": receipt.signature,
        },
    }
    seq = int(body["log_seq"])
    head = _covering_head(session, signer, seq)
    if head is not None:
        path = transparency.stored_inclusion_proof(session, seq - 1, head.tree_size)
        document["tree_head"] = transparency.head_document(head)
        document["inclusion"] = {
            "seq": seq,
            "leaf_index": seq - 1,
            "leaf_hash": transparency.stored_leaf_hash(session, seq - 1).hex(),
            "tree_size": head.tree_size,
            "audit_path": [h.hex() for h in path],
        }
    return document


def fingerprint(receipt: MediaReceipt) -> str:
    return offline.receipt_fingerprint(json.loads(receipt.body))


# --- the public page's check ------------------------------------------------------------------


# What each field is called on the public page (the English names are the fields' own).
FIELD_WORDS = {
    "item_id": "证据编号",
    "kind": "证据类型",
    "device_sha256": "设备哈希",
    "server_sha256": "服务器哈希",
    "size": "大小",
    "captured_at": "拍摄时间",
    "received_at": "接收时间",
    "verified_at": "核验时间",
    "case_id": "案件编号",
    "case_number": "案号",
    "stage": "办案环节",
    "log_seq": "审计日志序号",
    "log_entry_hash": "审计日志条目哈希",
}


@dataclass
class Finding:
    """One reason a receipt is not valid, in both languages, with a stable code."""

    code: str
    zh: str
    en: str


@dataclass
class OnlineCheck:
    findings: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    # Only what the receipt itself states (no name, no party: nothing the server adds).
    shown: dict[str, Any] = field(default_factory=dict)
    fingerprint: str | None = None

    @property
    def valid(self) -> bool:
        return not self.findings


def parse(raw: bytes | str) -> Any:
    if isinstance(raw, str):
        raw = raw.encode()
    if len(raw) > MAX_RECEIPT_BYTES:
        raise ValueError("the file is too large to be a receipt")
    document = json.loads(raw.decode("utf-8-sig"))
    offline.canonical_json(document)  # ValueError for text no signer could have signed
    return document


def check_online(session: Session, published_keys: list[str], document: Any) -> OnlineCheck:
    """Valid or not, and why: the offline check against the unit's published keys, then the
    item's standing and the log's consistency as the server holds them now."""
    out = OnlineCheck()
    report = offline.verify_receipt(document, published_keys)
    for problem in report.problems:
        field_name = problem.split(":", 1)[0]
        if "altered after signing" in problem:
            out.findings.append(
                Finding(
                    "altered",
                    f"回执内容被改动：「{FIELD_WORDS.get(field_name, '其他内容')}」与签名不符",
                    f"The receipt was altered: {field_name} does not match the signature",
                )
            )
        elif field_name == "signature.public_key":
            out.findings.append(
                Finding(
                    "unknown_key",
                    "回执不是用本单位公布的签名公钥签发的",
                    "The receipt was not signed with a key this unit publishes",
                )
            )
        elif field_name in ("tree_head", "inclusion"):
            out.findings.append(
                Finding(
                    "not_in_log",
                    "回执所附的审计日志证明不成立",
                    f"The audit-log proof in the receipt does not hold ({problem})",
                )
            )
        else:
            out.findings.append(
                Finding("malformed", "回执格式不正确或签名无效", f"Not a valid receipt: {problem}")
            )
    receipt = document.get("receipt") if isinstance(document, dict) else None
    if not isinstance(receipt, dict):
        return out
    out.fingerprint = report.summary.get("fingerprint")
    out.shown = {
        name: receipt.get(name)
        for name in (
            "item_id",
            "kind",
            "server_sha256",
            "size",
            "captured_at",
            "received_at",
            "verified_at",
            "stage",
            "log_seq",
        )
    }
    if out.findings:
        return out  # a forged or altered receipt: nothing of ours is looked up for it
    _check_standing(session, receipt, out)
    _check_log(session, document, receipt, out)
    return out


def _check_standing(session: Session, receipt: dict[str, Any], out: OnlineCheck) -> None:
    item = session.get(MediaItem, str(receipt["item_id"]))
    quarantined_later = session.execute(
        sa.select(AuditEntry.seq).where(
            AuditEntry.object_type == "media",
            AuditEntry.object_id == str(receipt["item_id"]),
            AuditEntry.action.in_(["media.hash_mismatch", "media.quarantined"]),
            AuditEntry.seq > int(receipt["log_seq"]),
        )
    ).first()
    if item is None:
        out.findings.append(
            Finding("unknown_item", "系统中没有这件证据", "No such item is held by this system")
        )
    elif (
        item.status == MediaStatus.HASH_MISMATCH
        or item.quarantine_key
        or quarantined_later is not None
    ):
        out.findings.append(
            Finding(
                "quarantined",
                "这件证据的原始文件此后已被隔离，不再作为证据",
                "The bytes of this item were later quarantined; they are no longer evidence",
            )
        )
    elif item.server_sha256 != receipt["server_sha256"]:
        out.findings.append(
            Finding(
                "hash_changed",
                "系统中这件证据的哈希值与回执不一致",
                "The item's hash held by the system differs from the receipt",
            )
        )


def _check_log(
    session: Session, document: dict[str, Any], receipt: dict[str, Any], out: OnlineCheck
) -> None:
    rewritten = Finding(
        "log_rewritten",
        "审计日志已被改写：回执所依据的日志与现在的日志不一致",
        "The audit log was rewritten: the log the receipt points into is not consistent "
        "with today's",
    )
    seq = int(receipt["log_seq"])
    entry = session.execute(sa.select(AuditEntry).where(AuditEntry.seq == seq)).scalar_one_or_none()
    if (
        entry is None
        or entry.entry_hash != receipt["log_entry_hash"]
        or entry.action != "media.verified"
        or entry.object_id != receipt["item_id"]
    ):
        out.findings.append(rewritten)
        return
    latest = transparency.latest_head(session)
    if latest is None or latest.tree_size < seq:
        out.notes.append(
            Finding(
                "head_pending",
                "尚未签发覆盖该条记录的日志树头，稍后可再次核验",
                "No signed tree head covers the entry yet; check again later",
            )
        )
        return
    head = document.get("tree_head")
    if not isinstance(head, dict):
        return
    size = int(head["tree_size"])
    try:
        if size > latest.tree_size:
            raise transparency.ProofError("the receipt's head is beyond the published log")
        proof = transparency.stored_consistency_proof(session, size, latest.tree_size)
        transparency.verify_consistency(
            size,
            latest.tree_size,
            bytes.fromhex(head["root_hash"]),
            bytes.fromhex(latest.root_hash),
            proof,
        )
    except (transparency.ProofError, LookupError, ValueError):
        out.findings.append(rewritten)
