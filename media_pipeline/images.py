"""Photo probing and derivatives (thumbnail, preview). The only module that imports Pillow.

Untrusted images are opened with only the plugin their magic bytes call for (so a crafted
file can never reach Pillow's EPS/Ghostscript or other exotic decoders), their declared size is
checked against :class:`MediaLimits` before any pixel is decoded, and every derivative is a
fresh sRGB JPEG without EXIF, GPS, XMP, ICC profile or comments.

HEIC/HEIF (what iPhones send) is decoded by libheif through pillow-heif's Pillow plugin,
registered on the first HEIF photo; AVIF by Pillow's own plugin. The original is never
converted: only the derivatives are JPEG.
"""

from __future__ import annotations

import functools
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

from PIL import ExifTags, Image, ImageCms, ImageFile, UnidentifiedImageError, features
from PIL.JpegImagePlugin import JpegImageFile, jpeg_factory

from media_pipeline.limits import DEFAULT_LIMITS, GeoPoint, MediaLimits, MediaRejected
from media_pipeline.sniff import (
    DetectedType,
    detect_type,
    heif_image_sizes,
    jpeg_scan_count,
    trailing_bytes,
)

# Pillow plugin for each photo type we decode, by detected MIME type: HEIF, HEIC and AVIF share
# one container, and the coded brand decides between libheif (HEVC) and libavif (AV1).
_PILLOW_FORMAT = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/heic": "HEIF",
    "image/heif": "HEIF",
    "image/avif": "AVIF",
}

# What Pillow raises on malformed input, from its own checks or its C decoders; libheif's
# errors come through pillow-heif as ValueError or RuntimeError.
_DECODE_ERRORS = (
    OSError, SyntaxError, ValueError, EOFError, RuntimeError, struct.error, IndexError, KeyError,
)  # fmt: skip

# pillow-heif and Pillow's AVIF plugin read the whole file into memory before parsing it. No
# encoded photo within the pixel limit needs more than this many bytes per pixel (lossless
# 8-bit RGBA would be 4), so a larger file is refused before it is read.
_HEIF_MAX_BYTES_PER_PIXEL = 4
# libheif decodes the whole primary image (YUV planes, then RGB) and Pillow copies it: about
# 7.5 bytes a pixel measured for a 64 MP HEIC (503 MB peak RSS), so 8 is the estimate.
_HEIF_DECODE_BYTES_PER_PIXEL = 8

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
# Greyscale with more than 8 bits per sample, as Pillow opens 16-bit PNG: 0..65535.
_WIDE_GREY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_JPEG_QUALITY = 85


class ImageProbe(TypedDict):
    """What :func:`probe_image` learned about a photo (JSON-serialisable)."""

    format: str  # Pillow's name: JPEG, MPO (multi-picture JPEG), PNG, WEBP, HEIF, AVIF
    mime: str
    width: int  # as stored
    height: int
    orientation: int  # EXIF orientation 1..8 (1 when absent or invalid); see probe_image
    display_width: int  # after applying the orientation
    display_height: int
    capture_time: str | None  # ISO 8601 from EXIF DateTimeOriginal (+ OffsetTimeOriginal)
    gps: GeoPoint | None
    trailing_bytes: int | None  # bytes after the end of the image (see sniff.trailing_bytes)


class ImageDerivative(TypedDict):
    width: int
    height: int


def probe_image(
    path: str | os.PathLike[str],
    *,
    limits: MediaLimits = DEFAULT_LIMITS,
    check_decodes: bool = True,
) -> ImageProbe:
    """Read a photo's size and EXIF facts, and check that the whole image decodes.

    Raises ``MediaRejected`` with ``empty_file``, ``unsupported_type``, ``truncated``,
    ``decompression_bomb``, ``absurd_scan_count`` or ``probe_failed``. Broken EXIF is ignored,
    not fatal: the pixels are the evidence.

    ``check_decodes=False`` reads the headers only, for a caller that decodes the pixels next
    anyway (the pipeline's derive step, which rejects an undecodable photo with the same
    codes): the entropy decode is most of a probe's cost. Sizes, limits, scan count and
    framing (truncation, trailing bytes) are still checked. A PNG is decoded all the same:
    Pillow finds an eXIf chunk, which may follow the image data, only by decoding.

    For HEIF the container's own rotation and mirroring (``irot``/``imir``, which the HEIF
    standard makes normative; EXIF orientation there is informative) are applied by libheif
    while decoding. ``display_width``/``display_height`` are then the decoded size, and
    ``orientation`` is what the EXIF said, which iPhones keep equal to the container's.

    >>> probe_image("photo.jpg")["display_width"]  # doctest: +SKIP
    3024
    """
    with _decoding(path, limits, decodes=check_decodes) as (img, detected):
        trailing = trailing_bytes(path, detected)
        exif = _read_exif(img)
        if img.format == "HEIF":
            orientation = _valid_orientation(img.info.get("original_orientation"))
            display_width, display_height = img.size
            width, height = img.size[::-1] if orientation >= 5 else img.size
        else:
            orientation = _orientation(exif)
            width, height = img.size
            display_width, display_height = (height, width) if orientation >= 5 else img.size
        if check_decodes:
            if isinstance(img, JpegImageFile):  # also MPO: its first image is the primary one
                img.draft(None, (64, 64))  # decoding at 1/8 scale still reads every byte
            img.load()
        return ImageProbe(
            format=img.format or "",
            mime=detected.mime,
            width=width,
            height=height,
            orientation=orientation,
            display_width=display_width,
            display_height=display_height,
            capture_time=_capture_time(exif),
            gps=_gps(exif),
            trailing_bytes=trailing,
        )


THUMBNAIL_SIZE = 320
PREVIEW_SIZE = 1600


def make_thumbnail(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    size: int = THUMBNAIL_SIZE,
    limits: MediaLimits = DEFAULT_LIMITS,
) -> ImageDerivative:
    """Write an upright JPEG of at most ``size`` px on the long side, without metadata."""
    return make_derivatives(src, {dst: size}, limits=limits)[0]


def make_preview(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    size: int = PREVIEW_SIZE,
    limits: MediaLimits = DEFAULT_LIMITS,
) -> ImageDerivative:
    """Write an upright JPEG of at most ``size`` px on the long side, without metadata."""
    return make_derivatives(src, {dst: size}, limits=limits)[0]


def make_derivatives(
    src: str | os.PathLike[str],
    targets: dict[str | os.PathLike[str], int],
    *,
    limits: MediaLimits = DEFAULT_LIMITS,
) -> list[ImageDerivative]:
    """Write one upright, metadata-free JPEG per ``{destination: long-side px}`` from a
    single decode of ``src``; returns their sizes in the order given.

    The photo is decoded once, at the reduced JPEG scale the largest target allows, and each
    smaller derivative is resized from the next larger one: a thumbnail and a preview cost
    one entropy decode of the original, not two.
    """
    order = sorted(targets.items(), key=lambda kv: kv[1], reverse=True)
    largest = order[0][1]
    with _decoding(src, limits) as (img, _detected):
        # 1 for HEIF: libheif has applied the container's rotation, pillow-heif reset the tag.
        orientation = _orientation(_read_exif(img))
        _decode_for(img, largest, limits)
        info = dict(img.info)
        results: dict[str, ImageDerivative] = {}
        for dst, size in order:  # largest first: each is shrunk in place from the one before
            img.thumbnail((size, size), Image.Resampling.LANCZOS)
            upright = img.transpose(_UPRIGHT[orientation]) if orientation in _UPRIGHT else img
            results[os.fspath(dst)] = _save_jpeg(_to_srgb(upright, info), dst)
    return [results[os.fspath(dst)] for dst in targets]


def _decode_for(img: ImageFile.ImageFile, largest: int, limits: MediaLimits) -> None:
    """Decode ``img`` at the smallest size that still covers ``largest`` px on the long side.

    libjpeg decodes at 1/2, 1/4 or 1/8 scale: a 48 MP photo becomes a thumbnail without ever
    holding 48 MP in memory. draft() keeps the scale at which both sides still cover the box,
    so the box has the photo's own aspect ratio (a square one would hold a landscape photo's
    height, and so the scale, at 1). Other formats decode at full size, now, so thumbnail()'s
    draft() cannot swap in a HEIF's embedded thumbnail, whose pixels a crafted file could
    make differ from the photo. An MPO (multi-picture JPEG, from many phones) is a JPEG too:
    Pillow leaves it on its first, primary image, which is the one decoded.
    """
    if isinstance(img, JpegImageFile):
        scale = largest / max(img.size)
        img.draft(None, (math.ceil(img.width * scale), math.ceil(img.height * scale)))
    if img.format not in ("HEIF", "AVIF"):  # those: decode memory checked from the container
        _check_decoded_pixels(img.width, img.height, limits)
    img.load()


def _check_declared_pixels(img: ImageFile.ImageFile, streams: bool, limits: MediaLimits) -> None:
    width, height = img.size
    if img.format in ("HEIF", "AVIF"):
        return  # held to the decode memory from its container (_check_heif_container)
    if not isinstance(img, JpegImageFile):
        _check_decoded_pixels(width, height, limits)
        return
    if width * height > limits.max_jpeg_pixels:
        raise MediaRejected(
            "decompression_bomb",
            f"{width}x{height} is {width * height} pixels, more than any camera makes "
            f"(the limit is {limits.max_jpeg_pixels})",
        )
    if not streams or img.info.get("progressive"):
        # Every coefficient is held while decoding, at any output scale: bounded by memory.
        kind = "progressive" if img.info.get("progressive") else "multi-scan"
        _check_decode_memory(
            _jpeg_coefficient_bytes(img), f"a {width}x{height} {kind} JPEG", limits
        )


def _check_decoded_pixels(width: int, height: int, limits: MediaLimits) -> None:
    if width * height > limits.max_image_pixels:
        raise MediaRejected(
            "decompression_bomb",
            f"{width}x{height} is {width * height} pixels, "
            f"over the limit of {limits.max_image_pixels}",
        )


def _save_jpeg(out: Image.Image, dst: str | os.PathLike[str]) -> ImageDerivative:
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
    path: str | os.PathLike[str], limits: MediaLimits, *, decodes: bool = True
) -> Iterator[tuple[ImageFile.ImageFile, DetectedType]]:
    """Open a photo for decoding inside the block; decoder failures become MediaRejected.

    The pixel cap is checked here against ``limits``, before any decoding (see
    :class:`MediaLimits`: a one-scan sequential JPEG is held to ``max_jpeg_pixels``, what a
    decode holds in memory to ``max_image_pixels``). ``decodes=False`` opens for the headers
    alone (size, EXIF): no pixel is decoded then, so a photo too big to decode still tells its
    capture time and place. A PNG is always decoded (see :func:`probe_image`), so always held
    to the limits.

    Pillow's own process-wide cap (``Image.MAX_IMAGE_PIXELS``) stays as a backstop for every
    format but JPEG and HEIF (held to ``max_decode_bytes`` instead), and is never changed;
    its warning is turned into an error only inside
    this block. ``catch_warnings`` is not thread-safe on Python < 3.14, which only matters for
    the backstop: our own check holds. A JPEG is opened with the JPEG plugin's own factory,
    past that backstop: Pillow's 89 MP (warning) and 179 MP (error) would refuse every 108 and
    200 MP phone photo, which libjpeg decodes at 1/8 scale in a few megabytes.
    """
    detected = detect_type(path)
    if detected.kind != "photo":
        raise MediaRejected("unsupported_type", f"not a photo: the content is {detected.mime}")
    pillow_format = _PILLOW_FORMAT.get(detected.mime)
    if pillow_format is None or not _plugin_available(pillow_format):
        raise MediaRejected(
            "unsupported_type", f"{detected.mime} photos cannot be decoded on this worker"
        )
    decodes = decodes or pillow_format == "PNG"
    streams = False  # whether libjpeg can decode it a few rows at a time, at reduced scale
    if detected.container == "heif":
        _check_heif_container(path, limits, decodes=decodes)
    elif detected.container == "jpeg" and decodes:
        streams = _check_jpeg_scans(path, limits) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            if pillow_format == "PNG":
                # Pillow checks PNG chunk CRCs only in verify(), which needs its own handle.
                with Image.open(path, formats=[pillow_format]) as img:
                    img.verify()
            with _open_photo(path, pillow_format) as img:
                if decodes:
                    _check_declared_pixels(img, streams, limits)
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


@contextmanager
def _open_photo(path: str | os.PathLike[str], pillow_format: str) -> Iterator[ImageFile.ImageFile]:
    """``Image.open`` with only ``pillow_format``'s plugin; for JPEG, its factory itself (see
    :func:`_decoding`), which also turns a multi-picture JPEG into an MPO as ``open`` does;
    for HEIF, pillow-heif's image class."""
    if pillow_format == "HEIF":
        # The plugin's class itself, past Pillow's backstop as for JPEG: a 108 MP HEIC's EXIF
        # is read, and its decode is held to max_decode_bytes (_check_heif_container).
        from pillow_heif.as_plugin import HeifImageFile

        with HeifImageFile(os.fspath(path)) as img:
            yield img
        return
    if pillow_format != "JPEG":
        with Image.open(path, formats=[pillow_format]) as img:
            yield img
        return
    with open(path, "rb") as fp, jpeg_factory(fp, os.fspath(path)) as img:
        yield img


def _plugin_available(pillow_format: str) -> bool:
    if pillow_format == "HEIF":
        return _heif_plugin_registered()
    if pillow_format == "AVIF":
        return bool(features.check_module("avif"))
    return True


@functools.cache
def _heif_plugin_registered() -> bool:
    """Register pillow-heif's HEIF plugin with Pillow, once, on the first HEIF photo.

    Embedded thumbnails, depth maps and auxiliary images are never read: derivatives come from
    the primary image alone. Registering twice (two threads at once) is harmless.
    """
    try:
        import pillow_heif
    except ImportError:  # a worker installed without it still handles every other photo
        return False
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    return True


def _check_heif_container(
    path: str | os.PathLike[str], limits: MediaLimits, *, decodes: bool = True
) -> None:
    """Refuse a HEIF/AVIF file from its boxes alone, before a decoder reads any of it.

    The decoders' reported size is the primary image after cropping, so every ``ispe`` (grid,
    tile, thumbnail) is held to the limits: a ``clap`` crop must not hide a huge decode. More
    pixels than any camera makes is a bomb; a real photo whose whole decode would need more
    than ``max_decode_bytes`` is ``too_large_to_decode`` when it is to be decoded (not when
    only its headers and EXIF are read: they tell its time and place all the same).
    """
    size = os.path.getsize(path)
    max_bytes = limits.max_jpeg_pixels * _HEIF_MAX_BYTES_PER_PIXEL
    if size > max_bytes:
        raise MediaRejected(
            "probe_failed",
            f"{size} bytes is more than a photo within the pixel limit needs ({max_bytes})",
        )
    sizes = heif_image_sizes(path)  # also raises "truncated" when a box runs past the end
    if not sizes:
        raise MediaRejected("probe_failed", "the HEIF file holds no still image (no ispe)")
    for width, height in sizes:
        if width * height > limits.max_jpeg_pixels:
            raise MediaRejected(
                "decompression_bomb",
                f"the container declares {width}x{height}, {width * height} pixels, "
                f"more than any camera makes (the limit is {limits.max_jpeg_pixels})",
            )
    if not decodes:
        return
    width, height = max(sizes, key=lambda wh: wh[0] * wh[1])
    _check_decode_memory(
        width * height * _HEIF_DECODE_BYTES_PER_PIXEL, f"a {width}x{height} HEIF photo", limits
    )


def _check_decode_memory(needed: int, what: str, limits: MediaLimits) -> None:
    if needed > limits.max_decode_bytes:
        raise MediaRejected(
            "too_large_to_decode",
            f"{what} can only be decoded whole, which needs about {needed >> 20} MB, more "
            f"than a worker allows ({limits.max_decode_bytes >> 20} MB); its capture time "
            "and place are read from its EXIF all the same",
        )


def _jpeg_coefficient_bytes(img: ImageFile.ImageFile) -> int:
    """What libjpeg holds to decode a progressive or multi-scan JPEG: every component's DCT
    blocks, padded to whole MCUs, at 64 coefficients of 2 bytes, whatever the output scale."""
    layers = getattr(img, "layer", None) or [("", 1, 1, 0)]
    h_max = max(layer[1] for layer in layers)
    v_max = max(layer[2] for layer in layers)
    mcus_x = math.ceil(img.width / (8 * h_max))
    mcus_y = math.ceil(img.height / (8 * v_max))
    return sum(mcus_x * h * mcus_y * v * 128 for _, h, v, _ in layers)


def _check_jpeg_scans(path: str | os.PathLike[str], limits: MediaLimits) -> int:
    """Refuse a JPEG from its markers when its scans would make the decode run for hours.

    libjpeg visits every block of the image once per scan, even a scan without data, so the
    decode's cost is pixels times scans; the pixel limit alone bounds only one factor.
    """
    most = limits.max_jpeg_scans
    scans = jpeg_scan_count(path, stop_after=most)
    if scans > most:
        raise MediaRejected(
            "absurd_scan_count",
            f"the JPEG has more than {most} scans (progressive passes; cameras write 1, "
            "progressive encoders about 10), each of which makes the decoder go over the "
            "whole image again",
        )
    return scans


def _to_srgb(img: Image.Image, info: dict[str, Any]) -> Image.Image:
    """An RGB image in sRGB: colour-managed when the source (``info``, the decoded
    original's) has an ICC profile, and transparent areas laid on white (JPEG has no alpha;
    black would hide dark details)."""
    img = _to_8_bit(img)
    icc = info.get("icc_profile")
    if icc and img.mode in ("RGB", "CMYK", "L"):
        with suppress(ImageCms.PyCMSError, OSError, ValueError):
            source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(img, source_profile, _SRGB, outputMode="RGB")
            if converted is not None:
                return converted
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def _to_8_bit(img: Image.Image) -> Image.Image:
    """16-bit greyscale scaled to 8 bits; convert("L"/"RGB") would clip it to white."""
    if img.mode not in _WIDE_GREY_MODES:
        return img
    return img.convert("I").point(lambda v: v / 257 + 0.5).convert("L")


def _read_exif(img: Image.Image) -> Image.Exif | None:
    try:
        return img.getexif()
    except _DECODE_ERRORS:
        return None


def _orientation(exif: Image.Exif | None) -> int:
    return _valid_orientation(exif.get(ExifTags.Base.Orientation) if exif is not None else None)


def _valid_orientation(value: Any) -> int:
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
    point = GeoPoint(lat=round(lat, 7), lon=round(lon, 7), alt=alt)
    accuracy = _finite(gps.get(G.GPSHPositioningError))
    if accuracy is not None and accuracy >= 0:
        point["accuracy_m"] = accuracy
    return point


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
