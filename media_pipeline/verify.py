"""Step 1: read the original back from storage, hash it, and lock it or quarantine it."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from server import clock
from server.domain import MediaStatus
from server.models import MediaItem
from server.services import audit
from server.storage import ObjectNotFound, Storage
from server.storage.keys import quarantine_key


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"


def verify_original(
    session: Session,
    storage: Storage,
    item_id: str,
    *,
    retention: timedelta,
    quarantine_bucket: str,
) -> Outcome:
    """Compare the server's SHA-256 of the stored object with the device's; safe to run twice.

    Match: the version is put under COMPLIANCE retention and the item becomes ``verified``.
    Mismatch: the bytes are copied to quarantine, removed from the evidence bucket (they were
    never evidence) and the item becomes ``hash_mismatch`` so the device sends it again.
    """
    item = session.get(MediaItem, item_id)
    if item is None or item.status != MediaStatus.RECEIVED:
        return Outcome.SKIPPED
    item.verify_attempts += 1
    session.commit()

    server_hash = storage.sha256(item.bucket, item.object_key, version_id=item.object_version)
    now = clock.now()
    item = session.get(MediaItem, item_id)
    if item is None or item.status != MediaStatus.RECEIVED:
        return Outcome.SKIPPED
    item.server_sha256 = server_hash
    if server_hash == item.device_sha256:
        until = now + retention
        storage.lock(item.bucket, item.object_key, version_id=item.object_version, until=until)
        item.status = MediaStatus.VERIFIED.value
        item.status_message = ""
        item.verified_at = now
        item.locked_until = until
        audit.record(
            session,
            actor=None,
            action="media.verified",
            object_type="media",
            object_id=item.id,
            details={
                "sha256": server_hash,
                "bucket": item.bucket,
                "key": item.object_key,
                "version_id": item.object_version,
                "retain_until": until.isoformat(),
                "mode": "COMPLIANCE",
            },
        )
        session.commit()
        return Outcome.SUCCESS

    q_key = quarantine_key(item.id, item.verify_attempts)
    storage.copy(
        item.bucket, item.object_key, quarantine_bucket, q_key, version_id=item.object_version
    )
    if storage.sha256(quarantine_bucket, q_key) != server_hash:
        raise RuntimeError(f"quarantine copy of {item.id} differs; will retry")
    with contextlib.suppress(ObjectNotFound):  # a previous run got this far
        storage.delete(item.bucket, item.object_key, version_id=item.object_version)
    item.status = MediaStatus.HASH_MISMATCH.value
    item.status_message = (
        "the stored bytes do not match the hash computed on the device; "
        "the item was quarantined, please send it again"
    )
    item.quarantine_key = q_key
    audit.record(
        session,
        actor=None,
        action="media.hash_mismatch",
        object_type="media",
        object_id=item.id,
        details={
            "device_sha256": item.device_sha256,
            "server_sha256": server_hash,
            "quarantine_bucket": quarantine_bucket,
            "quarantine_key": q_key,
        },
    )
    session.commit()
    return Outcome.FAILED
