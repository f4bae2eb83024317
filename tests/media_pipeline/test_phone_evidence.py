"""Evidence as real phones make it, through the whole pipeline (upload, probe, derive, flags):
recordings whose picture stops early, big photos, AMR voice memos, GPS in the file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from media_pipeline.probe import wgs84_to_gcj02
from tests import tus_helpers as tus
from tests.conftest import open_case

from .conftest import LAT, LON, phone_exif, phone_jpeg, with_jpeg_size


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


def test_an_iphone_hlg_video_gets_a_320_px_sdr_thumbnail(client, users, hlg_grey_mp4) -> None:
    """The thumbnail of a video is a photo's size (it was the 1280 px poster), and HDR
    reference white is white in it (it was 191 of 255)."""
    officer = users.create("li")
    case = open_case(client, officer)
    item_id = tus.upload(
        client,
        officer,
        case["id"],
        hlg_grey_mp4.read_bytes(),
        filename="IMG_0003.MOV",
        content_type="video/mp4",
    )
    item = _media(client, officer, item_id)
    assert item["processing"] == "done", item["steps"]
    thumb = client.get(f"/api/v1/media/{item_id}/thumbnail", headers=officer.headers)
    with Image.open(io.BytesIO(thumb.data)) as img:
        assert img.size == (320, 180)
        assert min(ImageStat.Stat(img.convert("L")).extrema[0]) >= 225
    poster = client.get(f"/api/v1/media/{item_id}/poster", headers=officer.headers)
    with Image.open(io.BytesIO(poster.data)) as img:
        assert img.size == (640, 360)  # the recording's own size: never upscaled


def test_a_108_mp_photo_is_processed_and_a_jpeg_bomb_still_tells_its_time_and_place(
    client, users, tmp_path: Path
) -> None:
    officer = users.create("li")
    case = open_case(client, officer)
    photo = phone_jpeg(tmp_path / "IMG_108MP.jpg", 12000, 9000, exif=phone_exif()).read_bytes()
    item = _media(client, officer, tus.upload(client, officer, case["id"], photo))
    assert item["processing"] == "done", item["steps"]
    assert (item["width"], item["height"]) == (12000, 9000)
    assert item["derivatives"] == ["preview", "thumbnail"]
    assert item["file_captured_at"].startswith("2024-05-01T02:20:30")  # 10:20:30+08:00

    small = tmp_path / "small.jpg"
    Image.new("RGB", (64, 48), "gray").save(small, exif=phone_exif())
    bomb = with_jpeg_size(small.read_bytes(), 65535, 65535)
    item = _media(client, officer, tus.upload(client, officer, case["id"], bomb))
    assert item["processing"] == "flagged"
    assert item["steps"]["probe"]["state"] == "done"
    assert item["steps"]["derive"]["code"] == "decompression_bomb"
    assert "decompression_bomb" in [f["code"] for f in item["flags"]]
    assert item["file_captured_at"].startswith("2024-05-01T02:20:30")
    assert item["derivatives"] == []


def test_a_200_mp_progressive_jpeg_is_refused_in_words_with_its_time_read(
    client, users, tmp_path: Path
) -> None:
    """Re-saved progressive, a 200 MP photo needs 571 MB of coefficients held whole: not a
    bomb, but more than a worker decodes. Said so (too_large_to_decode), its time read."""
    officer = users.create("li")
    case = open_case(client, officer)
    small = tmp_path / "small.jpg"
    Image.new("RGB", (64, 48), "gray").save(small, progressive=True, exif=phone_exif())
    photo = with_jpeg_size(small.read_bytes(), 16320, 12240)
    item = _media(client, officer, tus.upload(client, officer, case["id"], photo))
    assert item["processing"] == "flagged"
    assert item["steps"]["derive"]["code"] == "too_large_to_decode"
    flag = next(f for f in item["flags"] if f["code"] == "too_large_to_decode")
    assert flag["label"]["zh"].startswith("照片只能整幅解码")
    assert "decompression_bomb" not in [f["code"] for f in item["flags"]]
    assert item["file_captured_at"].startswith("2024-05-01T02:20:30")
    assert item["derivatives"] == []


def test_an_amr_voice_recording_is_heard_not_suspected(client, users, amr_nb: Path) -> None:
    officer = users.create("li")
    case = open_case(client, officer)
    item_id = tus.upload(
        client,
        officer,
        case["id"],
        amr_nb.read_bytes(),
        filename="录音 2024-05-01 10-20-30.amr",
        content_type="audio/amr",
        activity="hearing",
    )
    item = _media(client, officer, item_id)
    assert item["processing"] == "done", item["steps"]
    assert not {"type_mismatch", "unsupported_type"} & {f["code"] for f in item["flags"]}
    assert item["detected_content_type"] == "audio/amr"
    assert set(item["derivatives"]) == {"proxy", "waveform"}
    assert 1.9 < item["duration_s"] < 2.1
    proxy = client.get(f"/api/v1/media/{item_id}/proxy", headers=officer.headers)
    assert proxy.status_code == 200 and proxy.headers["Content-Type"] == "audio/mp4"


def _photo(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG", exif=phone_exif())
    return out.getvalue()


# Beijing, Tiananmen: 1067 km from the Shanghai position the samples carry in their files.
BEIJING = {"latitude": "39.9042", "longitude": "116.4074", "accuracy_m": "12"}


def test_the_files_own_position_is_kept_next_to_the_phones_and_compared(client, users) -> None:
    officer = users.create("li")
    case = open_case(client, officer)
    # Where the phone said it was (tus metadata defaults to the same Shanghai point).
    here = _media(client, officer, tus.upload(client, officer, case["id"], _photo("gray")))
    assert "location_mismatch" not in [f["code"] for f in here["flags"]]
    location = here["probe"]["location"]
    assert location["file"]["lat"] == pytest.approx(LAT, abs=1e-4)
    assert location["device"] == {"lat": 31.2304, "lon": 121.4737, "accuracy_m": 8.5}
    assert location["distance_m"] < 50 and location["allowed_m"] == 8.5 + 200

    far = _media(client, officer, tus.upload(client, officer, case["id"], _photo("red"), **BEIJING))
    flag = next(f for f in far["flags"] if f["code"] == "location_mismatch")
    assert flag["message_zh"] == (
        "文件内记录的位置距设备上报位置 1067.3 公里，超出两者定位精度（12 米）加 200 米余量"
    )
    assert flag["message"] == (
        "the position in the file is 1067.3 km from the one the phone reported, "
        "more than their accuracy (12 m) plus 200 m"
    )
    assert flag["file"]["lat"] == pytest.approx(LAT, abs=1e-4)
    assert flag["device"]["lat"] == 39.9042
    assert far["probe"]["location"]["device"]["lon"] == 116.4074


def test_a_video_recorded_elsewhere_is_flagged_by_its_quicktime_location(
    client, users, apple_mov: Path
) -> None:
    officer = users.create("li")
    case = open_case(client, officer)
    item = _media(
        client,
        officer,
        tus.upload(
            client,
            officer,
            case["id"],
            apple_mov.read_bytes(),
            filename="IMG_0002.MOV",
            content_type="video/quicktime",
            **BEIJING,
        ),
    )
    assert "location_mismatch" in [f["code"] for f in item["flags"]]
    assert item["probe"]["location"]["file"] == {"lat": LAT, "lon": LON, "alt": 10.0}


def test_no_phone_position_keeps_the_files_without_comparing(client, users) -> None:
    officer = users.create("li")
    case = open_case(client, officer)
    item = _media(
        client,
        officer,
        tus.upload(
            client,
            officer,
            case["id"],
            _photo("blue"),
            latitude=None,
            longitude=None,
            accuracy_m=None,
        ),
    )
    assert item["probe"]["location"]["device"] is None
    assert "location_mismatch" not in [f["code"] for f in item["flags"]]


@pytest.fixture
def small_jpeg_limit(app_config):
    app_config["MEDIA_MAX_JPEG_PIXELS"] = 1000  # before the app is made from it


def test_the_jpeg_pixel_limit_comes_from_the_configuration(small_jpeg_limit, client, users):
    officer = users.create("li")
    case = open_case(client, officer)
    item = _media(client, officer, tus.upload(client, officer, case["id"], _photo("green")))
    assert item["steps"]["derive"]["code"] == "decompression_bomb"
    assert item["file_captured_at"] is not None  # its EXIF is read all the same


@pytest.fixture
def small_decode_memory(app_config):
    app_config["MEDIA_MAX_DECODE_MB"] = 1  # before the app is made from it


def test_the_decode_memory_comes_from_the_configuration(small_decode_memory, client, users):
    officer = users.create("li")
    case = open_case(client, officer)
    out = io.BytesIO()  # 1000x1000 progressive 4:2:0: 3 MB of coefficients
    Image.new("RGB", (1000, 1000), "teal").save(out, "JPEG", progressive=True, exif=phone_exif())
    item = _media(client, officer, tus.upload(client, officer, case["id"], out.getvalue()))
    assert item["steps"]["derive"]["code"] == "too_large_to_decode"
    assert item["file_captured_at"] is not None


def test_a_position_in_chinas_gcj02_datum_is_the_same_place_not_a_mismatch(client, users) -> None:
    """The file in WGS 84 (Shanghai), the phone's system location in GCJ-02: 481 m apart on
    paper, the same spot. A real move of that distance stays a mismatch."""
    officer = users.create("li")
    case = open_case(client, officer)
    lat, lon = wgs84_to_gcj02(LAT, LON)
    shifted = {"latitude": f"{lat:.6f}", "longitude": f"{lon:.6f}", "accuracy_m": "10"}
    item = _media(
        client, officer, tus.upload(client, officer, case["id"], _photo("yellow"), **shifted)
    )
    assert "location_mismatch" not in [f["code"] for f in item["flags"]]
    location = item["probe"]["location"]
    assert location["datum_shift"] == "gcj02"
    assert 400 < location["distance_m"] < 600 and location["distance_without_shift_m"] < 10

    # 480 m due north: no datum shift explains that.
    moved = {**shifted, "latitude": f"{LAT + 0.0043:.6f}", "longitude": f"{LON:.6f}"}
    item = _media(
        client, officer, tus.upload(client, officer, case["id"], _photo("purple"), **moved)
    )
    assert "location_mismatch" in [f["code"] for f in item["flags"]]
    assert "datum_shift" not in item["probe"]["location"]
