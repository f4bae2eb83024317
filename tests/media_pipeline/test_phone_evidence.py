"""Evidence as real phones make it, through the whole pipeline (upload, probe, derive, flags):
recordings whose picture stops early, big photos, AMR voice memos, GPS in the file."""

from __future__ import annotations

from pathlib import Path

from tests import tus_helpers as tus
from tests.conftest import open_case


def _media(client, officer, item_id: str) -> dict:
    return client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json


def test_video_that_stops_before_its_audio_is_a_finding_not_a_failure(
    client, users, video_stops_before_audio_webm: Path
) -> None:
    officer = users.create("li")
    case = open_case(client, officer)
    item_id = tus.upload(
        client,
        officer,
        case["id"],
        video_stops_before_audio_webm.read_bytes(),
        filename="recording.webm",
        content_type="video/webm;codecs=vp8,opus",
    )
    item = _media(client, officer, item_id)
    assert item["processing"] == "done", item["steps"]
    assert set(item["derivatives"]) == {"proxy", "poster", "strip", "thumbnail"}
    codes = [f["code"] for f in item["flags"]]
    assert "ffmpeg_failed" not in codes
    finding = next(f for f in item["flags"] if f["code"] == "video_stops_early")
    assert finding["message_zh"] == "画面在 0.3 秒处中断，声音持续到 5 秒"
    assert finding["message"] == "the picture stops at 0.3 s; the sound goes on to 5 s"
    assert finding["video_end_s"] < 0.4 and finding["audio_end_s"] > 4.9
