"""How the phone took a photo (the upload's ``capture`` metadata): kept on the item, in its
API output, in the custody trail and the case archive's item row, and said in words."""

import json

from server.extensions import db
from server.models import AuditEntry, MediaItem
from server.services.capture_info import describe_capture, parse_capture
from server.services.custody_export import item_facts
from tests import tus_helpers as tus
from tests.conftest import open_case, sample_jpeg

STILL = {
    "method": "image_capture",
    "width": 4000,
    "height": 3000,
    "camera": "camera2 0, facing back",
    "facing": "environment",
    "zoom": 1,
    "stream_max": {"width": 1920, "height": 1080},
}


def _completed(app, item_id):
    with app.app_context():
        entry = db.session.execute(
            db.select(AuditEntry).where(
                AuditEntry.object_id == item_id, AuditEntry.action == "upload.completed"
            )
        ).scalar_one()
        return entry.details


def test_upload_keeps_how_the_photo_was_taken(app, client, users):
    officer = users.create("li")
    case = open_case(client, officer)
    sent = {**STILL, "lens_hint": "wide"}  # a newer app's key: dropped, noted in the trail
    item_id = tus.upload(client, officer, case["id"], sample_jpeg(), capture=json.dumps(sent))
    item = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json
    assert item["status"] == "verified"
    assert item["capture"] == {**STILL, "zoom": 1.0}
    assert "capture_info_invalid" not in {f["code"] for f in item["flags"]}
    details = _completed(app, item_id)
    assert details["capture"] == item["capture"]
    assert details["capture_unknown_keys"] == ["lens_hint"]
    with app.app_context():
        row = db.session.get(MediaItem, item_id)
        zh = dict(item_facts(db.session, row, "zh"))
        en = dict(item_facts(db.session, row, "en"))
    assert zh["拍摄方式"].startswith("相机原图 4000×3000 · 后置摄像头")
    assert en["Taken as"].startswith("camera still 4000×3000 · rear camera")


def test_malformed_capture_never_refuses_the_evidence(app, client, users):
    officer = users.create("li")
    case = open_case(client, officer)
    bad = tus.upload(client, officer, case["id"], sample_jpeg(), capture="{not json")
    item = client.get(f"/api/v1/media/{bad}", headers=officer.headers).json
    assert item["status"] == "verified" and item["capture"] is None
    flag = next(f for f in item["flags"] if f["code"] == "capture_info_invalid")
    assert flag["label"]["zh"].startswith("手机上报的拍摄方式信息格式有误")
    assert _completed(app, bad)["capture_dropped"] == ["capture is not JSON"]

    # Well-formed keys are kept, a wrong one is dropped and flagged.
    data = sample_jpeg(65, 48)
    odd = {"method": "image_capture", "width": 4000, "height": 3000, "facing": 7, "zoom": -2}
    part = tus.upload(client, officer, case["id"], data, capture=json.dumps(odd))
    item = client.get(f"/api/v1/media/{part}", headers=officer.headers).json
    assert item["capture"] == {"method": "image_capture", "width": 4000, "height": 3000}
    assert "capture_info_invalid" in {f["code"] for f in item["flags"]}


def test_capture_metadata_is_checked_key_by_key():
    assert parse_capture(None).info is None and parse_capture("").problems == []
    assert parse_capture("[1, 2]").problems == ["capture is not a JSON object"]
    frame = parse_capture(
        json.dumps({"method": "video_frame", "width": 1280, "height": 720, "facing": "user"})
    )
    assert frame.problems == [] and frame.info["method"] == "video_frame"
    half = parse_capture(json.dumps({"method": "image_capture", "width": 4000}))
    assert half.info == {"method": "image_capture"} and half.problems
    for wrong in (
        {"width": True, "height": 3000},
        {"width": 0, "height": 3000},
        {"width": 4000.5, "height": 3000},
        {"method": "screenshot"},
        {"zoom": float("inf")},
        {"stream_max": {"width": 10}},
        {"camera": ""},
        {"camera": "x" * 201},
    ):
        assert parse_capture(json.dumps(wrong)).problems, wrong
    assert describe_capture(None) == "—"
    assert (
        describe_capture(
            {
                "method": "video_frame",
                "width": 1280,
                "height": 720,
                "facing": "user",
                "zoom": 2,
                "stream_max": {"width": 1920, "height": 1080},
            },
            "en",
        )
        == "frame from the camera's video 1280×720 · front camera · zoom 2× · stream up to 1920×1080"
    )
    assert (
        describe_capture(
            {"method": "image_capture", "width": 4000, "height": 3000, "facing": "environment"}
        )
        == "相机原图 4000×3000 · 后置摄像头"
    )
