"""The append-only, hash-chained audit log and its verification."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import clock
from ..jobs import ChoreContext, chore
from ..models import AuditEntry, AuditHead, User
from ..storage import Storage
from .signing import Signer, verify_signature

GENESIS_HASH = "0" * 64
# Any constant: the advisory lock that serialises appends on PostgreSQL.
_PG_AUDIT_LOCK = 0x46_54_41_55  # "FTAU"


def _canonical_time(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def compute_entry_hash(
    *,
    seq: int,
    at: datetime,
    actor_id: int | None,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    client_addr: str,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 over a canonical JSON form of every field of the entry and the previous hash."""
    body = {
        "seq": seq,
        "at": _canonical_time(at),
        "actor_id": actor_id,
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "client_addr": client_addr,
        "details": details,
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _hash_of(entry: AuditEntry) -> str:
    return compute_entry_hash(
        seq=entry.seq,
        at=entry.at,
        actor_id=entry.actor_id,
        actor=entry.actor,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        client_addr=entry.client_addr,
        details=entry.details or {},
        prev_hash=entry.prev_hash,
    )


def lock_chain(session: Session) -> None:
    """Serialise appends to the chain until the transaction ends (taken by ``record``)."""
    _lock_chain(session)


def _lock_chain(session: Session) -> None:
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    # SQLite: every transaction begins IMMEDIATE (see create_app), so writers are serialised.


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    object_type: str,
    object_id: str | int,
    client_addr: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction; it commits or rolls back with the action."""
    _lock_chain(session)
    head = session.execute(
        sa.select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq = (head.seq + 1) if head else 1
    prev_hash = head.entry_hash if head else GENESIS_HASH
    # Round-trip through JSON so the hash is computed over exactly what the database returns.
    clean_details = json.loads(json.dumps(details or {}, ensure_ascii=False, default=str))
    entry = AuditEntry(
        seq=seq,
        at=clock.now(),
        actor_id=actor.id if actor else None,
        actor=actor.username if actor else "system",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        client_addr=client_addr or "",
        details=clean_details,
        prev_hash=prev_hash,
    )
    entry.entry_hash = _hash_of(entry)
    session.add(entry)
    session.flush()
    return entry


def sign_head(session: Session, signer: Signer) -> AuditHead | None:
    """Sign the current head of the chain; returns None for an empty log."""
    last = session.execute(
        sa.select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)
    ).scalar_one_or_none()
    if last is None:
        return None
    signed_at = clock.now()
    head = AuditHead(
        seq=last.seq,
        entry_hash=last.entry_hash,
        signed_at=signed_at,
        public_key=signer.public_key_hex,
        signature=signer.sign(head_message(last.seq, last.entry_hash, signed_at)),
    )
    session.add(head)
    session.flush()
    return head


# Where signed heads are kept outside the database, under Object Lock (see ``checkpoint``);
# the deployment's ``AUDIT_HEADS_PREFIX``.
HEADS_PREFIX = "audit-heads/"


def checkpoint(
    session: Session,
    signer: Signer,
    storage: Storage,
    bucket: str,
    *,
    retain_until: datetime,
    prefix: str = HEADS_PREFIX,
) -> AuditHead | None:
    """Sign the head of the chain if it moved since the last signed head, and keep a copy in
    WORM storage (COMPLIANCE retention until ``retain_until``).

    The database copy lets ``verify_chain`` catch an edit; the stored copy catches even an
    insider who rewrites the whole log and its heads in the database, because nobody can
    change or delete a locked version. Call it with only committed entries in view: the copy
    is written before the caller commits the row, so it never vouches for an entry that was
    rolled back.
    """
    last = session.execute(
        sa.select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    previous = session.execute(
        sa.select(AuditHead.seq, AuditHead.entry_hash).order_by(AuditHead.id.desc()).limit(1)
    ).first()
    if last is None or (previous is not None and tuple(previous) == tuple(last)):
        return None
    head = sign_head(session, signer)
    assert head is not None
    key = f"{prefix}{head.seq:012d}-{head.signed_at:%Y%m%dT%H%M%S%fZ}.json"
    body = json.dumps(head_document(head), sort_keys=True).encode()
    version = storage.put(bucket, key, body, content_type="application/json")
    storage.lock(bucket, key, version_id=version, until=retain_until)
    return head


def signing_keys(session: Session, signer: Signer) -> list[dict[str, Any]]:
    """Every public key the server has signed with (current first, then newest first), with
    the period it was in use as shown by the signed heads: what ``/public/signing-keys`` and
    ``fieldtrace keys show`` publish so an auditor can pin the key of an archive.

    Every archive export signs (or reuses) a head with its key, so the heads' dates bound the
    exports each key signed. Only public data: keys, fingerprints and dates.
    """
    from .signing import key_fingerprint

    rows = session.execute(
        sa.select(
            AuditHead.public_key,
            sa.func.min(AuditHead.signed_at),
            sa.func.max(AuditHead.signed_at),
            sa.func.count(),
        ).group_by(AuditHead.public_key)
    ).all()
    current = signer.public_key_hex
    keys = [
        {
            "public_key": key,
            "fingerprint": key_fingerprint(key),
            "algorithm": "Ed25519",
            "current": key == current,
            "first_used": _canonical_time(first) if first else None,
            "last_used": _canonical_time(last) if last else None,
            "signed_heads": count,
        }
        for key, first, last, count in rows
    ]
    if not any(k["current"] for k in keys):
        keys.append(
            {
                "public_key": current,
                "fingerprint": key_fingerprint(current),
                "algorithm": "Ed25519",
                "current": True,
                "first_used": None,
                "last_used": None,
                "signed_heads": 0,
            }
        )
    keys.sort(key=lambda k: (not k["current"], -_sort_time(k["last_used"])))
    return keys


def _sort_time(text: str | None) -> float:
    return datetime.fromisoformat(text).timestamp() if text else 0.0


def head_document(head: AuditHead) -> dict[str, Any]:
    """A signed head as stored outside the database and in archive manifests."""
    return {
        "seq": head.seq,
        "entry_hash": head.entry_hash,
        "signed_at": _canonical_time(head.signed_at),
        "public_key": head.public_key,
        "signature": head.signature,
    }


def verify_stored_heads(
    session: Session,
    storage: Storage,
    bucket: str,
    *,
    trusted_public_keys: set[str] | None = None,
    prefix: str = HEADS_PREFIX,
) -> VerifyReport:
    """Check the chain in the database against every head kept in WORM storage."""
    report = VerifyReport()
    hashes = dict(session.execute(sa.select(AuditEntry.seq, AuditEntry.entry_hash)).all())
    last_seq = max(hashes, default=0)
    for key, version in storage.list_versions(bucket, prefix):
        report.heads_checked += 1
        try:
            doc = json.loads(storage.get_bytes(bucket, key, version_id=version))
            seq, entry_hash = int(doc["seq"]), str(doc["entry_hash"])
            signed_at = datetime.fromisoformat(doc["signed_at"])
            message = head_message(seq, entry_hash, signed_at)
            good = verify_signature(doc["public_key"], message, doc["signature"])
        except (ValueError, KeyError, TypeError) as exc:
            report.problems.append(Problem(None, None, f"stored head {key} is unreadable: {exc}"))
            continue
        if trusted_public_keys is not None and doc["public_key"] not in trusted_public_keys:
            report.problems.append(Problem(None, seq, f"stored head {key} uses an unknown key"))
        elif not good:
            report.problems.append(Problem(None, seq, f"stored head {key} has a bad signature"))
        elif seq > last_seq:
            report.problems.append(
                Problem(
                    None,
                    seq,
                    f"tail cut off: stored head {key} vouches for seq {seq} "
                    f"but the log ends at seq {last_seq}",
                )
            )
        elif hashes.get(seq) != entry_hash:
            report.problems.append(
                Problem(
                    None,
                    seq,
                    f"stored head {key} does not match the entry at seq {seq} "
                    "(the chain was rewritten in the database)",
                )
            )
    report.problems.sort(key=lambda p: p.seq if p.seq is not None else 0)
    return report


def head_message(seq: int, entry_hash: str, signed_at: datetime) -> bytes:
    return f"fieldtrace-audit-head\n{seq}\n{entry_hash}\n{_canonical_time(signed_at)}".encode()


@dataclass
class Problem:
    entry_id: int | None
    seq: int | None
    what: str

    def __str__(self) -> str:
        where = f"entry id={self.entry_id} seq={self.seq}" if self.entry_id else f"seq={self.seq}"
        return f"{where}: {self.what}"


@dataclass
class VerifyReport:
    checked: int = 0
    heads_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(session: Session, *, trusted_public_keys: set[str] | None = None) -> VerifyReport:
    """Walk the whole chain and every signed head; report each broken link, first one first.

    Detects an edited entry (its hash no longer matches), a deleted entry (a gap in seq and a
    broken link), a reordered pair (links and row order disagree) and a cut-off tail (a signed
    head vouches for entries that are gone).
    """
    report = VerifyReport()
    prev_hash = GENESIS_HASH
    expected_seq = 1
    last_id = 0
    hashes_by_seq: dict[int, str] = {}
    rows = session.execute(sa.select(AuditEntry).order_by(AuditEntry.seq)).scalars()
    for entry in rows:
        report.checked += 1
        if _hash_of(entry) != entry.entry_hash:
            report.problems.append(
                Problem(entry.id, entry.seq, "content was altered: it no longer matches its hash")
            )
        if entry.seq != expected_seq:
            report.problems.append(
                Problem(
                    entry.id,
                    entry.seq,
                    f"entries missing before it: expected seq {expected_seq} (deleted entry)",
                )
            )
        if entry.prev_hash != prev_hash:
            report.problems.append(
                Problem(
                    entry.id,
                    entry.seq,
                    "link broken: its previous-hash does not match the entry before it "
                    "(deleted, inserted or reordered entries)",
                )
            )
        if entry.id <= last_id:
            report.problems.append(
                Problem(entry.id, entry.seq, "out of order: rows were reordered")
            )
        last_id = max(last_id, entry.id)
        hashes_by_seq[entry.seq] = entry.entry_hash
        prev_hash = entry.entry_hash
        expected_seq = entry.seq + 1
        session.expunge(entry)

    last_seq = expected_seq - 1
    for head in session.execute(sa.select(AuditHead).order_by(AuditHead.id)).scalars():
        report.heads_checked += 1
        message = head_message(head.seq, head.entry_hash, head.signed_at)
        if trusted_public_keys is not None and head.public_key not in trusted_public_keys:
            report.problems.append(
                Problem(None, head.seq, f"signed head {head.id} uses an unknown key")
            )
        elif not verify_signature(head.public_key, message, head.signature):
            report.problems.append(
                Problem(None, head.seq, f"signed head {head.id} has an invalid signature")
            )
        if head.seq > last_seq:
            report.problems.append(
                Problem(
                    None,
                    head.seq,
                    f"tail cut off: signed head {head.id} vouches for seq {head.seq} "
                    f"but the log ends at seq {last_seq}",
                )
            )
        elif hashes_by_seq.get(head.seq) != head.entry_hash:
            report.problems.append(
                Problem(
                    None,
                    head.seq,
                    f"signed head {head.id} does not match the entry at seq {head.seq} "
                    "(the chain was rewritten)",
                )
            )
    report.problems.sort(key=lambda p: p.seq if p.seq is not None else 0)
    return report


def entries_page(
    session: Session, object_type: str, object_id: str, *, after: int, limit: int
) -> tuple[list[AuditEntry], int]:
    """Up to ``limit`` entries about the object after chain position ``after``, in order, and
    how many there are in all."""
    where = (AuditEntry.object_type == object_type, AuditEntry.object_id == object_id)
    rows = session.execute(
        sa.select(AuditEntry)
        .where(*where, AuditEntry.seq > after)
        .order_by(AuditEntry.seq)
        .limit(limit)
    ).scalars()
    total = session.execute(sa.select(sa.func.count()).select_from(AuditEntry).where(*where))
    return list(rows), int(total.scalar_one())


def entries_for(session: Session, object_type: str, object_id: str) -> list[AuditEntry]:
    return list(
        session.execute(
            sa.select(AuditEntry)
            .where(AuditEntry.object_type == object_type, AuditEntry.object_id == object_id)
            .order_by(AuditEntry.seq)
        ).scalars()
    )


@chore("audit_checkpoint", order=40)
def _checkpoint_chore(ctx: ChoreContext) -> None:
    """A signed head of the chain, kept in WORM storage too (when the chain moved)."""
    years = int(ctx.config["AUDIT_HEAD_RETENTION_YEARS"])
    checkpoint(
        ctx.session,
        ctx.runtime.signer,
        ctx.runtime.storage,
        ctx.runtime.uploads.originals_bucket,
        retain_until=ctx.now + timedelta(days=366 * years),
        prefix=ctx.config["AUDIT_HEADS_PREFIX"],
    )
