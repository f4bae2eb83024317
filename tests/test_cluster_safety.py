"""Many nodes, one database (issue 15): requests that race on shared rows, and the database
or the queue failing under a PATCH, answer what a client can act on — never a 500.

Runs on SQLite and on PostgreSQL (FIELDTRACE_TEST_DATABASE_URL; .ci/run).
"""

from __future__ import annotations

import io
import os
import threading
import time
import uuid

import pytest
import requests
import sqlalchemy as sa
from werkzeug.serving import make_server

from server.extensions import db
from server.models import AuditEntry, Device, MediaItem
from server.storage.embedded import free_ports
from tests import tus_helpers as tus
from tests.conftest import PG_URL, Users, make_app, open_case
from tests.tcp_fault import TcpProxy


def test_concurrent_first_uploads_from_a_new_phone_register_it_once(
    app, client, users, live_server
):
    officer = users.create("li")
    case = open_case(client, officer)
    device = f"phone-{uuid.uuid4().hex[:12]}"
    n = 8
    files = [os.urandom(2048) for _ in range(n)]
    start = threading.Barrier(n)
    answers: list[tuple[int, str]] = [(0, "")] * n

    def first_upload(i: int) -> None:
        data = files[i]
        meta = tus.metadata(case["id"], data, device_id=device, filename=f"IMG_{i}.jpg")
        headers = {
            **tus.TUS,
            **officer.headers,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": tus.encode(meta),
            "Content-Type": "application/offset+octet-stream",
        }
        start.wait()
        resp = requests.post(
            f"{live_server}/api/v1/uploads/", data=data, headers=headers, timeout=60
        )
        answers[i] = (resp.status_code, resp.text[:300])

    threads = [threading.Thread(target=first_upload, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert [status for status, _ in answers] == [201] * n, answers
    with app.app_context():
        assert db.session.get(Device, device).user_id == officer.id
        registered = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "device.registered", AuditEntry.object_id == device)
        )
        assert registered == 1
        items = db.session.scalar(
            sa.select(sa.func.count()).select_from(MediaItem).where(MediaItem.device_id == device)
        )
        assert items == n


class HeldBody(io.RawIOBase):
    """``data`` as a request body of known length that stops at ``hold_at`` until ``go_on``."""

    def __init__(self, data: bytes, *, hold_at: int) -> None:
        self.data, self.pos, self.hold_at = data, 0, hold_at
        self.held, self.go_on = threading.Event(), threading.Event()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.pos = len(self.data) + offset if whence == io.SEEK_END else offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
        if self.pos == self.hold_at:
            self.held.set()
            self.go_on.wait(30)
        end = self.hold_at if self.pos < self.hold_at else len(self.data)
        n = min(len(buf), end - self.pos)
        buf[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n


@pytest.fixture
def make_live(request):
    """Serve an app on a real socket (threaded); stopped after the test."""
    servers = []

    def start(app) -> str:
        port = free_ports(1)[0]
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.shutdown()


def test_a_completing_patch_answers_success_when_the_queue_is_away(app_config):
    # Redis restarting: nothing listens on the queue's port.
    queue_url = f"redis://127.0.0.1:{free_ports(1)[0]}/0"
    app = make_app({**app_config, "QUEUE_URL": queue_url, "QUEUE_IMMEDIATE": False})
    client = app.test_client()
    officer = Users(app, client).create("li")
    case = open_case(client, officer)
    data = os.urandom(4096)
    created = tus.create(client, officer, len(data), tus.metadata(case["id"], data))
    resp = tus.patch(client, officer, created.headers["Location"], 0, data)
    assert resp.status_code == 204, resp.json
    item_id = resp.headers["Fieldtrace-Media-Id"]
    with app.app_context():
        item = db.session.get(MediaItem, item_id)
        # left "received": the sweep enqueues such items again once the queue is back
        assert item.status == "received" and item.stored_at is not None
        db.session.remove()
        db.engine.dispose()


@pytest.mark.skipif(not PG_URL, reason="a database blip needs a database server (PostgreSQL)")
def test_patches_during_a_database_blip_get_503_with_retry_after(app_config, make_live):
    proxy = TcpProxy("127.0.0.1", 5432)
    try:
        url = app_config["SQLALCHEMY_DATABASE_URI"].replace(
            "@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/"
        )
        assert url != app_config["SQLALCHEMY_DATABASE_URI"]
        app = make_app({**app_config, "SQLALCHEMY_DATABASE_URI": url})
        client = app.test_client()
        officer = Users(app, client).create("li")
        case = open_case(client, officer)
        data = os.urandom(300_000)
        location = tus.create(client, officer, len(data), tus.metadata(case["id"], data)).headers[
            "Location"
        ]
        base = make_live(app)
        headers = {
            **tus.TUS,
            **officer.headers,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
            "Content-Length": str(len(data)),
        }
        body = HeldBody(data, hold_at=100_000)
        answer: dict[str, requests.Response] = {}
        patch = threading.Thread(
            target=lambda: answer.setdefault(
                "r", requests.patch(base + location, data=body, headers=headers, timeout=60)
            )
        )
        patch.start()
        assert body.held.wait(30)
        time.sleep(1)  # the server has read what was sent and waits for more
        proxy.cut()  # PostgreSQL restarts under the PATCH
        body.go_on.set()
        patch.join(60)
        resp = answer["r"]
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"]["code"] == "database_unavailable"
        assert int(resp.headers["Retry-After"]) > 0
        # Requests arriving while it is down: 503 too, before and after signing in.
        down = requests.head(base + location, headers={**tus.TUS, **officer.headers}, timeout=30)
        assert down.status_code == 503 and "Retry-After" in down.headers
        login = requests.post(
            base + "/api/v1/auth/login", json={"username": "li", "password": "x"}, timeout=30
        )
        assert login.status_code == 503

        proxy.heal()  # back: the client resumes from the offset HEAD gives, as tus clients do
        healed = time.monotonic()
        while True:
            head = requests.head(
                base + location, headers={**tus.TUS, **officer.headers}, timeout=30
            )
            assert head.status_code == 200
            offset = int(head.headers["Upload-Offset"])
            resumed = requests.patch(
                base + location,
                data=data[offset:],
                headers={
                    **headers,
                    "Upload-Offset": str(offset),
                    "Content-Length": str(len(data) - offset),
                },
                timeout=60,
            )
            # The PATCH cut off by the blip could not release its lease: its hold goes quiet
            # (UPLOAD_HOLDER_STALE_S, 5 s) and the client waits as Retry-After says.
            if resumed.status_code != 423 or time.monotonic() - healed > 30:
                break
            time.sleep(int(resumed.headers["Retry-After"]))
        assert resumed.status_code == 204, resumed.text
        assert resumed.headers["Fieldtrace-Media-Id"]
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        proxy.close()
