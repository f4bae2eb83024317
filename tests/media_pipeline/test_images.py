from __future__ import annotations

import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from PIL import ExifTags, Image, ImageFile, features
from PIL.JpegImagePlugin import JpegImageFile

from media_pipeline import images
from media_pipeline.images import (
    _heif_plugin_registered,
    make_derivatives,
    make_preview,
    make_thumbnail,
    probe_image,
)
from media_pipeline.limits import MediaLimits, MediaRejected
from media_pipeline.sniff import DetectedType, classify_upload, detect_type, heif_image_sizes
from tests import heic_samples as heic

from .conftest import (
    LAT,
    LON,
    SECRET_MARKERS,
    ZIP_PAYLOAD,
    phone_exif,
    phone_jpeg,
    progressive_jpeg,
    with_extra_scans,
    with_jpeg_size,
)


def _close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def test_probe_reads_size_orientation_time_and_gps(oriented_jpeg: Path) -> None:
    probe = probe_image(oriented_jpeg)
    assert probe["format"] == "JPEG"
    assert probe["mime"] == "image/jpeg"
    assert (probe["width"], probe["height"]) == (400, 200)
    assert probe["orientation"] == 6
    assert (probe["display_width"], probe["display_height"]) == (200, 400)
    assert probe["capture_time"] == "2024-05-01T10:20:30.123000+08:00"
    assert probe["gps"] == {"lat": LAT, "lon": LON, "alt": 10.0}
    assert probe["trailing_bytes"] == 0


def test_capture_time_without_offset_stays_naive(no_offset_jpeg: Path) -> None:
    assert probe_image(no_offset_jpeg)["capture_time"] == "2024-05-01T10:20:30.123000"


def test_probe_without_exif(transparent_png: Path) -> None:
    probe = probe_image(transparent_png)
    assert probe["format"] == "PNG"
    assert probe["orientation"] == 1
    assert probe["capture_time"] is None
    assert probe["gps"] is None


def test_thumbnail_applies_orientation(oriented_jpeg: Path, tmp_path: Path) -> None:
    dst = tmp_path / "thumb.jpg"
    assert make_thumbnail(oriented_jpeg, dst) == {"width": 160, "height": 320}
    with Image.open(dst) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == (160, 320)
        # Stored left (red) is upright top; stored right (blue) is upright bottom.
        assert _close(thumb.getpixel((80, 10)), (255, 0, 0))
        assert _close(thumb.getpixel((80, 310)), (0, 0, 255))


def test_derivatives_carry_no_metadata(oriented_jpeg: Path, tmp_path: Path) -> None:
    for make in (make_thumbnail, make_preview):
        dst = tmp_path / f"{make.__name__}.jpg"
        make(oriented_jpeg, dst)
        with Image.open(dst) as derived:
            assert not derived.getexif()
            assert not {"exif", "icc_profile", "xmp", "comment"} & derived.info.keys()
        raw = dst.read_bytes()
        for marker in (*SECRET_MARKERS, b"Exif\x00\x00", b"ICC_PROFILE", b"ns.adobe.com"):
            assert marker not in raw


def test_preview_never_upscales(oriented_jpeg: Path, tmp_path: Path) -> None:
    assert make_preview(oriented_jpeg, tmp_path / "p.jpg") == {"width": 200, "height": 400}


def test_large_jpeg_thumbnail_and_preview(large_jpeg: Path, tmp_path: Path) -> None:
    assert make_thumbnail(large_jpeg, tmp_path / "t.jpg") == {"width": 320, "height": 240}
    assert make_preview(large_jpeg, tmp_path / "p.jpg") == {"width": 1600, "height": 1200}
    with Image.open(tmp_path / "t.jpg") as thumb:
        assert thumb.size == (320, 240)


def test_thumbnail_and_preview_share_one_reduced_decode(
    large_jpeg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[tuple[int, int]] = []
    real = images._decode_for

    def spy(img: Image.Image, largest: int, limits: MediaLimits) -> None:
        real(img, largest, limits)  # type: ignore[arg-type]
        decoded.append(img.size)

    monkeypatch.setattr(images, "_decode_for", spy)
    thumb, preview = tmp_path / "t.jpg", tmp_path / "p.jpg"
    sizes = make_derivatives(large_jpeg, {thumb: 320, preview: 1600})
    assert sizes == [{"width": 320, "height": 240}, {"width": 1600, "height": 1200}]
    # One decode, at 1/2 scale: a landscape photo is not decoded at its full 4000x3000.
    assert decoded == [(2000, 1500)]
    make_thumbnail(large_jpeg, tmp_path / "alone.jpg")
    assert decoded[1:] == [(500, 375)]  # alone, the thumbnail decodes at 1/8
    with Image.open(thumb) as shared, Image.open(tmp_path / "alone.jpg") as alone:
        for xy in ((10, 10), (160, 120), (310, 230)):
            assert _close(shared.getpixel(xy), alone.getpixel(xy), tolerance=4)


def test_16_bit_greyscale_keeps_its_tones(gray16_png: Path, tmp_path: Path) -> None:
    """Converting 16-bit samples straight to RGB clips them: everything came out white."""
    dst = tmp_path / "t.jpg"
    assert make_thumbnail(gray16_png, dst) == {"width": 64, "height": 32}
    with Image.open(dst) as thumb:
        assert _close(thumb.getpixel((8, 16)), (0x40, 0x40, 0x40), tolerance=3)
        assert _close(thumb.getpixel((56, 16)), (0xC0, 0xC0, 0xC0), tolerance=3)


def test_mpo_is_a_jpeg_decoded_reduced_from_its_primary_image(
    mpo_jpeg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert detect_type(mpo_jpeg) == DetectedType("photo", "image/jpeg", "jpeg")
    assert classify_upload(mpo_jpeg, claimed_mime="image/jpeg", filename="IMG_1.JPG").mime == (
        "image/jpeg"
    )
    drafts: list[tuple[str | None, tuple[int, int]]] = []
    real = JpegImageFile.draft

    def spy(img: JpegImageFile, mode: str | None, size: tuple[int, int] | None) -> Any:
        result = real(img, mode, size)
        drafts.append((img.format, img.size))
        return result

    monkeypatch.setattr(JpegImageFile, "draft", spy)
    probe = probe_image(mpo_jpeg)
    assert (probe["format"], probe["mime"]) == ("MPO", "image/jpeg")
    assert (probe["width"], probe["height"]) == (2000, 1500)  # the primary image
    assert drafts == [("MPO", (250, 188))]  # checked at 1/8 scale
    dst = tmp_path / "t.jpg"
    assert make_thumbnail(mpo_jpeg, dst) == {"width": 320, "height": 240}
    assert drafts[1] == ("MPO", (500, 375))  # decoded at 1/4 scale, not 2000x1500
    with Image.open(dst) as thumb:
        assert _close(thumb.getpixel((160, 120)), (220, 20, 20))  # red primary, not the blue


def test_transparency_is_laid_on_white(transparent_png: Path, tmp_path: Path) -> None:
    dst = tmp_path / "t.jpg"
    assert make_thumbnail(transparent_png, dst, size=100) == {"width": 100, "height": 50}
    with Image.open(dst) as thumb:
        assert thumb.mode == "RGB"
        assert _close(thumb.getpixel((10, 25)), (255, 255, 255))
        assert _close(thumb.getpixel((90, 25)), (0, 0, 0))


def test_webp_thumbnail(green_webp: Path, tmp_path: Path) -> None:
    dst = tmp_path / "t.jpg"
    assert make_thumbnail(green_webp, dst, size=64) == {"width": 64, "height": 32}
    with Image.open(dst) as thumb:
        assert _close(thumb.getpixel((32, 16)), (0, 255, 0))


def test_polyglot_is_accepted_flagged_and_payload_not_copied(
    polyglot_jpeg: tuple[Path, int], tmp_path: Path
) -> None:
    # Decision: a JPEG with data appended is still a photo (phones append motion-photo video
    # and depth maps the same way). The probe reports the appended size for review; the
    # derivative is re-encoded from pixels, so the payload cannot travel with it.
    path, zip_size = polyglot_jpeg
    assert probe_image(path)["trailing_bytes"] == zip_size
    dst = tmp_path / "t.jpg"
    assert make_thumbnail(dst=dst, src=path) == {"width": 320, "height": 240}
    raw = dst.read_bytes()
    assert ZIP_PAYLOAD[:20] not in raw
    assert b"PK\x03\x04" not in raw


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("empty.jpg", "empty_file"),
        ("random.bin", "unsupported_type"),
        ("truncated.jpg", "truncated"),
        ("header_only.jpg", "truncated"),
        ("truncated.png", "truncated"),
        ("bad_crc.png", "probe_failed"),
        ("bomb_over_limit.png", "decompression_bomb"),  # our limit, 60 MP
        ("bomb_pillow_warns.png", "decompression_bomb"),  # Pillow's warning, made an error
        ("bomb_pillow_errors.png", "decompression_bomb"),  # Pillow's hard error
        ("video_named.jpg", "unsupported_type"),
        ("many_scans.jpg", "absurd_scan_count"),  # a stalled worker, not a photo
        ("scans_behind_garbage.jpg", "absurd_scan_count"),  # counted as libjpeg reads them
        ("photo.heic", "probe_failed"),  # HEIF brand and boxes, but no image inside
        ("document.pdf", "unsupported_type"),
    ],
)
def test_hostile_photos_are_rejected(
    hostile: dict[str, Path], tmp_path: Path, name: str, code: str
) -> None:
    with pytest.raises(MediaRejected) as caught:
        probe_image(hostile[name])
    assert caught.value.code == code
    assert caught.value.message
    dst = tmp_path / "t.jpg"
    with pytest.raises(MediaRejected) as caught:
        make_thumbnail(hostile[name], dst)
    assert caught.value.code == code
    assert not dst.exists()


def test_jpeg_with_a_hole_in_its_scan_still_decodes(noisy_jpeg: Path, tmp_path: Path) -> None:
    # Documented success: half the scan removed but the end marker kept. libjpeg only warns
    # and fills the missing blocks with grey, and Pillow does not surface that warning. The
    # device's hash (checked before this step) is what proves the bytes are as recorded.
    data = noisy_jpeg.read_bytes()
    path = tmp_path / "gap.jpg"
    path.write_bytes(data[: len(data) // 2] + b"\xff\xd9")
    assert probe_image(path)["trailing_bytes"] == 0
    assert make_thumbnail(path, tmp_path / "t.jpg") == {"width": 320, "height": 240}


def test_progressive_jpeg_scans_are_counted_before_decoding(
    hostile: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ten scans, as libjpeg (and so most phones and editors) write a progressive JPEG.
    path = tmp_path / "progressive.jpg"
    path.write_bytes(progressive_jpeg())
    assert probe_image(path)["width"] == 640
    assert make_thumbnail(path, tmp_path / "t.jpg") == {"width": 320, "height": 240}
    with pytest.raises(MediaRejected) as caught:
        make_thumbnail(path, tmp_path / "t9.jpg", limits=MediaLimits(max_jpeg_scans=9))
    assert caught.value.code == "absurd_scan_count"
    assert "more than 9 scans" in caught.value.message

    def no_decoding(img: Image.Image) -> None:
        raise AssertionError("pixels were decoded")

    # Thousands of scans are refused from the markers: libjpeg never starts on them.
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(MediaRejected) as caught:
        probe_image(hostile["many_scans.jpg"])
    assert caught.value.code == "absurd_scan_count"
    assert "more than 100 scans" in caught.value.message


# Not PNG: Pillow reads its EXIF (an eXIf chunk may follow the image data) by decoding.
@pytest.mark.parametrize("fixture", ["oriented_jpeg", "no_offset_jpeg", "mpo_jpeg", "green_webp"])
def test_probe_can_leave_decoding_to_the_caller(
    fixture: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = request.getfixturevalue(fixture)
    decoded = probe_image(path)

    def no_decoding(img: Image.Image) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    assert probe_image(path, check_decodes=False) == decoded


def test_a_photo_that_does_not_decode_fails_the_decode_not_the_header_read(
    oriented_jpeg: Path, tmp_path: Path
) -> None:
    # A sequential JPEG with a second scan: libjpeg refuses it once it gets there.
    path = tmp_path / "second_scan.jpg"
    path.write_bytes(with_extra_scans(oriented_jpeg.read_bytes(), 1))
    assert probe_image(path, check_decodes=False)["width"] == 400
    for attempt in (lambda: probe_image(path), lambda: make_thumbnail(path, tmp_path / "t.jpg")):
        with pytest.raises(MediaRejected) as caught:
            attempt()
        assert caught.value.code == "probe_failed"


def test_pixel_limit_comes_from_limits(oriented_jpeg: Path, tmp_path: Path) -> None:
    tight = MediaLimits(max_image_pixels=400 * 200 - 1)
    with pytest.raises(MediaRejected) as caught:
        make_thumbnail(oriented_jpeg, tmp_path / "t.jpg", limits=tight)
    assert caught.value.code == "decompression_bomb"
    assert "80000 pixels" in caught.value.message


# 64 MP (9248x6936, e.g. Xiaomi/OPPO main cameras), 108 MP, 200 MP (Samsung HP-series).
@pytest.mark.parametrize("size", [(9248, 6936), (12000, 9000), (16320, 12240)])
def test_phone_photos_of_64_108_and_200_mp(size: tuple[int, int], tmp_path: Path) -> None:
    """Past Pillow's own 89/179 MP caps and our 60 MP decode limit, yet decoded at 1/8 scale
    (a few MB in memory): the capture time and place are read and both derivatives made."""
    width, height = size
    path = phone_jpeg(tmp_path / "phone.jpg", width, height, exif=phone_exif())
    probe = probe_image(path)
    assert (probe["width"], probe["height"]) == size
    assert probe["capture_time"] == "2024-05-01T10:20:30.123000+08:00"
    assert probe["gps"] is not None and probe["gps"]["lat"] == pytest.approx(LAT, abs=1e-4)
    thumb, preview = tmp_path / "t.jpg", tmp_path / "p.jpg"
    sizes = make_derivatives(path, {preview: 1600, thumb: 320})
    assert sizes == [
        {"width": 1600, "height": round(1600 * height / width)},
        {"width": 320, "height": round(320 * height / width)},
    ]
    with Image.open(preview) as img:
        assert img.getextrema()[0][1] - img.getextrema()[0][0] > 100  # the picture, not grey


def test_a_jpeg_bigger_than_any_camera_makes_is_refused_but_tells_its_exif(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """65535x65535 (4.3 gigapixels) declared in a 2 KB file: a bomb, refused before decoding.
    Its header still says when and where: the probe reads that without decoding."""
    path = tmp_path / "bomb.jpg"
    small = tmp_path / "small.jpg"
    Image.new("RGB", (64, 48), "gray").save(small, exif=phone_exif())
    path.write_bytes(with_jpeg_size(small.read_bytes(), 65535, 65535))

    def no_decoding(img: Image.Image) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    headers = probe_image(path, check_decodes=False)
    assert (headers["width"], headers["height"]) == (65535, 65535)
    assert headers["capture_time"] == "2024-05-01T10:20:30.123000+08:00"
    assert headers["gps"] is not None
    for attempt in (lambda: probe_image(path), lambda: make_thumbnail(path, tmp_path / "t.jpg")):
        with pytest.raises(MediaRejected) as caught:
            attempt()
        assert caught.value.code == "decompression_bomb"
        assert "more than any camera makes" in caught.value.message
    assert not (tmp_path / "t.jpg").exists()


def test_a_progressive_jpeg_holds_every_coefficient_so_the_memory_limit_applies(
    tmp_path: Path,
) -> None:
    """libjpeg keeps the whole coefficient array of a progressive JPEG while it decodes, at
    any scale (2 bytes a coefficient, 3 bytes a pixel at 4:2:0): it is held to
    max_decode_bytes, not to a pixel count; a one-scan JPEG of the size to max_jpeg_pixels."""
    progressive, baseline = tmp_path / "progressive.jpg", tmp_path / "baseline.jpg"
    progressive.write_bytes(progressive_jpeg((640, 480)))
    Image.new("RGB", (640, 480), "gray").save(baseline)
    coefficients = 640 * 480 * 3  # 4:2:0, Pillow's default
    few_pixels = MediaLimits(max_image_pixels=640 * 480 - 1)
    assert make_thumbnail(progressive, tmp_path / "p.jpg", limits=few_pixels)["width"] == 320
    assert make_thumbnail(baseline, tmp_path / "b.jpg", limits=few_pixels)["width"] == 320
    with pytest.raises(MediaRejected) as caught:
        make_thumbnail(
            progressive, tmp_path / "p2.jpg", limits=MediaLimits(max_decode_bytes=coefficients - 1)
        )
    assert caught.value.code == "too_large_to_decode"
    assert "640x480 progressive JPEG" in caught.value.message
    with pytest.raises(MediaRejected) as caught:
        make_thumbnail(baseline, tmp_path / "b2.jpg", limits=MediaLimits(max_jpeg_pixels=1000))
    assert caught.value.code == "decompression_bomb"


def test_a_64_mp_progressive_jpeg_gets_its_thumbnail(tmp_path: Path) -> None:
    """As a 64 MP photo comes back re-saved progressive (chat apps, editors): over the 60 MP
    of a whole decode, but its coefficients (about 192 MB) fit the decoder's memory."""
    path = tmp_path / "progressive-64mp.jpg"
    img = Image.new("RGB", (9248, 6936), (90, 120, 150))
    img.paste((250, 20, 20), (0, 0, 4624, 3468))
    img.save(path, "JPEG", progressive=True, quality=80, exif=phone_exif())
    del img
    probe = probe_image(path, check_decodes=False)
    assert probe["capture_time"] == "2024-05-01T10:20:30.123000+08:00"
    sizes = make_derivatives(path, {tmp_path / "t.jpg": 320, tmp_path / "p.jpg": 1600})
    assert sizes == [{"width": 320, "height": 240}, {"width": 1600, "height": 1200}]
    with Image.open(tmp_path / "t.jpg") as thumb:
        assert _close(thumb.getpixel((40, 30)), (250, 20, 20))


def test_a_200_mp_progressive_jpeg_is_refused_in_words_but_tells_its_time_and_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """16320x12240 progressive: 600 MB of coefficients to hold, over the worker's 512 MB; no
    libjpeg decode can do with less. Refused before decoding, its EXIF read all the same."""
    small = tmp_path / "small.jpg"
    Image.new("RGB", (64, 48), "gray").save(small, progressive=True, exif=phone_exif())
    path = tmp_path / "progressive-200mp.jpg"
    path.write_bytes(with_jpeg_size(small.read_bytes(), 16320, 12240))

    def no_decoding(img: Image.Image) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    headers = probe_image(path, check_decodes=False)
    assert headers["capture_time"] == "2024-05-01T10:20:30.123000+08:00"
    assert headers["gps"] is not None
    with pytest.raises(MediaRejected) as caught:
        make_thumbnail(path, tmp_path / "t.jpg")
    assert caught.value.code == "too_large_to_decode"
    assert "16320x12240 progressive JPEG" in caught.value.message
    assert "about 571 MB" in caught.value.message  # 16320/16 * 12240/16 MCUs * 6 blocks


def test_global_state_is_untouched(hostile: dict[str, Path]) -> None:
    pixel_cap, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    with pytest.raises(MediaRejected):
        probe_image(hostile["bomb_pillow_warns.png"])
    assert pixel_cap == Image.MAX_IMAGE_PIXELS
    assert filters == warnings.filters


# --- HEIC/HEIF (iPhone) and AVIF -----------------------------------------------------------

CHINA = timezone(timedelta(hours=8))
CAPTURED = datetime(2024, 5, 1, 10, 20, 30, tzinfo=CHINA)


@pytest.fixture(scope="module")
def oriented_heic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("heic") / "IMG_0001.HEIC"
    out.write_bytes(heic.red_over_blue_heic(captured=CAPTURED))
    return out


def test_heic_probe_reads_orientation_time_and_gps(oriented_heic: Path) -> None:
    probe = probe_image(oriented_heic)
    assert (probe["format"], probe["mime"]) == ("HEIF", "image/heic")
    assert (probe["width"], probe["height"]) == (400, 200)
    assert probe["orientation"] == 6
    assert (probe["display_width"], probe["display_height"]) == (200, 400)
    assert probe["capture_time"] == "2024-05-01T10:20:30+08:00"
    assert probe["gps"] == {"lat": heic.LAT, "lon": heic.LON, "alt": 10.0}
    assert probe["trailing_bytes"] == 0


def test_heic_derivatives_are_upright_jpegs_without_metadata(
    oriented_heic: Path, tmp_path: Path
) -> None:
    before = oriented_heic.read_bytes()
    assert make_thumbnail(oriented_heic, tmp_path / "t.jpg") == {"width": 160, "height": 320}
    assert make_preview(oriented_heic, tmp_path / "p.jpg") == {"width": 200, "height": 400}
    for name in ("t.jpg", "p.jpg"):
        with Image.open(tmp_path / name) as derived:
            assert derived.format == "JPEG"
            assert not derived.getexif()
            assert not {"exif", "icc_profile", "xmp", "comment"} & derived.info.keys()
            # Turned once, not twice: red (stored left) on top, blue at the bottom.
            width, height = derived.size
            assert _close(derived.getpixel((width // 2, 10)), (255, 0, 0))
            assert _close(derived.getpixel((width // 2, height - 10)), (0, 0, 255))
        raw = (tmp_path / name).read_bytes()
        for marker in (*heic.SECRET_MARKERS, b"Exif\x00\x00", b"ICC_PROFILE"):
            assert marker not in raw
    assert oriented_heic.read_bytes() == before  # the original stays as it came


def test_heic_probe_can_leave_decoding_to_the_caller(
    oriented_heic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded = probe_image(oriented_heic)

    def no_decoding(img: Image.Image) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    assert probe_image(oriented_heic, check_decodes=False) == decoded


def test_heic_without_rotation_and_without_exif(tmp_path: Path) -> None:
    path = tmp_path / "plain.heic"
    path.write_bytes(heic.heic_bytes(Image.new("RGB", (300, 100), (0, 200, 0))))
    probe = probe_image(path)
    assert (probe["orientation"], probe["capture_time"], probe["gps"]) == (1, None, None)
    assert (probe["display_width"], probe["display_height"]) == (300, 100)
    assert make_thumbnail(path, tmp_path / "t.jpg", size=60) == {"width": 60, "height": 20}


def test_tiled_heic_as_iphones_write_it(tmp_path: Path) -> None:
    # iPhones store a photo as a grid of 512x512 HEVC tiles; the grid's size is the photo's.
    img = Image.linear_gradient("L").resize((1100, 700)).convert("RGB")
    path = tmp_path / "grid.heic"
    path.write_bytes(heic.heic_bytes(img, quality=60, tile_size=512))
    assert heif_image_sizes(path)[0] == (1100, 700)
    assert probe_image(path)["display_width"] == 1100
    assert make_thumbnail(path, tmp_path / "t.jpg") == {"width": 320, "height": 204}
    with Image.open(tmp_path / "t.jpg") as thumb:
        assert thumb.getpixel((160, 5))[0] < 40 and thumb.getpixel((160, 198))[0] > 215


@pytest.mark.parametrize(("fraction", "code"), [(0.6, "truncated"), (None, "probe_failed")])
def test_truncated_heic_is_rejected(
    oriented_heic: Path, tmp_path: Path, fraction: float | None, code: str
) -> None:
    data = oriented_heic.read_bytes()
    # Cut inside the image data, or exactly where the image data (mdat box) begins.
    end = int(len(data) * fraction) if fraction else data.index(b"mdat") - 4
    path = tmp_path / "cut.heic"
    path.write_bytes(data[:end])
    for attempt in (lambda: probe_image(path), lambda: make_thumbnail(path, tmp_path / "t.jpg")):
        with pytest.raises(MediaRejected) as caught:
            attempt()
        assert caught.value.code == code and caught.value.message
    assert not (tmp_path / "t.jpg").exists()


@pytest.mark.parametrize(
    ("width", "height", "code"),
    [
        (12000, 9000, "too_large_to_decode"),  # a real 108 MP photo: whole decode ~860 MB
        (20000, 20000, "decompression_bomb"),  # more than any camera makes
    ],
)
def test_heic_over_the_decode_memory_is_refused_from_the_container(
    oriented_heic: Path, tmp_path: Path, width: int, height: int, code: str
) -> None:
    # A few kilobytes whose container claims a huge image: refused before libheif decodes;
    # a camera-sized one still tells its time and place.
    path = tmp_path / "big.heic"
    path.write_bytes(heic.with_declared_size(oriented_heic.read_bytes(), width, height))
    with pytest.raises(MediaRejected) as caught:
        make_thumbnail(path, tmp_path / "t.jpg")
    assert caught.value.code == code
    assert f"{width}x{height}" in caught.value.message
    if code == "too_large_to_decode":
        headers = probe_image(path, check_decodes=False)
        assert headers["capture_time"] == "2024-05-01T10:20:30+08:00"
        assert headers["gps"] == {"lat": heic.LAT, "lon": heic.LON, "alt": 10.0}


def test_heic_decode_memory_limit_comes_from_limits(oriented_heic: Path, tmp_path: Path) -> None:
    # A HEIC is held to its whole decode's memory (8 bytes a pixel), not to a pixel count.
    few_pixels = MediaLimits(max_image_pixels=400 * 200 - 1)
    assert probe_image(oriented_heic, limits=few_pixels)["width"] == 400
    with pytest.raises(MediaRejected) as caught:
        probe_image(oriented_heic, limits=MediaLimits(max_decode_bytes=400 * 200 * 8 - 1))
    assert caught.value.code == "too_large_to_decode"


def test_heic_larger_than_any_photo_is_not_read(oriented_heic: Path, tmp_path: Path) -> None:
    # pillow-heif reads a whole file into memory: a HEIC far bigger than its pixels is refused.
    path = tmp_path / "padded.heic"
    path.write_bytes(oriented_heic.read_bytes() + bytes(50_000))
    with pytest.raises(MediaRejected) as caught:
        probe_image(path, limits=MediaLimits(max_jpeg_pixels=10_000))
    assert caught.value.code == "probe_failed" and "bytes" in caught.value.message


def test_heif_plugin_is_registered_once_without_embedded_thumbnails(oriented_heic: Path) -> None:
    import pillow_heif

    probe_image(oriented_heic)
    probe_image(oriented_heic)
    assert _heif_plugin_registered.cache_info().misses == 1
    assert "HEIF" in Image.OPEN and pillow_heif.options.THUMBNAILS is False


@pytest.mark.skipif(not features.check("avif"), reason="Pillow built without AVIF")
def test_avif_is_decoded_by_pillow_with_orientation(tmp_path: Path) -> None:
    img = Image.new("RGB", (400, 200), (255, 0, 0))
    img.paste((0, 0, 255), (200, 0, 400, 200))
    path = tmp_path / "photo.avif"
    exif = heic.iphone_exif(orientation=6, captured=CAPTURED, gps=False)
    try:
        img.save(path, format="AVIF", exif=exif.tobytes(), quality=90)
    except (OSError, ValueError, KeyError) as exc:  # Pillow's libavif may lack an encoder
        pytest.skip(f"cannot encode AVIF here: {exc}")
    probe = probe_image(path)
    assert (probe["format"], probe["mime"], probe["orientation"]) == ("AVIF", "image/avif", 6)
    assert (probe["display_width"], probe["display_height"]) == (200, 400)
    assert probe["capture_time"] == "2024-05-01T10:20:30+08:00"
    assert make_thumbnail(path, tmp_path / "t.jpg", size=100) == {"width": 50, "height": 100}
    with Image.open(tmp_path / "t.jpg") as thumb:
        assert _close(thumb.getpixel((25, 5)), (255, 0, 0))
        assert _close(thumb.getpixel((25, 95)), (0, 0, 255))


def test_probe_reads_the_gps_accuracy(tmp_path: Path) -> None:
    exif = phone_exif()
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSHPositioningError] = 35.0
    path = tmp_path / "accurate.jpg"
    Image.new("RGB", (64, 48), "gray").save(path, exif=exif)
    assert probe_image(path)["gps"] == {"lat": LAT, "lon": LON, "alt": 10.0, "accuracy_m": 35.0}
