"""Many nodes, one database (issue 15): requests that race on shared rows, and the database
or the queue failing under a PATCH, answer what a client can act on — never a 500.

Runs on SQLite and on PostgreSQL (FIELDTRACE_TEST_DATABASE_URL; .ci/run).
"""

from __future__ import annotations

import os
import threading
import uuid

import requests
import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEntry, Device, MediaItem
from tests import tus_helpers as tus
from tests.conftest import open_case


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
