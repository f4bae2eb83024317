"""Log lines with the request's id (and a job's), as text or one JSON object a line.

Every request gets an id: nginx's ``$request_id`` (sent as ``X-Request-Id``) when it is sane,
else one made here. It is returned in the ``X-Request-Id`` response header, written into each
log line of that request and into its JSON error body (``error.request_id``), so a citizen's
or officer's report of a failure leads to the lines that explain it, on whichever node.

``fieldtrace worker`` logs each job: its start and its end, with the job's name and id, the
item it works on, the outcome and how long it took (``attach_job_logging``).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request

HEADER = "X-Request-Id"
# nginx's $request_id is 32 hex digits; accept what a well-behaved proxy sends and nothing
# that could forge a log line or a header (no spaces, quotes or control characters).
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")

_job_fields: ContextVar[dict[str, Any] | None] = ContextVar("fieldtrace_job", default=None)


def request_id() -> str | None:
    """The current request's id (made on first use), or None outside a request."""
    if not has_request_context():
        return None
    rid = g.get("request_id")
    if rid is None:
        sent = request.headers.get(HEADER, "")
        rid = sent if _SANE_ID.fullmatch(sent) else secrets.token_hex(16)
        g.request_id = rid
    return rid


def register_request_ids(app: Flask) -> None:
    @app.after_request
    def _send_request_id(response):
        rid = request_id()
        if rid:
            response.headers[HEADER] = rid
        return response


class ContextFilter(logging.Filter):
    """Puts ``request_id`` (and a job's fields) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id() or "-"
        fields = _job_fields.get()
        if fields:
            for key, value in fields.items():
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, request_id, and whatever
    ``extra=`` or a job's context added; the traceback as ``exc``."""

    _STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", "-")
        if rid != "-":
            out["request_id"] = rid
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                out[key] = (
                    value if isinstance(value, str | int | float | bool | None) else str(value)
                )
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def configure_logging(fmt: str = "text", *, level: int = logging.INFO, stream: Any = None) -> None:
    """Root logging for a gunicorn worker or a CLI process: ``text`` or ``json`` to stderr."""
    if fmt not in ("text", "json"):
        raise ValueError(f"FIELDTRACE_LOG_FORMAT={fmt!r}: say text or json")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_fieldtrace", False)]:
        root.removeHandler(old)
    handler._fieldtrace = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("huey").setLevel(logging.WARNING)  # our job lines say it, with the item


@contextmanager
def job_context(**fields: Any) -> Iterator[None]:
    """Fields added to every log line written inside (a job's name, id and item)."""
    token = _job_fields.set({**(_job_fields.get() or {}), **fields})
    try:
        yield
    finally:
        _job_fields.reset(token)


jobs_log = logging.getLogger("fieldtrace.jobs")


def attach_job_logging(huey: Any) -> None:
    """Log each job's start and end (name, id, item, outcome, seconds) from Huey's hooks."""
    started: dict[str, tuple[float, Any]] = {}
    lock = threading.Lock()

    @huey.pre_execute(name="fieldtrace-job-log")
    def _start(task: Any) -> None:
        fields = {"job": task.name, "job_id": task.id}
        if task.args:
            fields["item_id"] = str(task.args[0])
        token = _job_fields.set(fields)
        with lock:
            started[task.id] = (time.monotonic(), token)
        jobs_log.info("job start %s%s", task.name, _of(task))

    @huey.post_execute(name="fieldtrace-job-log")
    def _end(task: Any, value: Any, exc: BaseException | None) -> None:
        with lock:
            begun, token = started.pop(task.id, (None, None))
        seconds = round(time.monotonic() - begun, 3) if begun is not None else None
        outcome = f"error {type(exc).__name__}" if exc is not None else _outcome(value)
        level = logging.WARNING if exc is not None else logging.INFO
        jobs_log.log(
            level,
            "job end %s%s: %s in %s s",
            task.name,
            _of(task),
            outcome,
            seconds,
            extra={"outcome": outcome, "duration_s": seconds},
        )
        if token is not None:
            try:
                _job_fields.reset(token)
            except ValueError:  # set in another context (not the case with Huey's threads)
                _job_fields.set(None)


def _of(task: Any) -> str:
    return f" {task.args[0]}" if task.args else ""


def _outcome(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "done"
    return str(value) if value is not None else "done"
