"""tus uploads into WORM storage: validation, resumption, checksums, duplicates, mismatches."""

import base64
import dataclasses
import hashlib
import os
import time
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from server import clock
from server.extensions import db
from server.models import MediaItem, UploadSession
from server.services.uploads import expire_uploads, parse_metadata
from server.storage import ObjectLocked, ObjectNotFound, StorageError
from server.storage.s3 import sign_payloads
from tests import tus_helpers as tus
from tests.conftest import open_case, sample_jpeg, sha256_hex


@pytest.fixture
def officer(users):
    return users.create("li")


@pytest.fixture
def case(client, officer):
    return open_case(client, officer)


def _storage(app):
    return app.extensions["fieldtrace"].storage


def test_options_discovery(client):
    resp = client.options("/api/v1/uploads/")
    assert resp.status_code == 204
    assert resp.headers["Tus-Version"] == "1.0.0"
    assert set(resp.headers["Tus-Extension"].split(",")) >= {
        "creation",
        "creation-with-upload",
        "termination",
        "expiration",
        "checksum",
    }
    assert "sha256" in resp.headers["Tus-Checksum-Algorithm"]


def test_tus_version_header_is_required(client, officer, case):
    resp = client.post("/api/v1/uploads/", headers={**officer.headers, "Upload-Length": "3"})
    assert resp.status_code == 412 and resp.headers["Tus-Version"] == "1.0.0"


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"sha256": None}, 422, "invalid_metadata"),
        ({"sha256": "abc123"}, 422, "invalid_metadata"),
        ({"captured_at": "2026-11-27T10:00:00"}, 422, "invalid_metadata"),
        ({"stage": "nonsense"}, 422, "invalid_metadata"),
        ({"case_id": "999999"}, 404, "case_not_found"),
        ({"stage": "decision"}, 409, "stage_not_reached"),
        ({"content_type": "application/x-msdownload"}, 415, "unsupported_media_type"),
        ({"latitude": "95"}, 422, "invalid_metadata"),
    ],
)
def test_creation_refuses_bad_metadata_before_any_byte(
    app, client, officer, case, overrides, status, code
):
    data = sample_jpeg()
    resp = tus.create(client, officer, len(data), tus.metadata(case["id"], data, **overrides))
    assert resp.status_code == status, resp.json
    assert resp.json["error"]["code"] == code and resp.json["error"]["message"]
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count(UploadSession.id))).scalar_one() == 0


def test_unassigned_officer_is_refused(client, users, officer, case):
    colleague = users.create("zhang")  # same unit, not assigned
    data = sample_jpeg()
    meta = tus.metadata(case["id"], data, device_id="phone-z")
    resp = tus.create(client, colleague, len(data), meta)
    assert resp.status_code == 404 and resp.json["error"]["code"] == "case_not_found"


def test_device_of_another_officer_is_refused(client, users, officer, case):
    tus.upload(client, officer, case["id"], sample_jpeg(), device_id="phone-li")
    sup = users.create("boss", role="supervisor")
    data = sample_jpeg(30, 30)
    resp = tus.create(client, sup, len(data), tus.metadata(case["id"], data, device_id="phone-li"))
    assert resp.status_code == 409 and resp.json["error"]["code"] == "device_not_yours"


def test_multipart_upload_in_uneven_chunks_resumes_with_head(app, client, officer, case):
    data = os.urandom(17 * 1024 * 1024 + 123)
    meta = tus.metadata(case["id"], data, filename="clip.mp4", content_type="video/mp4")
    location = tus.create(client, officer, len(data), meta).headers["Location"]
    offset = 0
    for size in (5 << 20, 9 << 20, 1 << 20, len(data)):
        head = client.head(location, headers={**tus.TUS, **officer.headers})
        assert int(head.headers["Upload-Offset"]) == offset
        chunk = data[offset : offset + size]
        resp = tus.patch(client, officer, location, offset, chunk)
        assert resp.status_code == 204, resp.json
        offset += len(chunk)
        assert int(resp.headers["Upload-Offset"]) == offset
        if offset == len(data):
            break
    item_id = resp.headers["Fieldtrace-Media-Id"]
    with app.app_context():
        upload = db.session.execute(sa.select(UploadSession)).scalar_one()
        assert len(upload.parts) == 3  # 8 MiB + 8 MiB + the last partial part
        item = db.session.get(MediaItem, item_id)
        assert item.status == "verified" and item.server_sha256 == sha256_hex(data)
        stat = _storage(app).stat(item.bucket, item.object_key, version_id=item.object_version)
        assert stat.lock_mode == "COMPLIANCE" and stat.retain_until > clock.now()


def test_offset_mismatch_is_409_and_changes_nothing(client, officer, case):
    data = os.urandom(1000)
    location = tus.create(client, officer, len(data), tus.metadata(case["id"], data)).headers[
        "Location"
    ]
    assert tus.patch(client, officer, location, 0, data[:400]).status_code == 204
    resp = tus.patch(client, officer, location, 100, data[100:])
    assert resp.status_code == 409 and resp.json["error"]["code"] == "offset_mismatch"
    head = client.head(location, headers={**tus.TUS, **officer.headers})
    assert head.headers["Upload-Offset"] == "400"


def test_checksum_mismatch_is_460_and_keeps_nothing(client, officer, case):
    data = os.urandom(2000)
    location = tus.create(client, officer, len(data), tus.metadata(case["id"], data)).headers[
        "Location"
    ]
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    resp = tus.patch(client, officer, location, 0, data, **{"Upload-Checksum": f"sha256 {wrong}"})
    assert resp.status_code == 460 and resp.json["error"]["code"] == "checksum_mismatch"
    assert (
        client.head(location, headers={**tus.TUS, **officer.headers}).headers["Upload-Offset"]
        == "0"
    )
    right = base64.b64encode(hashlib.sha256(data).digest()).decode()
    resp = tus.patch(client, officer, location, 0, data, **{"Upload-Checksum": f"sha256 {right}"})
    assert resp.status_code == 204 and resp.headers["Upload-Offset"] == "2000"


def test_creation_with_upload(client, officer, case):
    data = sample_jpeg()
    resp = client.post(
        "/api/v1/uploads/",
        data=data,
        headers={
            **tus.TUS,
            **officer.headers,
            "Upload-Length": str(len(data)),
            "Upload-Metadata": tus.encode(tus.metadata(case["id"], data)),
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert resp.status_code == 201 and resp.headers["Upload-Offset"] == str(len(data))
    item = client.get(
        f"/api/v1/media/{resp.headers['Fieldtrace-Media-Id']}", headers=officer.headers
    )
    assert item.json["status"] == "verified"


def test_duplicate_upload_yields_the_existing_item(app, client, officer, case):
    data = sample_jpeg()
    first = tus.upload(client, officer, case["id"], data)
    second = tus.upload(client, officer, case["id"], data)
    assert first == second
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count(MediaItem.id))).scalar_one() == 1
    trail = client.get(f"/api/v1/media/{first}/custody", headers=officer.headers).json["entries"]
    assert "upload.duplicate" in [e["action"] for e in trail]


def test_hash_mismatch_is_quarantined_and_can_be_resent(app, client, officer, case):
    data = sample_jpeg()
    lying = tus.metadata(case["id"], data, sha256=sha256_hex(b"something else"))
    location = tus.create(client, officer, len(data), lying).headers["Location"]
    item_id = tus.patch(client, officer, location, 0, data).headers["Fieldtrace-Media-Id"]
    item = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json
    assert item["status"] == "hash_mismatch" and item["hashes_match"] is False
    assert "send it again" in item["status_message"]
    status = client.get(location, headers=officer.headers).json
    assert status["media_status"] == "hash_mismatch"
    with app.app_context():
        row = db.session.get(MediaItem, item_id)
        cfg = app.config
        with pytest.raises(ObjectNotFound):  # never left in the evidence bucket
            _storage(app).stat(row.bucket, row.object_key, version_id=row.object_version)
        assert _storage(app).sha256(cfg["S3_BUCKET_QUARANTINE"], row.quarantine_key) == sha256_hex(
            data
        )
    refused = client.get(f"/api/v1/media/{item_id}/original", headers=officer.headers)
    assert refused.status_code == 409
    # The honest resend becomes a new, verified item.
    again = tus.upload(client, officer, case["id"], data)
    assert again != item_id
    assert (
        client.get(f"/api/v1/media/{again}", headers=officer.headers).json["status"] == "verified"
    )


def test_locked_original_cannot_be_deleted_or_overwritten(app, client, officer, case):
    data = sample_jpeg()
    item_id = tus.upload(client, officer, case["id"], data)
    storage = _storage(app)
    with app.app_context():
        item = db.session.get(MediaItem, item_id)
        bucket, key, version = item.bucket, item.object_key, item.object_version
    with pytest.raises(ObjectLocked):
        storage.delete(bucket, key, version_id=version)
    with pytest.raises(ObjectLocked):
        storage.lock(bucket, key, version_id=version, until=clock.now() + timedelta(seconds=5))
    storage.put(bucket, key, b"forged")  # S3 keeps versions: the locked one stays intact
    storage.delete(bucket, key)  # a plain delete only adds a delete marker
    assert storage.sha256(bucket, key, version_id=version) == sha256_hex(data)
    body = client.get(f"/api/v1/media/{item_id}/original", headers=officer.headers)
    assert body.data == data


def test_range_playback_and_custody(client, users, officer, case):
    data = os.urandom(300_000)
    item_id = tus.upload(
        client, officer, case["id"], data, filename="a.mp4", content_type="video/mp4"
    )
    sup = users.create("boss", role="supervisor")
    resp = client.get(
        f"/api/v1/media/{item_id}/original", headers={**sup.headers, "Range": "bytes=1000-1999"}
    )
    assert resp.status_code == 206
    assert resp.headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    assert resp.data == data[1000:2000]
    tail = client.get(
        f"/api/v1/media/{item_id}/original", headers={**sup.headers, "Range": "bytes=-10"}
    )
    assert tail.status_code == 206 and tail.data == data[-10:]
    bad = client.get(
        f"/api/v1/media/{item_id}/original", headers={**sup.headers, "Range": "bytes=900000-"}
    )
    assert bad.status_code == 416 and bad.headers["Content-Range"] == f"bytes */{len(data)}"
    trail = client.get(f"/api/v1/media/{item_id}/custody", headers=sup.headers).json["entries"]
    actions = [(e["action"], e["actor"]) for e in trail]
    assert actions[:3] == [
        ("upload.created", "li"),
        ("upload.completed", "li"),
        ("media.verified", "system"),
    ]
    played = [e for e in trail if e["action"] == "media.played"]
    assert played[0]["actor"] == "boss" and played[0]["details"]["range"] == "1000-1999"


def test_termination_and_expiry(app, client, officer, case):
    data = os.urandom(10_000)
    loc1 = tus.create(client, officer, len(data), tus.metadata(case["id"], data)).headers[
        "Location"
    ]
    tus.patch(client, officer, loc1, 0, data[:5000])
    assert client.delete(loc1, headers={**tus.TUS, **officer.headers}).status_code == 204
    assert client.head(loc1, headers={**tus.TUS, **officer.headers}).status_code == 410

    other = os.urandom(9_000)
    loc2 = tus.create(client, officer, len(other), tus.metadata(case["id"], other)).headers[
        "Location"
    ]
    tus.patch(client, officer, loc2, 0, other[:4000])
    with app.app_context():
        rt = app.extensions["fieldtrace"]
        tail_key = db.session.get(UploadSession, loc2.rsplit("/", 1)[1]).meta["tail_key"]
        assert rt.storage.stat(rt.uploads.staging_bucket, tail_key).size == 4000
        assert (
            expire_uploads(db.session, rt.storage, rt.uploads, now=clock.now() + timedelta(days=30))
            == 1
        )
        upload = db.session.get(UploadSession, loc2.rsplit("/", 1)[1])
        assert upload.status == "expired"
        with pytest.raises(ObjectNotFound):
            rt.storage.stat(rt.uploads.staging_bucket, tail_key)
    assert client.head(loc2, headers={**tus.TUS, **officer.headers}).status_code == 410


def test_zero_byte_file_completes_at_creation(client, officer, case):
    resp = tus.create(client, officer, 0, tus.metadata(case["id"], b""))
    assert resp.status_code == 201
    item = client.get(
        f"/api/v1/media/{resp.headers['Fieldtrace-Media-Id']}", headers=officer.headers
    )
    assert item.json["status"] == "verified" and item.json["size"] == 0


def test_method_override_patch(client, officer, case):
    data = sample_jpeg()
    location = tus.create(client, officer, len(data), tus.metadata(case["id"], data)).headers[
        "Location"
    ]
    resp = client.post(
        location,
        data=data,
        headers={
            **tus.TUS,
            **officer.headers,
            "X-HTTP-Method-Override": "PATCH",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert resp.status_code == 204 and resp.headers["Upload-Offset"] == str(len(data))


def test_times_and_place_are_recorded(client, officer, case):
    data = sample_jpeg()
    item_id = tus.upload(
        client,
        officer,
        case["id"],
        data,
        captured_at="2026-11-27T09:30:00+08:00",
        captured_end_at="2026-11-27T09:30:09+08:00",
        location_status="ok",
        sent_at=(clock.now() - timedelta(seconds=90)).isoformat(),
    )
    item = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json
    assert (
        item["captured_at"].startswith("2026-11-27T01:30:00")
        and item["captured_at_offset_min"] == 480
    )
    assert 85 <= item["device_clock_offset_s"] <= 120  # device clock runs ~90 s behind
    assert item["received_at"] and item["stored_at"] and item["verified_at"]
    assert (item["latitude"], item["longitude"], item["accuracy_m"]) == (31.2304, 121.4737, 8.5)
    assert item["device_id"] == "phone-1" and item["uploader"]["username"] == "li"
    assert (
        item["captured_end_at"].startswith("2026-11-27T01:30:09")
        and item["location_status"] == "ok"
    )


def test_another_officers_upload_url_is_invisible(client, users, officer, case):
    data = sample_jpeg()
    location = tus.create(client, officer, len(data), tus.metadata(case["id"], data)).headers[
        "Location"
    ]
    thief = users.create("thief")
    assert client.head(location, headers={**tus.TUS, **thief.headers}).status_code == 404
    assert tus.patch(client, thief, location, 0, data).status_code == 404


def test_failed_part_upload_keeps_the_parts_before_it(app, client, officer, case, monkeypatch):
    """Parts upload in worker threads: a failure reaches the client, and resuming loses nothing."""
    data = os.urandom(20 * 1024 * 1024 + 5)
    meta = tus.metadata(case["id"], data, filename="clip.mp4", content_type="video/mp4")
    location = tus.create(client, officer, len(data), meta).headers["Location"]
    storage = _storage(app)
    real_upload_part = storage.upload_part

    def flaky(bucket, key, upload_id, number, body):
        if number == 2:
            raise StorageError("injected failure of part 2")
        return real_upload_part(bucket, key, upload_id, number, body)

    monkeypatch.setattr(storage, "upload_part", flaky)
    resp = tus.patch(client, officer, location, 0, data)
    assert resp.status_code == 503 and resp.json["error"]["code"] == "storage_unavailable"
    head = client.head(location, headers={**tus.TUS, **officer.headers})
    assert head.headers["Upload-Offset"] == str(8 * 1024 * 1024)  # part 1 was recorded

    monkeypatch.undo()
    resp = tus.patch(client, officer, location, 8 * 1024 * 1024, data[8 * 1024 * 1024 :])
    assert resp.status_code == 204 and resp.headers["Upload-Offset"] == str(len(data))
    item = client.get(
        f"/api/v1/media/{resp.headers['Fieldtrace-Media-Id']}", headers=officer.headers
    ).json
    assert item["status"] == "verified" and item["server_sha256"] == sha256_hex(data)


@pytest.mark.parametrize(
    ("endpoint", "signed"),
    [
        ("http://127.0.0.1:8333", False),
        ("http://localhost:8333", False),
        ("http://[::1]:8333", False),
        ("https://s3.example.org", False),
        (None, False),
        ("http://seaweedfs:8333", True),
        ("http://10.1.2.3:8333", True),
    ],
)
def test_payload_signing_only_where_bodies_can_be_changed_in_transit(endpoint, signed):
    assert sign_payloads(endpoint) is signed


# --- 持证上岗: no upload of a capture made without a valid credential ---------------------------


@pytest.fixture
def strict(app):
    """The setting on (it is by default; tests/conftest.py turns it off for other tests)."""
    rt = app.extensions["fieldtrace"]
    rt.uploads = dataclasses.replace(rt.uploads, require_credential=True)
    return rt.uploads


def _issue(client, admin, user_id: int, number: str, first: date, last: date) -> dict:
    resp = client.post(
        "/api/v1/credentials",
        json={
            "user_id": user_id,
            "number": number,
            "issuing_authority": "上海市浦东新区人民政府",
            "categories": ["市场监管"],
            "area": "浦东新区",
            "valid_from": first.isoformat(),
            "valid_to": last.isoformat(),
        },
        headers=admin.headers,
    )
    assert resp.status_code == 201, resp.json
    return resp.json


def _set_status(client, admin, credential_id: int, status: str) -> None:
    resp = client.post(
        f"/api/v1/credentials/{credential_id}/status",
        json={"status": status, "reason": "测试"},
        headers=admin.headers,
    )
    assert resp.status_code == 200, resp.json


def _create_at(client, officer, case_id: int, captured_at: datetime, size: int = 40):
    data = sample_jpeg(size, size)
    meta = tus.metadata(case_id, data, captured_at=captured_at.isoformat())
    return tus.create(client, officer, len(data), meta)


def _refused(resp, reason: str, zh: str) -> None:
    assert resp.status_code == 403, resp.json
    error = resp.json["error"]
    assert error["code"] == "credential_not_valid"
    assert error["details"]["reason"] == reason
    assert zh in error["message"] and "持证上岗" in error["message"]
    assert "refuses the upload" in error["message"]  # and in English


def test_credential_requirement_is_a_setting_on_by_default(app_config, monkeypatch):
    from server import create_app
    from server.config import Config

    monkeypatch.delenv("FIELDTRACE_REQUIRE_CREDENTIAL", raising=False)
    assert Config().REQUIRE_CREDENTIAL is True
    monkeypatch.setenv("FIELDTRACE_REQUIRE_CREDENTIAL", "false")
    assert Config().REQUIRE_CREDENTIAL is False
    monkeypatch.setenv("FIELDTRACE_REQUIRE_CREDENTIAL", "perhaps")
    with pytest.raises(ValueError, match="REQUIRE_CREDENTIAL"):
        Config()
    monkeypatch.delenv("FIELDTRACE_REQUIRE_CREDENTIAL")
    for setting in (True, False):  # tests/conftest.py: off
        made = create_app(**{**app_config, "REQUIRE_CREDENTIAL": setting})
        assert made.extensions["fieldtrace"].uploads.require_credential is setting
        with made.app_context():
            db.engine.dispose()


def test_no_credential_no_upload(app, client, users, officer, case, strict):
    resp = _create_at(client, officer, case["id"], clock.now())
    _refused(resp, "no_credential", "未持有执法证")
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count(UploadSession.id))).scalar_one() == 0
    # a credential valid only from tomorrow does not cover today's capture
    admin = users.create("admin", role="admin")
    today = clock.today()
    _issue(client, admin, officer.id, "F-1", today + timedelta(days=1), today + timedelta(days=30))
    _refused(_create_at(client, officer, case["id"], clock.now()), "no_credential", "未持有")


def test_valid_credential_uploads_and_expired_refuses(app, client, users, officer, case, strict):
    admin = users.create("admin", role="admin")
    today = clock.today()
    _issue(client, admin, officer.id, "E-1", today - timedelta(days=60), today - timedelta(days=1))
    now = clock.now()
    _refused(_create_at(client, officer, case["id"], now), "expired", "已过期")
    # recorded while it was valid, uploaded late: accepted, and it goes through
    made_then = now - timedelta(days=3)
    old = _create_at(client, officer, case["id"], made_then, size=41)
    assert old.status_code == 201, old.json
    data = sample_jpeg(41, 41)
    done = tus.patch(client, officer, old.headers["Location"], 0, data)
    assert done.status_code == 204, done.json

    _issue(client, admin, officer.id, "E-2", today, today + timedelta(days=365))
    assert _create_at(client, officer, case["id"], now, size=42).status_code == 201


def test_suspension_and_revocation_do_not_reach_back(app, client, users, officer, case, strict):
    admin = users.create("admin", role="admin")
    today = clock.today()
    cred = _issue(
        client, admin, officer.id, "S-1", today - timedelta(days=30), today + timedelta(days=30)
    )
    before = clock.now()
    time.sleep(0.01)
    _set_status(client, admin, cred["id"], "suspended")
    time.sleep(0.01)
    during = clock.now()
    # evidence recorded while the credential was good still uploads after the suspension
    assert _create_at(client, officer, case["id"], before, size=43).status_code == 201
    _refused(_create_at(client, officer, case["id"], during, size=44), "suspended", "已暂停")

    time.sleep(0.01)
    _set_status(client, admin, cred["id"], "active")
    time.sleep(0.01)
    after = clock.now()
    # reactivated: what was recorded during the suspension stays refused, later captures go
    _refused(_create_at(client, officer, case["id"], during, size=44), "suspended", "已暂停")
    assert _create_at(client, officer, case["id"], after, size=45).status_code == 201

    time.sleep(0.01)
    _set_status(client, admin, cred["id"], "revoked")
    time.sleep(0.01)
    _refused(_create_at(client, officer, case["id"], clock.now(), size=46), "revoked", "已注销")
    assert _create_at(client, officer, case["id"], after, size=47).status_code == 201
    assert _create_at(client, officer, case["id"], before, size=48).status_code == 201
    _refused(_create_at(client, officer, case["id"], during, size=44), "suspended", "已暂停")

    # a supervisor records under the same rule
    supervisor = users.create("boss", role="supervisor")
    resp = tus.create(
        client,
        supervisor,
        10,
        tus.metadata(case["id"], b"0123456789", device_id="phone-boss"),
    )
    _refused(resp, "no_credential", "未持有执法证")


# --- duplicates, retried completion, client metadata -----------------------------------------


def _head(client, actor, location: str):
    return client.head(location, headers={**tus.TUS, **actor.headers})


def test_identical_uploads_in_flight_keep_both_copies_and_later_ones_link(
    app, client, officer, case
):
    """Two uploads of one file created before either finished (a create retried after a lost
    201): both copies reached the evidence bucket, so both stay items; later resends link to
    the oldest instead of failing with 500."""
    data = os.urandom(2000)
    meta = tus.metadata(case["id"], data)
    first, second = (tus.create(client, officer, len(data), meta) for _ in range(2))
    assert first.status_code == second.status_code == 201
    a = tus.patch(client, officer, first.headers["Location"], 0, data)
    b = tus.patch(client, officer, second.headers["Location"], 0, data)
    a_id, b_id = a.headers["Fieldtrace-Media-Id"], b.headers["Fieldtrace-Media-Id"]
    assert a_id != b_id
    with app.app_context():
        for item_id in (a_id, b_id):
            item = db.session.get(MediaItem, item_id)
            assert item.status == "verified"
            assert _storage(app).sha256(
                item.bucket, item.object_key, version_id=item.object_version
            ) == sha256_hex(data)
    for _ in range(2):
        assert tus.upload(client, officer, case["id"], data) == a_id
    trail = client.get(f"/api/v1/media/{b_id}/custody", headers=officer.headers).json["entries"]
    completed = next(e for e in trail if e["action"] == "upload.completed")
    assert completed["details"]["identical_to"] == a_id


def test_a_resend_is_kept_while_the_first_copy_is_unverified(
    app, client, officer, case, monkeypatch
):
    """The first copy arrived damaged (no Upload-Checksum) and is not verified yet: the resend
    is not folded into it, so the good bytes survive the first copy's hash mismatch."""
    rt = app.extensions["fieldtrace"]
    queued: list[str] = []
    verify_now = rt.jobs.enqueue_verify
    monkeypatch.setattr(rt.jobs, "enqueue_verify", queued.append)  # the worker is behind
    good = os.urandom(5000)
    damaged = bytearray(good)
    damaged[100] ^= 0xFF
    meta = tus.metadata(case["id"], good)
    loc1 = tus.create(client, officer, len(good), meta).headers["Location"]
    first = tus.patch(client, officer, loc1, 0, bytes(damaged)).headers["Fieldtrace-Media-Id"]
    second = tus.upload(client, officer, case["id"], good)
    assert second != first
    for item_id in queued:
        verify_now(item_id)
    get = lambda i: client.get(f"/api/v1/media/{i}", headers=officer.headers).json  # noqa: E731
    assert get(first)["status"] == "hash_mismatch"
    assert get(second)["status"] == "verified"
    assert client.get(f"/api/v1/media/{second}/original", headers=officer.headers).data == good


def test_a_duplicate_of_an_unverified_item_made_before_the_fix_is_kept(
    app, client, officer, case, monkeypatch
):
    """Uploads created when duplicates could point at unverified items: at completion the copy
    is promoted to an original of its own if its twin is not verified, never thrown away."""
    rt = app.extensions["fieldtrace"]
    monkeypatch.setattr(rt.jobs, "enqueue_verify", lambda item_id: None)
    data = os.urandom(3000)
    twin = tus.upload(client, officer, case["id"], data)  # stays "received"
    location = tus.create(client, officer, len(data), tus.metadata(case["id"], data)).headers[
        "Location"
    ]
    upload_id = location.rsplit("/", 1)[1]
    with app.app_context():  # as the old create_upload made it
        upload = db.session.get(UploadSession, upload_id)
        upload.duplicate_of_id = twin
        upload.bucket = rt.uploads.staging_bucket
        upload.object_key = f"uploads/{upload_id}/duplicate"
        upload.meta = {**upload.meta, "item_id": twin}
        db.session.commit()
    monkeypatch.undo()
    resp = tus.patch(client, officer, location, 0, data)
    assert resp.status_code == 204, resp.json
    kept = resp.headers["Fieldtrace-Media-Id"]
    assert kept != twin
    item = client.get(f"/api/v1/media/{kept}", headers=officer.headers).json
    assert item["status"] == "verified" and item["server_sha256"] == sha256_hex(data)
    trail = client.get(f"/api/v1/media/{kept}/custody", headers=officer.headers).json["entries"]
    completed = next(e for e in trail if e["action"] == "upload.completed")
    assert completed["details"]["promoted_from"] == twin
    with app.app_context():
        upload = db.session.get(UploadSession, upload_id)
        assert upload.bucket == rt.uploads.originals_bucket and upload.duplicate_of_id is None
        with pytest.raises(ObjectNotFound):  # the staging copy went once the original was in
            rt.storage.stat(rt.uploads.staging_bucket, f"uploads/{upload_id}/duplicate")


@pytest.mark.parametrize("retry", ["head", "get", "patch", "sweep"])
def test_a_failed_completion_is_finished_by_the_retry(
    app, client, officer, case, monkeypatch, retry
):
    """Every byte is stored but making the item failed once (database busy): the upload must
    not stay completed without an item; HEAD, GET, an empty PATCH or the sweep finish it."""
    from sqlalchemy.exc import OperationalError

    from server.services import uploads as service

    real = service.complete_upload
    calls: list[int] = []

    def busy_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "complete_upload", busy_once)
    data = os.urandom(1400)
    location = tus.create(client, officer, len(data), tus.metadata(case["id"], data)).headers[
        "Location"
    ]
    failed = tus.patch(client, officer, location, 0, data)  # the database was busy: retry
    assert failed.status_code == 503 and failed.headers["Retry-After"]
    assert failed.json["error"]["code"] == "database_unavailable"
    if retry == "head":
        item_id = _head(client, officer, location).headers["Fieldtrace-Media-Id"]
    elif retry == "get":
        item_id = client.get(location, headers=officer.headers).json["media_item_id"]
    elif retry == "patch":
        resp = tus.patch(client, officer, location, len(data), b"")
        assert resp.status_code == 204 and resp.headers["Upload-Offset"] == str(len(data))
        item_id = resp.headers["Fieldtrace-Media-Id"]
    else:
        rt = app.extensions["fieldtrace"]
        with app.app_context():
            db.session.execute(  # as if the failure was longer ago than the lease
                sa.update(UploadSession).values(updated_at=clock.now() - timedelta(minutes=5))
            )
            db.session.commit()
            assert expire_uploads(db.session, rt.storage, rt.uploads) == 0
            item_id = db.session.execute(sa.select(UploadSession.media_item_id)).scalar_one()
            assert db.session.get(MediaItem, item_id).status == "received"  # sweep verifies it
    assert item_id and len(calls) == 2
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count(MediaItem.id))).scalar_one() == 1
        item = db.session.get(MediaItem, item_id)
        assert item.device_sha256 == sha256_hex(data) and item.size == len(data)
    # Asking again changes nothing.
    assert _head(client, officer, location).headers["Fieldtrace-Media-Id"] == item_id
    again = tus.patch(client, officer, location, 0, data)
    assert again.status_code == 409 and again.json["error"]["code"] == "upload_completed"
    assert len(calls) == 2


def test_client_metadata_cannot_set_server_state_nor_see_it(
    app, client, users, officer, case, monkeypatch
):
    """Upload-Metadata keys outside the metadata schema are dropped: a client-sent tail_key no
    longer makes the server delete another upload's bytes, and HEAD echoes only client keys."""
    data = os.urandom(10_000)
    victim = tus.create(client, officer, len(data), tus.metadata(case["id"], data)).headers[
        "Location"
    ]
    assert tus.patch(client, officer, victim, 0, data[:4000]).status_code == 204
    rt = app.extensions["fieldtrace"]
    with app.app_context():
        tail_key = db.session.get(UploadSession, victim.rsplit("/", 1)[1]).meta["tail_key"]
    head = _head(client, officer, victim)
    echoed = parse_metadata(head.headers["Upload-Metadata"])
    assert set(echoed) == set(tus.metadata(case["id"], data))  # no tail_key, kind, part_size...

    mallory = users.create("mallory")
    other_case = open_case(client, mallory)
    other = b"mallory" * 10
    forged = {
        "tail_key": tail_key,
        "item_id": "0" * 32,
        "kind": "pdf",
        "part_size": "1",
        "version_id": "v-forged",
        "client": "x",
        "filetype": "image/jpeg",  # a tus client's own key: dropped too
    }
    meta = tus.metadata(other_case["id"], other, device_id="phone-m", **forged)
    stored_types: list[str | None] = []
    real_create = rt.storage.create_multipart

    def create_multipart(bucket, key, *, content_type=None):
        if bucket == rt.uploads.originals_bucket:
            stored_types.append(content_type)
        return real_create(bucket, key, content_type=content_type)

    monkeypatch.setattr(rt.storage, "create_multipart", create_multipart)
    created = tus.create(client, mallory, len(other), meta)
    assert created.status_code == 201
    done = tus.patch(client, mallory, created.headers["Location"], 0, other)
    assert done.status_code == 204
    item = client.get(
        f"/api/v1/media/{done.headers['Fieldtrace-Media-Id']}", headers=mallory.headers
    ).json
    assert item["id"] != "0" * 32 and item["kind"] == "photo" and item["status"] == "verified"
    assert stored_types == ["image/jpeg"]  # the client's content_type still reaches storage
    echoed = parse_metadata(
        _head(client, mallory, created.headers["Location"]).headers["Upload-Metadata"]
    )
    assert not set(forged) & set(echoed)
    assert rt.storage.stat(rt.uploads.staging_bucket, tail_key).size == 4000
    resumed = tus.patch(client, officer, victim, 4000, data[4000:])
    assert resumed.status_code == 204, resumed.json
