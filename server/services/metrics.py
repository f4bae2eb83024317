"""Prometheus text exposition (format 0.0.4) of what an operator watches, read at scrape time.

Almost everything is a gauge read from the shared database and queue when scraped, so every
web process of every node reports the same cluster-wide figures and gunicorn's several
processes need no shared counter files: uploads in flight and their bytes, the pipeline's
backlog and its oldest waiting item, item counts by state (failures among them), and the
pipeline's latency over the last ``window``. Only errors seen by this process (S3 and
database failures answered 503) are per-process counters, labelled with the process.
"""

from __future__ import annotations

import math
import os
import socket
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..models import AuditEntry, MediaItem, UploadSession


class ErrorCounter:
    """This process's count of failures of a shared service, by service (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {"s3": 0, "database": 0}

    def add(self, dependency: str) -> None:
        with self._lock:
            self._counts[dependency] = self._counts.get(dependency, 0) + 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


errors = ErrorCounter()


@dataclass
class Metric:
    name: str
    kind: str  # gauge or counter
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> Metric:
        self.samples.append((labels, float(value)))
        return self


def render(metrics: Iterable[Metric]) -> str:
    """The text format: HELP, TYPE and one line per sample."""
    lines: list[str] = []
    for m in metrics:
        lines.append(f"# HELP {m.name} {_escape_help(m.help)}")
        lines.append(f"# TYPE {m.name} {m.kind}")
        for labels, value in m.samples:
            label_text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
            lines.append(
                f"{m.name}{{{label_text}}} {_number(value)}"
                if labels
                else f"{m.name} {_number(value)}"
            )
    return "\n".join(lines) + "\n"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def upload_metrics(session: Session) -> list[Metric]:
    count, received, declared = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(UploadSession.offset), 0),
            sa.func.coalesce(sa.func.sum(UploadSession.length), 0),
        ).where(UploadSession.status == "active")
    ).one()
    return [
        Metric("fieldtrace_uploads_in_flight", "gauge", "tus uploads begun and not finished").add(
            count
        ),
        Metric(
            "fieldtrace_upload_received_bytes",
            "gauge",
            "bytes received so far by the uploads in flight",
        ).add(received),
        Metric(
            "fieldtrace_upload_declared_bytes",
            "gauge",
            "Upload-Length of the uploads in flight (what they will send in all)",
        ).add(declared),
    ]


def item_metrics(session: Session, now: datetime) -> list[Metric]:
    """Items by status and by pipeline state (failures: status hash_mismatch, processing
    failed or flagged), the backlog and how long its oldest item has waited.

    Counted from the indexes alone (status, processing): at 10^6 items a scan of the rows
    (a sum of sizes, say) would cost a scrape most of a second (bench/metrics.py)."""
    by_processing = Metric(
        "fieldtrace_media_processing",
        "gauge",
        "media items by pipeline state (pending includes items not yet verified; failed: "
        "gave up after retries; flagged: a step failed)",
    )
    total = 0
    for state, n in session.execute(
        sa.select(MediaItem.processing, sa.func.count()).group_by(MediaItem.processing)
    ):
        by_processing.add(n, state=state)
        total += n
    by_status = Metric(
        "fieldtrace_media_items", "gauge", "media items by status (received: awaiting verification)"
    )
    unverified = dict(
        session.execute(
            sa.select(MediaItem.status, sa.func.count())
            .where(MediaItem.status.in_(["received", "hash_mismatch"]))
            .group_by(MediaItem.status)
        ).all()
    )
    for status in ("received", "hash_mismatch"):
        by_status.add(unverified.get(status, 0), status=status)
    by_status.add(total - sum(unverified.values()), status="verified")
    backlog = Metric(
        "fieldtrace_pipeline_backlog",
        "gauge",
        "items waiting for the pipeline, by what they wait for",
    )
    oldest = Metric(
        "fieldtrace_pipeline_oldest_waiting_seconds",
        "gauge",
        "age of the longest-waiting item of the backlog (0 when none waits)",
    )
    waiting = {
        "verify": (MediaItem.status == "received", MediaItem.stored_at),
        "process": (
            sa.and_(
                MediaItem.status == "verified", MediaItem.processing.in_(["pending", "running"])
            ),
            sa.func.coalesce(MediaItem.processing_updated_at, MediaItem.verified_at),
        ),
    }
    for step, (where, since) in waiting.items():
        n, first = session.execute(
            sa.select(sa.func.count(), sa.func.min(since)).where(where)
        ).one()
        backlog.add(n, step=step)
        first = _aware(first)
        oldest.add(max(0.0, (now - first).total_seconds()) if first else 0.0, step=step)
    return [by_status, by_processing, backlog, oldest]


def latency_metrics(session: Session, now: datetime, window: timedelta) -> list[Metric]:
    """Seconds from stored to verified and from verified to processed, for the items that
    finished in the last ``window``: count, p50, p95 and max (a summary over a window)."""
    since = now - window
    # The items the pipeline touched in the window, found through the audit log's index on
    # (action, actor_id, at) (its system entries have no actor), not by scanning the items.
    touched = sa.select(AuditEntry.object_id).where(
        AuditEntry.action.in_(["media.verified", "media.attached", "media.processing_failed"]),
        AuditEntry.actor_id.is_(None),
        AuditEntry.at >= since,
        AuditEntry.object_type == "media",
    )
    rows = session.execute(
        sa.select(
            MediaItem.stored_at,
            MediaItem.verified_at,
            MediaItem.processing,
            MediaItem.processing_updated_at,
        ).where(MediaItem.id.in_(touched))
    ).all()
    verify: list[float] = []
    process: dict[str, list[float]] = {"done": [], "flagged": [], "failed": []}
    for stored_at, verified_at, processing, updated_at in rows:
        stored_at, verified_at, updated_at = map(_aware, (stored_at, verified_at, updated_at))
        if stored_at and verified_at and verified_at >= since:
            verify.append((verified_at - stored_at).total_seconds())
        if processing in process and updated_at and verified_at and updated_at >= since:
            process[processing].append((updated_at - verified_at).total_seconds())
    summary = Metric(
        "fieldtrace_pipeline_latency_seconds",
        "gauge",
        f"pipeline latency of the items finished in the last {int(window.total_seconds())} s "
        "(verify: stored to verified; process: verified to processed)",
    )
    finished = Metric(
        "fieldtrace_pipeline_finished",
        "gauge",
        f"items finished in the last {int(window.total_seconds())} s by step and outcome",
    )
    finished.add(len(verify), step="verify", outcome="done")
    for outcome, values in process.items():
        finished.add(len(values), step="process", outcome=outcome)
    everything = [v for values in process.values() for v in values]
    for step, values in (("verify", verify), ("process", everything)):
        for name, value in _quantiles(values).items():
            summary.add(value, step=step, stat=name)
    return [summary, finished]


def _quantiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "max": 0.0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    return {"p50": at(0.5), "p95": at(0.95), "max": ordered[-1]}


def queue_metrics(pending: int | None, scheduled: int | None) -> list[Metric]:
    """Jobs waiting in the queue (Huey) and retries waiting for their time."""
    out = []
    if pending is not None:
        out.append(
            Metric("fieldtrace_queue_depth", "gauge", "jobs waiting in the queue").add(pending)
        )
    if scheduled is not None:
        out.append(
            Metric(
                "fieldtrace_queue_scheduled", "gauge", "jobs waiting for their time (retries)"
            ).add(scheduled)
        )
    return out


def dependency_metrics(checks: dict[str, str], process_errors: dict[str, int]) -> list[Metric]:
    """Readiness of each shared service as this process sees it now, and the failures of S3
    and the database this process answered 503 since it started."""
    up = Metric(
        "fieldtrace_dependency_up", "gauge", "1 when the readiness probe of a service passed"
    )
    for name, outcome in checks.items():
        up.add(1 if outcome == "ok" else 0, dependency=name)
    errors_total = Metric(
        "fieldtrace_dependency_errors_total",
        "counter",
        "requests this process answered 503 because S3 or the database failed",
    )
    for name, n in sorted(process_errors.items()):
        errors_total.add(n, dependency=name, process=f"{socket.gethostname()}:{os.getpid()}")
    return [up, errors_total]


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
