"""Media samples for the pipeline tests, all generated here with real ffmpeg and Pillow.

Samples are session-scoped and created on first use, so a test run only pays for what it
touches; tests must treat them as read-only and write outputs under their own ``tmp_path``.
"""

from __future__ import annotations

import io
import random
import re
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageCms
from PIL.TiffImagePlugin import IFDRational

_FFMPEG = ("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y")

# testsrc at 320x240 and 15 fps for 2 s with a 440 Hz tone: small and quick to encode.
_VIDEO_2S = ("-f", "lavfi", "-i", "testsrc=size=320x240:rate=15:duration=2")
_TONE_2S = ("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=2")

# The sine source's fixed amplitude: 1/8 of full scale.
SINE_PEAK = 0.125

# Where the tagged samples claim to be: 31°13'49.44" N, 121°28'25.32" E (Shanghai).
LAT, LON = 31.2304, 121.4737


def ffmpeg(out: Path, *args: str) -> Path:
    subprocess.run([*_FFMPEG, *args, str(out)], check=True, timeout=60)
    return out


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


# --- video ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def h264_mp4(media_dir: Path) -> Path:
    """H.264 (yuv420p) + AAC in MP4, moov at the end, with location and creation time."""
    return ffmpeg(
        media_dir / "h264_aac.mp4",
        *_VIDEO_2S,
        *_TONE_2S,
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"),
        *("-metadata", "location=+31.2304+121.4737/"),
        *("-metadata", "creation_time=2024-05-01T10:20:30Z"),
    )


@pytest.fixture(scope="session")
def h264_faststart_mp4(media_dir: Path, h264_mp4: Path) -> Path:
    return ffmpeg(
        media_dir / "faststart.mp4", "-i", str(h264_mp4), "-c", "copy", "-movflags", "+faststart"
    )


@pytest.fixture(scope="session")
def apple_mov(media_dir: Path) -> Path:
    """QuickTime with the tags an iPhone writes (local offset in the creation date)."""
    return ffmpeg(
        media_dir / "apple.mov",
        *_VIDEO_2S,
        *_TONE_2S,
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"),
        *("-movflags", "use_metadata_tags", "-f", "mov"),
        *("-metadata", "com.apple.quicktime.location.ISO6709=+31.2304+121.4737+010.000/"),
        *("-metadata", "com.apple.quicktime.creationdate=2024-05-01T18:20:30+0800"),
    )


@pytest.fixture(scope="session")
def rotated_mp4(media_dir: Path, h264_mp4: Path) -> Path:
    """The H.264 sample with a display-rotation flag, like a phone filmed upright."""
    return ffmpeg(
        media_dir / "rotated.mp4", "-i", str(h264_mp4), "-c", "copy", "-metadata:s:v:0", "rotate=90"
    )


@pytest.fixture(scope="session")
def h264_444_mp4(media_dir: Path) -> Path:
    """H.264 High 4:4:4, which browsers cannot play, so it must be re-encoded."""
    return ffmpeg(
        media_dir / "h264_444.mp4",
        *_VIDEO_2S,
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"),
    )


_VP8 = ("-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k")


@pytest.fixture(scope="session")
def vp8_webm(media_dir: Path) -> Path:
    return ffmpeg(media_dir / "vp8_opus.webm", *_VIDEO_2S, *_TONE_2S, *_VP8, "-c:a", "libopus")


@pytest.fixture(scope="session")
def streamed_webm(media_dir: Path) -> Path:
    """WebM muxed to a pipe, like MediaRecorder output: no duration, segment of unknown size."""
    out = media_dir / "streamed.webm"
    with out.open("wb") as f:
        subprocess.run(
            [*_FFMPEG, *_VIDEO_2S, *_TONE_2S, *_VP8, "-c:a", "libopus", "-f", "webm", "pipe:1"],
            stdout=f,
            check=True,
            timeout=60,
        )
    return out


@pytest.fixture(scope="session")
def video_stops_before_audio_webm(media_dir: Path) -> Path:
    """As MediaRecorder writes it when the camera freezes: 0.3 s of picture (5 frames), 5 s
    of sound, streamed WebM without a duration."""
    out = media_dir / "frozen.webm"
    with out.open("wb") as f:
        subprocess.run(
            [
                *_FFMPEG,
                *("-f", "lavfi", "-i", "testsrc=size=320x240:rate=15:duration=0.3"),
                *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=5"),
                *_VP8,
                *("-c:a", "libopus", "-f", "webm", "pipe:1"),
            ],
            stdout=f,
            check=True,
            timeout=60,
        )
    return out


# 10-bit H.264 tagged as phones tag HDR video; iPhones record HLG, many Android phones PQ.
_HDR_TAGS = {
    "hlg": ("-color_primaries", "bt2020", "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc"),
    "pq": ("-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc"),
}
_H264_10_BIT = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le")


@pytest.fixture(scope="session")
def hlg_grey_mp4(media_dir: Path) -> Path:
    """HLG whose every pixel is 75 % signal: HDR reference white (ITU-R BT.2408)."""
    return ffmpeg(
        media_dir / "hlg_grey.mp4",
        *("-f", "lavfi", "-i", "color=c=0xBFBFBF:size=640x360:rate=25:duration=1"),
        *_H264_10_BIT,
        *_HDR_TAGS["hlg"],
    )


# Colour patches of an SDR (BT.709) picture, from dark to bright and saturated.
PATCHES = (
    (255, 0, 0), (200, 60, 50), (60, 160, 70), (50, 80, 180), (230, 200, 60), (128, 128, 128),
    (40, 40, 40), (255, 255, 255),
)  # fmt: skip
PATCH_SIZE = 48


def patches_png(path: Path) -> Path:
    img = Image.new("RGB", (PATCH_SIZE * len(PATCHES), PATCH_SIZE))
    for i, colour in enumerate(PATCHES):
        img.paste(colour, (i * PATCH_SIZE, 0, (i + 1) * PATCH_SIZE, PATCH_SIZE))
    img.save(path)
    return path


@pytest.fixture(scope="session")
def sdr_patches_mp4(media_dir: Path) -> Path:
    """The patches as an SDR BT.709 recording: what the HDR ones must come back to."""
    return ffmpeg(
        media_dir / "sdr_patches.mp4",
        *("-loop", "1", "-framerate", "25", "-i", str(patches_png(media_dir / "patches.png"))),
        *("-t", "1", "-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"),
        *("-c:v", "libx264", "-preset", "ultrafast"),
        *("-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709"),
    )


def hdr_patches(path: Path, transfer: str) -> Path:
    """The patches as an HDR camera records them: SDR white at HDR reference white
    (203 cd/m2), BT.2020 primaries, HLG or PQ, 10 bits."""
    zscale_transfer = {"hlg": "arib-std-b67", "pq": "smpte2084"}[transfer]
    return ffmpeg(
        path,
        *("-loop", "1", "-framerate", "25", "-i", str(patches_png(path.with_suffix(".png")))),
        "-t",
        "1",
        "-vf",
        "zscale=tin=bt709:pin=bt709:rin=full:t=linear:npl=203:p=bt2020,format=gbrpf32le,"
        f"zscale=t={zscale_transfer}:npl=203:m=bt2020nc:r=limited,format=yuv420p10le",
        *_H264_10_BIT,
        *_HDR_TAGS[transfer],
    )


@pytest.fixture(scope="session")
def portrait_odd_webm(media_dir: Path) -> Path:
    """721x1601: portrait, odd sizes, taller than the proxy's 1280 px limit."""
    return ffmpeg(
        media_dir / "portrait.webm",
        *("-f", "lavfi", "-i", "testsrc=size=721x1601:rate=5:duration=1"),
        *_VP8,
    )


@pytest.fixture(scope="session")
def anamorphic_mp4(media_dir: Path) -> Path:
    """360x288 H.264 with 64:45 pixels (like PAL 16:9 DV): shown as 512x288."""
    return ffmpeg(
        media_dir / "anamorphic.mp4",
        *("-f", "lavfi", "-i", "testsrc=size=360x288:rate=5:duration=1,setsar=64/45"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
    )


@pytest.fixture(scope="session")
def anamorphic_webm(media_dir: Path) -> Path:
    """The anamorphic picture in VP8, so the web proxy is re-encoded."""
    return ffmpeg(
        media_dir / "anamorphic.webm",
        *("-f", "lavfi", "-i", "testsrc=size=360x288:rate=5:duration=1,setsar=64/45"),
        *_VP8,
    )


@pytest.fixture(scope="session")
def one_fps_mp4(media_dir: Path) -> Path:
    """4 s at 1 frame per second (time-lapse, dashcam): four distinct frames."""
    return ffmpeg(
        media_dir / "one_fps.mp4",
        *("-f", "lavfi", "-i", "testsrc=size=160x120:rate=1:duration=4"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
    )


# --- audio ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tone_then_silence_wav(media_dir: Path) -> Path:
    """1 s of 440 Hz at 1/8 full scale, then 1 s of digital silence; 16 kHz mono."""
    return ffmpeg(
        media_dir / "tone_silence.wav",
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=1"),
        *("-af", "apad=whole_dur=2"),
    )


@pytest.fixture(scope="session")
def short_wav(media_dir: Path) -> Path:
    """50 ms: fewer 10 ms blocks than waveform buckets."""
    return ffmpeg(
        media_dir / "short.wav",
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=0.05"),
    )


@pytest.fixture(scope="session")
def surround_wav(media_dir: Path) -> Path:
    return ffmpeg(
        media_dir / "surround.wav",
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1"),
        *("-af", "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0"),
    )


@pytest.fixture(scope="session")
def antiphase_wav(media_dir: Path) -> Path:
    """Stereo 440 Hz at 1/8 full scale, the right channel inverted: a mono sum is silence."""
    return ffmpeg(
        media_dir / "antiphase.wav",
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=1"),
        *("-af", "pan=stereo|c0=c0|c1=-1*c0"),
    )


@pytest.fixture(scope="session")
def rf64_wav(media_dir: Path) -> Path:
    """RF64 (the WAV of long broadcast/field recorders): "RF64", size 0xFFFFFFFF, ds64."""
    return ffmpeg(
        media_dir / "rf64.wav",
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=1"),
        *("-c:a", "pcm_s24le", "-rf64", "always"),
    )


@pytest.fixture(scope="session")
def bw64_wav(media_dir: Path, rf64_wav: Path) -> Path:
    """BW64 (ITU-R BS.2088) has RF64's layout under another four-character code."""
    out = media_dir / "bw64.wav"
    out.write_bytes(b"BW64" + rf64_wav.read_bytes()[4:])
    return out


@pytest.fixture(scope="session")
def audio_samples(media_dir: Path) -> dict[str, Path]:
    """One short file per audio container sniff must recognise."""
    tone = ("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=1")
    return {
        "mp3_id3": ffmpeg(media_dir / "tagged.mp3", *tone, "-c:a", "libmp3lame"),
        "mp3_bare": ffmpeg(
            media_dir / "bare.mp3",
            *tone,
            *("-c:a", "libmp3lame", "-id3v2_version", "0", "-write_xing", "0"),
        ),
        "adts": ffmpeg(media_dir / "tone.aac", *tone, "-c:a", "aac", "-f", "adts"),
        "m4a": ffmpeg(media_dir / "tone.m4a", *tone, "-c:a", "aac", "-f", "ipod"),
        "ogg_opus": ffmpeg(media_dir / "tone.ogg", *tone, "-c:a", "libopus", "-f", "ogg"),
        "wav": ffmpeg(media_dir / "tone.wav", *tone),
    }


# Payload bytes of a speech frame (RFC 4867, storage format) for the highest mode:
# AMR-NB 12.2 kbit/s (frame type 7), AMR-WB 23.85 kbit/s (frame type 8).
_AMR_MODES = {False: (7, 31), True: (8, 60)}


def amr_file(path: Path, *, wideband: bool, seconds: float = 2.0) -> Path:
    """Raw AMR as phones' voice and call recorders write it, by hand (Debian's ffmpeg decodes
    AMR but has no encoder): the "#!AMR" header, then one 20 ms frame after another, each a
    header byte (frame type, quality bit) and speech bits (seeded noise, which decodes to
    sound like any other bits)."""
    frame_type, payload = _AMR_MODES[wideband]
    noise = random.Random(13)
    frames = b"".join(
        bytes([frame_type << 3 | 0x04]) + noise.randbytes(payload)
        for _ in range(round(seconds / 0.02))
    )
    path.write_bytes((b"#!AMR-WB\n" if wideband else b"#!AMR\n") + frames)
    return path


@pytest.fixture(scope="session")
def amr_nb(media_dir: Path) -> Path:
    return amr_file(media_dir / "voice.amr", wideband=False)


@pytest.fixture(scope="session")
def amr_wb(media_dir: Path) -> Path:
    return amr_file(media_dir / "voice.awb", wideband=True)


@pytest.fixture(scope="session")
def flac_audio(media_dir: Path) -> Path:
    return ffmpeg(
        media_dir / "tone.flac",
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1"),
    )


# --- photos --------------------------------------------------------------------------------

SECRET_MARKERS = (b"FieldCam", b"secret-comment", b"secret-xmp")


def _rich_exif(*, orientation: int, offset: str | None = "+08:00") -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "FieldCam"
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = "2024:05:01 10:20:30"
    details[ExifTags.Base.SubsecTimeOriginal] = "123"
    if offset:
        details[ExifTags.Base.OffsetTimeOriginal] = offset
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (IFDRational(31), IFDRational(13), IFDRational(4944, 100))
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (IFDRational(121), IFDRational(28), IFDRational(2532, 100))
    gps[ExifTags.GPS.GPSAltitudeRef] = b"\x00"
    gps[ExifTags.GPS.GPSAltitude] = IFDRational(10)
    return exif


@pytest.fixture(scope="session")
def oriented_jpeg(media_dir: Path) -> Path:
    """Stored 400x200, left half red and right half blue, EXIF orientation 6 (turn 90° cw).

    Shown upright it is 200x400 with red on top. Carries everything a derivative must drop:
    EXIF (GPS, camera make), an ICC profile, XMP and a JPEG comment.
    """
    img = Image.new("RGB", (400, 200), (255, 0, 0))
    img.paste((0, 0, 255), (200, 0, 400, 200))
    out = media_dir / "oriented.jpg"
    img.save(
        out,
        exif=_rich_exif(orientation=6),
        icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
        comment=b"secret-comment",
        xmp=b"<x:xmpmeta>secret-xmp</x:xmpmeta>",
        quality=95,
    )
    return out


@pytest.fixture(scope="session")
def no_offset_jpeg(media_dir: Path) -> Path:
    out = media_dir / "no_offset.jpg"
    Image.new("RGB", (64, 48), "gray").save(out, exif=_rich_exif(orientation=1, offset=None))
    return out


@pytest.fixture(scope="session")
def large_jpeg(media_dir: Path) -> Path:
    """4000x3000 (12 MP): thumbnails come from libjpeg's reduced (1/8) decoding."""
    out = media_dir / "large.jpg"
    Image.linear_gradient("L").resize((4000, 3000)).convert("RGB").save(out, quality=80)
    return out


@pytest.fixture(scope="session")
def noisy_jpeg(media_dir: Path) -> Path:
    """Incompressible content, so cutting the file in half cuts the image data."""
    out = media_dir / "noisy.jpg"
    Image.effect_noise((640, 480), 64).convert("RGB").save(out, quality=90)
    return out


@pytest.fixture(scope="session")
def gray16_png(media_dir: Path) -> Path:
    """64x32 16-bit greyscale PNG (scanners, thermal cameras): left dark, right light grey."""
    out = media_dir / "gray16.png"
    ffmpeg(
        out,
        *("-f", "lavfi", "-i", "color=c=0x404040:size=32x32,format=gray16be"),
        *("-f", "lavfi", "-i", "color=c=0xC0C0C0:size=32x32,format=gray16be"),
        *("-filter_complex", "hstack", "-frames:v", "1", "-pix_fmt", "gray16be"),
    )
    return out


def _jpeg_segments(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The segments of a JPEG up to and including its first SOS, and the data after it."""
    at, head = 2, []
    while True:
        marker = data[at + 1]
        length = struct.unpack(">H", data[at + 2 : at + 4])[0]
        head.append((marker, data[at : at + 2 + length]))
        at += 2 + length
        if marker == 0xDA:
            return head, data[at:]


def with_jpeg_size(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with the frame header (SOF) claiming ``width`` x ``height``."""
    at = next(i for i in range(2, len(jpeg)) if jpeg[i - 1] == 0xFF and 0xC0 <= jpeg[i] <= 0xC2)
    return jpeg[: at + 4] + struct.pack(">HH", height, width) + jpeg[at + 8 :]


def phone_jpeg(path: Path, width: int, height: int, *, exif: Image.Exif | None = None) -> Path:
    """A baseline 4:2:0 JPEG of ``width`` x ``height`` as phone cameras write them (one
    sequential scan, restart markers), with real image data all the way down, written in
    a fraction of a second: four 16-pixel rows of textured gradient are encoded once, with a
    restart marker after each row (so every row's data stands alone), and repeated. A 200 MP
    photo is about 58 MB; no 200 MP image is ever held in memory here."""
    strip_rows = 4
    size = (width, 16 * strip_rows)
    noise = Image.effect_noise(size, 24).convert("RGB")
    strip = Image.blend(noise, Image.linear_gradient("L").resize(size).convert("RGB"), 0.6)
    encoded = io.BytesIO()
    strip.save(encoded, "JPEG", quality=85, subsampling=2, restart_marker_rows=1, exif=exif or b"")
    head, entropy = _jpeg_segments(encoded.getvalue())
    rows = re.split(rb"\xff[\xd0-\xd7]", entropy.removesuffix(b"\xff\xd9"))
    assert len(rows) == strip_rows
    mcu_rows = -(-height // 16)
    with path.open("wb") as out:
        out.write(with_jpeg_size(b"\xff\xd8" + b"".join(seg for _, seg in head), width, height))
        for row in range(mcu_rows):
            out.write(rows[row % strip_rows])
            out.write(bytes([0xFF, 0xD0 + row % 8]) if row < mcu_rows - 1 else b"\xff\xd9")
    return path


def phone_exif() -> Image.Exif:
    """What a phone writes: capture time with its UTC offset, GPS (Shanghai)."""
    return _rich_exif(orientation=1)


@pytest.fixture(scope="session")
def mpo_jpeg(media_dir: Path) -> Path:
    """A multi-picture JPEG as many phones write: 2000x1500 red primary, then a blue
    1000x1000 second image (depth map, other eye)."""
    out = media_dir / "phone.jpg"
    primary = Image.new("RGB", (2000, 1500), (220, 20, 20))
    second = Image.new("RGB", (1000, 1000), (20, 20, 220))
    primary.save(out, format="MPO", save_all=True, append_images=[second], quality=90)
    return out


@pytest.fixture(scope="session")
def transparent_png(media_dir: Path) -> Path:
    """300x150 RGBA: left half fully transparent, right half opaque black."""
    img = Image.new("RGBA", (300, 150), (0, 0, 0, 0))
    img.paste((0, 0, 0, 255), (150, 0, 300, 150))
    out = media_dir / "transparent.png"
    img.save(out)
    return out


@pytest.fixture(scope="session")
def green_webp(media_dir: Path) -> Path:
    out = media_dir / "green.webp"
    Image.new("RGB", (200, 100), (0, 255, 0)).save(out, quality=90)
    return out


# --- hostile corpus ------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(path: Path, side: int) -> Path:
    """A valid 1-bit PNG of side x side black pixels: kilobytes on disk, side² pixels decoded."""
    row = b"\x00" + bytes((side + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    return path


ZIP_PAYLOAD = b"hidden-payload " * 100

# A scan of the first component's AC coefficients 1..63 (successive-approximation refinement)
# with no data: 10 bytes for which libjpeg still visits every block of the image.
_EMPTY_SCAN = b"\xff\xda" + struct.pack(">HB", 8, 1) + bytes([1, 0x00, 1, 63, 0x10])


def progressive_jpeg(size: tuple[int, int] = (640, 480)) -> bytes:
    """A progressive JPEG as libjpeg writes it: 10 scans."""
    out = io.BytesIO()
    Image.effect_noise(size, 40).convert("RGB").save(out, "JPEG", progressive=True, quality=80)
    return out.getvalue()


def with_extra_scans(jpeg: bytes, count: int, *, behind_garbage: bool = False) -> bytes:
    """``jpeg`` with ``count`` data-less scans added before its end-of-image marker.

    Each costs libjpeg a pass over every block, so a few kilobytes of them stall a decode for
    minutes. ``behind_garbage`` puts them after a repeated Huffman table and the bytes
    ``FF 00 FF FF``: libjpeg skips ``FF 00`` between segments as junk and goes on to the scans,
    while a marker walk that read ``FF 00`` as a segment would skip the next 64 KiB unseen.
    """
    assert jpeg.endswith(b"\xff\xd9")
    hidden = b""
    if behind_garbage:
        at = jpeg.index(b"\xff\xc4")  # the first DHT segment: a table may be defined again
        hidden = jpeg[at : at + 4 + struct.unpack(">H", jpeg[at + 2 : at + 4])[0] - 2]
        hidden += b"\xff\x00\xff\xff"
    return jpeg[:-2] + hidden + _EMPTY_SCAN * count + b"\xff\xd9"


@pytest.fixture(scope="session")
def polyglot_jpeg(media_dir: Path, noisy_jpeg: Path) -> tuple[Path, int]:
    """A JPEG with a ZIP archive appended (opens as either); returns the path and zip size."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("payload.txt", ZIP_PAYLOAD)
    out = media_dir / "polyglot.jpg"
    out.write_bytes(noisy_jpeg.read_bytes() + archive.getvalue())
    return out, len(archive.getvalue())


@pytest.fixture(scope="session")
def hostile(
    media_dir: Path,
    h264_mp4: Path,
    h264_faststart_mp4: Path,
    vp8_webm: Path,
    noisy_jpeg: Path,
    transparent_png: Path,
) -> dict[str, Path]:
    """Files built to break a careless pipeline, by name."""
    d = media_dir / "hostile"
    d.mkdir()
    corpus: dict[str, Path] = {}

    def write(name: str, data: bytes) -> None:
        corpus[name] = d / name
        corpus[name].write_bytes(data)

    def cut(name: str, source: Path, fraction: float) -> None:
        data = source.read_bytes()
        write(name, data[: int(len(data) * fraction)])

    write("empty.jpg", b"")
    write("random.bin", random.Random(1234).randbytes(64 * 1024))
    cut("truncated.jpg", noisy_jpeg, 0.5)
    write("header_only.jpg", noisy_jpeg.read_bytes()[:100])
    cut("truncated.png", transparent_png, 0.5)
    cut("truncated.mp4", h264_mp4, 0.6)  # moov is at the end: it is gone
    cut("truncated_faststart.mp4", h264_faststart_mp4, 0.6)  # moov kept, mdat cut
    cut("truncated.webm", vp8_webm, 0.5)

    png = bytearray(transparent_png.read_bytes())
    idat = png.find(b"IDAT")
    png[idat + 20] ^= 0xFF  # flip a byte of compressed data: the chunk CRC no longer matches
    write("bad_crc.png", bytes(png))

    corpus["bomb_over_limit.png"] = png_bomb(d / "bomb_over_limit.png", 9000)  # 81 MP
    corpus["bomb_pillow_warns.png"] = png_bomb(d / "bomb_pillow_warns.png", 10000)  # 100 MP
    corpus["bomb_pillow_errors.png"] = png_bomb(d / "bomb_pillow_errors.png", 20000)  # 400 MP

    write("video_named.jpg", h264_mp4.read_bytes())
    progressive = progressive_jpeg()
    write("many_scans.jpg", with_extra_scans(progressive, 5000))
    write("scans_behind_garbage.jpg", with_extra_scans(progressive, 5000, behind_garbage=True))

    # HEIF brand and box layout, but no decodable image.
    write("photo.heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64))
    write("document.pdf", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")

    # A QuickTime raw-video track whose sample description claims 12000x12000 pixels.
    raw = ffmpeg(
        d / "raw.mov",
        *("-f", "lavfi", "-i", "testsrc=size=16x16:rate=5:duration=1"),
        *("-c:v", "rawvideo", "-pix_fmt", "rgb24"),
    )
    mov = bytearray(raw.read_bytes())
    # stsd: size, type, version/flags, entry count, then the entry: size, format, 6 reserved,
    # data reference index, 16 bytes of version/vendor/quality, then width and height.
    size_at = mov.find(b"stsd") + 4 + 4 + 4 + 4 + 4 + 6 + 2 + 16
    assert struct.unpack(">HH", mov[size_at : size_at + 4]) == (16, 16)
    mov[size_at : size_at + 4] = struct.pack(">HH", 12000, 12000)
    write("huge_frame.mov", bytes(mov))

    # An MP4 whose movie header claims 4294967280 ms (49 days).
    mp4 = bytearray(h264_mp4.read_bytes())
    mvhd = mp4.find(b"mvhd")  # type, version/flags, creation, modification, timescale, duration
    mp4[mvhd + 20 : mvhd + 24] = struct.pack(">I", 0xFFFFFFF0)
    write("endless.mp4", bytes(mp4))
    return corpus
