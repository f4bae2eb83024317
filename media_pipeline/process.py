"""The pipeline for one verified item: probe → derive → attach → rules. Safe to run twice."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from server.domain import MediaStatus
from server.models import Case, MediaItem, utcnow
from server.services import audit
from server.services.rules import refresh_gaps
from server.storage import Storage

from .attach import attach
from .derive import derive
from .limits import MediaLimits
from .probe import TimeRules, probe_original
from .steps import FLAG_MESSAGES_ZH, add_flag, set_step, step_done
from .verify import Outcome


@dataclass(frozen=True)
class PipelineSettings:
    derivatives_bucket: str
    limits: MediaLimits
    times: TimeRules
    workdir: Path | None = None


def process_item(
    session: Session, storage: Storage, item_id: str, settings: PipelineSettings
) -> Outcome:
    """Run the steps not yet done; each records its state in ``item.steps`` and the trail."""
    item = session.get(MediaItem, item_id)
    if item is None or item.status != MediaStatus.VERIFIED or item.processing == "done":
        return Outcome.SKIPPED
    item.processing = "running"
    item.processing_updated_at = utcnow()
    session.commit()

    with tempfile.TemporaryDirectory(prefix="ft-", dir=settings.workdir) as tmp:
        workdir = Path(tmp)
        original = workdir / "original"
        probe = item.probe
        if not step_done(item, "probe") or not step_done(item, "derive"):
            copied_hash = storage.download(
                item.bucket, item.object_key, str(original), version_id=item.object_version
            )
            if copied_hash != item.server_sha256:
                raise RuntimeError(f"read-back of {item.id} does not match its verified hash")
        if not step_done(item, "probe"):
            probe = probe_original(
                session, item, original, limits=settings.limits, times=settings.times
            )
            session.commit()
        if not step_done(item, "derive"):
            if probe is None:
                set_step(item, "derive", "skipped", reason="probe failed")
            else:
                derive(
                    session,
                    storage,
                    item,
                    original,
                    probe,
                    workdir,
                    bucket=settings.derivatives_bucket,
                    limits=settings.limits,
                )
            session.commit()
    if not step_done(item, "attach"):
        attach(session, item)
        session.commit()
    case = session.get(Case, item.case_id)
    assert case is not None
    gaps = refresh_gaps(session, case)
    set_step(item, "rules", "done", case_gaps=len(gaps))
    failed = [name for name, s in (item.steps or {}).items() if s.get("state") == "failed"]
    item.processing = "flagged" if failed else "done"
    session.commit()
    return Outcome.FAILED if failed else Outcome.SUCCESS


def give_up(session: Session, item_id: str, error: str) -> None:
    """After the last retry: flag the item instead of retrying forever."""
    item = session.get(MediaItem, item_id)
    if item is None:
        return
    item.processing = "failed"
    add_flag(
        session, item, "processing_failed", f"{FLAG_MESSAGES_ZH['processing_failed']}: {error}"
    )
    audit.record(
        session,
        actor=None,
        action="media.processing_failed",
        object_type="media",
        object_id=item.id,
        details={"error": error},
    )
    session.commit()
