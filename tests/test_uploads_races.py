"""A PATCH still running while DELETE or the expiry sweep arrive, under a controlled interleaving.

The request body is a stream that stops at chosen offsets until the test lets it go on, so the
other request runs at a known point of the PATCH.
"""

from __future__ import annotations

import io
import os
import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import MediaItem, UploadSession, utcnow
from server.services.uploads import expire_uploads
from tests import tus_helpers as tus
from tests.conftest import Actor, open_case

MiB = 1024 * 1024


class GatedBody(io.RawIOBase):
    """``data``, stopping at each of ``stops`` until ``go(i)``; ``wait(i)`` says it got there."""

    def __init__(self, data: bytes, stops: list[int]) -> None:
        self.data, self.pos, self.stops = data, 0, stops
        self.reached = [threading.Event() for _ in stops]
        self.released = [threading.Event() for _ in stops]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client measures the body once, before the request
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.pos = len(self.data) + offset if whence == io.SEEK_END else offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buf: Any) -> int:
        for i, stop in enumerate(self.stops):
            if self.pos == stop and not self.released[i].is_set():
                self.reached[i].set()
                assert self.released[i].wait(30), "the test never let the body go on"
        ends = [s for s in self.stops if s > self.pos] + [len(self.data)]
        end = min(len(self.data), self.pos + len(buf), min(ends))
        count = end - self.pos
        buf[:count] = self.data[self.pos : end]
        self.pos = end
        return count

    def wait(self, i: int = 0) -> None:
        assert self.reached[i].wait(30), f"the PATCH never reached byte {self.stops[i]}"

    def go(self, i: int = 0) -> None:
        self.released[i].set()


def _patch_in_background(client, actor: Actor, location: str, body: GatedBody) -> dict:
    out: dict[str, Any] = {}

    def run() -> None:
        out["response"] = client.patch(
            location,
            input_stream=body,
            headers={
                **tus.TUS,
                **actor.headers,
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(len(body.data)),
            },
        )

    out["thread"] = threading.Thread(target=run, daemon=True)
    out["thread"].start()
    return out


def _finish(out: dict) -> Any:
    out["thread"].join(60)
    assert not out["thread"].is_alive()
    return out["response"]


@pytest.fixture
def officer(users):
    return users.create("li")


@pytest.fixture
def case(client, officer):
    return open_case(client, officer)


def _row(app, location: str) -> UploadSession:
    with app.app_context():
        upload = db.session.get(UploadSession, location.rsplit("/", 1)[1])
        db.session.expunge(upload)
        return upload


def _audit_actions(app, upload_id: str) -> list[str]:
    with app.app_context():
        rows = db.session.execute(
            sa.text("SELECT action, details FROM audit_entries ORDER BY seq")
        ).all()
    return [a for a, d in rows if upload_id in str(d)]


def test_delete_during_a_patch_is_refused_and_the_upload_completes(app, client, officer, case):
    data = os.urandom(3000)
    location = tus.create(client, officer, len(data), tus.metadata(case["id"], data)).headers[
        "Location"
    ]
    body = GatedBody(data, [1000])
    running = _patch_in_background(client, officer, location, body)
    body.wait()
    refused = client.delete(location, headers={**tus.TUS, **officer.headers})
    assert refused.status_code == 423, refused.data
    assert refused.json["error"]["code"] == "upload_locked" and refused.headers["Retry-After"]
    body.go()
    done = _finish(running)
    assert done.status_code == 204 and done.headers["Upload-Offset"] == "3000"
    upload = _row(app, location)
    assert upload.status == "completed" and upload.media_item_id
    assert _audit_actions(app, upload.id) == ["upload.created", "upload.completed"]
    # Once complete it is evidence: terminating it is refused for good.
    again = client.delete(location, headers={**tus.TUS, **officer.headers})
    assert again.status_code == 409 and again.json["error"]["code"] == "completed"


def test_expiry_sweep_skips_an_upload_being_written(app, client, officer, case):
    data = os.urandom(3000)
    location = tus.create(client, officer, len(data), tus.metadata(case["id"], data)).headers[
        "Location"
    ]
    body = GatedBody(data, [1000])
    running = _patch_in_background(client, officer, location, body)
    body.wait()
    rt = app.extensions["fieldtrace"]
    with app.app_context():
        later = utcnow() + timedelta(days=30)
        assert expire_uploads(db.session, rt.storage, rt.uploads, now=later) == 0
    body.go()
    assert _finish(running).status_code == 204
    upload = _row(app, location)
    assert upload.status == "completed" and upload.media_item_id
    with app.app_context():
        assert db.session.get(MediaItem, upload.media_item_id).status == "verified"


def test_a_patch_whose_lease_ran_out_cannot_undo_a_termination(app, client, officer, case):
    """The lease ran out (a stalled client): DELETE may win, and the PATCH then gets 410."""
    data = os.urandom(3000)
    location = tus.create(client, officer, len(data), tus.metadata(case["id"], data)).headers[
        "Location"
    ]
    upload_id = location.rsplit("/", 1)[1]
    body = GatedBody(data, [1000])
    running = _patch_in_background(client, officer, location, body)
    body.wait()
    with app.app_context():
        db.session.execute(
            sa.update(UploadSession)
            .where(UploadSession.id == upload_id)
            .values(lock_expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    assert client.delete(location, headers={**tus.TUS, **officer.headers}).status_code == 204
    body.go()
    late = _finish(running)
    assert late.status_code == 410 and late.json["error"]["code"] == "upload_gone"
    upload = _row(app, location)
    assert upload.status == "terminated" and upload.media_item_id is None
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count(MediaItem.id))).scalar_one() == 0
    assert _audit_actions(app, upload_id) == ["upload.created", "upload.terminated"]


def test_recorded_parts_keep_a_long_patch_from_expiring(app, client, officer, case):
    """Each recorded part moves the expiry on, so a HEAD during a long PATCH never gets 410."""
    data = os.urandom(25 * MiB)
    meta = tus.metadata(case["id"], data, filename="clip.mp4", content_type="video/mp4")
    location = tus.create(client, officer, len(data), meta).headers["Location"]
    upload_id = location.rsplit("/", 1)[1]
    # Stop 1: nothing recorded yet. Stop 2: part 3 is ready, so part 1 has been recorded.
    body = GatedBody(data, [1000, 24 * MiB + 1000])
    running = _patch_in_background(client, officer, location, body)
    body.wait(0)
    with app.app_context():
        db.session.execute(
            sa.update(UploadSession)
            .where(UploadSession.id == upload_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    body.go(0)
    body.wait(1)
    upload = _row(app, location)
    assert upload.offset >= 8 * MiB  # part 1, perhaps part 2 too
    assert upload.expires_at > utcnow() + app.extensions["fieldtrace"].uploads.expiry / 2
    head = client.head(location, headers={**tus.TUS, **officer.headers})
    assert head.status_code == 200 and head.headers["Upload-Offset"] == str(upload.offset)
    body.go(1)
    done = _finish(running)
    assert done.status_code == 204 and done.headers["Upload-Offset"] == str(len(data))
