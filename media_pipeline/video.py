"""Video derivatives: browser-playable web proxy, poster frame, thumbnail strip.

Command lines are built with ffmpeg-python and run through :mod:`media_pipeline.ffmpeg_run`,
which confines them. Each step takes the :class:`AVProbe` of its source (from ``probe_av``) so
the demuxer chosen from the magic bytes is forced on every run; without one, it probes first.
Poster and strip are cheapest made from the web proxy, which also always knows its duration.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypedDict

import ffmpeg

from media_pipeline.ffmpeg_run import (
    AVProbe,
    command_line,
    ffmpeg_threads,
    ffprobe_json,
    file_url,
    input_options,
    probe_av,
    run_ffmpeg,
)
from media_pipeline.limits import DEFAULT_LIMITS, MediaLimits, MediaRejected

PROXY_LONG_SIDE = 1280
# A re-encoded proxy plays at most this many frames a second: 4K60 and slow-motion (120/240
# fps) recordings are half or less of the work to decode, scale and encode then; the original
# keeps every frame.
PROXY_MAX_FPS = 30

# Browsers play H.264 only as 8-bit 4:2:0; High 4:4:4 or 4:2:2 streams must be re-encoded.
_PLAYABLE_PIX_FMTS = frozenset({"yuv420p", "yuvj420p"})


class WebProxy(TypedDict):
    remuxed: bool  # True: streams copied unchanged; False: re-encoded to H.264/AAC
    width: int  # display size (after rotation)
    height: int
    rotation: int  # a remuxed proxy keeps the source's rotation flag; re-encodes are upright
    duration: float | None
    video_codec: str
    audio_codec: str | None


class Poster(TypedDict):
    at_s: float  # where the frame was actually taken (0 if ``at_s`` was past the end)


class ThumbStrip(TypedDict):
    timestamps: list[float]  # seconds sought, one per tile, left to right (first frame at/after)
    tile_width: int
    tile_height: int


def can_remux(probe: AVProbe) -> bool:
    """Whether the source can become the web proxy by copying streams, without re-encoding."""
    return (
        probe["container"] in ("mp4", "mov")
        and probe["video_codec"] == "h264"
        and probe["pix_fmt"] in _PLAYABLE_PIX_FMTS
        and probe["audio_codec"] in (None, "aac")
        and not is_hdr(probe)
    )


def _long_side_scale(stream: Any, long_side: int) -> Any:
    """Square pixels, at most ``long_side`` px on the displayed long side, even sizes.

    Filters see frames after ffmpeg's autorotation, so "long side" is the displayed one.
    Non-square pixels (``sar``) are stretched, never squeezed, to the size players show (as
    ``probe_av`` reports it); beyond that, never upscale. Even sizes, as 4:2:0 requires.
    """
    square_w, square_h = "iw*max(sar,1)", "ih/min(sar,1)"
    long = f"2*trunc(min(max({square_w},{square_h}),{long_side})/2)"
    return stream.filter(
        "scale",
        # dar = iw/ih*sar: the displayed aspect ratio.
        f"if(gte(dar,1),{long},max(2,2*round({long}*dar/2)))",
        f"if(gte(dar,1),max(2,2*round({long}/dar/2)),{long})",
    ).filter("setsar", 1)


# HDR to SDR. iPhones record HLG by default, many Android phones HDR10 (PQ). An 8-bit BT.709
# derivative made from their signal as it is looks washed out (white 255 -> 191), so every
# derivative is tone-mapped: zscale turns the signal into linear light on a 1000 cd/m2
# display (HLG's nominal peak, and what phones master PQ to), in BT.709 primaries, and a 1D
# curve takes it to the BT.709 signal an SDR display (BT.1886) shows as that light: identity
# up to SDR_KNEE (with HDR reference white, 203 cd/m2 per ITU-R BT.2408, as SDR white 1.0),
# then a Mobius roll-off that reaches SDR white at the 1000 cd/m2 peak. Reference white lands
# at 244 of 255; above it highlights keep some detail instead of clipping. (ffmpeg's tonemap
# filter has the same curve, but its float path costs 1.7 times the CPU of this lookup.)
HDR_TRANSFERS = frozenset({"arib-std-b67", "smpte2084"})
HDR_PEAK_NITS = 1000.0
REFERENCE_WHITE_NITS = 203.0
SDR_KNEE = 0.8
# One entry per 16-bit input value, read without interpolation: exact, and half the work of
# interpolating a shorter table.
_CURVE_POINTS = 65536


def is_hdr(probe: AVProbe) -> bool:
    """Whether the video's transfer is HLG or PQ, as its stream says."""
    return probe.get("color_transfer") in HDR_TRANSFERS


def _mobius(x: float, knee: float, peak: float) -> float:
    """Identity up to ``knee``; above it a curve with the same slope at the knee that maps
    ``peak`` to 1 (the Mobius transform of ffmpeg's tonemap filter)."""
    if x <= knee:
        return x
    a = -knee * knee * (peak - 1) / (knee * knee - 2 * knee + peak)
    b = (knee * knee - 2 * knee * peak + peak) / max(peak - 1, 1e-6)
    return (b * b + 2 * b * knee + knee * knee) / (b - a) * (x + a) / (x + b)


def _bt1886_inverse_eotf(linear: float) -> float:
    """Display light to BT.709 signal as an SDR display shows it (BT.1886: gamma 2.4), the
    same display-referred reading zscale gives the signal when it linearises."""
    return max(0.0, linear) ** (1 / 2.4)


def sdr_signal(nits: float) -> float:
    """The BT.709 signal (0..1) an HDR light level becomes.

    >>> round(sdr_signal(REFERENCE_WHITE_NITS) * 255)
    244
    """
    peak = HDR_PEAK_NITS / REFERENCE_WHITE_NITS
    linear = _mobius(nits / REFERENCE_WHITE_NITS, SDR_KNEE, peak)
    return min(1.0, _bt1886_inverse_eotf(linear))


@contextmanager
def _sdr_curve_file() -> Iterator[str]:
    """The curve as a .cube 1D LUT for ffmpeg's lut1d: linear light (1.0 = the peak) in,
    BT.709 signal out. Written per run: a file in a shared temporary directory could be
    swapped by anyone who can write there."""
    with tempfile.TemporaryDirectory(prefix="ft-sdr-") as tmp:
        path = os.path.join(tmp, "hdr-to-sdr.cube")
        with open(path, "w", encoding="ascii") as cube:
            cube.write(_sdr_curve_text())
        yield path


@functools.cache
def _sdr_curve_text() -> str:
    last = _CURVE_POINTS - 1
    rows = (
        f"{v:.7f} {v:.7f} {v:.7f}"
        for v in (sdr_signal(HDR_PEAK_NITS * i / last) for i in range(_CURVE_POINTS))
    )
    return f"LUT_1D_SIZE {_CURVE_POINTS}\n" + "\n".join(rows) + "\n"


def _to_sdr(stream: Any, probe: AVProbe, curve: str | None) -> Any:
    """``stream`` tone-mapped to 8-bit BT.709 when the source is HDR (``curve`` is then the
    file from :func:`_sdr_curve_file`); unchanged otherwise."""
    if curve is None or not is_hdr(probe):
        return stream
    linear = stream.filter(
        "zscale",
        tin=probe["color_transfer"],
        pin=probe.get("color_primaries") or "bt2020",
        min=probe.get("color_space") or "bt2020nc",
        rin="full" if probe.get("color_range") == "pc" else "limited",
        t="linear",
        npl=HDR_PEAK_NITS,
        p="bt709",
    )
    # 16 bits of linear light keep the shadows: 1 cd/m2 is 65 steps.
    mapped = linear.filter("format", "gbrp16le").filter("lut1d", file=curve, interp="nearest")
    # The curve wrote BT.709 signal: only the matrix and range remain to convert.
    return mapped.filter(
        "zscale", tin="bt709", t="bt709", pin="bt709", p="bt709", m="bt709", r="limited"
    ).filter("format", "yuv420p")


@contextmanager
def _hdr_curve(probe: AVProbe) -> Iterator[str | None]:
    if not is_hdr(probe):
        yield None
        return
    with _sdr_curve_file() as path:
        yield path


# The encoder's colour description of an SDR proxy made from HDR (players would otherwise
# take the source's HLG/PQ tags, which ffmpeg copies, and show it darker still).
_BT709_TAGS = {"color_primaries": "bt709", "color_trc": "bt709", "colorspace": "bt709"}


def _require_video(probe: AVProbe) -> int:
    if not probe["has_video"] or probe["video_stream_index"] is None:
        raise MediaRejected("missing_stream", "the file has no video stream")
    return probe["video_stream_index"]


def _discard(path: str | os.PathLike[str]) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)


# Derivatives carry no metadata of the original (GPS, device names, creation time).
_NO_METADATA = {"map_metadata": "-1", "map_chapters": "-1"}


def make_web_proxy(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    probe: AVProbe,
    limits: MediaLimits = DEFAULT_LIMITS,
) -> WebProxy:
    """Write an H.264/AAC MP4 with the index (moov) first, so browsers can seek at once.

    Copies the streams when :func:`can_remux` allows; otherwise re-encodes with libx264
    (veryfast, CRF 26, yuv420p, at most 1280 px on the long side) and AAC. Only the first
    video and audio streams are kept: QuickTime timecode and metadata tracks cannot go into MP4.

    >>> make_web_proxy("in.webm", "proxy.mp4", probe=probe_av("in.webm"))  # doctest: +SKIP
    {'remuxed': False, 'width': 1280, 'height': 720, ...}
    """
    video_index = _require_video(probe)
    remux = can_remux(probe)
    threads = ffmpeg_threads(limits)
    # Decoder threads: the input's own -threads (a 4K frame per thread, each).
    decoding = {} if remux else {"threads": threads}
    source = ffmpeg.input(file_url(src), **decoding, **input_options(probe["demuxer"]))
    video = source[str(video_index)]
    audio = (
        [source[str(probe["audio_stream_index"])]]
        if probe["audio_stream_index"] is not None
        else []
    )
    mp4: dict[str, Any] = {
        "f": "mp4",
        # A backstop for a duration probe_av could not hold to the limit.
        "t": limits.max_duration_s,
        "movflags": "+faststart",
        "max_muxing_queue_size": 1024,
        **_NO_METADATA,
    }
    if remux:  # copying: the time goes by bytes, not pixels
        timeout_s = limits.ffmpeg_timeout_for(probe["duration"])
    else:
        timeout_s = limits.transcode_timeout_for(
            probe["duration"],
            width=probe["width"] or 0,
            height=probe["height"] or 0,
            frame_rate=probe["frame_rate"] or 30.0,
        )
    try:
        with _hdr_curve(probe) as curve:
            if remux:
                output = ffmpeg.output(video, *audio, file_url(dst), c="copy", **mp4)
            else:
                audio = [a.filter("aformat", channel_layouts="mono|stereo") for a in audio]
                if (probe["frame_rate"] or 0) > PROXY_MAX_FPS + 0.5:
                    video = video.filter("fps", PROXY_MAX_FPS)  # before any pixel work
                output = ffmpeg.output(
                    # Scaled first: the tone mapping then works on the proxy's pixels only.
                    _to_sdr(_long_side_scale(video, PROXY_LONG_SIDE), probe, curve),
                    *audio,
                    file_url(dst),
                    vcodec="libx264",
                    preset="veryfast",
                    crf=26,
                    pix_fmt="yuv420p",
                    # Phones record variable frame rate; "cfr" would duplicate frames.
                    fps_mode="vfr",
                    threads=threads,
                    acodec="aac",
                    audio_bitrate="128k",
                    **(_BT709_TAGS if curve else {}),
                    **mp4,
                )
            run_ffmpeg(
                command_line(output.compile()),
                limits=limits,
                timeout_s=timeout_s,
                what="web proxy " + ("remux" if remux else "encode"),
            )
        result = probe_av(dst, limits=limits)
    except BaseException:
        _discard(dst)
        raise
    return WebProxy(
        remuxed=remux,
        width=result["display_width"] or 0,
        height=result["display_height"] or 0,
        rotation=result["rotation"],
        duration=result["duration"],
        video_codec=result["video_codec"] or "",
        audio_codec=result["audio_codec"],
    )


def make_poster(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    at_s: float,
    probe: AVProbe | None = None,
    limits: MediaLimits = DEFAULT_LIMITS,
    long_side: int = PROXY_LONG_SIDE,
) -> Poster:
    """Write the frame at ``at_s`` seconds as an upright JPEG (at most ``long_side`` px).

    Falls back to the first frame when ``at_s`` lies past the last decodable frame (container
    durations can overstate the real stream).
    """
    probe = probe or probe_av(src, limits=limits)
    video_index = _require_video(probe)
    # Not past the video's own end: its audio may run on long after the picture stopped.
    last = _last_frame_time(probe)
    at_s = round(at_s if last is None else min(at_s, last), 3)
    attempts = [max(0.0, at_s)]
    if attempts[0] > 0:
        attempts.append(0.0)
    with _hdr_curve(probe) as curve:
        for at in attempts:
            source = ffmpeg.input(file_url(src), ss=at, **input_options(probe["demuxer"]))
            frame = _to_sdr(_long_side_scale(source[str(video_index)], long_side), probe, curve)
            _write_jpeg(frame, dst, limits=limits, what="poster frame")
            if os.path.exists(dst) and os.path.getsize(dst) > 0:
                return Poster(at_s=at)
    _discard(dst)
    raise MediaRejected("ffmpeg_failed", "no video frame could be decoded for the poster")


def make_thumb_strip(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    count: int = 10,
    height: int = 90,
    probe: AVProbe | None = None,
    limits: MediaLimits = DEFAULT_LIMITS,
) -> ThumbStrip:
    """Write ``count`` evenly spaced frames side by side as one sprite JPEG for scrubbing
    (fewer when the clip is too short to give each tile a time of its own).

    One ffmpeg run seeks to each timestamp with its own input (``-ss`` before ``-i``), so a
    six-hour recording costs ``count`` short decodes, not a pass over the whole file.
    Needs a known duration: build it from the web proxy when the original lacks one.
    """
    if count < 1 or height < 2:
        raise ValueError("count must be >= 1 and height >= 2")
    probe = probe or probe_av(src, limits=limits)
    video_index = _require_video(probe)
    duration = probe["duration"]
    if duration is None:
        raise MediaRejected(
            "probe_failed", "duration unknown; build the thumbnail strip from the web proxy"
        )
    # Tiles only where there is video: a picture that stopped before its audio has no frame
    # to show at the later times.
    duration = min(duration, probe.get("video_end_s") or duration)
    # A seek lands on the first frame at or after the time asked for, so each tile seeks one
    # frame before the middle of its slice of the clip, and shows the frame on screen there.
    # Seeking past the last frame's start decodes nothing, and one empty tile empties the whole
    # sprite: stay before it, with some slack for a stated duration a little longer than the
    # video (an audio track that runs on).
    frame = 1.0 / float(probe.get("frame_rate") or 25)
    last = max(0.0, duration - frame - min(frame, 0.1))
    if last < count * 0.002:  # a clip of a frame or two: one tile
        count = 1
    # A clip with fewer frames than tiles gives some tiles the same time: each time once, as
    # identical inputs would be one ffmpeg-python node that the filter graph cannot split.
    timestamps = list(
        dict.fromkeys(
            round(min(last, max(0.0, duration * (i + 0.5) / count - frame)), 3)
            for i in range(count)
        )
    )
    count = len(timestamps)
    tiles = []
    for at in timestamps:
        source = ffmpeg.input(file_url(src), ss=at, **input_options(probe["demuxer"]))
        tile = (
            source[str(video_index)]
            .filter("trim", end_frame=1)
            # All tiles at time 0, so hstack pairs them up instead of waiting for later frames.
            .filter("setpts", "PTS-STARTPTS")
            # Square pixels (dar = iw/ih*sar); a crafted aspect ratio cannot make a huge tile.
            .filter("scale", f"min({8 * height},max(2,2*round({height}*dar/2)))", height)
            .filter("setsar", 1)
        )
        tiles.append(tile)
    sprite = tiles[0] if count == 1 else ffmpeg.filter(tiles, "hstack", inputs=count)
    with _hdr_curve(probe) as curve:
        _write_jpeg(_to_sdr(sprite, probe, curve), dst, limits=limits, what="thumbnail strip")
    if not os.path.exists(dst):
        raise MediaRejected("ffmpeg_failed", "a strip timestamp yielded no frame")
    try:
        streams = ffprobe_json(
            dst, demuxer="image2", limits=limits, entries=("-show_streams",)
        ).get("streams") or [{}]
        sprite_width = int(streams[0].get("width") or 0)
    except BaseException:
        _discard(dst)
        raise
    if sprite_width <= 0:
        _discard(dst)
        raise MediaRejected("ffmpeg_failed", "a strip timestamp yielded no frame")
    return ThumbStrip(timestamps=timestamps, tile_width=sprite_width // count, tile_height=height)


# Audio that runs this much longer than the video is a finding: the camera froze, or the app
# went to the background while the microphone went on. Muxers leave a few frames' difference.
VIDEO_STOPS_EARLY_S = 1.0


class VideoStopsEarly(TypedDict):
    video_end_s: float
    audio_end_s: float


def video_stops_early(probe: AVProbe) -> VideoStopsEarly | None:
    """Where the picture stops and the sound ends, when the video ends well before the audio.

    Needs both tracks' ends, which MP4 (the web proxy) always states.

    >>> video_stops_early(probe_av("frozen.mp4"))  # doctest: +SKIP
    {'video_end_s': 0.333, 'audio_end_s': 5.007}
    """
    video_end, audio_end = probe.get("video_end_s"), probe.get("audio_end_s")
    if video_end is None or audio_end is None or audio_end - video_end <= VIDEO_STOPS_EARLY_S:
        return None
    return VideoStopsEarly(video_end_s=video_end, audio_end_s=audio_end)


def _last_frame_time(probe: AVProbe) -> float | None:
    """Just before the video's last frame starts (a seek there still finds a frame)."""
    end = probe.get("video_end_s")
    if end is None:
        return None
    frame = 1.0 / float(probe.get("frame_rate") or 25)
    return max(0.0, end - frame - min(frame, 0.1))


def _write_jpeg(
    stream: Any, dst: str | os.PathLike[str], *, limits: MediaLimits, what: str
) -> None:
    # JPEG (JFIF) is BT.601 full range, and viewers decode it so; phone video is BT.709.
    # Without the matrix change, red 255 showed as 233 and every colour drifted.
    stream = stream.filter("scale", out_color_matrix="bt601", out_range="full")
    output = stream.output(
        file_url(dst),
        f="image2",
        update=1,  # a single file, never a numbered sequence
        vcodec="mjpeg",
        # bitexact: no "Lavc" version comment in the JPEG.
        flags="+bitexact",
        **{"frames:v": 1, "q:v": 3},
        **_NO_METADATA,
    )
    try:
        run_ffmpeg(
            command_line(output.compile()),
            limits=limits,
            timeout_s=limits.ffmpeg_timeout_for(None),
            what=what,
        )
    except BaseException:
        _discard(dst)
        raise
