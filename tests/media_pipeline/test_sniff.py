from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from media_pipeline.ffmpeg_run import probe_av
from media_pipeline.limits import MediaRejected
from media_pipeline.sniff import (
    UNKNOWN,
    DetectedType,
    claimed_matches,
    classify_upload,
    detect_type,
    heif_image_sizes,
    jpeg_scan_count,
    mime_for_filename,
    top_level_boxes,
    trailing_bytes,
)

from .conftest import progressive_jpeg, with_extra_scans

JPEG = DetectedType("photo", "image/jpeg", "jpeg")
WEBM = DetectedType("video", "video/webm", "webm")
MP4 = DetectedType("video", "video/mp4", "mp4")
MOV = DetectedType("video", "video/quicktime", "mov")
M4A = DetectedType("audio", "audio/mp4", "mp4")
HEIC = DetectedType("photo", "image/heic", "heif")


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


@pytest.mark.parametrize("fixture", ["rf64_wav", "bw64_wav"])
def test_rf64_and_bw64_are_wav(request: pytest.FixtureRequest, fixture: str) -> None:
    """Long recorders write RF64/BW64; the 32-bit RIFF size is a 0xFFFFFFFF placeholder."""
    path = request.getfixturevalue(fixture)
    assert path.read_bytes()[4:12] == b"\xff\xff\xff\xffWAVE"
    detected = classify_upload(path, claimed_mime="audio/wav", filename="rec.wav")
    assert detected == DetectedType("audio", "audio/wav", "wav")
    assert trailing_bytes(path, detected) is None  # not "truncated", not a wrong count
    probe = probe_av(path)
    assert (probe["audio_codec"], probe["duration"]) == ("pcm_s24le", pytest.approx(1.0))


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


# --- HEIF / HEIC / AVIF ----------------------------------------------------------------------


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    return _box(b"ftyp", major + bytes(4) + b"".join(compatible))


@pytest.fixture(scope="module")
def heic_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.heic_samples import red_over_blue_heic

    path = tmp_path_factory.mktemp("heic") / "IMG_0001.HEIC"
    path.write_bytes(red_over_blue_heic())
    return path


@pytest.mark.parametrize(
    ("ftyp", "mime"),
    [
        (_ftyp(b"heic", b"mif1", b"heic"), "image/heic"),  # iPhone
        (_ftyp(b"heix", b"mif1", b"heix"), "image/heic"),  # 10-bit
        (_ftyp(b"mif1", b"mif1", b"heic"), "image/heic"),  # generic brand first (Samsung)
        (_ftyp(b"msf1", b"msf1", b"hevc"), "image/heic"),  # HEVC image sequence
        (_ftyp(b"heim", b"mif1"), "image/heic"),
        (_ftyp(b"mif1", b"mif1", b"avif"), "image/avif"),
        (_ftyp(b"avif", b"avif", b"mif1", b"miaf"), "image/avif"),
        (_ftyp(b"mif1", b"mif1", b"miaf"), "image/heif"),  # codec unknown from the brands
        (_ftyp(b"isom", b"isom", b"mp41"), "video/mp4"),  # same box format, not an image
        (_ftyp(b"qt  ", b"qt  "), "video/quicktime"),
    ],
)
def test_iso_bmff_brand_decides_image_or_video(tmp_path: Path, ftyp: bytes, mime: str) -> None:
    path = tmp_path / "sample"
    path.write_bytes(ftyp + _box(b"mdat", bytes(32)))
    assert detect_type(path).mime == mime


def test_detects_generated_heic(heic_file: Path) -> None:
    assert detect_type(heic_file) == HEIC
    assert trailing_bytes(heic_file, HEIC) == 0
    # Stored as the sensor saw it; the container's irot turns it upright.
    assert heif_image_sizes(heic_file) == [(400, 200)]


def test_heic_claimed_or_named_as_jpeg_is_a_mismatch(heic_file: Path) -> None:
    assert classify_upload(heic_file, claimed_mime="image/heic", filename="IMG_0001.HEIC") == HEIC
    assert classify_upload(heic_file, claimed_mime="image/heif", filename="a.heif") == HEIC
    with pytest.raises(MediaRejected) as caught:
        classify_upload(heic_file, claimed_mime="image/jpeg")
    assert caught.value.code == "type_mismatch" and "image/heic" in caught.value.message
    with pytest.raises(MediaRejected) as caught:
        classify_upload(heic_file, claimed_mime=None, filename="IMG_0001.JPG")
    assert caught.value.code == "type_mismatch"
    assert mime_for_filename("IMG_0001.HEIC") == "image/heic"


def test_heif_image_sizes_from_boxes(tmp_path: Path) -> None:
    def ispe(width: int, height: int) -> bytes:
        return _box(b"ispe", bytes(4) + struct.pack(">II", width, height))

    ipco = _box(b"ipco", _box(b"pixi", bytes(8)) + ispe(4032, 3024) + ispe(512, 512))
    meta = _box(b"meta", bytes(4) + _box(b"hdlr", bytes(24)) + _box(b"iprp", ipco))
    path = tmp_path / "a.heic"
    path.write_bytes(_ftyp(b"heic", b"mif1", b"heic") + meta + _box(b"mdat", bytes(16)))
    assert heif_image_sizes(path) == [(4032, 3024), (512, 512)]

    path.write_bytes(_ftyp(b"msf1", b"msf1", b"hevc") + _box(b"moov", bytes(16)))
    assert heif_image_sizes(path) == []  # a sequence only: no still image

    # A child box claiming more bytes than its parent holds.
    lying = _box(b"meta", bytes(4) + struct.pack(">I", 999) + b"iprp" + bytes(8))
    path.write_bytes(_ftyp(b"heic", b"mif1", b"heic") + lying)
    with pytest.raises(MediaRejected) as caught:
        heif_image_sizes(path)
    assert caught.value.code == "probe_failed"


def test_cut_heic_is_truncated(heic_file: Path, tmp_path: Path) -> None:
    data = heic_file.read_bytes()
    path = tmp_path / "cut.heic"
    path.write_bytes(data[: len(data) - 100])
    for check in (lambda: trailing_bytes(path, HEIC), lambda: heif_image_sizes(path)):
        with pytest.raises(MediaRejected) as caught:
            check()
        assert caught.value.code == "truncated"


def test_jpeg_scans_are_counted_as_libjpeg_reads_them(
    oriented_jpeg: Path, mpo_jpeg: Path, tmp_path: Path
) -> None:
    progressive = progressive_jpeg()
    baseline = oriented_jpeg.read_bytes()
    cases = {
        "progressive.jpg": (progressive, 10),
        "many.jpg": (with_extra_scans(progressive, 500), 510),
        "behind_garbage.jpg": (with_extra_scans(progressive, 500, behind_garbage=True), 510),
        # libjpeg stops at the first end-of-image: a second image (MPO, motion photo) is not
        # part of the decode.
        "two_images.jpg": (progressive + progressive, 10),
        # One scan holding every component of a sequential frame is all libjpeg decodes; it
        # refuses a later scan (JERR_EOI_EXPECTED).
        "baseline.jpg": (with_extra_scans(baseline, 500), 1),
        "phone_mpo.jpg": (mpo_jpeg.read_bytes(), 1),
    }
    for name, (data, scans) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert jpeg_scan_count(path) == scans, name
    assert jpeg_scan_count(tmp_path / "many.jpg", stop_after=100) == 101  # stops counting


@pytest.mark.parametrize(
    ("fixture", "mime", "container"),
    [
        ("amr_nb", "audio/amr", "amr"),
        ("amr_wb", "audio/amr-wb", "amr"),
        ("flac_audio", "audio/flac", "flac"),
    ],
)
def test_phone_recorder_formats_are_recognised(
    request: pytest.FixtureRequest, fixture: str, mime: str, container: str
) -> None:
    """Raw AMR from Chinese phones' voice and call recorders, FLAC from recorder apps: not
    "application/octet-stream", which made a fair claim read like tampering."""
    path = request.getfixturevalue(fixture)
    detected = detect_type(path)
    assert detected == DetectedType("audio", mime, container)
    assert claimed_matches(mime, detected)
    assert trailing_bytes(path, detected) is None  # no framing to check the end against


def test_amr_claims_and_names() -> None:
    nb = DetectedType("audio", "audio/amr", "amr")
    for claimed in ("audio/amr", "audio/AMR", "audio/amr-wb", "audio/3gpp", None):
        assert claimed_matches(claimed, nb)
    assert not claimed_matches("image/jpeg", nb)
    assert mime_for_filename("录音 2024-05-01.amr") == "audio/amr"
    assert mime_for_filename("call.awb") == "audio/amr-wb"
