"""Exported case archives against forgery and pre-export tampering, with real archives built
through the API (SeaweedFS, the media pipeline, the audit chain)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server import cli, clock
from server.archive import verify
from server.domain import MediaStatus
from server.extensions import db
from server.models import AuditEntry, AuditHead, Derivative, MediaItem
from server.runtime import runtime
from server.services import archive as archive_service
from server.services import audit
from server.services.signing import key_fingerprint
from tests import tus_helpers as tus
from tests.conftest import open_case, sample_jpeg
from tests.workflow_helpers import API, Flow, move_case_to, signature_png


def _case_with_two_videos(client, users, tmp_path):
    officer, sup = users.create("li"), users.create("zhang", role="supervisor")
    flow = Flow(client, clips=tmp_path)
    cid = open_case(client, officer, procedure="simple")["id"]
    v1 = flow.video(officer, cid, "filing", "onsite_inspection")
    v2 = flow.video(officer, cid, "filing", "onsite_inspection")
    return officer, sup, cid, v1, v2


def _export(client, sup, cid: int, *, originals: bool = True, expect: int = 200):
    url = f"{API}/cases/{cid}/archive.zip" + ("?originals=1" if originals else "")
    resp = client.get(url, headers=sup.headers)
    assert resp.status_code == expect, resp.data[:500]
    data = resp.data if expect == 200 else resp.get_json()
    resp.close()
    return data


def _public_key(app) -> str:
    with app.app_context():
        return runtime().signer.public_key_hex


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _rewrite(data: bytes, edit, key: Ed25519PrivateKey) -> bytes:
    """A forger's archive: members and manifest edited, the manifest re-signed with ``key``."""
    members = _members(data)
    manifest = json.loads(members["manifest.json"])
    edit(manifest, members)
    for entry in manifest["files"]:
        if entry["path"] in members:
            entry["sha256"] = hashlib.sha256(members[entry["path"]]).hexdigest()
            entry["size"] = len(members[entry["path"]])
    raw = json.dumps(manifest, ensure_ascii=False).encode()
    digest = hashlib.sha256(raw).hexdigest()
    members["manifest.json"] = raw
    members["signature.json"] = json.dumps(
        {
            "algorithm": "Ed25519",
            "public_key": key.public_key().public_bytes_raw().hex(),
            "manifest_sha256": digest,
            "signature": key.sign(f"fieldtrace-case-archive/1\n{digest}".encode()).hex(),
        }
    ).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return out.getvalue()


def _proxies(*item_ids: str) -> list[Derivative]:
    """The proxy rows of these items (inside an app context)."""
    return [
        db.session.execute(
            sa.select(Derivative).where(Derivative.media_item_id == i, Derivative.name == "proxy")
        ).scalar_one()
        for i in item_ids
    ]


def _refusals(app, cid: int) -> list[dict[str, Any]]:
    with app.app_context():
        return [
            e.details
            for e in audit.entries_for(db.session, "case", str(cid))
            if e.action == "case.archive_export_refused"
        ]


# --- A1: a forged, re-signed archive is not "intact" without the published key -------------


def test_resigned_forgery_is_unauthenticated_and_fails_with_the_published_key(
    app, client, users, tmp_path
):
    _, sup, cid, v1, v2 = _case_with_two_videos(client, users, tmp_path)
    data = _export(client, sup, cid)
    published = _public_key(app)
    assert verify.verify_archive(io.BytesIO(data), published).authentic

    forger = Ed25519PrivateKey.generate()

    def swap_original(manifest, members):
        item = next(i for i in manifest["items"] if i["id"] == v1)
        other = next(i for i in manifest["items"] if i["id"] == v2)
        members[item["original_path"]] = members[other["original_path"]]
        item["device_sha256"] = item["server_sha256"] = other["server_sha256"]

    def drop_last_custody_entry(manifest, members):
        log = json.loads(members["custody.json"])
        del log["entries"][-1]
        members["custody.json"] = json.dumps(log, ensure_ascii=False).encode()
        manifest["custody"].update(count=len(log["entries"]), last_seq=log["entries"][-1]["seq"])

    def edit_capture_time(manifest, members):
        next(i for i in manifest["items"] if i["id"] == v1)["captured_at"] = "2020-01-01T00:00:00"

    def drop_item(manifest, members):
        manifest["items"] = [i for i in manifest["items"] if i["id"] != v2]
        manifest["files"] = [f for f in manifest["files"] if f.get("media_id") != v2]
        for name in [n for n in members if v2 in n]:
            members.pop(name)

    for edit in (swap_original, drop_last_custody_entry, edit_capture_time, drop_item):
        forged = _rewrite(data, edit, forger)
        unpinned = verify.verify_archive(io.BytesIO(forged))
        assert not unpinned.authentic, edit.__name__
        # The genuine audit head (signed by the server's key) does not match the forger's key.
        assert any("audit head signed by another key" in p for p in unpinned.problems)
        pinned = verify.verify_archive(io.BytesIO(forged), published)
        assert pinned.outcome == "FAILED", edit.__name__
        assert pinned.problems[0].startswith("签名公钥不符 / signed by another key")
    # Each edit is also caught by what the custody entries recorded, key or no key.
    for edit, expected in (
        (swap_original, "differs from media.verified"),
        (edit_capture_time, "captured_at is '2020-01-01T00:00:00'"),
        (drop_item, f"media {v2} is named in the custody entries"),
        (drop_last_custody_entry, None),
    ):
        problems = verify.verify_archive(io.BytesIO(_rewrite(data, edit, forger))).problems
        if expected:
            assert any(expected in p for p in problems), (edit.__name__, problems)

    path = tmp_path / "case.zip"
    path.write_bytes(data)
    assert cli.main(["archive", "verify", str(path)]) == 3
    assert cli.main(["archive", "verify", str(path), "--public-key", published]) == 0
    assert cli.main(["archive", "verify", str(path), "--trust-embedded-key"]) == 0


def test_signing_keys_are_published(app, client, users, tmp_path, capsys):
    _, sup, cid, _, _ = _case_with_two_videos(client, users, tmp_path)
    data = _export(client, sup, cid, originals=False)
    published = _public_key(app)

    page = client.get("/public/signing-keys")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert published in html and key_fingerprint(published) in html
    keys = client.get("/public/signing-keys.json").get_json()["keys"]
    assert keys[0]["public_key"] == published and keys[0]["current"] is True
    assert keys[0]["first_used"]  # the export signed a head with it
    first = datetime.fromisoformat(keys[0]["first_used"]).astimezone(clock.ZONE)
    assert f"{first:%Y-%m-%d %H:%M} → 至今（北京时间）" in html  # Beijing time, not ISO UTC
    verifier = client.get("/public/signing-keys/verify.py")
    assert verifier.data == Path(verify.__file__).read_bytes()

    # A retired key stays listed with the period it was used.
    with app.app_context():
        old = Ed25519PrivateKey.generate()
        old_hex = old.public_key().public_bytes_raw().hex()
        when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
        db.session.add(
            AuditHead(seq=1, entry_hash="00" * 32, signed_at=when, public_key=old_hex, signature="")
        )
        db.session.commit()
    keys = client.get("/public/signing-keys.json").get_json()["keys"]
    assert [k["public_key"] for k in keys] == [published, old_hex]
    assert keys[1]["current"] is False and keys[1]["last_used"].startswith("2025-01-02T03:04:05")

    readme = _members(data)["README.txt"].decode()
    assert published in readme and key_fingerprint(published) in readme
    assert "/public/signing-keys" in readme and "--public-key" in readme


def test_fieldtrace_keys_show(app, monkeypatch, capsys):
    from contextlib import contextmanager

    @contextmanager
    def this_app():
        with app.app_context():
            yield app

    monkeypatch.setattr(cli, "_app_context", this_app)
    assert cli.main(["keys", "show", "--json"]) == 0
    keys = json.loads(capsys.readouterr().out)["keys"]
    assert keys[0]["public_key"] == _public_key(app) and keys[0]["current"]
    assert cli.main(["keys", "show"]) == 0
    assert key_fingerprint(_public_key(app)) in capsys.readouterr().out


# --- A3: the archive carries a signed head covering its custody entries --------------------


def test_export_signs_a_head_that_covers_the_last_custody_entry(app, client, users, tmp_path):
    officer, sup, cid, _, _ = _case_with_two_videos(client, users, tmp_path)
    with app.app_context():  # an old head only, before the case's last entries
        db.session.execute(sa.delete(AuditHead))
        old = audit.sign_head(db.session, runtime().signer)
        db.session.commit()
        old_seq = old.seq
    tus.upload(client, officer, cid, sample_jpeg())
    data = _export(client, sup, cid, originals=False)
    manifest = json.loads(_members(data)["manifest.json"])
    head = manifest["audit_head"]
    assert head is not None and head["public_key"] == _public_key(app)
    assert head["seq"] >= manifest["custody"]["last_seq"] > old_seq
    assert verify.verify_archive(io.BytesIO(data), _public_key(app)).authentic


# --- A2: changes made in the database or the buckets before export -----------------------


def test_export_refuses_an_original_swapped_in_the_database(app, client, users, tmp_path):
    _, sup, cid, v1, v2 = _case_with_two_videos(client, users, tmp_path)
    with app.app_context():
        a, b = db.session.get(MediaItem, v1), db.session.get(MediaItem, v2)
        a.object_key, a.object_version, a.size = b.object_key, b.object_version, b.size
        a.device_sha256 = a.server_sha256 = b.server_sha256
        db.session.commit()
    error = _export(client, sup, cid, expect=409)["error"]
    assert error["code"] == "archive_integrity_mismatch"
    [refused] = _refusals(app, cid)
    assert any(f"item {v1}: object_key" in p for p in refused["problems"])


def test_export_refuses_a_derivative_replaced_in_its_bucket(app, client, users, tmp_path):
    _, sup, cid, v1, v2 = _case_with_two_videos(client, users, tmp_path)
    with app.app_context():
        rt = runtime()
        d1, d2 = _proxies(v1, v2)
        other = rt.storage.get_bytes(d2.bucket, d2.object_key)
        rt.storage.put(d1.bucket, d1.object_key, other, content_type="video/mp4")
    error = _export(client, sup, cid, originals=False, expect=409)["error"]
    assert error["code"] == "archive_integrity_mismatch"
    assert "derivative proxy" in error["message"]
    assert len(_refusals(app, cid)) == 1


def test_a_derivative_swapped_with_its_row_is_caught_by_its_media_derived_entry(
    app, client, users, tmp_path
):
    """An insider who replaces a proxy AND its row's SHA-256 still differs from the hash
    media.derived put in the chain: the export refuses, and so does the offline verifier."""
    _, sup, cid, v1, v2 = _case_with_two_videos(client, users, tmp_path)
    data = _export(client, sup, cid, originals=False)  # before the swap

    def swap_proxy(manifest, members):  # the same swap, made in an exported archive
        item, other = (next(i for i in manifest["items"] if i["id"] == v) for v in (v1, v2))
        mine, theirs = (
            next(d for d in i["derivatives"] if d["name"] == "proxy") for i in (item, other)
        )
        members[mine["path"]] = members[theirs["path"]]
        mine["sha256"] = theirs["sha256"]

    problems = verify.verify_archive(
        io.BytesIO(_rewrite(data, swap_proxy, Ed25519PrivateKey.generate()))
    ).problems
    assert any("is not the file media.derived recorded" in p for p in problems), problems

    with app.app_context():
        rt = runtime()
        d1, d2 = _proxies(v1, v2)
        derived = db.session.execute(
            sa.select(AuditEntry.details).where(
                AuditEntry.action == "media.derived", AuditEntry.object_id == v1
            )
        ).scalar_one()
        assert derived["sha256"]["proxy"] == d1.sha256  # what the pipeline recorded
        other = rt.storage.get_bytes(d2.bucket, d2.object_key)
        rt.storage.put(d1.bucket, d1.object_key, other, content_type="video/mp4")
        d1.sha256 = hashlib.sha256(other).hexdigest()
        db.session.commit()
    error = _export(client, sup, cid, originals=False, expect=409)["error"]
    assert error["code"] == "archive_integrity_mismatch"
    assert "derivative proxy" in error["message"]


def test_export_refuses_capture_time_or_gps_edited_in_the_database(app, client, users, tmp_path):
    _, sup, cid, v1, _ = _case_with_two_videos(client, users, tmp_path)
    with app.app_context():
        item = db.session.get(MediaItem, v1)
        item.captured_at = datetime(2020, 1, 1, tzinfo=UTC)
        item.latitude = 1.0
        db.session.commit()
    error = _export(client, sup, cid, originals=False, expect=409)["error"]
    assert error["code"] == "archive_integrity_mismatch"
    [refused] = _refusals(app, cid)
    assert any("captured_at differs" in p for p in refused["problems"])
    assert any("latitude is 1.0" in p for p in refused["problems"])


def test_export_refuses_an_item_deleted_from_the_database(app, client, users, tmp_path):
    _, sup, cid, _, v2 = _case_with_two_videos(client, users, tmp_path)
    with app.app_context():
        for table in (
            "derivatives",
            "media_attachments",
            "media_bookmarks",
            "playback_grants",
            "media_receipts",
        ):
            db.session.execute(sa.text(f"DELETE FROM {table} WHERE media_item_id = :i"), {"i": v2})
        db.session.execute(
            sa.text("UPDATE upload_sessions SET media_item_id = NULL WHERE media_item_id = :i"),
            {"i": v2},
        )
        db.session.execute(sa.text("DELETE FROM media_items WHERE id = :i"), {"i": v2})
        db.session.commit()
    error = _export(client, sup, cid, originals=False, expect=409)["error"]
    assert error["code"] == "archive_integrity_mismatch"
    assert f"media {v2}: recorded for this case" in error["message"]


def test_upload_completed_records_what_the_device_said(app, client, users):
    officer = users.create("li")
    cid = open_case(client, officer, procedure="simple")["id"]
    mid = tus.upload(
        client, officer, cid, sample_jpeg(), captured_at="2026-03-02T09:30:00.250000+08:00"
    )
    with app.app_context():
        [entry] = [
            e for e in audit.entries_for(db.session, "media", mid) if e.action == "upload.completed"
        ]
        item = db.session.get(MediaItem, mid)
        details = entry.details
        assert details["case_id"] == cid
        assert (details["stage"], details["activity"]) == ("filing", "onsite_inspection")
        assert details["captured_at"] == "2026-03-02T09:30:00.250000+08:00"
        assert details["captured_at_offset_min"] == 480
        assert details["sent_at"] and "device_clock_offset_s" in details
        assert details["device_clock_offset_s"] == item.device_clock_offset_s
        assert (details["latitude"], details["longitude"]) == (31.2304, 121.4737)
        assert details["device_id"] == "phone-1"
        assert audit.verify_chain(db.session).ok


# --- C2: the device-side times travel with the archive ------------------------------------


def test_archive_keeps_device_times(app, client, users):
    officer, sup = users.create("li"), users.create("zhang", role="supervisor")
    cid = open_case(client, officer, procedure="simple")["id"]
    mid = tus.upload(
        client,
        officer,
        cid,
        sample_jpeg(),
        captured_at="2026-03-02T09:30:00+08:00",
        captured_end_at="2026-03-02T09:31:00+08:00",
    )
    move_case_to(client, sup, cid, "execution")
    flow = Flow(client)
    doc_id = flow.doc(officer, cid, "prior_notice")
    resp = client.post(
        f"{API}/documents/{doc_id}/signatures",
        json={
            "role": "officer",
            "signer_name": "li",
            "image": signature_png(3),
            "device_signed_at": "2026-01-02T10:00:00+08:00",
        },
        headers=officer.headers,
    )
    assert resp.status_code == 201, resp.json
    flow.issue(officer, doc_id)
    manifest = json.loads(_members(_export(client, sup, cid, originals=False))["manifest.json"])
    [item] = [i for i in manifest["items"] if i["id"] == mid]
    assert item["captured_at_offset_min"] == 480
    assert datetime.fromisoformat(item["captured_end_at"]) == datetime(
        2026, 3, 2, 1, 31, tzinfo=UTC
    )
    assert item["stored_at"] and "device_clock_offset_s" in item
    assert "file_captured_at" in item
    [doc] = [d for d in manifest["documents"] if d["id"] == doc_id]
    [signature] = doc["signatures"]
    assert datetime.fromisoformat(signature["device_signed_at"]) == datetime(
        2026, 1, 2, 2, 0, tzinfo=UTC
    )


# --- archiving waits for recordings still being verified ---------------------------------


def test_archive_waits_for_recordings_still_being_verified(app, client, users, tmp_path):
    officer, sup = users.create("li"), users.create("zhang", role="supervisor")
    colleague = users.create("wang")  # 执法人员不得少于两人
    flow = Flow(client, clips=tmp_path)
    cid = open_case(client, officer, procedure="simple", officer_ids=[colleague.id])["id"]
    video = flow.video(officer, cid, "filing", "onsite_inspection")
    with app.app_context():  # the worker has not verified it yet
        item = db.session.get(MediaItem, video)
        item.status, item.verified_at, item.locked_until = MediaStatus.RECEIVED.value, None, None
        db.session.commit()
        config = runtime().config
    flow.advance(officer, cid, "decision")
    flow.advance(sup, cid, "service", override_reason="纸质文书已扫描")
    flow.advance(officer, cid, "execution")
    client.post(
        f"{API}/cases/{cid}/execution",
        json={"kind": "payment", "on": "2026-11-27", "amount": 50},
        headers=officer.headers,
    )
    refused = flow.advance(sup, cid, "archive", expect=409).json
    assert refused["error"]["code"] == "media_verification_pending"
    assert video in refused["error"]["message"]

    with app.app_context():  # verified now: archiving proceeds and applies archive retention
        item = db.session.get(MediaItem, video)
        item.status = MediaStatus.VERIFIED.value
        item.verified_at = item.locked_until = clock.now()
        db.session.commit()
    flow.advance(sup, cid, "archive")
    with app.app_context():
        item = db.session.get(MediaItem, video)
        years = min(config["ARCHIVE_RETENTION_YEARS"], config["ARCHIVE_KEY_EVIDENCE_YEARS"])
        assert item.locked_until > clock.now() + timedelta(days=365 * years - 2)
        assert archive_service.case_file_media(db.session, item.case_id)


def test_every_export_audit_entry_stays_in_the_chain(app, client, users, tmp_path):
    """The refusal is committed and the chain still verifies after it."""
    _, sup, cid, v1, _ = _case_with_two_videos(client, users, tmp_path)
    with app.app_context():
        db.session.get(MediaItem, v1).device_id = "another-phone"
        db.session.commit()
    _export(client, sup, cid, originals=False, expect=409)
    with app.app_context():
        assert audit.verify_chain(db.session).ok
        count = db.session.scalar(
            sa.select(sa.func.count()).where(AuditEntry.action == "case.archive_export_refused")
        )
        assert count == 1
