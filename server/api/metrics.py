"""``GET /metrics``: Prometheus text format, for the same machine or a bearer of the token.

Not public: nginx does not pass ``/metrics`` (the shipped nginx.conf serves the PWA there);
Prometheus scrapes each web node's gunicorn directly, from that machine (an agent) or with
``FIELDTRACE_METRICS_TOKEN``. A request that came through a proxy (``X-Forwarded-For``) is
never taken as local, whatever address it arrives from.
"""

from __future__ import annotations

import hmac
import ipaddress
from datetime import timedelta

from flask import Blueprint, Response, current_app, request

from .. import clock
from ..errors import Forbidden
from ..extensions import db
from ..runtime import runtime
from ..services import metrics as m
from .health import check_dependencies

bp = Blueprint("metrics", __name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@bp.get("/metrics")
def metrics():
    if not _allowed():
        raise Forbidden(
            "metrics are served to this machine or with FIELDTRACE_METRICS_TOKEN",
            code="metrics_forbidden",
        )
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    checks = check_dependencies(app)
    now = clock.now()
    out: list[m.Metric] = []
    if checks["database"] == "ok":
        window = timedelta(seconds=int(app.config["METRICS_WINDOW_S"]))
        out += m.upload_metrics(db.session)
        out += m.item_metrics(db.session, now)
        out += m.latency_metrics(db.session, now, window)
        db.session.rollback()
    if checks["queue"] == "ok":
        out += m.queue_metrics(*_queue_counts())
    out += m.dependency_metrics(checks, m.errors.snapshot())
    return Response(m.render(out), content_type=CONTENT_TYPE)


def _queue_counts() -> tuple[int | None, int | None]:
    jobs = runtime().jobs
    if jobs is None or jobs.huey.immediate:
        return None, None
    try:
        return jobs.huey.pending_count(), jobs.huey.scheduled_count()
    except Exception:  # gone since the probe: its gauge is absent this time
        return None, None


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
