"""HEIC samples as an iPhone writes them, encoded in the test by pillow-heif (libheif + x265).

Pixels are stored as the sensor saw them, with the container's ``irot`` and the EXIF
orientation saying how to turn them upright, and EXIF carrying the capture time and GPS.
pillow-heif's own encoder is used directly (not its Pillow plugin), so generating a sample
never registers the plugin: the code under test has to do that itself.
"""

from __future__ import annotations

import io
import struct
from datetime import datetime

import pillow_heif
from PIL import ExifTags, Image, ImageCms
from PIL.TiffImagePlugin import IFDRational

# Where the samples claim to be: 31°13'49.44" N, 121°28'25.32" E (Shanghai).
LAT, LON = 31.2304, 121.4737
SECRET_MARKERS = (b"FieldCam", b"secret-xmp")


def iphone_exif(*, orientation: int, captured: datetime | None, gps: bool = True) -> Image.Exif:
    """EXIF as an iPhone writes it; ``captured`` must be timezone-aware."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "FieldCam"
    details = exif.get_ifd(ExifTags.IFD.Exif)
    if captured is not None:
        offset = captured.strftime("%z")  # +0800
        details[ExifTags.Base.DateTimeOriginal] = captured.strftime("%Y:%m:%d %H:%M:%S")
        details[ExifTags.Base.OffsetTimeOriginal] = f"{offset[:3]}:{offset[3:]}"
    if gps:
        info = exif.get_ifd(ExifTags.IFD.GPSInfo)
        info[ExifTags.GPS.GPSLatitudeRef] = "N"
        info[ExifTags.GPS.GPSLatitude] = (IFDRational(31), IFDRational(13), IFDRational(4944, 100))
        info[ExifTags.GPS.GPSLongitudeRef] = "E"
        info[ExifTags.GPS.GPSLongitude] = (
            IFDRational(121),
            IFDRational(28),
            IFDRational(2532, 100),
        )
        info[ExifTags.GPS.GPSAltitudeRef] = b"\x00"
        info[ExifTags.GPS.GPSAltitude] = IFDRational(10)
    return exif


def heic_bytes(
    img: Image.Image,
    *,
    exif: Image.Exif | None = None,
    quality: int = 90,
    **save_options: object,
) -> bytes:
    """Encode ``img`` as HEIC; an EXIF orientation becomes the container's ``irot``/``imir``.

    Also carries XMP and an sRGB ICC profile, which no derivative may keep.
    """
    heif = pillow_heif.HeifFile()
    added = heif.add_frombytes(img.mode, img.size, img.tobytes())
    if exif is not None:
        added.info["exif"] = exif.tobytes()
    added.info["xmp"] = b"<x:xmpmeta>secret-xmp</x:xmpmeta>"
    added.info["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    heif.save(out, quality=quality, **save_options)
    return out.getvalue()


def red_over_blue_heic(*, captured: datetime | None = None, orientation: int = 6) -> bytes:
    """Stored 400x200, left half red and right half blue, to be turned 90° clockwise.

    Shown upright it is 200x400 with red on top (as the conftest ``oriented_jpeg``).
    """
    img = Image.new("RGB", (400, 200), (255, 0, 0))
    img.paste((0, 0, 255), (200, 0, 400, 200))
    return heic_bytes(img, exif=iphone_exif(orientation=orientation, captured=captured))


def with_declared_size(data: bytes, width: int, height: int) -> bytes:
    """The same file with its first ``ispe`` property claiming another size (a bomb's lie)."""
    at = data.index(b"ispe") + 4 + 4  # type, then version and flags
    return data[:at] + struct.pack(">II", width, height) + data[at + 8 :]
