"""After a restore into other S3 storage: rows pointed at the versions the restore made.

S3 gives every version it stores a new id (no S3 lets a client choose one), so a restore of
every object version (``bench/backup_drill.py``, docs/deploy.md) ends with a map from the old
ids to the new. Rows that name a version (media items, documents) are moved to the new id,
and each move is an audited ``storage.restored`` entry with both ids, so the row still agrees
with the chain: a case-file export (``services.archive.recorded_differences``) and the
archive's offline ``verify.py`` follow ``upload.completed``'s version through these entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..models import Document, MediaItem
from . import audit

ACTION = "storage.restored"


@dataclass
class RestoreReport:
    moved: int = 0
    unchanged: int = 0  # map entries naming no row (derivatives, heads, scratch)


def record_restored_versions(
    session: Session, version_map: Iterable[Mapping[str, str]]
) -> RestoreReport:
    """Point each row naming ``(bucket, key, old)`` at ``new``, with a custody entry each.
    Safe to run twice: a row already moved no longer names the old id."""
    report = RestoreReport()
    for entry in version_map:
        bucket, key, old, new = entry["bucket"], entry["key"], entry["old"], entry["new"]
        if not old or not new or old == new:
            report.unchanged += 1
            continue
        found = False
        for model, object_type in ((MediaItem, "media"), (Document, "document")):
            rows = session.scalars(
                sa.select(model).where(
                    model.bucket == bucket, model.object_key == key, model.object_version == old
                )
            ).all()
            for row in rows:
                row.object_version = new
                audit.record(
                    session,
                    actor=None,
                    action="storage.restored",
                    object_type=object_type,
                    object_id=row.id,
                    details={"bucket": bucket, "key": key, "from_version": old, "version_id": new},
                )
                report.moved += 1
                found = True
        if not found:
            report.unchanged += 1
    return report


def current_version(recorded: str | None, entries: Iterable[object]) -> str | None:
    """The version ``recorded`` at upload, followed through later ``storage.restored``
    entries (in chain order) of the same object."""
    version = recorded
    for entry in sorted(
        (e for e in entries if getattr(e, "action", None) == ACTION), key=lambda e: e.seq
    ):
        details = entry.details or {}
        if details.get("from_version") == version:
            version = details.get("version_id")
    return version
