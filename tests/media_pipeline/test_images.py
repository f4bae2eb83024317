from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from PIL import Image

from media_pipeline.images import make_preview, make_thumbnail, probe_image
from media_pipeline.limits import MediaLimits, MediaRejected

from .conftest import LAT, LON, SECRET_MARKERS, ZIP_PAYLOAD


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
        ("photo.heic", "unsupported_type"),  # no HEIF decoder on this worker
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


def test_pixel_limit_comes_from_limits(oriented_jpeg: Path, tmp_path: Path) -> None:
    tight = MediaLimits(max_image_pixels=400 * 200 - 1)
    with pytest.raises(MediaRejected) as caught:
        make_thumbnail(oriented_jpeg, tmp_path / "t.jpg", limits=tight)
    assert caught.value.code == "decompression_bomb"
    assert "80000 pixels" in caught.value.message


def test_global_state_is_untouched(hostile: dict[str, Path]) -> None:
    pixel_cap, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    with pytest.raises(MediaRejected):
        probe_image(hostile["bomb_pillow_warns.png"])
    assert pixel_cap == Image.MAX_IMAGE_PIXELS
    assert filters == warnings.filters
