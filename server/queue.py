"""Task-queue wiring (Huey): embedded SQLite backend by default, Redis at scale.

Jobs carry ids only, re-load their rows and are safe to run twice. A periodic sweep re-enqueues
items left ``received`` (a worker killed mid-job), then runs the periodic chores each package
registers (``server/jobs.py``: upload expiry, housekeeping, report drafts, audit and tree
heads), so nothing stays stuck whichever backend loses a job. However many workers run, the
sweep runs once per minute per cluster (``claim_period``: a Redis key per period). The media
pipeline's steps are plain functions of ``media_pipeline``; this module, the scheduler, is the
server's.

Every worker also watches (every ``PROCESSING_WATCHDOG_S``) for items whose run's worker
process stopped beating (killed mid-transcode) and queues them again, so another worker takes
the job within about half a minute instead of at the ten-minute sweep.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer
from huey.storage import RedisStorage

from media_pipeline.limits import MediaLimits
from media_pipeline.probe import TimeRules
from media_pipeline.process import PipelineSettings, give_up, process_item, requeue_abandoned
from media_pipeline.verify import Outcome, verify_original

from . import clock, jobs, liveness
from .extensions import db
from .models import MediaItem
from .services import receipts

log = logging.getLogger(__name__)

# How long an item may stay "received" before the sweep enqueues its verification again.
STUCK_AFTER = timedelta(minutes=5)
JOB_NAMES = frozenset({"verify_original", "process_media", "sweep"})
# A periodic job's claim lasts less than its period (a minute), so the next period is free.
PERIOD_CLAIM_S = 50


def build_huey(queue_url: str | None, data_dir: Path, *, name: str = "fieldtrace") -> Huey:
    # results=False: jobs write their outcome to the database and nobody reads Huey's copy,
    # which was kept forever (every job of every item, accumulating in Redis).
    if queue_url and queue_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=queue_url, utc=True, results=False)
    if queue_url and queue_url.startswith("sqlite:///"):
        return SqliteHuey(
            name, filename=queue_url.removeprefix("sqlite:///"), utc=True, results=False
        )
    if queue_url:
        raise ValueError(f"unsupported FIELDTRACE_QUEUE_URL {queue_url!r}")
    data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(data_dir / "queue.db"), utc=True, results=False)


def _issue_receipt(runtime: Any, item_id: str) -> None:
    """The officer's receipt (存证回执), signed as soon as the item is verified; should this
    fail, the first request for it issues it instead."""
    try:
        receipts.issue_for(db.session, runtime.signer, item_id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("issuing the receipt of %s failed; issued on first request", item_id)


class _InProcessConsumer(Consumer):
    """A consumer that leaves signal handling to the process that embeds it."""

    def _set_signal_handlers(self) -> None:
        pass


class _WatchedConsumer(Consumer):
    """A consumer that also runs ``watch`` every ``watch_every_s`` seconds while it runs."""

    watch: Callable[[], object] | None = None
    watch_every_s: float = 10.0

    def start(self) -> None:
        super().start()
        self._watch_stop = threading.Event()
        if self.watch is not None:
            threading.Thread(target=self._watch_loop, name="job-watchdog", daemon=True).start()

    def _watch_loop(self) -> None:
        while not self._watch_stop.wait(self.watch_every_s):
            try:
                assert self.watch is not None
                self.watch()
            except Exception:  # the database or the queue is away: the next round retries
                log.warning("watchdog round failed", exc_info=True)

    def stop(self, graceful: bool = False) -> None:
        if hasattr(self, "_watch_stop"):
            self._watch_stop.set()
        super().stop(graceful=graceful)


class _InProcessWatchedConsumer(_InProcessConsumer, _WatchedConsumer):
    pass


class JobQueue:
    """The app's jobs, bound to one Flask app and one Huey instance."""

    def __init__(self, app: Flask, huey: Huey) -> None:
        self.app = app
        self.huey = huey
        cfg = app.config
        # First retry after ``delay`` seconds, doubling each time (5, 10, 20, ... by default).
        delay = float(cfg["JOB_RETRY_DELAY_S"])
        self.pipeline = PipelineSettings(
            derivatives_bucket=cfg["S3_BUCKET_DERIVATIVES"],
            limits=MediaLimits(
                max_image_pixels=int(cfg["MEDIA_MAX_IMAGE_PIXELS"]),
                max_jpeg_scans=int(cfg["MEDIA_MAX_JPEG_SCANS"]),
                max_jpeg_pixels=int(cfg["MEDIA_MAX_JPEG_PIXELS"]),
                max_decode_bytes=int(cfg["MEDIA_MAX_DECODE_MB"]) << 20,
                transcode_pixels_per_s=float(cfg["MEDIA_TRANSCODE_PIXELS_PER_S"]),
                max_threads=int(cfg["FFMPEG_MAX_THREADS"]),
                max_duration_s=float(cfg["MEDIA_MAX_DURATION_S"]),
                ffmpeg_memory_bytes=int(cfg["FFMPEG_MEMORY_MB"]) << 20,
            ),
            times=TimeRules(
                max_skew=timedelta(seconds=int(cfg["MEDIA_MAX_CLOCK_SKEW_S"])),
                late_after=timedelta(hours=int(cfg["LATE_UPLOAD_HOURS"])),
            ),
            stuck_after=timedelta(minutes=int(cfg["PROCESSING_STUCK_MINUTES"])),
            holder_stale_s=float(cfg["PROCESSING_HOLDER_STALE_S"]),
        )

        @huey.task(retries=6, retry_delay=delay, retry_backoff=2, name="verify_original")
        def verify_task(item_id: str) -> str:
            with app.app_context():
                runtime = app.extensions["fieldtrace"]
                try:
                    outcome = verify_original(
                        db.session,
                        runtime.storage,
                        item_id,
                        retention=timedelta(days=int(cfg["RETENTION_DAYS"])),
                        quarantine_bucket=cfg["S3_BUCKET_QUARANTINE"],
                    )
                    if outcome == Outcome.SUCCESS:
                        _issue_receipt(runtime, item_id)
                finally:
                    db.session.remove()
            if outcome == Outcome.SUCCESS:
                process_task(item_id)
            return outcome.value

        # A rejected file is flagged, not retried; storage or worker failures retry, and the
        # last retry flags the item instead of retrying forever.
        @huey.task(
            retries=4, retry_delay=2 * delay, retry_backoff=2, context=True, name="process_media"
        )
        def process_task(item_id: str, task: Any = None) -> str:
            with app.app_context():
                runtime = app.extensions["fieldtrace"]
                try:
                    return process_item(
                        db.session,
                        runtime.storage,
                        item_id,
                        self.pipeline,
                        run_id=task.id if task is not None else None,
                    ).value
                except Exception as exc:
                    db.session.rollback()
                    if task is None or not task.retries:
                        give_up(db.session, item_id, f"{type(exc).__name__}: {exc}")
                        return Outcome.FAILED.value
                    raise
                finally:
                    db.session.remove()

        @huey.periodic_task(crontab(minute="*"), name="sweep")
        def sweep_task() -> dict[str, int]:
            # Every worker's scheduler fires this; one per cluster runs it (signed audit heads,
            # yearly report drafts and re-queues must not happen once per worker).
            if not self.claim_period("sweep", seconds=PERIOD_CLAIM_S):
                return {"skipped": 1}
            return self.sweep()

        self.verify_task = verify_task
        self.process_task = process_task
        self.sweep_task = sweep_task
        # Refuse to start when a job name we enqueue has no handler (Huey has no public list).
        registered = {key.rsplit(".", 1)[-1] for key in huey._registry._registry}
        missing = JOB_NAMES - registered
        if missing:
            raise RuntimeError(f"job names without a handler: {sorted(missing)}")

    @classmethod
    def from_config(cls, app: Flask) -> JobQueue:
        huey = build_huey(
            app.config.get("QUEUE_URL"),
            Path(app.config["DATA_DIR"]),
            name=app.config.get("QUEUE_NAME") or "fieldtrace",
        )
        if app.config.get("QUEUE_IMMEDIATE"):
            huey.immediate = True
        return cls(app, huey)

    def claim_period(self, name: str, *, seconds: int) -> bool:
        """True for the one worker of the cluster that runs periodic job ``name`` now.

        On Redis (many machines) a key set only if absent, expiring before the next period:
        the first worker to fire claims it, the others find it taken. The embedded SQLite
        queue serves one machine's workers, whose one scheduler fires each period once."""
        storage = self.huey.storage
        if not isinstance(storage, RedisStorage):
            return True
        key = f"fieldtrace:{self.huey.name}:periodic:{name}"
        holder = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        return bool(storage.conn.set(key, holder, nx=True, ex=seconds))

    def queue_was_lost(self) -> bool:
        """True when the queue's contents are gone since the last sweep: Redis restarted
        without persistence (or was flushed), so the jobs it held will never run. The sweep
        keeps a marker key in the same Redis; when the marker is missing, so is the queue.
        (Also true at a cluster's first sweep: its re-queues are then harmless repeats.) The
        embedded SQLite queue keeps its jobs on disk: never."""
        storage = self.huey.storage
        if not isinstance(storage, RedisStorage):
            return False
        key = f"fieldtrace:{self.huey.name}:epoch"
        return bool(storage.conn.set(key, clock.now().isoformat(), nx=True))

    def enqueue_verify(self, item_id: str) -> None:
        self.verify_task(item_id)

    def enqueue_process(self, item_id: str) -> None:
        self.process_task(item_id)

    def requeue_abandoned(self) -> int:
        """Queue again the items whose worker died mid-run; how many there were."""
        with self.app.app_context():
            try:
                abandoned = requeue_abandoned(db.session, self.pipeline.holder_stale_s)
                liveness.forget_dead(db.session)
                db.session.commit()
            finally:
                db.session.remove()
        for item_id in abandoned:
            log.warning("worker of %s stopped beating mid-run; queued again", item_id)
            self.enqueue_process(item_id)
        return len(abandoned)

    def sweep(self) -> dict[str, int]:
        """Re-enqueue stuck media work, then run every registered chore (server/jobs.py:
        upload expiry, housekeeping, report drafts, audit and tree heads)."""
        with self.app.app_context():
            runtime = self.app.extensions["fieldtrace"]
            try:
                now = clock.now()
                # A queue that lost its jobs: every item waiting for one is queued again now
                # (a repeat is harmless: jobs are idempotent), not after the stuck timers.
                lost = self.queue_was_lost()
                if lost:
                    log.warning("the job queue lost its contents (Redis restarted?): re-queueing")
                stuck = list(
                    db.session.execute(
                        sa.select(MediaItem.id).where(
                            MediaItem.status == "received",
                            MediaItem.stored_at < (now if lost else now - STUCK_AFTER),
                        )
                    ).scalars()
                )
                processing_cutoff = now - timedelta(
                    minutes=int(self.app.config["PROCESSING_STUCK_MINUTES"])
                )
                waiting = sa.func.coalesce(MediaItem.processing_updated_at, MediaItem.verified_at)
                overdue = sa.and_(
                    MediaItem.processing.in_(["pending", "running"]), waiting < processing_cutoff
                )
                # a running one has a live worker, or the watchdog's attention when it died
                due = sa.or_(overdue, MediaItem.processing == "pending") if lost else overdue
                unprocessed = list(
                    db.session.execute(
                        sa.select(MediaItem.id).where(MediaItem.status == "verified", due)
                    ).scalars()
                )
                db.session.commit()
                for item_id in stuck:
                    self.enqueue_verify(item_id)
                for item_id in unprocessed:
                    self.enqueue_process(item_id)
                abandoned = self.requeue_abandoned()
                upkeep = jobs.run_chores(
                    jobs.ChoreContext(db.session, runtime, now, self.app.config)
                )
                return {
                    "requeued": len(stuck),
                    "reprocessed": len(unprocessed) + abandoned,
                    "queue_lost": int(lost),
                    **upkeep,
                }
            finally:
                db.session.remove()

    def consumer(
        self, *, workers: int = 2, in_process: bool = False, watchdog: bool = True, **options: Any
    ) -> Consumer:
        cls = _InProcessWatchedConsumer if in_process else _WatchedConsumer
        consumer = cls(self.huey, workers=workers, worker_type="thread", **options)
        if watchdog:
            consumer.watch = self.requeue_abandoned
            consumer.watch_every_s = float(self.app.config["PROCESSING_WATCHDOG_S"])
        return consumer


__all__ = ["JobQueue", "Outcome", "build_huey"]
