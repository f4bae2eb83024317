"""The pipeline for one verified item: probe → derive → attach → rules. Safe to run twice."""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server import clock, liveness
from server.domain import MediaStatus
from server.models import Case, MediaItem
from server.services import audit
from server.services.rules import refresh_gaps
from server.storage import Storage

from .attach import attach
from .derive import derive
from .limits import MediaLimits
from .probe import TimeRules, probe_original
from .steps import FLAG_MESSAGES_ZH, add_flag, set_step, step_done
from .verify import Outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineSettings:
    derivatives_bucket: str
    limits: MediaLimits
    times: TimeRules
    workdir: Path | None = None
    # A run holds its item while it beats (every ``heartbeat_s``); a run whose heartbeat has
    # stopped for ``stuck_after`` (its worker died) may be taken over by the next one.
    stuck_after: timedelta = timedelta(minutes=10)
    heartbeat_s: float = 60.0
    # A run names its hold, which its worker process beats every second until the run ends
    # (``server.liveness``): a run silent this long (the worker was killed, or the run ended
    # without letting go) is taken over at once, and ``requeue_abandoned`` queues it again.
    holder_stale_s: float = 30.0


def _held_by_other_run(
    stale_before: datetime, holder_stale_s: float, run_id: str | None
) -> sa.ColumnElement[bool]:
    """SQL: another live run holds the item. A run is live while it beats (``stale_before``)
    and its hold is beaten; the retry of a job may take over its own run, which could not let
    go of the item when its error came from the database itself (PostgreSQL restarting)."""
    held = (
        (MediaItem.processing == "running")
        & (MediaItem.processing_updated_at >= stale_before)
        & sa.not_(liveness.dead(MediaItem.processing_holder, holder_stale_s))
    )
    if run_id is not None:
        held = held & sa.func.coalesce(MediaItem.processing_run != run_id, True)
    return sa.func.coalesce(held, False)


def _claim(
    session: Session,
    item_id: str,
    settings: PipelineSettings,
    run_id: str | None,
    held: liveness.Hold,
) -> bool:
    """Take the item for this run, unless another live run holds it (one guarded UPDATE, so
    two workers given the same item cannot both win)."""
    stale_before = clock.now() - settings.stuck_after
    won = session.execute(
        sa.update(MediaItem)
        .where(
            MediaItem.id == item_id,
            MediaItem.status == MediaStatus.VERIFIED,
            MediaItem.processing != "done",
            sa.not_(_held_by_other_run(stale_before, settings.holder_stale_s, run_id)),
        )
        .values(
            processing="running",
            processing_updated_at=clock.now(),
            processing_holder=held.name,
            processing_run=run_id,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return won == 1


def requeue_abandoned(session: Session, holder_stale_s: float) -> list[str]:
    """Let go of the items whose run's process stopped beating (a worker killed mid-job);
    returns them, for the caller to queue again. One guarded UPDATE: whichever worker finds
    an item first hands it on, the others find it let go already."""
    abandoned = list(
        session.execute(
            sa.update(MediaItem)
            .where(
                MediaItem.processing == "running",
                liveness.dead(MediaItem.processing_holder, holder_stale_s),
            )
            .values(
                processing="pending",
                processing_updated_at=clock.now(),
                processing_holder=None,
                processing_run=None,
            )
            .returning(MediaItem.id)
            .execution_options(synchronize_session=False)
        ).scalars()
    )
    session.commit()
    return abandoned


@contextmanager
def _heartbeat(session: Session, item_id: str, every_s: float) -> Iterator[None]:
    """Keep ``processing_updated_at`` fresh from a side thread while a long ffmpeg run works,
    so the sweep does not mistake a slow transcode for a dead worker."""
    engine = session.get_bind()
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_s):
            try:
                with engine.begin() as conn:
                    conn.execute(
                        sa.update(MediaItem)
                        .where(MediaItem.id == item_id, MediaItem.processing == "running")
                        .values(processing_updated_at=clock.now())
                    )
            except sa.exc.SQLAlchemyError:  # a busy database: the next beat tries again
                log.warning("heartbeat of %s failed", item_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"heartbeat-{item_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def process_item(
    session: Session,
    storage: Storage,
    item_id: str,
    settings: PipelineSettings,
    *,
    run_id: str | None = None,
) -> Outcome:
    """Run the steps not yet done; each records its state in ``item.steps`` and the trail.

    SKIPPED when there is nothing to do or another live run holds the item. On an error the
    item is let go (``pending``) for the retry, and the error propagates. ``run_id`` (the
    job's id, the same for its retries) lets a retry take over a run of its own that could
    not let go.
    """
    held = liveness.hold(session)  # beaten while the run holds the item
    try:
        if not _claim(session, item_id, settings, run_id, held):
            return Outcome.SKIPPED
        try:
            with _heartbeat(session, item_id, settings.heartbeat_s):
                return _run_steps(session, storage, item_id, settings)
        except BaseException:
            session.rollback()
            session.execute(
                sa.update(MediaItem)
                .where(MediaItem.id == item_id, MediaItem.processing == "running")
                .values(
                    processing="pending",
                    processing_updated_at=clock.now(),
                    processing_holder=None,
                    processing_run=None,
                )
            )
            session.commit()
            raise
    finally:
        liveness.let_go(held, session)


STEPS = ("probe", "derive")  # the steps that need the original on disk


def _run_steps(
    session: Session, storage: Storage, item_id: str, settings: PipelineSettings
) -> Outcome:
    item = session.get(MediaItem, item_id)
    assert item is not None
    session.refresh(item)
    probe, need_probe, need_derive = item.probe, *(not step_done(item, s) for s in STEPS)
    where = (item.bucket, item.object_key, item.object_version, item.server_sha256)
    # No transaction stays open while the original downloads and ffmpeg works: on SQLite an
    # open transaction holds the write lock, which would stall uploads and the heartbeat.
    session.commit()

    with tempfile.TemporaryDirectory(prefix="ft-", dir=settings.workdir) as tmp:
        workdir = Path(tmp)
        original = workdir / "original"
        if need_probe or need_derive:
            bucket, key, version, verified = where
            copied_hash = storage.download(bucket, key, str(original), version_id=version)
            if copied_hash != verified:
                raise RuntimeError(f"read-back of {item_id} does not match its verified hash")
        if need_probe:
            probe = probe_original(
                session, item, original, limits=settings.limits, times=settings.times
            )
            session.commit()
        if need_derive:
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
    item.processing_holder = item.processing_run = None
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
