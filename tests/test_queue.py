"""The job queue with a real consumer: embedded SQLite backend, and Redis in CI."""

import os
import time
import uuid
from datetime import timedelta

import pytest

from server.extensions import db
from server.models import MediaItem
from server.services import audit
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
        # The sweep signed the audit log's head and kept a copy under Object Lock.
        with app.app_context():
            rt = app.extensions["fieldtrace"]
            stored = audit.verify_stored_heads(
                db.session,
                rt.storage,
                app.config["S3_BUCKET_ORIGINALS"],
                trusted_public_keys={rt.signer.public_key_hex},
                prefix=app.config["AUDIT_HEADS_PREFIX"],
            )
        assert stored.ok and stored.heads_checked >= 1
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


def test_failing_job_stops_after_retries_with_the_item_flagged(app_config):
    from server.storage import StorageError
    from tests.conftest import Users

    app = _queue_app({**app_config, "JOB_RETRY_DELAY_S": 0}, None)
    client = app.test_client()
    officer = Users(app, client).create("li")
    case = open_case(client, officer)
    jobs = app.extensions["fieldtrace"].jobs
    runtime = app.extensions["fieldtrace"]
    # Storage that fails every write of a derivative (as a full disk would), injected the way
    # the app injects any storage; originals and verification still use the real S3 calls.
    real = runtime.storage

    class DiskFull(type(real)):  # type: ignore[misc]
        def put_file(self, *args, **kwargs):
            raise StorageError("put file: XMinioStorageFull disk full")

    broken = DiskFull.__new__(DiskFull)
    broken.__dict__.update(real.__dict__)
    runtime.storage = broken
    consumer = jobs.consumer(workers=1, in_process=True, periodic=False)
    consumer.start()
    try:
        item_id = tus.upload(client, officer, case["id"], sample_jpeg())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with app.app_context():
                item = db.session.get(MediaItem, item_id)
                processing, flags = item.processing, item.flags
                db.session.remove()
            if processing == "failed":
                break
            time.sleep(0.2)
        assert processing == "failed"
        assert [f["code"] for f in flags] == ["processing_failed"]
        assert "disk full" in flags[0]["message"]
        assert item.status == "verified"  # the evidence itself is fine
    finally:
        consumer.stop(graceful=True)
        jobs.huey.flush()
        with app.app_context():
            db.engine.dispose()


def test_worker_killed_mid_transcode_leaves_nothing_stuck(app_config, tmp_path):
    import signal
    import subprocess
    import sys

    from tests.conftest import Users

    config = {**app_config, "PROCESSING_STUCK_MINUTES": 0}
    app = _queue_app(config, None)
    client = app.test_client()
    officer = Users(app, client).create("li")
    case = open_case(client, officer)
    clip = tmp_path / "long.webm"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1280x720:rate=30:duration=12",
            "-c:v",
            "libvpx",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-b:v",
            "2M",
            str(clip),
        ],
        check=True,
        timeout=120,
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FIELDTRACE_")},
        "FIELDTRACE_DATA_DIR": str(config["DATA_DIR"]),
        "FIELDTRACE_DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "FIELDTRACE_SECRET_KEY": "x",
        "FIELDTRACE_S3_ENDPOINT_URL": config["S3_ENDPOINT_URL"],
        "FIELDTRACE_S3_ACCESS_KEY": config["S3_ACCESS_KEY"],
        "FIELDTRACE_S3_SECRET_KEY": config["S3_SECRET_KEY"],
        "FIELDTRACE_QUEUE_NAME": app.config["QUEUE_NAME"],
        # The killed run's heartbeat stops; the new worker may take the item over at once.
        "FIELDTRACE_PROCESSING_STUCK_MINUTES": "0",
        **{f"FIELDTRACE_{k}": v for k, v in config.items() if k.startswith("S3_BUCKET_")},
    }

    def start_worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "server.cli", "worker", "--workers", "1"],
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    worker = start_worker()
    try:
        item_id = tus.upload(
            client,
            officer,
            case["id"],
            clip.read_bytes(),
            filename="long.webm",
            content_type="video/webm",
        )
        deadline = time.monotonic() + 60
        killed_at = None
        seen: list[tuple] = []
        while time.monotonic() < deadline:
            with app.app_context():
                item = db.session.get(MediaItem, item_id)
                state = (item.processing, (item.steps or {}).get("probe", {}).get("state"))
                db.session.remove()
            if not seen or seen[-1][1] != state:
                seen.append((round(time.monotonic() - deadline + 60, 2), state))
            if state == ("running", "done"):  # probing done: the transcode is under way
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
                killed_at = state
                break
            time.sleep(0.05)
        assert killed_at, f"never saw the transcode running: {seen}"
        with app.app_context():
            assert db.session.get(MediaItem, item_id).processing == "running"  # stuck, for now
            db.session.remove()
        worker = start_worker()
        assert app.extensions["fieldtrace"].jobs.sweep()["reprocessed"] == 1
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with app.app_context():
                item = db.session.get(MediaItem, item_id)
                processing, names = item.processing, sorted(d.name for d in item.derivatives)
                db.session.remove()
            if processing == "done":
                break
            time.sleep(0.2)
        assert processing == "done" and names == ["poster", "proxy", "strip", "thumbnail"]
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        app.extensions["fieldtrace"].jobs.huey.flush()
        with app.app_context():
            db.engine.dispose()


def _wait_for_processing(app, item_id: str, timeout: float = 90) -> tuple[str, str, list[str]]:
    """Poll until the pipeline settles; returns (status, processing, derivative names)."""
    deadline = time.monotonic() + timeout
    state = ("", "", [])
    while time.monotonic() < deadline:
        with app.app_context():
            item = db.session.get(MediaItem, item_id)
            state = (item.status, item.processing, sorted(d.name for d in item.derivatives))
            db.session.remove()
        if state[1] in ("done", "flagged", "failed"):
            return state
        time.sleep(0.2)
    return state


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="set FIELDTRACE_TEST_REDIS_URL (CI does)")
def test_redis_workers_take_photo_and_video_through_the_whole_pipeline(app_config, tmp_path):
    import subprocess

    from huey import RedisHuey

    from tests.conftest import Users
    from tests.heic_samples import red_over_blue_heic

    clip = tmp_path / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15:duration=2",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:v", "libx264",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(clip)],
        check=True,
        timeout=60,
    )  # fmt: skip
    app = _queue_app(app_config, REDIS_URL)
    client = app.test_client()
    officer = Users(app, client).create("li")
    case = open_case(client, officer)
    jobs = app.extensions["fieldtrace"].jobs
    assert isinstance(jobs.huey, RedisHuey)
    consumer = jobs.consumer(workers=2, in_process=True, periodic=False)
    started = False
    try:
        # A job lost with its worker before any worker ran: the item stays "received" and
        # nothing is queued for it.
        lost = tus.upload(client, officer, case["id"], sample_jpeg(), device_id="phone-2")
        jobs.huey.flush()
        with app.app_context():
            row = db.session.get(MediaItem, lost)
            assert (row.status, row.processing) == ("received", "pending")
            row.stored_at = row.stored_at - timedelta(hours=1)
            db.session.commit()
            db.session.remove()

        consumer.start()
        started = True
        photo = tus.upload(
            client,
            officer,
            case["id"],
            red_over_blue_heic(),
            content_type="image/heic",
            filename="IMG_0001.HEIC",
        )
        video = tus.upload(
            client,
            officer,
            case["id"],
            clip.read_bytes(),
            content_type="video/mp4",
            filename="clip.mp4",
        )
        assert _wait_for_processing(app, photo) == ("verified", "done", ["preview", "thumbnail"])
        assert _wait_for_processing(app, video) == (
            "verified",
            "done",
            ["poster", "proxy", "strip", "thumbnail"],
        )
        thumb = client.get(f"/api/v1/media/{photo}/thumbnail", headers=officer.headers)
        assert thumb.status_code == 200 and thumb.data[:3] == b"\xff\xd8\xff"
        proxy = client.get(
            f"/api/v1/media/{video}/proxy", headers={**officer.headers, "Range": "bytes=0-99"}
        )
        assert proxy.status_code == 206 and proxy.data[4:8] == b"ftyp"
        steps = client.get(f"/api/v1/media/{video}", headers=officer.headers).json["steps"]
        assert {name: s["state"] for name, s in steps.items()} == {
            "probe": "done",
            "derive": "done",
            "attach": "done",
            "rules": "done",
        }

        # The sweep finds the lost item; a Redis worker verifies and processes it.
        assert jobs.sweep()["requeued"] == 1
        assert _wait_for_processing(app, lost) == ("verified", "done", ["preview", "thumbnail"])
        assert jobs.sweep()["requeued"] == 0
    finally:
        if started:
            consumer.stop(graceful=True)
        jobs.huey.flush()
        with app.app_context():
            db.engine.dispose()


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="set FIELDTRACE_TEST_REDIS_URL (CI does)")
def test_the_periodic_sweep_runs_once_per_cluster(app_config):
    """Two nodes' workers over one Redis queue fire the minute's sweep at once: one runs it."""
    import threading

    config = {
        **app_config,
        "QUEUE_IMMEDIATE": False,
        "QUEUE_URL": REDIS_URL,
        "QUEUE_NAME": f"ft-test-{uuid.uuid4().hex[:8]}",
    }
    nodes = [make_app(config) for _ in range(2)]
    start = threading.Barrier(len(nodes))
    results: list[dict[str, int]] = [{} for _ in nodes]

    def fire(i: int) -> None:
        start.wait()
        results[i] = nodes[i].extensions["fieldtrace"].jobs.sweep_task.call_local()

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(len(nodes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted("skipped" in r for r in results) == [False, True], results
    ran = next(r for r in results if "skipped" not in r)
    assert "requeued" in ran
    # The same minute once more (a worker whose clock or scheduler lags): still nobody.
    assert nodes[0].extensions["fieldtrace"].jobs.sweep_task.call_local() == {"skipped": 1}
    jobs = nodes[0].extensions["fieldtrace"].jobs
    jobs.huey.storage.conn.delete(f"fieldtrace:{jobs.huey.name}:periodic:sweep")
    for app in nodes:
        app.extensions["fieldtrace"].jobs.huey.flush()
        with app.app_context():
            db.engine.dispose()


def test_the_embedded_queue_always_runs_its_sweep(app):
    jobs = app.extensions["fieldtrace"].jobs
    assert jobs.claim_period("sweep", seconds=50)
    assert jobs.claim_period("sweep", seconds=50)  # one machine: its one scheduler decides


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="set FIELDTRACE_TEST_REDIS_URL (CI does)")
def test_job_results_do_not_accumulate_in_redis(app_config):
    app = _queue_app(app_config, REDIS_URL)
    jobs = app.extensions["fieldtrace"].jobs
    try:
        for _ in range(3):
            jobs.enqueue_verify("no-such-item")
        while (task := jobs.huey.dequeue()) is not None:
            jobs.huey.execute(task)
        assert jobs.huey.pending_count() == 0
        assert jobs.huey.result_count() == 0
    finally:
        jobs.huey.flush()
        with app.app_context():
            db.engine.dispose()


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="set FIELDTRACE_TEST_REDIS_URL (CI does)")
def test_a_queue_lost_with_a_redis_restart_is_refilled_at_the_next_sweep(app_config):
    """Redis restarted without persistence: its jobs are gone, the items still wait. The next
    sweep (within a minute) notices and queues them again, not the 5-minute stuck timer."""
    from tests.conftest import Users

    app = _queue_app(app_config, REDIS_URL)
    client = app.test_client()
    officer = Users(app, client).create("li")
    case = open_case(client, officer)
    jobs = app.extensions["fieldtrace"].jobs
    conn = jobs.huey.storage.conn
    try:
        item_id = tus.upload(client, officer, case["id"], sample_jpeg())  # no worker runs it
        jobs.sweep()  # this queue's first sweep leaves its marker
        assert jobs.sweep()["queue_lost"] == 0
        jobs.huey.flush()  # the restart: the jobs and the marker are gone
        conn.delete(f"fieldtrace:{jobs.huey.name}:epoch")
        assert jobs.huey.pending_count() == 0
        result = jobs.sweep()
        assert (result["queue_lost"], result["requeued"]) == (1, 1), result
        [task] = jobs.huey.pending()
        assert task.args == (item_id,)
        assert jobs.sweep()["requeued"] == 0  # a young item in an intact queue is left alone
    finally:
        jobs.huey.flush()
        conn.delete(f"fieldtrace:{jobs.huey.name}:epoch")
        with app.app_context():
            db.engine.dispose()
