"""Vocabulary shared by the media steps: resource limits, the rejection, a GPS point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NotRequired, TypedDict

RejectCode = Literal[
    "empty_file",
    "unsupported_type",
    "type_mismatch",
    "truncated",
    "decompression_bomb",
    "absurd_duration",
    "absurd_resolution",
    "absurd_scan_count",
    "too_large_to_decode",
    "probe_failed",
    "missing_stream",
    "ffmpeg_failed",
    "ffmpeg_timeout",
]


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """Bounds applied to every untrusted file before and while it is decoded.

    ``max_width``/``max_height`` bound video frames; photos are bounded by
    ``max_image_pixels`` instead, so a 12000x4000 panorama is still accepted. That bound is
    on the pixels a decode holds in memory at once. A JPEG written in one sequential scan, as
    every phone camera writes it, streams through libjpeg at the reduced scale (1/2 to 1/8)
    its largest derivative needs, so its memory follows the derivative, not the photo, and
    it is bounded by ``max_jpeg_pixels`` instead: 50 to 200 MP phone photos are accepted,
    a JPEG declaring more pixels than any camera makes (a bomb) is not. Progressive and
    multi-scan JPEGs (re-saved or sent through chat apps) hold every DCT coefficient of the
    image while decoding (2 bytes each: 3 bytes a pixel at 4:2:0), and libheif decodes a
    HEIC/HEIF/AVIF photo whole (its YUV planes and RGB copy, and Pillow's copy of that: about
    8 bytes a pixel measured): these are held to ``max_decode_bytes`` of estimated decoder
    memory instead of a pixel count, so a 64-178 MP progressive JPEG and a 64 MP HEIC get
    their thumbnails, and a larger one is refused as ``too_large_to_decode`` (its EXIF time
    and GPS are read all the same). Pixel counts above ``max_jpeg_pixels`` stay bombs.
    Other formats (PNG, WebP) stay held to ``max_image_pixels``.

    A JPEG's decoding time grows with its pixels times its scans: libjpeg visits every block
    once per scan, and a scan without data costs the file ten bytes. ``max_jpeg_scans`` keeps
    that product bounded; cameras and phones write one scan, progressive encoders about ten.

    An ffmpeg run may take ``ffmpeg_timeout_s`` plus ``ffmpeg_timeout_per_media_s`` for every
    second of media: a fixed timeout that suits a 2-minute clip would kill the re-encode of a
    legitimate six-hour recording. A re-encode's work grows with the pixels it decodes, so its
    budget also grows with width x height x frame rate: three times what a worker that
    transcodes ``transcode_pixels_per_s`` source pixels a second would need (4K60 is 8 times
    1080p30; at a fixed 2 s per second a 4K60 recording ran out of time after 100 s).
    ``bench/pipeline.py`` prints the speed measured on the machine it runs on.

    ``max_threads`` caps decoder and encoder threads: by default they follow the core count,
    and on a 32-core worker x264's threads alone outgrew ``ffmpeg_memory_bytes``.

    >>> MediaLimits(max_duration_s=60).max_duration_s
    60
    """

    max_image_pixels: int = 60_000_000
    # 16384 x 16384: above the largest phone sensors (200 MP: 16320 x 12240).
    max_jpeg_pixels: int = 16384 * 16384
    max_jpeg_scans: int = 100
    # Decoder memory for the photos that can only be decoded whole (progressive JPEG, HEIF).
    max_decode_bytes: int = 512 * 1024**2
    max_duration_s: float = 6 * 3600
    max_width: int = 8192
    max_height: int = 8192
    ffmpeg_timeout_s: float = 600
    ffmpeg_timeout_per_media_s: float = 2.0
    ffmpeg_memory_bytes: int = 2 * 1024**3
    # Source pixels a second a busy two-core worker turns into a proxy (bench/pipeline.py
    # measures it): 4K60 HEVC ran at 32 M a second on two cores shared with other work.
    transcode_pixels_per_s: float = 50e6
    max_threads: int = 8

    def ffmpeg_timeout_for(self, duration_s: float | None) -> float:
        """Wall-clock budget for one ffmpeg run over media of ``duration_s`` seconds."""
        return self.ffmpeg_timeout_s + self.ffmpeg_timeout_per_media_s * (duration_s or 0.0)

    def transcode_timeout_for(
        self, duration_s: float | None, *, width: int, height: int, frame_rate: float
    ) -> float:
        """Wall-clock budget for re-encoding ``duration_s`` seconds of video of that size.

        >>> round(MediaLimits().transcode_timeout_for(600, width=3840, height=2160,
        ...                                           frame_rate=60))
        18516
        """
        expected = (duration_s or 0.0) * width * height * frame_rate / self.transcode_pixels_per_s
        return max(self.ffmpeg_timeout_for(duration_s), self.ffmpeg_timeout_s + 3 * expected)


DEFAULT_LIMITS = MediaLimits()


class MediaRejected(Exception):
    """The media cannot be (safely) processed; ``code`` is stable and machine-readable.

    Rejections are about the file, so retrying the same file gives the same answer — except
    ``ffmpeg_timeout``, which may also mean the worker was overloaded.
    """

    def __init__(self, code: RejectCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code: RejectCode = code
        self.message = message


class GeoPoint(TypedDict):
    """A location read from the media's own metadata (WGS 84 degrees, metres)."""

    lat: float
    lon: float
    alt: float | None
    # Horizontal accuracy (metres), where the file states it: EXIF GPSHPositioningError,
    # Apple's com.apple.quicktime.location.accuracy.horizontal.
    accuracy_m: NotRequired[float]
