"""The media pipeline end to end: probe, derivatives, attach, rules, flags — real ffmpeg/Pillow."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from media_pipeline.process import process_item
from media_pipeline.verify import Outcome
from server import clock
from server.extensions import db
from server.models import Derivative, MediaAttachment, MediaItem
from tests import tus_helpers as tus
from tests.conftest import open_case, sample_jpeg, sha256_hex
from tests.media_pipeline.conftest import progressive_jpeg, with_extra_scans
from tests.workflow_helpers import move_case_to


def _ffmpeg(out: Path, *args: str) -> bytes:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(out)], check=True, timeout=60)
    return out.read_bytes()


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    from PIL import Image

    d = tmp_path_factory.mktemp("samples")
    lavfi_v = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=15:duration=2"]
    lavfi_a = ["-f", "lavfi", "-i", "sine=frequency=440:duration=2"]
    photo = Image.new("RGB", (400, 200), (10, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    buf = io.BytesIO()
    photo.save(buf, "JPEG", exif=exif)
    bomb = io.BytesIO()
    Image.new("1", (9000, 9000)).save(bomb, "PNG")
    many_scans = with_extra_scans(progressive_jpeg(), 5000)
    return {
        "photo": buf.getvalue(),
        "mp4": _ffmpeg(
            d / "a.mp4",
            *lavfi_v,
            *lavfi_a,
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ),
        "webm": _ffmpeg(
            d / "b.webm",
            *lavfi_v,
            *lavfi_a,
            "-c:v",
            "libvpx",
            "-b:v",
            "300k",
            "-c:a",
            "libopus",
            "-shortest",
        ),
        "audio": _ffmpeg(d / "c.webm", *lavfi_a, "-c:a", "libopus"),
        "bomb": bomb.getvalue(),
        "many_scans": many_scans,
    }


def _item(app, item_id: str) -> MediaItem:
    with app.app_context():
        item = db.session.get(MediaItem, item_id)
        db.session.expunge(item)
        return item


def test_photo_gets_upright_thumbnail_and_preview(app, client, users, samples):
    officer = users.create("li")
    case = open_case(client, officer)
    item_id = tus.upload(client, officer, case["id"], samples["photo"])
    item = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json
    assert item["processing"] == "done", item["steps"]
    assert (item["width"], item["height"]) == (200, 400)  # orientation applied
    assert item["derivatives"] == ["preview", "thumbnail"]
    assert item["attached_stage"] == "filing" and item["steps"]["attach"]["source"] == "chosen"
    thumb = client.get(f"/api/v1/media/{item_id}/thumbnail", headers=officer.headers)
    from PIL import Image

    image = Image.open(io.BytesIO(thumb.data))
    assert thumb.status_code == 200 and image.format == "JPEG"
    assert image.size[1] > image.size[0] and not image.getexif()
    actions = [
        e["action"]
        for e in client.get(f"/api/v1/media/{item_id}/custody", headers=officer.headers).json[
            "entries"
        ]
    ]
    assert [
        a
        for a in actions
        if a in {"media.verified", "media.probed", "media.derived", "media.attached"}
    ] == ["media.verified", "media.probed", "media.derived", "media.attached"]
    # The original is untouched by the pipeline.
    assert (
        client.get(f"/api/v1/media/{item_id}/original", headers=officer.headers).data
        == samples["photo"]
    )


def test_h264_video_is_remuxed_webm_is_transcoded(app, client, users, samples):
    officer = users.create("li")
    case = open_case(client, officer)
    mp4 = tus.upload(
        client, officer, case["id"], samples["mp4"], filename="a.mp4", content_type="video/mp4"
    )
    webm = tus.upload(
        client, officer, case["id"], samples["webm"], filename="b.webm", content_type="video/webm"
    )
    for item_id, remuxed in ((mp4, True), (webm, False)):
        item = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json
        assert item["processing"] == "done", item["steps"]
        assert set(item["derivatives"]) == {"proxy", "poster", "strip", "thumbnail"}
        assert 1.5 < item["duration_s"] < 2.5
        with app.app_context():
            proxy = next(
                d for d in db.session.get(MediaItem, item_id).derivatives if d.name == "proxy"
            )
            assert proxy.info["remuxed"] is remuxed
            assert proxy.source_sha256 == item["server_sha256"]
        part = client.get(
            f"/api/v1/media/{item_id}/proxy", headers={**officer.headers, "Range": "bytes=0-99"}
        )
        assert part.status_code == 206 and part.headers["Content-Type"] == "video/mp4"
        assert part.data[4:8] == b"ftyp" and len(part.data) == 100


def test_audio_gets_proxy_and_waveform(client, users, samples):
    officer = users.create("li")
    case = open_case(client, officer)
    item_id = tus.upload(
        client,
        officer,
        case["id"],
        samples["audio"],
        filename="c.webm",
        content_type="audio/webm",
        activity="hearing",
    )
    item = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json
    assert item["processing"] == "done", item["steps"]
    assert set(item["derivatives"]) == {"proxy", "waveform"}
    peaks = json.loads(
        client.get(f"/api/v1/media/{item_id}/waveform", headers=officer.headers).data
    )["peaks"]
    # lavfi sine has amplitude 1/8: the peaks must say so.
    assert len(peaks) > 100 and 0.1 < max(peaks) < 0.15 and min(peaks) >= 0


def test_lying_type_is_flagged_and_still_processed(client, users, samples):
    officer = users.create("li")
    case = open_case(client, officer)
    item_id = tus.upload(
        client, officer, case["id"], samples["mp4"], filename="x.jpg", content_type="image/jpeg"
    )
    item = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json
    assert "type_mismatch" in [f["code"] for f in item["flags"]]
    assert item["detected_content_type"] == "video/mp4" and "proxy" in item["derivatives"]


@pytest.mark.parametrize(
    ("name", "content_type", "code"),
    [
        ("bomb", "image/png", "decompression_bomb"),
        ("garbage", "video/mp4", "unsupported_type"),
        ("many_scans", "image/jpeg", "absurd_scan_count"),  # would stall the worker's decode
    ],
)
def test_hostile_files_are_flagged_originals_kept_worker_alive(
    client, users, samples, name, content_type, code
):
    officer = users.create("li")
    case = open_case(client, officer)
    data = samples.get(name, b"\x00garbage" * 999)
    item_id = tus.upload(client, officer, case["id"], data, content_type=content_type)
    item = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json
    assert item["status"] == "verified" and item["processing"] == "flagged"
    flag = next(f for f in item["flags"] if f["code"] == code)
    assert flag["message"]
    if code == "absurd_scan_count":
        # A JPEG's headers read without decoding: its EXIF is kept, derive refuses the pixels.
        assert item["steps"]["probe"]["state"] == "done"
        assert (item["steps"]["derive"]["state"], item["steps"]["derive"]["code"]) == (
            "failed",
            code,
        )
    else:
        assert (
            item["steps"]["probe"]["state"] == "failed"
            and item["steps"]["derive"]["state"] == "skipped"
        )
    assert item["attached_stage"] == "filing"  # still placed on its stage
    assert client.get(f"/api/v1/media/{item_id}/original", headers=officer.headers).data == data
    # The next item goes through normally.
    ok = tus.upload(client, officer, case["id"], samples["photo"])
    assert client.get(f"/api/v1/media/{ok}", headers=officer.headers).json["processing"] == "done"


def test_attach_by_time_window_unattached_and_supervisor_move(app, client, users, samples):
    officer = users.create("li")
    sup = users.create("boss", role="supervisor")
    case = open_case(client, officer)
    move_case_to(client, sup, case["id"], "evidence")
    # No stage chosen, captured now: the open stage (evidence) takes it.
    now_item = tus.upload(
        client,
        officer,
        case["id"],
        samples["photo"],
        stage=None,
        captured_at=clock.now().isoformat(),
    )
    item = client.get(f"/api/v1/media/{now_item}", headers=officer.headers).json
    assert (
        item["attached_stage"] == "evidence" and item["steps"]["attach"]["source"] == "time_window"
    )
    # Captured before the case existed: nothing contains it.
    early = (clock.now() - timedelta(days=3)).isoformat()
    lost = tus.upload(
        client,
        officer,
        case["id"],
        samples["mp4"],
        stage=None,
        captured_at=early,
        content_type="video/mp4",
    )
    item = client.get(f"/api/v1/media/{lost}", headers=officer.headers).json
    assert item["attached_stage"] is None and "unattached" in [f["code"] for f in item["flags"]]
    assert "late_upload" in [f["code"] for f in item["flags"]]

    refused = client.post(
        f"/api/v1/media/{lost}/attachment",
        json={"stage": "filing", "reason": "x"},
        headers=officer.headers,
    )
    assert refused.status_code == 403
    moved = client.post(
        f"/api/v1/media/{lost}/attachment",
        json={"stage": "filing", "reason": "现场检查前的记录"},
        headers=sup.headers,
    )
    assert moved.status_code == 200 and moved.json["attached_stage"] == "filing"
    assert "unattached" not in [f["code"] for f in moved.json["flags"]]
    with app.app_context():
        from sqlalchemy import select

        history = (
            db.session.execute(
                select(MediaAttachment)
                .where(MediaAttachment.media_item_id == lost)
                .order_by(MediaAttachment.id)
            )
            .scalars()
            .all()
        )
        assert [(h.stage, h.source) for h in history] == [
            (None, "unattached"),
            ("filing", "supervisor"),
        ]
        assert history[1].reason == "现场检查前的记录"
        # Re-running the pipeline never undoes the supervisor's placement.
        rt = app.extensions["fieldtrace"]
        row = db.session.get(MediaItem, lost)
        row.processing = "pending"
        db.session.commit()
        process_item(db.session, rt.storage, lost, rt.jobs.pipeline)
        assert db.session.get(MediaItem, lost).attached_stage == "filing"


def test_recording_gaps(client, users, samples):
    officer = users.create("li")
    colleague = users.create("wang")  # 执法人员不得少于两人: not this test's gap
    case = open_case(client, officer, major_property=True, officer_ids=[colleague.id])
    tus.upload(client, officer, case["id"], samples["photo"], activity="evidence_collection")
    gaps = client.get(f"/api/v1/cases/{case['id']}/gaps", headers=officer.headers).json["gaps"]
    assert {(g["code"], g["stage"]) for g in gaps} == {
        ("activity_not_filmed", "filing"),
        ("major_property_no_video", "filing"),
    }
    assert all(g["message"] for g in gaps)
    tus.upload(
        client,
        officer,
        case["id"],
        samples["mp4"],
        activity="evidence_collection",
        content_type="video/mp4",
        filename="v.mp4",
    )
    assert (
        client.get(f"/api/v1/cases/{case['id']}/gaps", headers=officer.headers).json["gaps"] == []
    )
    # A new stage of a major-property case starts without video: a gap until it is filmed.
    move_case_to(client, users.create("boss", role="supervisor"), case["id"], "investigation")
    listed = client.get("/api/v1/cases?has_gaps=1", headers=officer.headers).json
    assert [c["id"] for c in listed["items"]] == [case["id"]] and listed["items"][0][
        "gap_count"
    ] == 1


def test_device_clock_skew_is_flagged(client, users, samples):
    officer = users.create("li")
    case = open_case(client, officer)
    sent = (clock.now() - timedelta(hours=2)).isoformat()
    item_id = tus.upload(client, officer, case["id"], samples["photo"], sent_at=sent)
    flags = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json["flags"]
    assert "device_clock_skew" in [f["code"] for f in flags]


def _mp4_created_at(tmp_path: Path, creation_time: str) -> bytes:
    return _ffmpeg(
        tmp_path / f"{creation_time.replace(':', '')}.mp4",
        *("-f", "lavfi", "-i", "testsrc=size=160x120:rate=5:duration=1"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
        *("-metadata", f"creation_time={creation_time}"),
    )


def _upload_video(client, officer, case_id: int, data: bytes, captured: datetime) -> dict:
    item_id = tus.upload(
        client,
        officer,
        case_id,
        data,
        filename="cam.mp4",
        content_type="video/mp4",
        captured_at=captured.isoformat(),
    )
    return client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json


def test_camera_local_time_written_as_utc_is_a_finding_not_a_mismatch(client, users, tmp_path):
    # A camera on Beijing time writes 14:00 local as "14:00Z": 8 h ahead of the instant.
    officer = users.create("li")
    case = open_case(client, officer)
    captured = clock.local_now().replace(microsecond=0) - timedelta(minutes=30)
    local_as_utc = captured.replace(tzinfo=None).isoformat() + "Z"
    data = _mp4_created_at(tmp_path, local_as_utc)
    item = _upload_video(client, officer, case["id"], data, captured)
    assert item["processing"] == "done", item["steps"]
    codes = [f["code"] for f in item["flags"]]
    assert "capture_time_mismatch" not in codes
    finding = next(f for f in item["flags"] if f["code"] == "file_time_zone_offset")
    assert finding["offset_h"] == 8 and finding["matches_device_zone"] is True
    assert finding["seconds"] == 8 * 3600 and "8" in finding["message"]
    # The file's own statement is kept as it reads, and so are its bytes.
    assert datetime.fromisoformat(item["file_captured_at"]) == captured + timedelta(hours=8)
    original = client.get(f"/api/v1/media/{item['id']}/original", headers=officer.headers)
    assert original.data == data

    # Nepal (UTC+05:45), seconds apart from the phone's clock: a quarter-hour zone still fits.
    nepal = _mp4_created_at(
        tmp_path, (captured + timedelta(hours=5, minutes=45, seconds=40)).isoformat()
    )
    item = _upload_video(client, officer, case["id"], nepal, captured)
    finding = next(f for f in item["flags"] if f["code"] == "file_time_zone_offset")
    assert finding["offset_h"] == 5.75 and finding["matches_device_zone"] is False
    assert "capture_time_mismatch" not in [f["code"] for f in item["flags"]]

    # 8 h 37 min is no time zone: that stays a mismatch for a supervisor to look at.
    odd = _mp4_created_at(tmp_path, (captured + timedelta(hours=8, minutes=37)).isoformat())
    item = _upload_video(client, officer, case["id"], odd, captured)
    codes = [f["code"] for f in item["flags"]]
    assert "capture_time_mismatch" in codes and "file_time_zone_offset" not in codes


def test_a_photo_is_entropy_decoded_once(client, users, samples, monkeypatch):
    from PIL import ImageFile

    decoded: list[tuple[str | None, tuple[int, int]]] = []
    real_load = ImageFile.ImageFile.load

    def counting_load(img: ImageFile.ImageFile):  # type: ignore[no-untyped-def]
        if img.tile:  # pixels not decoded yet: this call runs the decoder
            decoded.append((img.format, img.size))
        return real_load(img)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    officer = users.create("li")
    case = open_case(client, officer)
    item_id = tus.upload(client, officer, case["id"], samples["photo"])
    item = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json
    assert item["processing"] == "done" and item["derivatives"] == ["preview", "thumbnail"]
    assert (item["width"], item["height"]) == (200, 400)
    assert decoded == [("JPEG", (400, 200))]  # by derive, for both derivatives


def test_a_photo_that_does_not_decode_is_flagged_by_derive(client, users, samples):
    # Headers fine, pixels not: a sequential JPEG with a second scan, which libjpeg refuses.
    officer = users.create("li")
    case = open_case(client, officer)
    data = with_extra_scans(samples["photo"], 1)
    item_id = tus.upload(client, officer, case["id"], data)
    item = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json
    assert item["processing"] == "flagged" and item["derivatives"] == []
    assert item["steps"]["probe"]["state"] == "done"
    assert item["steps"]["derive"]["state"] == "failed"
    assert item["steps"]["derive"]["code"] == "probe_failed"
    assert "probe_failed" in [f["code"] for f in item["flags"]]
    assert client.get(f"/api/v1/media/{item_id}/original", headers=officer.headers).data == data


def test_pipeline_is_safe_to_run_twice(app, client, users, samples):
    officer = users.create("li")
    case = open_case(client, officer)
    item_id = tus.upload(client, officer, case["id"], samples["photo"])
    with app.app_context():
        rt = app.extensions["fieldtrace"]
        assert process_item(db.session, rt.storage, item_id, rt.jobs.pipeline) == Outcome.SKIPPED
        item = db.session.get(MediaItem, item_id)
        assert len(item.derivatives) == 2 and item.server_sha256 == sha256_hex(samples["photo"])


# --- HEIC from iPhones ---------------------------------------------------------------------


def _heic_upload(client, officer, case_id: int, data: bytes, **meta) -> str:
    meta = {"content_type": "image/heic", "filename": "IMG_0001.HEIC", **meta}
    return tus.upload(client, officer, case_id, data, **meta)


def test_iphone_heic_gets_jpeg_thumbnail_and_keeps_its_original(client, users):
    from PIL import Image

    from tests.heic_samples import red_over_blue_heic

    officer = users.create("li")
    case = open_case(client, officer)
    captured = clock.local_now().replace(microsecond=0)
    data = red_over_blue_heic(captured=captured)
    item_id = _heic_upload(client, officer, case["id"], data, captured_at=captured.isoformat())
    item = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json
    assert item["processing"] == "done", item["steps"]
    assert item["detected_content_type"] == "image/heic"
    assert (item["width"], item["height"]) == (200, 400)  # the container's rotation applied
    assert item["probe"]["format"] == "HEIF" and item["probe"]["orientation"] == 6
    assert item["probe"]["gps"]["lat"] == pytest.approx(31.2304)
    # The capture time inside the HEIC agrees with the phone's: nothing to flag.
    assert datetime.fromisoformat(item["file_captured_at"]) == captured
    assert not {"type_mismatch", "capture_time_mismatch"} & {f["code"] for f in item["flags"]}
    assert item["derivatives"] == ["preview", "thumbnail"]

    thumb = client.get(f"/api/v1/media/{item_id}/thumbnail", headers=officer.headers)
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
    image = Image.open(io.BytesIO(thumb.data))
    assert image.format == "JPEG" and image.size == (160, 320) and not image.getexif()
    red, blue = image.getpixel((80, 10)), image.getpixel((80, 310))
    assert red[0] > 230 and red[2] < 30 and blue[2] > 230 and blue[0] < 30  # upright, once
    assert b"FieldCam" not in thumb.data

    original = client.get(f"/api/v1/media/{item_id}/original", headers=officer.headers)
    assert original.data == data and original.headers["Content-Type"] == "image/heic"


def test_heic_claimed_as_jpeg_is_flagged_and_still_processed(client, users):
    from tests.heic_samples import red_over_blue_heic

    officer = users.create("li")
    case = open_case(client, officer)
    item_id = tus.upload(
        client, officer, case["id"], red_over_blue_heic(), content_type="image/jpeg"
    )
    item = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json
    mismatch = next(f for f in item["flags"] if f["code"] == "type_mismatch")
    assert "image/heic" in mismatch["message"]
    assert item["detected_content_type"] == "image/heic"
    assert item["derivatives"] == ["preview", "thumbnail"]


def test_truncated_heic_is_flagged_and_the_worker_carries_on(client, users):
    from tests.heic_samples import red_over_blue_heic

    officer = users.create("li")
    case = open_case(client, officer)
    whole = red_over_blue_heic()
    cut = whole[: int(len(whole) * 0.6)]
    item_id = _heic_upload(client, officer, case["id"], cut)
    item = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json
    assert item["status"] == "verified" and item["processing"] == "flagged"
    flag = next(f for f in item["flags"] if f["code"] == "truncated")
    assert "mdat" in flag["message"]
    assert item["steps"]["probe"]["state"] == "failed"
    assert item["steps"]["derive"]["state"] == "skipped" and item["derivatives"] == []
    assert client.get(f"/api/v1/media/{item_id}/original", headers=officer.headers).data == cut
    missing = client.get(f"/api/v1/media/{item_id}/thumbnail", headers=officer.headers)
    assert missing.status_code == 404
    # The next HEIC goes through normally.
    ok = _heic_upload(client, officer, case["id"], whole)
    assert client.get(f"/api/v1/media/{ok}", headers=officer.headers).json["processing"] == "done"


def test_derivatives_are_stored_under_their_content_hash(app, client, users):
    """A re-derive that dies between storing a file and committing its row must not leave
    the row's hash describing other bytes: each derivative's key names its content."""
    officer = users.create("derive_key")
    case = open_case(client, officer)
    item_id = tus.upload(client, officer, case["id"], sample_jpeg())
    with app.app_context():
        rows = (
            db.session.execute(sa.select(Derivative).where(Derivative.media_item_id == item_id))
            .scalars()
            .all()
        )
        assert {r.name for r in rows} >= {"thumbnail", "preview"}
        storage = app.extensions["fieldtrace"].storage
        for row in rows:
            assert row.sha256[:16] in row.object_key
            body = storage.get_bytes(row.bucket, row.object_key)
            assert hashlib.sha256(body).hexdigest() == row.sha256


@pytest.fixture
def few_scans(app_config):
    app_config["MEDIA_MAX_JPEG_SCANS"] = 5  # before the app is made from it


def test_the_jpeg_scan_limit_comes_from_the_configuration(few_scans, client, users):
    officer = users.create("scans")
    case = open_case(client, officer)
    item_id = tus.upload(client, officer, case["id"], progressive_jpeg())  # about 10 scans
    item = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json
    assert "absurd_scan_count" in [f["code"] for f in item["flags"]]
