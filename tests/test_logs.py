"""Request ids in headers, error bodies and log lines; the worker's lines for each job."""

import io
import json
import logging
import re

import pytest

from server.logs import attach_job_logging, configure_logging
from tests import tus_helpers as tus
from tests.conftest import open_case, sample_jpeg


@pytest.fixture
def json_log():
    """Root logging as in production with FIELDTRACE_LOG_FORMAT=json, into a buffer."""
    root = logging.getLogger()
    before = (list(root.handlers), root.level, logging.getLogger("huey").level)
    out = io.StringIO()
    configure_logging("json", stream=out)
    yield lambda: [json.loads(line) for line in out.getvalue().splitlines()]
    root.handlers[:] = before[0]
    root.setLevel(before[1])
    logging.getLogger("huey").setLevel(before[2])


def test_every_response_carries_a_request_id_and_errors_name_it(client):
    ok = client.get("/healthz")
    rid = ok.headers["X-Request-Id"]
    assert len(rid) == 32 and int(rid, 16) >= 0
    assert client.get("/healthz").headers["X-Request-Id"] != rid  # one per request
    missing = client.get("/api/v1/nope")
    assert missing.status_code == 404
    assert missing.json["error"]["request_id"] == missing.headers["X-Request-Id"]


def test_nginx_request_id_is_kept_when_sane_and_replaced_when_not(client):
    nginx_id = "0f3c5e1d9a8b7c6d5e4f3a2b1c0d9e8f"
    resp = client.get("/api/v1/nope", headers={"X-Request-Id": nginx_id})
    assert resp.headers["X-Request-Id"] == nginx_id
    assert resp.json["error"]["request_id"] == nginx_id
    for forged in ('x" level="ERROR', "short", "a" * 200, "id\twith tab"):
        resp = client.get("/healthz", headers={"X-Request-Id": forged})
        assert resp.headers["X-Request-Id"] != forged
        assert len(resp.headers["X-Request-Id"]) == 32


def test_json_log_lines_carry_the_request_id(app, json_log):
    @app.get("/test-only/boom")
    def boom():
        raise RuntimeError("kaboom")

    resp = app.test_client().get("/test-only/boom", headers={"X-Request-Id": "req-1234abcd"})
    assert resp.status_code == 500
    assert resp.json["error"] == {
        "code": "internal_error",
        "message": "an unexpected error occurred",
        "request_id": "req-1234abcd",
    }
    line = next(rec for rec in json_log() if rec["message"] == "unhandled error")
    assert line["request_id"] == "req-1234abcd"
    assert line["level"] == "ERROR" and "kaboom" in line["exc"]
    assert line["time"].endswith("+00:00")


def test_text_log_lines_carry_the_request_id(app):
    root = logging.getLogger()
    before = list(root.handlers)
    out = io.StringIO()
    configure_logging("text", stream=out)
    try:

        @app.get("/test-only/warn")
        def warn():
            logging.getLogger("server.test").warning("something odd")
            return {}

        app.test_client().get("/test-only/warn", headers={"X-Request-Id": "abcd-1234-ef"})
    finally:
        root.handlers[:] = before
    assert "WARNING server.test [abcd-1234-ef] something odd" in out.getvalue()


def test_worker_logs_each_job_with_its_item_and_duration(app, client, users, json_log):
    attach_job_logging(app.extensions["fieldtrace"].jobs.huey)
    officer = users.create("li")
    case = open_case(client, officer)
    item_id = tus.upload(client, officer, case["id"], sample_jpeg())
    lines = [rec for rec in json_log() if rec["logger"] == "fieldtrace.jobs"]
    by_job = {(rec["job"], rec["message"].split()[1]): rec for rec in lines}
    for job in ("verify_original", "process_media"):
        start, end = by_job[(job, "start")], by_job[(job, "end")]
        assert start["item_id"] == end["item_id"] == item_id
        assert start["job_id"] == end["job_id"]
        assert end["outcome"] == "success"
        assert 0 <= end["duration_s"] < 60
    # a line written inside the job (by the pipeline) carries the job's item too
    assert all(rec.get("item_id") == item_id for rec in lines)


def test_the_worker_serve_starts_logs_its_jobs(app_config, caplog):
    """``serve``'s in-process worker (as ``fieldtrace worker``) has its job lines."""
    import time

    from server.cli import _in_process_worker
    from tests.conftest import make_app

    app = make_app({**app_config, "QUEUE_IMMEDIATE": False})
    root_handlers, root_level = list(logging.getLogger().handlers), logging.getLogger().level
    consumer = _in_process_worker(app)
    try:
        app.extensions["fieldtrace"].jobs.enqueue_verify("no-such-item")
        deadline = time.monotonic() + 20
        ends: list[str] = []
        while not ends and time.monotonic() < deadline:
            time.sleep(0.1)
            ends = [m for m in caplog.messages if m.startswith("job end verify_original")]
        assert ends, caplog.messages
        assert re.fullmatch(r"job end verify_original no-such-item: skipped in [0-9.]+ s", ends[0])
        assert "job start verify_original no-such-item" in caplog.messages
    finally:
        consumer.stop(graceful=True)
        logging.getLogger().handlers[:] = root_handlers  # _in_process_worker configured it
        logging.getLogger().setLevel(root_level)
        from server.extensions import db

        with app.app_context():
            db.engine.dispose()
