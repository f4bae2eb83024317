"""The job queue with a real consumer: embedded SQLite backend, and Redis in CI."""

import os
import time
import uuid
from datetime import timedelta

import pytest

from server.extensions import db
from server.models import MediaItem
from tests import tus_helpers as tus
from tests.conftest import make_app, open_case, sample_jpeg

REDIS_URL = os.environ.get("FIELDTRACE_TEST_REDIS_URL")


def _wait_for_status(app, item_id: str, status: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    current = ""
    while time.monotonic() < deadline:
        with app.app_context():
            current = db.session.get(MediaItem, item_id).status
            db.session.remove()
        if current == status:
            return current
        time.sleep(0.1)
    return current


def _queue_app(app_config, queue_url):
    return make_app(
        {
            **app_config,
            "QUEUE_IMMEDIATE": False,
            "QUEUE_URL": queue_url,
            "QUEUE_NAME": f"ft-test-{uuid.uuid4().hex[:8]}",
        }
    )


def _run(app_config, users_factory, queue_url):
    app = _queue_app(app_config, queue_url)
    client = app.test_client()
    users = users_factory(app, client)
    officer = users.create("li")
    case = open_case(client, officer)
    jobs = app.extensions["fieldtrace"].jobs
    consumer = jobs.consumer(workers=2, in_process=True, periodic=False)
    consumer.start()
    try:
        item_id = tus.upload(client, officer, case["id"], sample_jpeg())
        assert _wait_for_status(app, item_id, "verified") == "verified"

        # A job lost with its worker: the item stays "received" with nothing queued. The sweep
        # finds it and the consumer finishes it.
        second = tus.upload(client, officer, case["id"], sample_jpeg(40, 40), device_id="phone-1")
        assert _wait_for_status(app, second, "verified") == "verified"
        with app.app_context():
            row = db.session.get(MediaItem, second)
            row.status = "received"
            row.stored_at = row.stored_at - timedelta(hours=1)
            db.session.commit()
        jobs.huey.flush()
        result = jobs.sweep()
        assert result["requeued"] == 1
        assert _wait_for_status(app, second, "verified") == "verified"
    finally:
        consumer.stop(graceful=True)
        jobs.huey.flush()
        with app.app_context():
            db.engine.dispose()


def test_embedded_sqlite_queue_verifies_and_recovers(app_config):
    from tests.conftest import Users

    _run(app_config, Users, None)


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="set FIELDTRACE_TEST_REDIS_URL (CI does)")
def test_redis_queue_verifies_and_recovers(app_config):
    from tests.conftest import Users

    _run(app_config, Users, REDIS_URL)


def test_job_is_safe_to_run_twice(app, client, users):
    from media_pipeline.verify import Outcome, verify_original

    officer = users.create("li")
    case = open_case(client, officer)
    item_id = tus.upload(client, officer, case["id"], sample_jpeg())
    with app.app_context():
        rt = app.extensions["fieldtrace"]
        again = verify_original(
            db.session,
            rt.storage,
            item_id,
            retention=timedelta(days=1),
            quarantine_bucket=app.config["S3_BUCKET_QUARANTINE"],
        )
        assert again == Outcome.SKIPPED
        assert db.session.get(MediaItem, item_id).status == "verified"
