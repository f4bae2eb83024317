"""Identify uploads by their magic bytes, never by name or claimed type, and check framing.

Only the first few kilobytes are read to identify a file; :func:`trailing_bytes` walks the
container's top-level framing (memory-mapped, no decoding) to spot truncation and data hidden
after the end of the media.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePath
from typing import BinaryIO, Literal

from media_pipeline.limits import MediaRejected

Kind = Literal["photo", "video", "audio", "document", "unknown"]

_HEAD_BYTES = 4096


@dataclass(frozen=True, slots=True)
class DetectedType:
    """What the bytes say a file is.

    ``kind`` is the container's usual kind: an MP4 or WebM is ``video`` even when it only
    carries audio (MediaRecorder writes audio-only WebM); the ffprobe step knows the streams.

    >>> DetectedType("photo", "image/jpeg", "jpeg").kind
    'photo'
    """

    kind: Kind
    mime: str
    container: str


UNKNOWN = DetectedType("unknown", "application/octet-stream", "")

# ISO BMFF (ftyp) brands. HEIF images share the box format with MP4, so the brand decides:
# HEVC-coded images and image sequences (ISO/IEC 23008-12 annex B), then AV1 (AVIF), then the
# codec-neutral image/sequence brands, which decide only when no coded brand is listed.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_GENERIC_BRANDS = {b"mif1", b"msf1", b"mif2"}
_M4A_BRANDS = {b"M4A ", b"M4B ", b"M4P "}
# WAV files start "RIFF"; past 4 GiB they are RF64 (EBU Tech 3306) or BW64 (ITU-R BS.2088),
# which keep the WAVE layout and move the sizes to a ds64 chunk.
_WAVE_HEADERS = {b"RIFF", b"RF64", b"BW64"}
_WAVE64_HEADERS = {b"RF64", b"BW64"}
# QuickTime files from before the ftyp box start straight with one of these atoms.
_LEGACY_QT_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}

# MPEG audio layer III bitrates (kbit/s) by version, and sample rates by version id.
_MP3_BITRATES_V1 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MP3_BITRATES_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_MP3_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def detect_type(path: str | os.PathLike[str]) -> DetectedType:
    """Identify ``path`` from its leading bytes; :data:`UNKNOWN` when nothing matches.

    Raises ``MediaRejected("empty_file")`` for a zero-byte file, since there is nothing to
    identify and nothing downstream can succeed.
    """
    with open(path, "rb") as f:
        head = f.read(_HEAD_BYTES)
        if not head:
            raise MediaRejected("empty_file", "the file is empty (0 bytes)")
        detected = _detect_head(head)
        if detected is not None:
            return detected
        if head.startswith(b"ID3"):
            return _detect_after_id3(f, head)
    return _detect_audio_frames(head) or UNKNOWN


def _detect_head(head: bytes) -> DetectedType | None:
    if head.startswith(b"\xff\xd8\xff"):
        return DetectedType("photo", "image/jpeg", "jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return DetectedType("photo", "image/png", "png")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return DetectedType("photo", "image/webp", "webp")
    if head[:4] in _WAVE_HEADERS and head[8:12] == b"WAVE":
        return DetectedType("audio", "audio/wav", "wav")
    if head[4:8] == b"ftyp":
        return _detect_ftyp(head)
    if head[4:8] in _LEGACY_QT_ATOMS and struct.unpack(">I", head[:4])[0] >= 8:
        return DetectedType("video", "video/quicktime", "mov")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _detect_ebml(head)
    if head.startswith(b"OggS"):
        return _detect_ogg(head)
    # Raw AMR (RFC 4867 section 5): what Chinese phones' voice and call recorders write.
    if head.startswith(b"#!AMR\n"):
        return DetectedType("audio", "audio/amr", "amr")
    if head.startswith(b"#!AMR-WB\n"):
        return DetectedType("audio", "audio/amr-wb", "amr")
    if head.startswith(b"fLaC"):
        return DetectedType("audio", "audio/flac", "flac")
    # PDF readers accept the header anywhere in the first kilobyte, so we do too.
    if b"%PDF-" in head[:1024]:
        return DetectedType("document", "application/pdf", "pdf")
    return None


def _detect_ftyp(head: bytes) -> DetectedType:
    box_size = struct.unpack(">I", head[:4])[0]
    major = head[8:12]
    brands = {major} | {head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
    if major in _HEIF_BRANDS or major in _HEIF_GENERIC_BRANDS or major in _AVIF_BRANDS:
        if brands & _HEIF_BRANDS:
            return DetectedType("photo", "image/heic", "heif")
        if brands & _AVIF_BRANDS:
            return DetectedType("photo", "image/avif", "heif")
        return DetectedType("photo", "image/heif", "heif")
    if major in _M4A_BRANDS:
        return DetectedType("audio", "audio/mp4", "mp4")
    if major == b"qt  ":
        return DetectedType("video", "video/quicktime", "mov")
    if major.startswith(b"3g2"):
        return DetectedType("video", "video/3gpp2", "mp4")
    if major.startswith(b"3gp"):
        return DetectedType("video", "video/3gpp", "mp4")
    # isom, iso2..., mp41, mp42, avc1, and the many camera-specific brands: all MP4 to a demuxer.
    return DetectedType("video", "video/mp4", "mp4")


def _detect_ebml(head: bytes) -> DetectedType:
    doc_type = b""
    at = head.find(b"\x42\x82", 4, 64)  # DocType element id
    if at != -1 and at + 2 < len(head) and head[at + 2] & 0x80:  # one-byte size
        size = head[at + 2] & 0x7F
        doc_type = head[at + 3 : at + 3 + size]
    if doc_type == b"webm":
        return DetectedType("video", "video/webm", "webm")
    return DetectedType("video", "video/x-matroska", "matroska")


def _detect_ogg(head: bytes) -> DetectedType:
    segments = head[26] if len(head) > 26 else 0
    packet = head[27 + segments : 27 + segments + 8]
    if packet.startswith(b"\x80theora"):
        return DetectedType("video", "video/ogg", "ogg")
    return DetectedType("audio", "audio/ogg", "ogg")


def _detect_after_id3(f: BinaryIO, head: bytes) -> DetectedType:
    """An ID3 tag may precede MP3 or (rarely) ADTS frames; look past it to tell which."""
    if len(head) < 10:
        return DetectedType("audio", "audio/mpeg", "mp3")
    sizes = head[6:10]  # "syncsafe": 7 bits per byte
    tag_size = 10 + ((sizes[0] << 21) | (sizes[1] << 14) | (sizes[2] << 7) | sizes[3])
    if head[5] & 0x10:  # footer present
        tag_size += 10
    f.seek(tag_size)
    after = f.read(_HEAD_BYTES)
    detected = _detect_audio_frames(after)
    if detected is not None:
        return detected
    return DetectedType("audio", "audio/mpeg", "mp3")


def _detect_audio_frames(buf: bytes) -> DetectedType | None:
    """Frame-synced audio has no magic number; require two consecutive valid frame headers.

    One header alone is 11 set bits plus a few fields, which random data matches too often.
    """
    for parse, detected in (
        (_mp3_frame_length, DetectedType("audio", "audio/mpeg", "mp3")),
        (_adts_frame_length, DetectedType("audio", "audio/aac", "aac")),
    ):
        length = parse(buf, 0)
        if length is None:
            continue
        # A one-frame file ends exactly after its frame; otherwise the next frame must follow.
        if length == len(buf) or parse(buf, length) is not None:
            return detected
    return None


def _mp3_frame_length(buf: bytes, at: int) -> int | None:
    if at + 4 > len(buf) or buf[at] != 0xFF or buf[at + 1] & 0xE0 != 0xE0:
        return None
    version = (buf[at + 1] >> 3) & 3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    layer = (buf[at + 1] >> 1) & 3  # 1: layer III
    bitrate_index = buf[at + 2] >> 4
    rate_index = (buf[at + 2] >> 2) & 3
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    padding = (buf[at + 2] >> 1) & 1
    sample_rate = _MP3_SAMPLE_RATES[version][rate_index]
    if version == 3:
        return 144 * _MP3_BITRATES_V1[bitrate_index] * 1000 // sample_rate + padding
    return 72 * _MP3_BITRATES_V2[bitrate_index] * 1000 // sample_rate + padding


def _adts_frame_length(buf: bytes, at: int) -> int | None:
    if at + 7 > len(buf) or buf[at] != 0xFF or buf[at + 1] & 0xF6 != 0xF0:
        return None
    if (buf[at + 2] >> 2) & 0xF > 12:  # sampling frequency index
        return None
    length = ((buf[at + 3] & 3) << 11) | (buf[at + 4] << 3) | (buf[at + 5] >> 5)
    return length if length >= 7 else None


# Claimed MIME types that fit each detected container. Browsers and phones disagree on names
# (audio/x-m4a, audio/mp3) and on audio vs video for one container (MediaRecorder writes
# "audio/webm" and "video/webm" alike), so a family of names matches one container.
_ISO_BMFF_MIMES = frozenset(
    {
        "video/mp4", "audio/mp4", "application/mp4", "video/quicktime", "audio/x-m4a",
        "audio/m4a", "video/x-m4v", "video/3gpp", "audio/3gpp", "video/3gpp2", "audio/3gpp2",
    }
)  # fmt: skip
_MATROSKA_MIMES = frozenset(
    {
        "video/webm", "audio/webm", "video/x-matroska", "audio/x-matroska", "video/matroska",
        "audio/matroska", "application/x-matroska",
    }
)  # fmt: skip
_MIMES_BY_CONTAINER: dict[str, frozenset[str]] = {
    "jpeg": frozenset({"image/jpeg", "image/jpg", "image/pjpeg"}),
    "png": frozenset({"image/png", "image/x-png"}),
    "webp": frozenset({"image/webp"}),
    "heif": frozenset(
        {"image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence", "image/avif"}
    ),
    "mp4": _ISO_BMFF_MIMES,
    "mov": _ISO_BMFF_MIMES,
    "webm": _MATROSKA_MIMES,
    "matroska": _MATROSKA_MIMES,
    "ogg": frozenset({"audio/ogg", "video/ogg", "application/ogg", "audio/opus"}),
    "wav": frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"}),
    "mp3": frozenset({"audio/mpeg", "audio/mp3", "audio/x-mp3", "audio/mpeg3"}),
    "aac": frozenset({"audio/aac", "audio/aacp", "audio/x-aac"}),
    # AMR-NB and -WB share one container; phones name both either way, and 3GPP's audio type.
    "amr": frozenset(
        {"audio/amr", "audio/amr-wb", "audio/x-amr", "audio/amr-nb", "audio/3gpp", "audio/3gp"}
    ),
    "flac": frozenset({"audio/flac", "audio/x-flac"}),
    "pdf": frozenset({"application/pdf", "application/x-pdf"}),
}

# "Unknown type" as browsers send it: no claim at all, so nothing to contradict.
_NO_CLAIM = frozenset({"", "application/octet-stream", "binary/octet-stream"})

_MIME_BY_EXTENSION = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
    ".heic": "image/heic", ".heif": "image/heif", ".avif": "image/avif",
    ".mp4": "video/mp4", ".m4v": "video/x-m4v", ".mov": "video/quicktime",
    ".3gp": "video/3gpp", ".m4a": "audio/mp4", ".webm": "video/webm",
    ".mkv": "video/x-matroska", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg",
    ".wav": "audio/wav", ".mp3": "audio/mpeg", ".aac": "audio/aac", ".pdf": "application/pdf",
    ".amr": "audio/amr", ".awb": "audio/amr-wb", ".flac": "audio/flac",
}  # fmt: skip


def claimed_matches(claimed_mime: str | None, detected: DetectedType) -> bool:
    """Whether a claimed MIME type is a fair name for what was detected.

    Parameters (``;codecs=...``) and case are ignored. An absent or
    ``application/octet-stream`` claim asserts nothing and matches any recognised file.

    >>> claimed_matches("audio/webm;codecs=opus", DetectedType("video", "video/webm", "webm"))
    True
    """
    if detected.kind == "unknown":
        return False
    claimed = (claimed_mime or "").split(";", 1)[0].strip().lower()
    if claimed in _NO_CLAIM:
        return True
    return claimed in _MIMES_BY_CONTAINER.get(detected.container, frozenset({detected.mime}))


def mime_for_filename(filename: str) -> str | None:
    """The MIME type a file name's extension implies, from a fixed table (not the OS's)."""
    return _MIME_BY_EXTENSION.get(PurePath(filename).suffix.lower())


def classify_upload(
    path: str | os.PathLike[str],
    *,
    claimed_mime: str | None = None,
    filename: str | None = None,
) -> DetectedType:
    """Detect ``path`` and hold it to what the uploader claimed (MIME type and file name).

    Raises ``MediaRejected`` with ``empty_file``, ``unsupported_type`` (no known signature) or
    ``type_mismatch`` (the bytes contradict the claim, e.g. an MP4 named ``photo.jpg``).
    """
    detected = detect_type(path)
    if detected.kind == "unknown":
        with open(path, "rb") as f:
            head = f.read(8)
        raise MediaRejected(
            "unsupported_type", f"no known file signature (starts with {head.hex(' ')})"
        )
    if not claimed_matches(claimed_mime, detected):
        raise MediaRejected(
            "type_mismatch", f"claimed {claimed_mime!r} but the content is {detected.mime}"
        )
    if filename is not None:
        implied = mime_for_filename(filename)
        if implied is not None and not claimed_matches(implied, detected):
            raise MediaRejected(
                "type_mismatch", f"named {filename!r} but the content is {detected.mime}"
            )
    return detected


@dataclass(frozen=True, slots=True)
class Box:
    """A top-level ISO BMFF box (atom): its four-character type, offset and total size."""

    type: str
    offset: int
    size: int


def top_level_boxes(path: str | os.PathLike[str]) -> list[Box]:
    """The top-level boxes of an MP4/MOV/HEIF file, stopping at anything that is not a box.

    Raises ``MediaRejected("truncated")`` when a box claims to extend past the end of the file.
    """
    boxes: list[Box] = []
    with _mapped(path) as mm:
        end = len(mm)
        at = 0
        while at < end:
            if at + 8 > end:
                raise MediaRejected("truncated", f"box header cut off at byte {at}")
            size, raw_type = struct.unpack(">I4s", mm[at : at + 8])
            if not all(0x20 <= c <= 0x7E for c in raw_type):
                break  # not a box: data appended after the media
            header = 8
            if size == 1:
                if at + 16 > end:
                    raise MediaRejected("truncated", f"box header cut off at byte {at}")
                size = struct.unpack(">Q", mm[at + 8 : at + 16])[0]
                header = 16
            elif size == 0:  # "extends to end of file"
                size = end - at
            if size < header:
                raise MediaRejected("probe_failed", f"invalid box size {size} at byte {at}")
            if at + size > end:
                raise MediaRejected(
                    "truncated",
                    f"box {raw_type.decode('ascii')!r} at byte {at} needs {size} bytes, "
                    f"only {end - at} remain",
                )
            boxes.append(Box(raw_type.decode("ascii"), at, size))
            at += size
    return boxes


# A HEIF meta box lists one property per image, tile and thumbnail (an iPhone photo: ~100); a
# file with far more is built to make the walk slow, not to be displayed.
_MAX_HEIF_PROPERTIES = 10_000


def heif_image_sizes(path: str | os.PathLike[str]) -> list[tuple[int, int]]:
    """Width and height of every image in a HEIF/AVIF file, from its ``ispe`` properties.

    Read from the container alone, before any decoder sees the file: a grid's size (the whole
    photo) as well as each tile's and thumbnail's, as stored (before ``irot`` rotation and
    ``clap`` cropping, so a crop cannot hide how many pixels the decoder would produce).
    Empty when there is no ``meta`` box (an image sequence only). Raises ``MediaRejected`` with
    ``truncated`` or ``probe_failed`` when the boxes do not nest properly.

    >>> heif_image_sizes("IMG_0001.HEIC")  # doctest: +SKIP
    [(4032, 3024), (512, 512), (320, 240)]
    """
    meta = next((box for box in top_level_boxes(path) if box.type == "meta"), None)
    if meta is None:
        return []
    sizes: list[tuple[int, int]] = []
    with _mapped(path) as mm:
        header = 16 if struct.unpack(">I", mm[meta.offset : meta.offset + 4])[0] == 1 else 8
        meta_end = meta.offset + meta.size
        # meta is a FullBox: 4 bytes of version and flags before its children.
        for kind, start, end in _child_boxes(mm, meta.offset + header + 4, meta_end):
            if kind != b"iprp":
                continue
            for kind2, start2, end2 in _child_boxes(mm, start, end):
                if kind2 != b"ipco":
                    continue
                for kind3, start3, end3 in _child_boxes(mm, start2, end2):
                    if kind3 == b"ispe":
                        if end3 - start3 < 12:  # version/flags, then two 32-bit sizes
                            raise MediaRejected("probe_failed", f"short ispe box at {start3}")
                        sizes.append(struct.unpack(">II", mm[start3 + 4 : start3 + 12]))
    return sizes


def _child_boxes(buf: mmap.mmap | bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """The boxes inside ``buf[start:end]`` as (type, payload start, end); each must fit."""
    at, count = start, 0
    while at + 8 <= end:
        count += 1
        if count > _MAX_HEIF_PROPERTIES:
            raise MediaRejected("probe_failed", f"more than {_MAX_HEIF_PROPERTIES} boxes in one")
        size, kind = struct.unpack(">I4s", buf[at : at + 8])
        header = 8
        if size == 1:
            if at + 16 > end:
                raise MediaRejected("probe_failed", f"box header at byte {at} overruns its parent")
            size = struct.unpack(">Q", buf[at + 8 : at + 16])[0]
            header = 16
        elif size == 0:  # "extends to the end of the enclosing box"
            size = end - at
        if size < header or at + size > end:
            raise MediaRejected(
                "probe_failed", f"box {kind!r} at byte {at} ({size} bytes) overruns its parent"
            )
        yield kind, at + header, at + size
        at += size


def trailing_bytes(path: str | os.PathLike[str], detected: DetectedType) -> int | None:
    """Bytes after the logical end of a JPEG, PNG, WebP, WAV, ISO BMFF or Matroska file.

    ``None`` when the format is not checked (Ogg, MP3, ADTS, RF64/BW64 WAV), or its length is
    unknown: a Matroska stream as MediaRecorder writes it, a WAV written by a recorder that
    never went back to fill in the size.

    Trailing data is reported, not rejected: phones append real data there (Google motion
    photos, MPF depth maps, Samsung trailers), and a polyglot's payload never reaches a
    derivative because derivatives are re-encoded. Raises ``MediaRejected("truncated")`` when
    the file ends before its own framing does.
    """
    if detected.container == "jpeg":
        return _jpeg_trailing(path)
    if detected.container == "png":
        return _png_trailing(path)
    if detected.container in ("mp4", "mov", "heif"):
        boxes = top_level_boxes(path)
        logical_end = boxes[-1].offset + boxes[-1].size if boxes else 0
        return os.path.getsize(path) - logical_end
    if detected.container in ("webm", "matroska"):
        return _matroska_trailing(path)
    if detected.container in ("wav", "webp"):
        return _riff_trailing(path)
    return None


@contextmanager
def _mapped(path: str | os.PathLike[str]) -> Iterator[mmap.mmap | bytes]:
    """Read-only view of a whole file without reading it; mmap refuses empty files."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            yield b""
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            yield mm


def _jpeg_trailing(path: str | os.PathLike[str]) -> int:
    with _mapped(path) as mm:
        end = len(mm)
        at = 2  # after SOI
        while True:
            at = mm.find(b"\xff", at)
            if at == -1 or at + 1 >= end:
                raise MediaRejected("truncated", "JPEG ends before its end-of-image marker")
            marker = mm[at + 1]
            if marker == 0xFF:  # fill byte before a marker
                at += 1
                continue
            if marker == 0xD9:  # EOI
                return end - (at + 2)
            if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
                at += 2
                continue
            if at + 4 > end:
                raise MediaRejected("truncated", "JPEG segment header cut off")
            length = struct.unpack(">H", mm[at + 2 : at + 4])[0]
            if length < 2:
                raise MediaRejected("probe_failed", f"invalid JPEG segment length at byte {at}")
            at += 2 + length
            if at > end:
                raise MediaRejected("truncated", "JPEG segment runs past the end of the file")
            if marker == 0xDA:  # start of scan: skip entropy-coded data up to the next marker
                at = _skip_entropy_coded(mm, at, end)


def _skip_entropy_coded(mm: mmap.mmap | bytes, at: int, end: int) -> int:
    while True:
        at = mm.find(b"\xff", at)
        if at == -1 or at + 1 >= end:
            raise MediaRejected("truncated", "JPEG image data ends without an end-of-image marker")
        follower = mm[at + 1]
        # 0xFF00 is an escaped data byte and RSTn markers sit inside the scan.
        if follower == 0x00 or 0xD0 <= follower <= 0xD7:
            at += 2
            continue
        if follower == 0xFF:
            at += 1
            continue
        return at


# Frame types libjpeg decodes progressively (Huffman, arithmetic): one scan per pass.
_PROGRESSIVE_SOF = frozenset({0xC2, 0xCA})
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC9, 0xCA, 0xCB})


def jpeg_scan_count(path: str | os.PathLike[str], *, stop_after: int | None = None) -> int:
    """How many scans libjpeg would decode from a JPEG's primary image.

    Walks the markers as libjpeg reads them (memory-mapped, no decoding) and errs towards
    counting more: junk, fill bytes and odd markers cannot hide a scan that libjpeg would
    decode. A sequential JPEG whose first scan holds every component is one scan: libjpeg
    refuses any later one, so its image data is not walked. Otherwise the walk stops at the
    first end-of-image (the images of an MPO come after it) or, with ``stop_after``, as soon as
    more than that many scans are seen. A truncated file counts the scans it holds; telling
    that it is truncated is :func:`trailing_bytes`'s job.

    >>> jpeg_scan_count("progressive.jpg")  # doctest: +SKIP
    10
    """
    scans = 0
    progressive, components = False, b""  # of the frame (SOF): Nf, its number of components
    with _mapped(path) as mm:
        at = 2  # after SOI
        while (found := _next_jpeg_marker(mm, at)) is not None:
            marker, at = found
            if marker == 0xD9:  # EOI
                break
            if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
                continue
            segment = at
            at += max(int.from_bytes(mm[at : at + 2], "big"), 2)
            if marker in _SOF and not components:  # libjpeg refuses a second frame
                progressive = marker in _PROGRESSIVE_SOF
                components = mm[segment + 7 : segment + 8]  # after length, P, Y and X
            if marker != 0xDA:  # a segment other than a start of scan: skipped whole
                continue
            scans += 1
            # jdinput.c: one scan over all components of a sequential frame is all there is.
            in_scan = mm[segment + 2 : segment + 3]  # Ns, after the length
            if scans == 1 and not progressive and components and in_scan == components:
                break
            if stop_after is not None and scans > stop_after:
                break
            at = _end_of_entropy_coded_data(mm, at)
    return scans


def _next_jpeg_marker(mm: mmap.mmap | bytes, at: int) -> tuple[int, int] | None:
    """The next marker libjpeg finds between segments and where its segment starts: an 0xFF
    (after any fill 0xFFs) followed by a byte other than 0x00. Anything else is skipped as
    junk, 0xFF00 included (jdmarker.c, next_marker)."""
    end = len(mm)
    while (at := mm.find(b"\xff", at)) != -1 and at + 1 < end:
        follower = mm[at + 1]
        if follower not in (0x00, 0xFF):
            return follower, at + 2
        at += 1 if follower == 0xFF else 2
    return None


def _end_of_entropy_coded_data(mm: mmap.mmap | bytes, at: int) -> int:
    """Where a scan's entropy-coded data ends for libjpeg's decoder: at the first marker from
    SOF0 (0xC0) up that is not RSTn. 0xFF00 is a data byte, RSTn markers belong to the scan,
    and the reserved markers below 0xC0 are skipped by its restart resynchronisation
    (jdmarker.c, jpeg_resync_to_restart), so they do not end the scan here either."""
    end = len(mm)
    while (at := mm.find(b"\xff", at)) != -1 and at + 1 < end:
        follower = mm[at + 1]
        if follower >= 0xC0 and follower != 0xFF and not 0xD0 <= follower <= 0xD7:
            return at
        at += 1 if follower == 0xFF else 2
    return end


def _png_trailing(path: str | os.PathLike[str]) -> int:
    with _mapped(path) as mm:
        end = len(mm)
        at = 8  # after the signature
        while True:
            if at + 8 > end:
                raise MediaRejected("truncated", "PNG ends before its IEND chunk")
            length, chunk_type = struct.unpack(">I4s", mm[at : at + 8])
            if not chunk_type.isalpha():
                raise MediaRejected("probe_failed", f"invalid PNG chunk at byte {at}")
            at += 12 + length  # length, type, data, CRC
            if at > end:
                raise MediaRejected(
                    "truncated", f"PNG chunk {chunk_type.decode('ascii')!r} runs past the end"
                )
            if chunk_type == b"IEND":
                return end - at


_EBML_SEGMENT_ID = b"\x18\x53\x80\x67"


def _matroska_trailing(path: str | os.PathLike[str]) -> int | None:
    """Compare the Segment's declared size with the file: the EBML header, then one Segment."""
    with _mapped(path) as mm:
        end = len(mm)
        header_size, width, _ = _ebml_size(mm, 4)
        at = 4 + width + header_size
        if at + 4 > end:
            raise MediaRejected("truncated", "Matroska file ends inside its header")
        if mm[at : at + 4] != _EBML_SEGMENT_ID:
            return None  # unusual layout: leave it to the demuxer
        segment_size, width, unknown = _ebml_size(mm, at + 4)
        if unknown:
            return None
        at += 4 + width
        if at + segment_size > end:
            raise MediaRejected(
                "truncated",
                f"Matroska segment needs {segment_size} bytes, only {end - at} remain",
            )
        return end - (at + segment_size)


def _ebml_size(mm: mmap.mmap | bytes, at: int) -> tuple[int, int, bool]:
    """An EBML variable-length size: (value, width in bytes, whether it means "unknown")."""
    if at >= len(mm) or mm[at] == 0:
        raise MediaRejected("truncated", f"Matroska element size cut off at byte {at}")
    width = 9 - mm[at].bit_length()  # the count of leading zero bits gives the width
    if at + width > len(mm):
        raise MediaRejected("truncated", f"Matroska element size cut off at byte {at}")
    value = mm[at] & (0xFF >> width)
    for byte in mm[at + 1 : at + width]:
        value = value << 8 | byte
    return value, width, value == (1 << (7 * width)) - 1


def _riff_trailing(path: str | os.PathLike[str]) -> int | None:
    with open(path, "rb") as f:
        header = f.read(8)
        end = os.fstat(f.fileno()).st_size
    if len(header) < 8:
        raise MediaRejected("truncated", "RIFF header cut off")
    if header[:4] in _WAVE64_HEADERS:
        return None  # the 32-bit size is a 0xFFFFFFFF placeholder; the real one is in ds64
    size = struct.unpack("<I", header[4:8])[0]
    if size in (0, 0xFFFFFFFF):  # streaming writers leave the size unset
        return None
    if 8 + size > end:
        raise MediaRejected("truncated", f"RIFF data needs {size} bytes, only {end - 8} remain")
    return end - (8 + size)
