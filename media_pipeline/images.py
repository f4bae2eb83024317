"""Photo probing and derivatives (thumbnail, preview). The only module that imports Pillow.

Untrusted images are opened with only the plugin their magic bytes call for (so a crafted
file can never reach Pillow's EPS/Ghostscript or other exotic decoders), their declared size is
checked against :class:`MediaLimits` before any pixel is decoded, and every derivative is a
fresh sRGB JPEG without EXIF, GPS, XMP, ICC profile or comments.
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta, timezone
from typing import Any, TypedDict

from PIL import ExifTags, Image, ImageCms, ImageFile, UnidentifiedImageError

from media_pipeline.limits import DEFAULT_LIMITS, GeoPoint, MediaLimits, MediaRejected
from media_pipeline.sniff import DetectedType, detect_type, trailing_bytes

# Pillow plugin for each photo container we decode. HEIF/AVIF need a decoder this worker
# does not have (pillow-heif); they are rejected as unsupported, the original is still kept.
_PILLOW_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}

# What Pillow raises on malformed input, from its own checks or its C decoders.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError)

# EXIF orientation -> the transpose that shows the image upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_JPEG_QUALITY = 85


class ImageProbe(TypedDict):
    """What :func:`probe_image` learned about a photo (JSON-serialisable)."""

    format: str  # Pillow's name: JPEG, PNG, WEBP
    mime: str
    width: int  # as stored
    height: int
    orientation: int  # EXIF orientation 1..8 (1 when absent or invalid)
    display_width: int  # after applying the orientation
    display_height: int
    capture_time: str | None  # ISO 8601 from EXIF DateTimeOriginal (+ OffsetTimeOriginal)
    gps: GeoPoint | None
    trailing_bytes: int | None  # bytes after the end of the image (see sniff.trailing_bytes)


class ImageDerivative(TypedDict):
    width: int
    height: int


def probe_image(
    path: str | os.PathLike[str], *, limits: MediaLimits = DEFAULT_LIMITS
) -> ImageProbe:
    """Read a photo's size and EXIF facts, and check that the whole image decodes.

    Raises ``MediaRejected`` with ``empty_file``, ``unsupported_type``, ``truncated``,
    ``decompression_bomb`` or ``probe_failed``. Broken EXIF is ignored, not fatal: the pixels
    are the evidence.

    >>> probe_image("photo.jpg")["display_width"]  # doctest: +SKIP
    3024
    """
    with _decoding(path, limits) as (img, detected):
        trailing = trailing_bytes(path, detected)
        exif = _read_exif(img)
        orientation = _orientation(exif)
        width, height = img.size
        if img.format == "JPEG":
            img.draft(None, (64, 64))  # decoding at 1/8 scale still reads every byte
        img.load()
        return ImageProbe(
            format=img.format or "",
            mime=detected.mime,
            width=width,
            height=height,
            orientation=orientation,
            display_width=height if orientation >= 5 else width,
            display_height=width if orientation >= 5 else height,
            capture_time=_capture_time(exif),
            gps=_gps(exif),
            trailing_bytes=trailing,
        )


def make_thumbnail(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    size: int = 320,
    limits: MediaLimits = DEFAULT_LIMITS,
) -> ImageDerivative:
    """Write an upright JPEG of at most ``size`` px on the long side, without metadata."""
    return _make_derivative(src, dst, size=size, limits=limits)


def make_preview(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    size: int = 1600,
    limits: MediaLimits = DEFAULT_LIMITS,
) -> ImageDerivative:
    """Write an upright JPEG of at most ``size`` px on the long side, without metadata."""
    return _make_derivative(src, dst, size=size, limits=limits)


def _make_derivative(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, size: int, limits: MediaLimits
) -> ImageDerivative:
    with _decoding(src, limits) as (img, _detected):
        orientation = _orientation(_read_exif(img))
        if img.format == "JPEG":
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: a 48 MP photo becomes a thumbnail
            # without ever holding 48 MP in memory. The box is square, so rotation is moot.
            img.draft(None, (size, size))
        img.thumbnail((size, size), Image.Resampling.LANCZOS)
        upright = img.transpose(_UPRIGHT[orientation]) if orientation in _UPRIGHT else img
        out = _to_srgb(upright)
    # Nothing of the original's metadata may reach a derivative (GPS, device, comments).
    out.info = {}
    try:
        out.save(dst, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(dst)
        raise
    return ImageDerivative(width=out.width, height=out.height)


@contextmanager
def _decoding(
    path: str | os.PathLike[str], limits: MediaLimits
) -> Iterator[tuple[ImageFile.ImageFile, DetectedType]]:
    """Open a photo for decoding inside the block; decoder failures become MediaRejected.

    The pixel cap is checked here against ``limits``, before any decoding. Pillow's own
    process-wide cap (``Image.MAX_IMAGE_PIXELS``) stays as a backstop and is never changed;
    its warning is turned into an error only inside this block. ``catch_warnings`` is not
    thread-safe on Python < 3.14, which only matters for the backstop: our own check holds.
    """
    detected = detect_type(path)
    if detected.kind != "photo":
        raise MediaRejected("unsupported_type", f"not a photo: the content is {detected.mime}")
    pillow_format = _PILLOW_FORMAT.get(detected.container)
    if pillow_format is None:
        raise MediaRejected(
            "unsupported_type", f"{detected.mime} photos cannot be decoded on this worker"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            if pillow_format == "PNG":
                # Pillow checks PNG chunk CRCs only in verify(), which needs its own handle.
                with Image.open(path, formats=[pillow_format]) as img:
                    img.verify()
            with Image.open(path, formats=[pillow_format]) as img:
                width, height = img.size
                if width * height > limits.max_image_pixels:
                    raise MediaRejected(
                        "decompression_bomb",
                        f"{width}x{height} is {width * height} pixels, "
                        f"over the limit of {limits.max_image_pixels}",
                    )
                yield img, detected
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise MediaRejected("decompression_bomb", str(exc)) from exc
        except UnidentifiedImageError as exc:
            raise MediaRejected(
                "probe_failed", f"not a readable {detected.mime} image: {exc}"
            ) from exc
        except _DECODE_ERRORS as exc:
            text = str(exc)
            code = "truncated" if "truncated" in text.lower() else "probe_failed"
            raise MediaRejected(
                code, f"{detected.mime} does not decode: {type(exc).__name__}: {text}"
            ) from exc


def _to_srgb(img: Image.Image) -> Image.Image:
    """An RGB image in sRGB: colour-managed when the source has an ICC profile, and
    transparent areas laid on white (JPEG has no alpha; black would hide dark details)."""
    icc = img.info.get("icc_profile")
    if icc and img.mode in ("RGB", "CMYK", "L"):
        with suppress(ImageCms.PyCMSError, OSError, ValueError):
            source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(img, source_profile, _SRGB, outputMode="RGB")
            if converted is not None:
                return converted
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def _read_exif(img: Image.Image) -> Image.Exif | None:
    try:
        return img.getexif()
    except _DECODE_ERRORS:
        return None


def _orientation(exif: Image.Exif | None) -> int:
    value = exif.get(ExifTags.Base.Orientation) if exif is not None else None
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _exif_ifd(exif: Image.Exif, ifd: ExifTags.IFD) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(ifd))
    except _DECODE_ERRORS:
        return {}


_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


def _capture_time(exif: Image.Exif | None) -> str | None:
    """EXIF DateTimeOriginal as ISO 8601; with OffsetTimeOriginal when the camera wrote it,
    else naive (local time of an unknown zone: EXIF 2.2 cameras did not record the zone)."""
    if exif is None:
        return None
    tags = {**dict(exif), **_exif_ifd(exif, ExifTags.IFD.Exif)}
    B = ExifTags.Base
    for stamp_tag, offset_tag, subsec_tag in (
        (B.DateTimeOriginal, B.OffsetTimeOriginal, B.SubsecTimeOriginal),
        (B.DateTimeDigitized, B.OffsetTimeDigitized, B.SubsecTimeDigitized),
    ):
        stamp = _text(tags.get(stamp_tag))
        try:
            when = datetime.strptime(stamp, "%Y:%m:%d %H:%M:%S")
        except ValueError:
            continue  # absent, blank or "0000:00:00 00:00:00"
        subsec = _text(tags.get(subsec_tag))
        if subsec.isdigit():
            when = when.replace(microsecond=int(subsec[:6].ljust(6, "0")))
        offset = _OFFSET.match(_text(tags.get(offset_tag)))
        if offset:
            sign = -1 if offset.group(1) == "-" else 1
            delta = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3)))
            if delta <= timedelta(hours=14):
                when = when.replace(tzinfo=timezone(sign * delta))
        return when.isoformat()
    return None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    return value.strip("\x00 ").strip() if isinstance(value, str) else ""


def _gps(exif: Image.Exif | None) -> GeoPoint | None:
    if exif is None:
        return None
    gps = _exif_ifd(exif, ExifTags.IFD.GPSInfo)
    G = ExifTags.GPS
    lat = _degrees(gps.get(G.GPSLatitude), _text(gps.get(G.GPSLatitudeRef)), "S")
    lon = _degrees(gps.get(G.GPSLongitude), _text(gps.get(G.GPSLongitudeRef)), "W")
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        return None
    alt = _finite(gps.get(G.GPSAltitude))
    if alt is not None and gps.get(G.GPSAltitudeRef) in (1, b"\x01"):
        alt = -alt  # below sea level
    return GeoPoint(lat=round(lat, 7), lon=round(lon, 7), alt=alt)


def _degrees(dms: Any, ref: str, negative_ref: str) -> float | None:
    if not isinstance(dms, tuple) or len(dms) != 3:
        return None
    parts = [_finite(part) for part in dms]
    if any(part is None or part < 0 for part in parts):
        return None
    degrees, minutes, seconds = (part or 0.0 for part in parts)
    value = degrees + minutes / 60 + seconds / 3600
    return -value if ref.upper() == negative_ref else value


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None
