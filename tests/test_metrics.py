"""GET /metrics: Prometheus text format, for this machine or a bearer of the token."""

import re
from datetime import timedelta

from server import clock
from server.extensions import db
from server.models import MediaItem
from tests import tus_helpers as tus
from tests.conftest import open_case, sample_jpeg


def _samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_metrics_in_text_format_with_uploads_items_and_latency(app, client, users):
    officer = users.create("li")
    case = open_case(client, officer)
    tus.upload(client, officer, case["id"], sample_jpeg())
    data = sample_jpeg(80, 60)
    started = tus.create(client, officer, len(data), tus.metadata(case["id"], data))
    assert started.status_code == 201, started.json
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.content_type.startswith("text/plain; version=0.0.4")
    text = resp.get_data(as_text=True)
    names = {m.group(1) for m in re.finditer(r"^# TYPE (\S+) (gauge|counter)$", text, re.M)}
    assert all(n.startswith("fieldtrace_") for n in names)
    got = _samples(text)
    print(text)
    assert got["fieldtrace_uploads_in_flight"] == 1
    assert got["fieldtrace_upload_declared_bytes"] == len(data)
    assert got["fieldtrace_upload_received_bytes"] == 0
    assert got['fieldtrace_media_items{status="verified"}'] == 1
    assert got['fieldtrace_pipeline_backlog{step="verify"}'] == 0
    assert got['fieldtrace_pipeline_finished{step="verify",outcome="done"}'] == 1
    assert got['fieldtrace_pipeline_latency_seconds{step="verify",stat="max"}'] >= 0
    assert got['fieldtrace_dependency_up{dependency="storage"}'] == 1
    assert 'fieldtrace_dependency_errors_total{dependency="s3",process="' in text


def test_oldest_waiting_item_and_failures(app, client, users):
    officer = users.create("li")
    case = open_case(client, officer)
    tus.upload(client, officer, case["id"], sample_jpeg())
    with app.app_context():
        item = db.session.scalars(db.select(MediaItem)).one()
        item.status = "received"
        item.stored_at = clock.now() - timedelta(minutes=7)
        db.session.commit()
    got = _samples(client.get("/metrics").get_data(as_text=True))
    assert got['fieldtrace_pipeline_backlog{step="verify"}'] == 1
    assert 400 < got['fieldtrace_pipeline_oldest_waiting_seconds{step="verify"}'] < 500
    with app.app_context():
        item = db.session.scalars(db.select(MediaItem)).one()
        item.status, item.processing = "verified", "failed"
        db.session.commit()
    got = _samples(client.get("/metrics").get_data(as_text=True))
    assert got['fieldtrace_media_processing{state="failed"}'] == 1


def test_metrics_not_for_other_machines_or_through_a_proxy(app_config):
    from tests.conftest import make_app

    app = make_app({**app_config, "METRICS_TOKEN": "s3cret-scrape"})
    client = app.test_client()
    away = {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get("/metrics", environ_base=away).status_code == 403
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403
    assert proxied.json["error"]["code"] == "metrics_forbidden"
    wrong = {"Authorization": "Bearer nope"}
    assert client.get("/metrics", headers=wrong, environ_base=away).status_code == 403
    token = {"Authorization": "Bearer s3cret-scrape"}
    assert client.get("/metrics", headers=token, environ_base=away).status_code == 200
    assert client.get("/metrics").status_code == 200  # the same machine, directly
    with app.app_context():
        db.engine.dispose()


def test_dependency_errors_are_counted_per_process(app, client, users):
    from server.services.metrics import errors

    before = errors.snapshot()["s3"]
    errors.add("s3")
    got = _samples(client.get("/metrics").get_data(as_text=True))
    key = next(k for k in got if k.startswith('fieldtrace_dependency_errors_total{dependency="s3"'))
    assert got[key] == before + 1


def test_queue_depth_from_redis(app_config):
    import os
    import uuid

    import pytest

    url = os.environ.get("FIELDTRACE_TEST_REDIS_URL")
    if not url:
        pytest.skip("set FIELDTRACE_TEST_REDIS_URL (CI does)")
    from tests.conftest import make_app

    app = make_app(
        {**app_config, "QUEUE_URL": url, "QUEUE_IMMEDIATE": False,
         "QUEUE_NAME": f"metrics-{uuid.uuid4().hex[:8]}"}
    )  # fmt: skip
    jobs = app.extensions["fieldtrace"].jobs
    try:
        jobs.enqueue_verify("one")
        jobs.enqueue_verify("two")
        got = _samples(app.test_client().get("/metrics").get_data(as_text=True))
        assert got["fieldtrace_queue_depth"] == 2
        assert got["fieldtrace_queue_scheduled"] == 0
    finally:
        jobs.huey.flush()
        with app.app_context():
            db.engine.dispose()


def test_metrics_answer_when_the_database_or_s3_is_down(app_config):
    """A scrape is how an operator learns a service is down: 200, with it at 0."""
    from server import create_app
    from server.storage.embedded import free_ports

    closed = free_ports(1)[0]
    for overrides, down in (
        ({"S3_ENDPOINT_URL": f"http://127.0.0.1:{closed}"}, "storage"),
        ({"SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://x@127.0.0.1:{closed}/x"}, "database"),
    ):
        app = create_app(**{**app_config, **overrides})
        if down != "database":
            with app.app_context():
                db.create_all()
        resp = app.test_client().get("/metrics")
        assert resp.status_code == 200
        got = _samples(resp.get_data(as_text=True))
        assert got[f'fieldtrace_dependency_up{{dependency="{down}"}}'] == 0
        if down == "database":
            assert "fieldtrace_uploads_in_flight" not in got  # not a misleading 0
        with app.app_context():
            db.engine.dispose()
