from __future__ import annotations

import random
from pathlib import Path

import pytest

from media_pipeline.limits import MediaRejected
from media_pipeline.sniff import (
    UNKNOWN,
    DetectedType,
    claimed_matches,
    classify_upload,
    detect_type,
    mime_for_filename,
    top_level_boxes,
    trailing_bytes,
)

JPEG = DetectedType("photo", "image/jpeg", "jpeg")
WEBM = DetectedType("video", "video/webm", "webm")
MP4 = DetectedType("video", "video/mp4", "mp4")
MOV = DetectedType("video", "video/quicktime", "mov")
M4A = DetectedType("audio", "audio/mp4", "mp4")


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("oriented_jpeg", JPEG),
        ("transparent_png", DetectedType("photo", "image/png", "png")),
        ("green_webp", DetectedType("photo", "image/webp", "webp")),
        ("h264_mp4", MP4),
        ("apple_mov", MOV),
        ("vp8_webm", WEBM),
        ("streamed_webm", WEBM),
        ("tone_then_silence_wav", DetectedType("audio", "audio/wav", "wav")),
    ],
)
def test_detects_generated_media(
    request: pytest.FixtureRequest, fixture: str, expected: DetectedType
) -> None:
    assert detect_type(request.getfixturevalue(fixture)) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mp3_id3", DetectedType("audio", "audio/mpeg", "mp3")),
        ("mp3_bare", DetectedType("audio", "audio/mpeg", "mp3")),
        ("adts", DetectedType("audio", "audio/aac", "aac")),
        ("m4a", M4A),
        ("ogg_opus", DetectedType("audio", "audio/ogg", "ogg")),
        ("wav", DetectedType("audio", "audio/wav", "wav")),
    ],
)
def test_detects_audio_containers(
    audio_samples: dict[str, Path], name: str, expected: DetectedType
) -> None:
    assert detect_type(audio_samples[name]) == expected


def test_detects_heic_and_pdf(hostile: dict[str, Path]) -> None:
    assert detect_type(hostile["photo.heic"]) == DetectedType("photo", "image/heic", "heif")
    assert detect_type(hostile["document.pdf"]).kind == "document"


def test_random_bytes_are_unknown(hostile: dict[str, Path]) -> None:
    assert detect_type(hostile["random.bin"]) is UNKNOWN


def test_a_lone_frame_sync_is_not_mp3(tmp_path: Path) -> None:
    # 0xFFFB9064 is a valid MPEG-1 layer III header; random bytes follow, not a second frame.
    path = tmp_path / "fake.mp3"
    path.write_bytes(b"\xff\xfb\x90\x64" + random.Random(7).randbytes(4000))
    assert detect_type(path) is UNKNOWN


def test_empty_file_is_rejected(hostile: dict[str, Path]) -> None:
    with pytest.raises(MediaRejected) as caught:
        detect_type(hostile["empty.jpg"])
    assert caught.value.code == "empty_file"


@pytest.mark.parametrize(
    ("claimed", "detected", "matches"),
    [
        ("image/jpeg", JPEG, True),
        ("IMAGE/JPG", JPEG, True),
        ("audio/webm;codecs=opus", WEBM, True),  # MediaRecorder, audio only
        ("video/x-matroska;codecs=avc1", WEBM, True),
        ("video/quicktime", MP4, True),  # iPhone exports label MP4s either way
        ("audio/x-m4a", M4A, True),
        ("video/mp4", MOV, True),
        (None, JPEG, True),  # no claim, nothing to contradict
        ("application/octet-stream", MP4, True),
        ("image/jpeg", MP4, False),
        ("video/mp4", WEBM, False),
        ("audio/mpeg", M4A, False),
        ("image/png", JPEG, False),
        ("image/jpeg", UNKNOWN, False),
        (None, UNKNOWN, False),
    ],
)
def test_claimed_matches(claimed: str | None, detected: DetectedType, matches: bool) -> None:
    assert claimed_matches(claimed, detected) is matches


def test_mime_for_filename() -> None:
    assert mime_for_filename("IMG_0001.JPG") == "image/jpeg"
    assert mime_for_filename("clip.webm") == "video/webm"
    assert mime_for_filename("notes") is None


def test_classify_upload_accepts_consistent_claims(vp8_webm: Path) -> None:
    detected = classify_upload(vp8_webm, claimed_mime="audio/webm", filename="rec.webm")
    assert detected == WEBM


def test_classify_upload_rejects_video_named_jpg(hostile: dict[str, Path]) -> None:
    path = hostile["video_named.jpg"]
    with pytest.raises(MediaRejected) as caught:
        classify_upload(path, claimed_mime=None, filename=path.name)
    assert caught.value.code == "type_mismatch"
    assert "video/mp4" in caught.value.message
    with pytest.raises(MediaRejected) as caught:
        classify_upload(path, claimed_mime="image/jpeg")
    assert caught.value.code == "type_mismatch"


def test_classify_upload_rejects_unknown_bytes(hostile: dict[str, Path]) -> None:
    with pytest.raises(MediaRejected) as caught:
        classify_upload(hostile["random.bin"], claimed_mime="video/mp4")
    assert caught.value.code == "unsupported_type"


def test_top_level_boxes_show_moov_position(h264_mp4: Path, h264_faststart_mp4: Path) -> None:
    def order(path: Path) -> list[str]:
        return [b.type for b in top_level_boxes(path) if b.type in ("moov", "mdat")]

    assert order(h264_mp4) == ["mdat", "moov"]
    assert order(h264_faststart_mp4) == ["moov", "mdat"]


@pytest.mark.parametrize(
    "fixture", ["oriented_jpeg", "transparent_png", "green_webp", "h264_mp4", "vp8_webm"]
)
def test_well_formed_files_have_no_trailing_bytes(
    request: pytest.FixtureRequest, fixture: str
) -> None:
    path = request.getfixturevalue(fixture)
    assert trailing_bytes(path, detect_type(path)) == 0


def test_streamed_webm_has_no_checkable_end(streamed_webm: Path) -> None:
    assert trailing_bytes(streamed_webm, detect_type(streamed_webm)) is None


def test_polyglot_payload_is_counted(polyglot_jpeg: tuple[Path, int]) -> None:
    path, zip_size = polyglot_jpeg
    assert trailing_bytes(path, detect_type(path)) == zip_size


@pytest.mark.parametrize(
    "name", ["truncated.jpg", "truncated.png", "truncated.mp4", "truncated_faststart.mp4",
             "truncated.webm"],
)  # fmt: skip
def test_cut_files_are_truncated(hostile: dict[str, Path], name: str) -> None:
    path = hostile[name]
    with pytest.raises(MediaRejected) as caught:
        trailing_bytes(path, detect_type(path))
    assert caught.value.code == "truncated"
