"""Liveness and readiness probes (public, no data).

``/readyz`` answers within ``READY_DEADLINE_S`` whatever the database, S3 or the queue do: each
probe runs in a thread of its own and one that has not answered by then is reported as
``error: timeout`` (503), so a load balancer takes the node out instead of waiting on it. A
probe still hanging from an earlier call is not started again (``error: still waiting``): a
service that stopped answering costs at most one thread per probe, never one per request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app

from ..extensions import db
from ..runtime import runtime

bp = Blueprint("health", __name__)

READY_DEADLINE_S = 1.5  # all three probes together; the answer comes well within 2 s

_running: dict[tuple[int, str], threading.Thread] = {}
_running_lock = threading.Lock()


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    checks = check_dependencies(app)
    ok = all(v == "ok" for v in checks.values())
    return {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503


def check_dependencies(app: Flask) -> dict[str, str]:
    """``{"database"|"storage"|"queue": "ok" | "error: ..."}`` within ``READY_DEADLINE_S``."""
    probes: dict[str, Callable[[], None]] = {
        "database": lambda: _database(app),
        "storage": lambda: _storage(app),
        "queue": lambda: _queue(app),
    }
    results: dict[str, str] = {}
    threads: dict[str, threading.Thread] = {}
    for name, probe in probes.items():
        key = (id(app), name)
        with _running_lock:
            earlier = _running.get(key)
            if earlier is not None and earlier.is_alive():
                results[name] = "error: still waiting"
                continue
            thread = threading.Thread(
                target=_run, args=(probe, results, name), name=f"readyz-{name}", daemon=True
            )
            _running[key] = threads[name] = thread
        thread.start()
    deadline = time.monotonic() + READY_DEADLINE_S
    for name, thread in threads.items():
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            results[name] = "error: timeout"
    return {name: results.get(name, "error: timeout") for name in probes}


def _run(probe: Callable[[], None], results: dict[str, str], name: str) -> None:
    try:
        probe()
        outcome = "ok"
    except Exception as exc:
        outcome = f"error: {type(exc).__name__}"
    results.setdefault(name, outcome)  # a late answer does not replace "timeout"


def _database(app: Flask) -> None:
    with app.app_context():
        try:
            with db.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        finally:
            db.session.remove()


def _storage(app: Flask) -> None:
    with app.app_context():
        runtime().storage.ping()


def _queue(app: Flask) -> None:
    with app.app_context():
        jobs = runtime().jobs
        assert jobs is not None
        if not jobs.huey.immediate:
            jobs.huey.pending_count()
