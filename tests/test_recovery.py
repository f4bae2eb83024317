"""Recovery in seconds, not timers (issue 15): what a killed node or worker held is taken over
as soon as its process stops beating (``server.liveness``), not when a lease or a sweep runs out.

Runs on SQLite and on PostgreSQL (FIELDTRACE_TEST_DATABASE_URL; .ci/run).
"""

from __future__ import annotations

import dataclasses
import socket
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from media_pipeline.process import process_item
from media_pipeline.verify import Outcome
from server import clock, liveness
from server.extensions import db
from server.models import MediaItem, UploadSession
from tests import tus_helpers as tus
from tests.conftest import PG_URL, Users, make_app, open_case
from tests.node import Node
from tests.tcp_fault import TcpProxy
from tests.workflow_helpers import tiny_mp4

HOLDER_STALE_S = 3


@pytest.fixture
def nodes(tmp_path: Path):
    """Start nodes in processes of their own; every one still running is killed afterwards."""
    started: list[Node] = []

    def start(role: str, config: dict[str, Any], **options: Any) -> Node:
        node = Node.start(role, config, log=tmp_path / f"node-{len(started)}.log", **options)
        started.append(node)
        return node

    yield start
    for node in started:
        node.kill()


def _open_patch(url: str, path: str, headers: dict[str, str], first: bytes) -> socket.socket:
    """A PATCH whose first bytes are sent and whose rest never comes."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(f"PATCH {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{head}\r\n".encode() + first)
    return sock


def _lease(app, upload_id: str) -> tuple[str | None, str | None]:
    with app.app_context():
        row = db.session.get(UploadSession, upload_id)
        assert row is not None
        held = row.lock_token, row.lock_holder
        db.session.remove()
        return held


def test_the_lease_of_a_node_killed_mid_patch_is_taken_over_in_seconds(app_config, nodes):
    # The lease itself would last a minute: only the holder's silence can free it in time.
    config = {**app_config, "UPLOAD_LOCK_SECONDS": 60, "UPLOAD_HOLDER_STALE_S": HOLDER_STALE_S}
    app = make_app(config)
    client = app.test_client()
    officer = Users(app, client).create("li")
    case = open_case(client, officer)
    data = bytes(range(256)) * 1200  # 300 kB
    location = tus.create(client, officer, len(data), tus.metadata(case["id"], data)).headers[
        "Location"
    ]
    upload_id = location.rsplit("/", 1)[1]

    node = nodes("web", config)
    headers = {
        **tus.TUS,
        **officer.headers,
        "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream",
        "Content-Length": str(len(data)),
    }
    sock = _open_patch(node.url, location, headers, data[:100_000])
    try:
        deadline = time.monotonic() + 30
        while _lease(app, upload_id)[1] is None:
            assert time.monotonic() < deadline, node.log.read_text()[-3000:]
            time.sleep(0.05)
        # A live holder keeps its lease well past the staleness limit: it beats.
        time.sleep(HOLDER_STALE_S + 1)
        busy = tus.patch(client, officer, location, 0, data)
        assert busy.status_code == 423, busy.json

        node.kill()  # the node dies mid-PATCH: no release, the row still names it
        killed = time.monotonic()
        assert _lease(app, upload_id)[0] is not None
        while True:
            head = client.head(location, headers={**tus.TUS, **officer.headers})
            assert head.status_code == 200
            offset = int(head.headers["Upload-Offset"])
            resumed = tus.patch(client, officer, location, offset, data[offset:])
            if resumed.status_code != 423:
                break
            assert time.monotonic() - killed < 30, "the dead node's lease was not taken over"
            time.sleep(0.2)
        recovered_s = time.monotonic() - killed
    finally:
        sock.close()
    assert resumed.status_code == 204, resumed.json
    assert resumed.headers["Fieldtrace-Media-Id"]
    # Within the staleness limit and a beat or two, not the lease's minute.
    assert recovered_s < HOLDER_STALE_S + 3, recovered_s
    print(f"lease of the killed node taken over after {recovered_s:.1f} s")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_an_item_of_a_worker_killed_mid_transcode_is_taken_by_another_worker(
    app_config, nodes, tmp_path
):
    config = {
        **app_config,
        "QUEUE_IMMEDIATE": False,
        "QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
        "PROCESSING_HOLDER_STALE_S": HOLDER_STALE_S,
        "PROCESSING_WATCHDOG_S": 1,
    }
    app = make_app(config)
    client = app.test_client()
    officer = Users(app, client).create("li")
    case = open_case(client, officer)
    item_id = tus.upload(
        client, officer, case["id"], tiny_mp4(tmp_path / "a.mp4"),
        content_type="video/mp4", filename="a.mp4",
    )  # fmt: skip

    def item() -> MediaItem:
        with app.app_context():
            found = db.session.get(MediaItem, item_id)
            db.session.expunge_all()
            db.session.remove()
            return found

    first = nodes("worker", config, slow_derive_s=600)  # hangs in the transcode
    deadline = time.monotonic() + 60
    while (seen := item()).processing != "running" or not seen.processing_holder:
        assert time.monotonic() < deadline, first.log.read_text()[-3000:]
        time.sleep(0.1)
    while "derive: holding" not in first.log.read_text():
        assert time.monotonic() < deadline, first.log.read_text()[-3000:]
        time.sleep(0.1)
    first.kill()
    killed = time.monotonic()

    jobs = app.extensions["fieldtrace"].jobs
    second = jobs.consumer(workers=1, in_process=True, periodic=False)
    second.start()
    try:
        while (seen := item()).processing not in ("done", "flagged", "failed"):
            assert time.monotonic() - killed < 60, f"still {seen.processing}"
            time.sleep(0.2)
        recovered_s = time.monotonic() - killed
    finally:
        second.stop(graceful=True)
    assert seen.processing == "done", seen.steps
    assert seen.steps["derive"]["state"] == "done"
    assert recovered_s < HOLDER_STALE_S + 10, recovered_s
    print(f"item of the killed worker done after {recovered_s:.1f} s")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_lease_its_request_could_not_release_is_free_in_seconds(app_config):
    """The database went away as a PATCH ended: its lease still names it. Its process lives
    on, busy with other uploads, yet the lease is free once that request's hold goes quiet."""
    config = {**app_config, "UPLOAD_LOCK_SECONDS": 60, "UPLOAD_HOLDER_STALE_S": HOLDER_STALE_S}
    app = make_app(config)
    client = app.test_client()
    officer = Users(app, client).create("li")
    case = open_case(client, officer)
    data = bytes(range(256)) * 40
    location = tus.create(client, officer, len(data), tus.metadata(case["id"], data)).headers[
        "Location"
    ]
    with app.app_context():
        other = liveness.hold(db.session)  # another upload this process is busy with
        cut_off = liveness.hold(db.session)
        upload = db.session.get(UploadSession, location.rsplit("/", 1)[1])
        upload.lock_token, upload.lock_holder = "a" * 32, cut_off.name
        upload.lock_expires_at = clock.now() + timedelta(seconds=60)
        db.session.commit()
        db.session.remove()
    try:
        assert tus.patch(client, officer, location, 0, data).status_code == 423
        liveness.let_go(cut_off)  # the request ends without releasing (as in write_chunk)
        ended = time.monotonic()
        while (resp := tus.patch(client, officer, location, 0, data)).status_code == 423:
            assert time.monotonic() - ended < 30
            time.sleep(0.2)
        assert resp.status_code == 204, resp.json
        assert time.monotonic() - ended < HOLDER_STALE_S + 3
    finally:
        liveness.let_go(other)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _verified_video(app, client, users, tmp_path) -> str:
    officer = users.create("li")
    case = open_case(client, officer)
    item_id = tus.upload(
        client, officer, case["id"], tiny_mp4(tmp_path / "a.mp4"),
        content_type="video/mp4", filename="a.mp4",
    )  # fmt: skip
    with app.app_context():
        item = db.session.get(MediaItem, item_id)
        item.steps = {k: v for k, v in item.steps.items() if k != "derive"}
        item.processing = "pending"
        db.session.commit()
    return item_id


def test_a_retry_takes_over_its_own_run_that_could_not_let_go(app, client, users, tmp_path):
    """The database went away under a run (PostgreSQL restarting): its error handler could not
    set the item back to pending. The job's retry takes it over at once; another job waits."""
    item_id = _verified_video(app, client, users, tmp_path)
    with app.app_context():
        held = liveness.hold(db.session)  # the run's hold is alive and beaten...
        try:
            item = db.session.get(MediaItem, item_id)
            item.processing, item.processing_updated_at = "running", clock.now()
            item.processing_holder, item.processing_run = held.name, "job-1"
            db.session.commit()
            rt = app.extensions["fieldtrace"]
            pipeline = dataclasses.replace(rt.jobs.pipeline, holder_stale_s=30)
            assert process_item(db.session, rt.storage, item_id, pipeline, run_id="job-2") == (
                Outcome.SKIPPED
            )  # ...so another job leaves the item to its run
            assert process_item(db.session, rt.storage, item_id, pipeline, run_id="job-1") == (
                Outcome.SUCCESS
            )  # ...but the run's own retry takes it over
        finally:
            liveness.let_go(held)
        assert db.session.get(MediaItem, item_id).processing == "done"


def test_a_run_whose_worker_stopped_beating_is_queued_again(app, client, users, tmp_path):
    item_id = _verified_video(app, client, users, tmp_path)
    with app.app_context():
        item = db.session.get(MediaItem, item_id)
        item.processing, item.processing_updated_at = "running", clock.now()
        item.processing_holder, item.processing_run = "gone-host:4242:dead", "job-1"
        db.session.commit()
        jobs = app.extensions["fieldtrace"].jobs
    # QUEUE_IMMEDIATE: queued again means run again, here and now.
    assert jobs.requeue_abandoned() == 1
    with app.app_context():
        assert db.session.get(MediaItem, item_id).processing == "done"
    assert jobs.requeue_abandoned() == 0  # nothing left running


def test_a_silent_run_with_a_fresh_progress_mark_is_still_taken_over(app, client, users, tmp_path):
    """The ten-minute progress mark alone would hold the item; its dead process frees it."""
    item_id = _verified_video(app, client, users, tmp_path)
    with app.app_context():
        item = db.session.get(MediaItem, item_id)
        item.processing = "running"
        item.processing_updated_at = clock.now() - timedelta(seconds=1)
        item.processing_holder = "gone-host:4242:dead"
        db.session.commit()
        rt = app.extensions["fieldtrace"]
        assert process_item(db.session, rt.storage, item_id, rt.jobs.pipeline) == Outcome.SUCCESS


def test_an_original_storage_cannot_open_is_an_http_error_not_a_cut_200(app, client, users):
    officer = users.create("li")
    case = open_case(client, officer)
    data = bytes(range(256)) * 40
    item_id = tus.upload(client, officer, case["id"], data)
    url = f"/api/v1/media/{item_id}/original"
    assert client.get(url, headers=officer.headers).data == data
    with app.app_context():
        item = db.session.get(MediaItem, item_id)
        item.object_key += "-gone"  # what S3 answers for an object it lost, or cannot reach
        db.session.commit()
        played = _count_played(item_id)
    for headers in ({}, {"Range": "bytes=10-99"}):
        resp = client.get(url, headers={**officer.headers, **headers})
        assert resp.status_code == 503, resp.status_code
        assert resp.json["error"]["code"] == "storage_unavailable"
        assert int(resp.headers["Retry-After"]) > 0
    with app.app_context():
        assert _count_played(item_id) == played  # nothing was shown: no view recorded


def _count_played(item_id: str) -> int:
    from server.models import AuditEntry

    return db.session.execute(
        sa.select(sa.func.count()).where(
            AuditEntry.object_id == item_id, AuditEntry.action == "media.played"
        )
    ).scalar_one()


@pytest.mark.skipif(not PG_URL, reason="a database blip needs a database server (PostgreSQL)")
def test_a_run_cut_off_by_a_database_restart_is_taken_over_by_its_retry(
    app_config, tmp_path, monkeypatch
):
    """PostgreSQL restarts mid-transcode: the run cannot set its item back to pending. Once the
    database is back, another job still waits for the run's hold to go quiet, but the job's
    own retry takes the item over at once instead of skipping it (which left it ``running``
    until the ten-minute sweep)."""
    from media_pipeline import derive as derive_module

    proxy = TcpProxy("127.0.0.1", 5432)
    try:
        url = app_config["SQLALCHEMY_DATABASE_URI"].replace(
            "@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/"
        )
        app = make_app({**app_config, "SQLALCHEMY_DATABASE_URI": url})
        client = app.test_client()
        item_id = _verified_video(app, client, Users(app, client), tmp_path)
        real = derive_module.make_web_proxy

        def restarting(*args: Any, **kwargs: Any) -> Any:
            proxy.cut()  # the database goes away while ffmpeg works
            return real(*args, **kwargs)

        monkeypatch.setattr(derive_module, "make_web_proxy", restarting)
        with app.app_context():
            rt = app.extensions["fieldtrace"]
            with pytest.raises(sa.exc.OperationalError):
                process_item(db.session, rt.storage, item_id, rt.jobs.pipeline, run_id="job-1")
            db.session.remove()
        monkeypatch.undo()
        proxy.heal()
        with app.app_context():
            item = db.session.get(MediaItem, item_id)
            assert item.processing == "running"  # it could not let go
            assert item.processing_run == "job-1"
            db.session.remove()
            rt = app.extensions["fieldtrace"]
            other = process_item(db.session, rt.storage, item_id, rt.jobs.pipeline, run_id="job-2")
            assert other == Outcome.SKIPPED  # within PROCESSING_HOLDER_STALE_S of the blip
            retry = process_item(db.session, rt.storage, item_id, rt.jobs.pipeline, run_id="job-1")
            assert retry == Outcome.SUCCESS
            assert db.session.get(MediaItem, item_id).processing == "done"
            db.session.remove()
            db.engine.dispose()
    finally:
        proxy.close()
