"""A PATCH still running while DELETE or the expiry sweep arrive, under a controlled interleaving.

The request body is a stream that stops at chosen offsets until the test lets it go on, so the
other request runs at a known point of the PATCH.
"""

from __future__ import annotations

import dataclasses
import io
import os
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from server import clock
from server.extensions import db
from server.models import MediaItem, UploadSession
from server.services import uploads as upload_service
from server.services.uploads import (
    expire_uploads,
    finish_stalled_completions,
    recover_orphaned_originals,
)
from server.storage import ObjectNotFound, StorageError
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


def _created(client, officer: Actor, case, data: bytes) -> str:
    """A new upload of ``data`` in ``case``; its location."""
    resp = tus.create(client, officer, len(data), tus.metadata(case["id"], data))
    assert resp.status_code == 201, resp.json
    return resp.headers["Location"]


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
    location = _created(client, officer, case, data)
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
    location = _created(client, officer, case, data)
    body = GatedBody(data, [1000])
    running = _patch_in_background(client, officer, location, body)
    body.wait()
    rt = app.extensions["fieldtrace"]
    with app.app_context():
        later = clock.now() + timedelta(days=30)
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
    location = _created(client, officer, case, data)
    upload_id = location.rsplit("/", 1)[1]
    body = GatedBody(data, [1000])
    running = _patch_in_background(client, officer, location, body)
    body.wait()
    with app.app_context():
        db.session.execute(
            sa.update(UploadSession)
            .where(UploadSession.id == upload_id)
            .values(lock_expires_at=clock.now() - timedelta(seconds=1))
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
            .values(expires_at=clock.now() - timedelta(seconds=1))
        )
        db.session.commit()
    body.go(0)
    body.wait(1)
    upload = _row(app, location)
    assert upload.offset >= 8 * MiB  # part 1, perhaps part 2 too
    assert upload.expires_at > clock.now() + app.extensions["fieldtrace"].uploads.expiry / 2
    head = client.head(location, headers={**tus.TUS, **officer.headers})
    assert head.status_code == 200 and head.headers["Upload-Offset"] == str(upload.offset)
    body.go(1)
    done = _finish(running)
    assert done.status_code == 204 and done.headers["Upload-Offset"] == str(len(data))


# --- the completion of the S3 object outlasting the lease -----------------------------------


class HeldCompletion:
    """Stands in for ``storage.complete_multipart`` on a slow S3: each call waits until the
    test lets it go on, either before S3 stores the object or after (the answer is slow)."""

    def __init__(self, storage: Any, *, stored_first: bool) -> None:
        self.real = storage.complete_multipart
        self.stored_first = stored_first
        self.entered = threading.Event()
        self.released = threading.Event()
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        version = self.real(*args, **kwargs) if self.stored_first else None
        self.entered.set()
        assert self.released.wait(30), "the test never let the completion go on"
        return version if self.stored_first else self.real(*args, **kwargs)


@pytest.fixture(params=["slow_to_store", "slow_to_answer"])
def held_completion(app, monkeypatch, request) -> HeldCompletion:
    """A slow ``complete_multipart`` and a one-second lease, so the completion outlasts it."""
    rt = app.extensions["fieldtrace"]
    monkeypatch.setattr(rt, "uploads", dataclasses.replace(rt.uploads, lock_seconds=1))
    held = HeldCompletion(rt.storage, stored_first=request.param == "slow_to_answer")
    monkeypatch.setattr(rt.storage, "complete_multipart", held)
    return held


def _orphans(app) -> list[tuple[str, str | None]]:
    """Versions in the originals bucket that no media item names: evidence nobody can see."""
    rt = app.extensions["fieldtrace"]
    bucket = rt.uploads.originals_bucket
    with app.app_context():
        named = set(db.session.execute(sa.select(MediaItem.object_key, MediaItem.object_version)))
        keys = db.session.execute(
            sa.select(UploadSession.object_key).where(UploadSession.bucket == bucket)
        ).scalars()
        stored = [v for key in keys for v in rt.storage.list_versions(bucket, key) if v[0] == key]
    return [v for v in stored if v not in named]


def _start_completion(client, officer: Actor, case, held: HeldCompletion, data: bytes):
    meta = tus.metadata(case["id"], data, filename="clip.mp4", content_type="video/mp4")
    location = tus.create(client, officer, len(data), meta).headers["Location"]
    running = _patch_in_background(client, officer, location, GatedBody(data, []))
    assert held.entered.wait(30), "the PATCH never reached the completion"
    time.sleep(2.5)  # well past the one-second lease: only renewing it keeps it
    return location, running


def test_delete_during_a_slow_completion_is_refused_and_leaves_no_orphan(
    app, client, officer, case, held_completion
):
    """Every byte is stored and S3 is assembling the object: DELETE must not win, or the
    object lands in the evidence bucket with no item naming it."""
    data = os.urandom(9 * MiB)
    location, running = _start_completion(client, officer, case, held_completion, data)
    refused = client.delete(location, headers={**tus.TUS, **officer.headers})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "completed"
    # A client retrying meanwhile sees every byte arrived; it does not complete it twice.
    head = client.head(location, headers={**tus.TUS, **officer.headers})
    assert head.status_code == 200 and head.headers["Upload-Offset"] == str(len(data))
    assert "Fieldtrace-Media-Id" not in head.headers
    held_completion.released.set()
    done = _finish(running)
    assert done.status_code == 204, done.json
    item_id = done.headers["Fieldtrace-Media-Id"]
    assert held_completion.calls == 1
    with app.app_context():
        item = db.session.get(MediaItem, item_id)
        assert item.status == "verified" and item.size == len(data)
    assert _orphans(app) == []
    upload_id = location.rsplit("/", 1)[1]
    assert _audit_actions(app, upload_id) == ["upload.created", "upload.completed"]


def test_expiry_sweep_during_a_slow_completion_neither_aborts_nor_repeats_it(
    app, client, officer, case, held_completion
):
    """The converse: the sweep must not abort the multipart upload S3 is completing (the
    bytes would be lost), nor take over a completion whose request is still running."""
    data = os.urandom(9 * MiB)
    location, running = _start_completion(client, officer, case, held_completion, data)
    rt = app.extensions["fieldtrace"]
    with app.app_context():
        later = clock.now() + timedelta(days=30)
        assert expire_uploads(db.session, rt.storage, rt.uploads, now=later) == 0
        assert expire_uploads(db.session, rt.storage, rt.uploads) == 0
    held_completion.released.set()
    done = _finish(running)
    assert done.status_code == 204, done.json
    assert held_completion.calls == 1
    upload = _row(app, location)
    assert upload.status == "completed" and upload.media_item_id
    with app.app_context():
        assert db.session.get(MediaItem, upload.media_item_id).status == "verified"
    assert _orphans(app) == []


def _lose_first_answer(storage: Any, monkeypatch, *, s3_repeats: bool) -> list[int]:
    """S3 assembles the first completion but its answer is lost; later calls are answered
    again (SeaweedFS, AWS) or with NoSuchUpload. Returns the list of calls made."""
    real = storage.complete_multipart
    calls: list[int] = []

    def answer_lost(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            real(*args, **kwargs)
            raise StorageError("complete multipart: connection reset by peer")
        if not s3_repeats:
            raise ObjectNotFound("complete multipart: NoSuchUpload")
        return real(*args, **kwargs)

    monkeypatch.setattr(storage, "complete_multipart", answer_lost)
    return calls


@pytest.mark.parametrize("size", [1400, 9 * MiB])
@pytest.mark.parametrize(
    ("retry", "s3_repeats"),
    [("head", True), ("sweep", True), ("head", False), ("sweep", False)],
)
def test_a_completion_whose_answer_was_lost_is_finished_never_orphaned(
    app, client, officer, case, monkeypatch, size, retry, s3_repeats
):
    """S3 assembled the object but the answer never came back (a reset connection, a killed
    process). DELETE is refused, and the retry adopts the stored object: whether this S3
    answers a repeated completion again (SeaweedFS, AWS) or only says NoSuchUpload."""
    rt = app.extensions["fieldtrace"]
    calls = _lose_first_answer(rt.storage, monkeypatch, s3_repeats=s3_repeats)
    data = os.urandom(size)
    location = _created(client, officer, case, data)
    cut = tus.patch(client, officer, location, 0, data)
    assert cut.status_code == 503 and cut.json["error"]["code"] == "storage_unavailable"
    refused = client.delete(location, headers={**tus.TUS, **officer.headers})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "completed"
    with app.app_context():
        later = clock.now() + timedelta(days=30)
        assert expire_uploads(db.session, rt.storage, rt.uploads, now=later) == 0
    if retry == "head":
        head = client.head(location, headers={**tus.TUS, **officer.headers})
        item_id = head.headers["Fieldtrace-Media-Id"]
    else:
        with app.app_context():
            db.session.execute(  # as if the failure was longer ago than the lease
                sa.update(UploadSession).values(updated_at=clock.now() - timedelta(minutes=5))
            )
            db.session.commit()
            assert expire_uploads(db.session, rt.storage, rt.uploads) == 0
            item_id = db.session.execute(sa.select(UploadSession.media_item_id)).scalar_one()
    assert item_id and len(calls) == 2
    with app.app_context():
        item = db.session.get(MediaItem, item_id)
        # The sweep makes the item; the pipeline's own sweep then verifies it.
        assert item.status == ("verified" if retry == "head" else "received")
        assert item.size == size
        versions = rt.storage.list_versions(item.bucket, item.object_key)
        assert versions == [(item.object_key, item.object_version)]
    assert _orphans(app) == []


def test_originals_orphaned_before_the_fix_are_recovered(app, client, officer, case, monkeypatch):
    """The one-off repair: an upload DELETE ended while S3 assembled its object (as the old
    code let happen) gets its item; uploads ended before any object was made stay ended."""
    rt = app.extensions["fieldtrace"]
    data = os.urandom(9 * MiB)
    meta = tus.metadata(case["id"], data, filename="clip.mp4", content_type="video/mp4")
    orphaned = tus.create(client, officer, len(data), meta).headers["Location"]
    monkeypatch.setattr(rt.jobs, "enqueue_verify", lambda item_id: None)
    with monkeypatch.context() as m:  # the object is stored, the item is never made
        m.setattr(upload_service, "complete_upload", lambda *a, **k: 1 / 0)
        assert tus.patch(client, officer, orphaned, 0, data).status_code == 500
    upload_id = orphaned.rsplit("/", 1)[1]
    with app.app_context():  # as the old code left it: terminated, the object in place
        db.session.execute(
            sa.update(UploadSession)
            .where(UploadSession.id == upload_id)
            .values(status="terminated", offset=8 * MiB, lock_token=None)
        )
        db.session.commit()
    assert _orphans(app) != []
    other = os.urandom(3000)
    ended = tus.create(client, officer, len(other), tus.metadata(case["id"], other))
    ended = ended.headers["Location"]
    assert tus.patch(client, officer, ended, 0, other[:1000]).status_code == 204
    assert client.delete(ended, headers={**tus.TUS, **officer.headers}).status_code == 204

    with app.app_context():
        recovered = recover_orphaned_originals(db.session, rt.storage, rt.uploads)
        assert recovered == [upload_id]
        assert recover_orphaned_originals(db.session, rt.storage, rt.uploads) == []
    assert _orphans(app) == []
    upload = _row(app, orphaned)
    assert upload.status == "completed" and upload.offset == len(data)
    with app.app_context():
        item = db.session.get(MediaItem, upload.media_item_id)
        assert item.size == len(data) and item.status == "received"  # the pipeline verifies it
    assert _audit_actions(app, upload_id) == [
        "upload.created",
        "upload.recovered",
        "upload.completed",
    ]
    assert _row(app, ended).status == "terminated"


def test_a_stalled_completion_older_than_the_expiry_is_finished_by_recover(
    app, client, officer, case, monkeypatch
):
    """The sweep only looks at uploads written to within the expiry period; after a long
    outage `fieldtrace uploads recover` (any_age) still gives the stored original its item."""
    rt = app.extensions["fieldtrace"]
    calls = _lose_first_answer(rt.storage, monkeypatch, s3_repeats=True)
    data = os.urandom(1400)
    location = _created(client, officer, case, data)
    assert tus.patch(client, officer, location, 0, data).status_code == 503
    with app.app_context():
        long_ago = clock.now() - timedelta(days=10)
        db.session.execute(
            sa.update(UploadSession).values(updated_at=long_ago, expires_at=long_ago)
        )
        db.session.commit()
        expire_uploads(db.session, rt.storage, rt.uploads)
        assert db.session.execute(sa.select(UploadSession.media_item_id)).scalar_one() is None
        finish_stalled_completions(db.session, rt.storage, rt.uploads, any_age=True)
        item_id = db.session.execute(sa.select(UploadSession.media_item_id)).scalar_one()
        assert item_id is not None and len(calls) == 2
        assert db.session.get(MediaItem, item_id).size == len(data)
    assert _orphans(app) == []
