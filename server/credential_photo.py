"""The officer's 亮证 photo: an untrusted JPEG or PNG from an admin, re-encoded for display.

The only server module besides ``documents.render`` that imports Pillow. The upload is opened
with the JPEG and PNG decoders only, its declared size is checked before any pixel is decoded,
and the result is a fresh baseline JPEG, PHOTO_HEIGHT pixels high, upright, sRGB, with no
EXIF, GPS, ICC profile or comment left: a citizen sees the face and nothing else of the file.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
MAX_SIDE = 4000
MIN_SIDE = 100
PHOTO_HEIGHT = 600
# A portrait or a square head-and-shoulders shot; a panorama at 600 px high would be huge.
MAX_WIDTH_PER_HEIGHT = 2.0
MIN_WIDTH_PER_HEIGHT = 0.25
JPEG_QUALITY = 85
ACCEPTED = {"image/jpeg": "JPEG", "image/png": "PNG"}

_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class PhotoRejected(ValueError):
    """Why the upload is not a usable photo; the message is for the admin (zh / en)."""


def detect_type(data: bytes) -> str | None:
    """The photo's real type from its first bytes, whatever the request claimed."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def normalise_photo(data: bytes) -> tuple[bytes, int, int]:
    """(JPEG bytes, width, height) of the upright photo scaled to PHOTO_HEIGHT pixels high.

    Raises PhotoRejected for anything that is not a real JPEG or PNG within the limits.
    """
    if len(data) > MAX_BYTES:
        raise PhotoRejected(f"照片不能超过 5 MB / the photo must be at most {MAX_BYTES} bytes")
    mime = detect_type(data)
    if mime is None:
        raise PhotoRejected("只接受 JPEG 或 PNG 照片 / send a JPEG or PNG photo")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[ACCEPTED[mime]]) as img:
                width, height = img.size
                if max(width, height) > MAX_SIDE:
                    raise PhotoRejected(
                        f"照片不能大于 {MAX_SIDE}×{MAX_SIDE} 像素 / the photo must be at most "
                        f"{MAX_SIDE}×{MAX_SIDE} pixels (it is {width}×{height})"
                    )
                img.load()  # decode now: a truncated or corrupt file fails here
                upright = ImageOps.exif_transpose(img)
                icc = img.info.get("icc_profile")
    except PhotoRejected:
        raise
    except (*_DECODE_ERRORS, UnidentifiedImageError, Image.DecompressionBombWarning) as exc:
        raise PhotoRejected(
            f"无法读取照片 / the photo cannot be decoded ({type(exc).__name__})"
        ) from None
    width, height = upright.size
    if min(width, height) < MIN_SIDE:
        raise PhotoRejected(
            f"照片太小，至少 {MIN_SIDE}×{MIN_SIDE} 像素 / the photo must be at least "
            f"{MIN_SIDE}×{MIN_SIDE} pixels (it is {width}×{height})"
        )
    if not MIN_WIDTH_PER_HEIGHT <= width / height <= MAX_WIDTH_PER_HEIGHT:
        raise PhotoRejected(
            "请上传竖幅或方形的人像照片 / send a portrait or square photo of the officer"
        )
    rgb = _to_srgb(upright, icc)
    new_width = max(1, round(width * PHOTO_HEIGHT / height))
    scaled = rgb.resize((new_width, PHOTO_HEIGHT), Image.Resampling.LANCZOS)
    clean = Image.new("RGB", scaled.size)  # a new image carries no info from the upload
    clean.paste(scaled)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue(), new_width, PHOTO_HEIGHT


def _to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB in sRGB: transparency on white, an embedded colour profile applied, then dropped."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(paper, rgba)
    if img.mode != "RGB":
        img = img.convert("RGB")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(img, source, _SRGB, outputMode="RGB")
            if converted is not None:
                img = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: keep the pixels as they are
    return img
