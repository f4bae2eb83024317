"""Running ffmpeg/ffprobe on untrusted files: confined, time-limited, memory-limited.

Every run
- forces the demuxer picked from the file's magic bytes (``-f``), so ffmpeg never guesses a
  format (it will happily read random bytes as "bin", or a playlist as HLS);
- allows only the ``file`` protocol, so a crafted file cannot make ffmpeg open URLs;
- is killed after a timeout that grows with the media's duration;
- runs under ``RLIMIT_AS`` (address space) and without core dumps.

``ffmpeg.probe`` from ffmpeg-python is deliberately not used: it can neither set resource
limits nor kill ffprobe when it hangs. ffmpeg-python builds the ffmpeg command lines (in
``video`` and ``audio``); this module only runs them.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import IO, Any, TypedDict

from media_pipeline.limits import DEFAULT_LIMITS, GeoPoint, MediaLimits, MediaRejected, RejectCode
from media_pipeline.sniff import DetectedType, detect_type, trailing_bytes

# Demuxer for each container that sniff recognises as audio/video. HEIF is missing on purpose:
# Debian's ffmpeg 5.1 cannot decode HEIF still images.
DEMUXER_FOR_CONTAINER = {
    "mp4": "mov",
    "mov": "mov",
    "webm": "matroska",
    "matroska": "matroska",
    "ogg": "ogg",
    "wav": "wav",
    "mp3": "mp3",
    "aac": "aac",
    "amr": "amr",  # NB and WB alike, told apart by the "#!AMR" header
    "flac": "flac",
}
ALLOWED_DEMUXERS = frozenset(DEMUXER_FOR_CONTAINER.values())
# Containers whose length is measured from their packets, never taken from ffprobe's guess.
_UNINDEXED = frozenset({"amr"})

_STDERR_TAIL = 600


class AVProbe(TypedDict):
    """What :func:`probe_av` learned about an audio/video file (JSON-serialisable)."""

    demuxer: str  # the forced ffmpeg demuxer; pass the probe on so later steps force it too
    container: str  # sniffed: mp4, mov, webm, matroska, ogg, wav, mp3, aac, amr, flac
    format_name: str  # ffprobe's name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    # Seconds: as the container states it, else measured by reading every packet (streamed
    # WebM from MediaRecorder states none); None only when no packet has a timestamp.
    duration: float | None
    # Where each track ends, in seconds from the start of the file, as its stream states it
    # (MP4 always does; streamed WebM does not: None). A recording whose camera froze or whose
    # app went to the background has video that stops long before its audio.
    video_end_s: float | None
    audio_end_s: float | None
    has_video: bool
    has_audio: bool
    video_stream_index: int | None
    audio_stream_index: int | None
    video_codec: str | None
    pix_fmt: str | None
    # As ffprobe names them: "arib-std-b67" (HLG) or "smpte2084" (PQ) is HDR; "bt2020", "tv".
    color_transfer: str | None
    color_primaries: str | None
    color_space: str | None
    color_range: str | None
    audio_codec: str | None
    audio_channels: int | None
    audio_sample_rate: int | None
    width: int | None  # coded frame size
    height: int | None
    rotation: int  # degrees clockwise to turn the coded frame for display: 0/90/180/270
    display_width: int | None  # frame size as shown: square pixels, after rotation
    display_height: int | None
    frame_rate: float | None
    creation_time: str | None  # ISO 8601, with the recording's UTC offset when known
    gps: GeoPoint | None
    trailing_bytes: int | None  # bytes after the end of the container (see sniff)


def _pick_demuxer(detected: DetectedType, forced_format: str | None) -> str:
    if forced_format is not None:
        if forced_format not in ALLOWED_DEMUXERS:
            raise ValueError(f"demuxer {forced_format!r} is not one of {sorted(ALLOWED_DEMUXERS)}")
        return forced_format
    demuxer = DEMUXER_FOR_CONTAINER.get(detected.container)
    if demuxer is None:
        raise MediaRejected(
            "unsupported_type", f"{detected.mime} is not an audio/video format we decode"
        )
    return demuxer


def ffmpeg_threads(limits: MediaLimits) -> int:
    """Threads for a decoder or encoder: what ffmpeg would pick on this machine (about one
    per core), never more than ``limits.max_threads``."""
    return max(1, min(limits.max_threads, (os.cpu_count() or 1) + 1))


def file_url(path: str | os.PathLike[str]) -> str:
    """An explicit ``file:`` URL, so a name like ``-x`` or ``http:x`` is never misread."""
    return "file:" + os.path.abspath(path)


def input_options(demuxer: str) -> dict[str, str]:
    """ffmpeg input options every untrusted input gets (for ``ffmpeg.input(..., **opts)``)."""
    return {"f": demuxer, "protocol_whitelist": "file"}


# Quiet logs keep the stderr tail quoted in MediaRejected readable.
_GLOBAL_ARGS = ("-nostdin", "-hide_banner", "-loglevel", "error", "-y")


def command_line(compiled: Sequence[str]) -> list[str]:
    """An ffmpeg-python compiled command with our global options placed first.

    (ffmpeg-python appends ``global_args`` after the output, where ffmpeg may ignore them.)
    """
    return [compiled[0], *_GLOBAL_ARGS, *compiled[1:]]


def ffprobe_json(
    path: str | os.PathLike[str],
    *,
    demuxer: str,
    limits: MediaLimits,
    entries: Sequence[str] = ("-show_format", "-show_streams"),
) -> dict[str, Any]:
    """ffprobe's JSON report on ``path`` read with ``demuxer``; failures are ``probe_failed``."""
    args = [
        "ffprobe",
        "-hide_banner",
        "-loglevel",
        "error",
        "-protocol_whitelist",
        "file",
        "-f",
        demuxer,
        *entries,
        "-of",
        "json",
        file_url(path),
    ]
    out = run_ffmpeg(
        args,
        limits=limits,
        timeout_s=limits.ffmpeg_timeout_for(None),
        what="ffprobe",
        failure_code="probe_failed",
        capture_stdout=True,
    )
    try:
        info = json.loads(out.decode("utf-8", errors="replace"))
    except ValueError as exc:
        raise MediaRejected("probe_failed", f"ffprobe printed invalid JSON: {exc}") from exc
    if not isinstance(info, dict):
        raise MediaRejected("probe_failed", "ffprobe printed no report")
    return info


def probe_av(
    path: str | os.PathLike[str],
    *,
    forced_format: str | None = None,
    limits: MediaLimits = DEFAULT_LIMITS,
) -> AVProbe:
    """Probe an audio/video file with ffprobe and hold it to ``limits``.

    ``forced_format=None`` forces the demuxer that matches the magic bytes. Raises
    ``MediaRejected`` with ``empty_file``, ``unsupported_type``, ``truncated``,
    ``probe_failed``, ``missing_stream``, ``absurd_duration``, ``absurd_resolution`` or
    ``ffmpeg_timeout``.

    >>> probe_av("clip.mp4")["duration"]  # doctest: +SKIP
    2.0
    """
    detected = detect_type(path)
    demuxer = _pick_demuxer(detected, forced_format)
    trailing = trailing_bytes(path, detected)
    info = ffprobe_json(path, demuxer=demuxer, limits=limits)
    _media_streams(info)  # missing_stream before reading the whole file for its duration
    # Raw AMR has no index: ffprobe guesses its length from the bitrate (5.16 s for 5 s).
    duration = None if detected.container in _UNINDEXED else _stated_duration(info)
    if duration is None:
        duration = measure_duration(path, demuxer=demuxer, limits=limits)
    return _summarise(
        info,
        duration=duration,
        demuxer=demuxer,
        container=detected.container,
        trailing=trailing,
        limits=limits,
    )


def measure_duration(
    path: str | os.PathLike[str], *, demuxer: str, limits: MediaLimits
) -> float | None:
    """The audio/video length found by reading every packet (copied, never decoded).

    For containers that do not state it, like MediaRecorder's streamed WebM. Reading stops a
    second past ``limits.max_duration_s``, so an endless stream costs a bounded read and still
    measures as too long. ``None`` when no packet carries a timestamp.
    """
    args = [
        "ffmpeg",
        *_GLOBAL_ARGS,
        *("-nostats", "-progress", "pipe:1"),
        *("-protocol_whitelist", "file", "-f", demuxer, "-i", file_url(path)),
        *("-map", "0:v?", "-map", "0:a?", "-c", "copy"),
        *("-t", f"{limits.max_duration_s + 1:.3f}", "-f", "null", "-"),
    ]
    out = run_ffmpeg(
        args,
        limits=limits,
        timeout_s=limits.ffmpeg_timeout_for(None),
        what="duration scan",
        failure_code="probe_failed",
        capture_stdout=True,
    )
    # -progress reports key=value lines; the last out_time_us is where the output ended.
    times = re.findall(rb"^out_time_us=(\d+)\s*$", out, re.MULTILINE)
    return _positive_float(int(times[-1]) / 1_000_000) if times else None


def _media_streams(info: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The first video (cover art aside) and audio stream; ``missing_stream`` without both."""
    streams: list[dict[str, Any]] = info.get("streams") or []
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video"
            # Cover art in MP3/M4A shows up as a one-frame "video" stream.
            and not (s.get("disposition") or {}).get("attached_pic")
        ),
        None,
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if video is None and audio is None:
        raise MediaRejected("missing_stream", "no audio or video stream in the file")
    return video, audio


def _stated_duration(info: dict[str, Any]) -> float | None:
    """The duration the container (else its longest stream) states, if any."""
    duration = _positive_float((info.get("format") or {}).get("duration"))
    if duration is None:
        stream_durations = [_positive_float(s.get("duration")) for s in info.get("streams") or []]
        duration = max((d for d in stream_durations if d is not None), default=None)
    return duration


def _summarise(
    info: dict[str, Any],
    *,
    duration: float | None,
    demuxer: str,
    container: str,
    trailing: int | None,
    limits: MediaLimits,
) -> AVProbe:
    fmt: dict[str, Any] = info.get("format") or {}
    video, audio = _media_streams(info)
    if duration is not None and duration > limits.max_duration_s:
        raise MediaRejected(
            "absurd_duration",
            f"duration {duration:.0f} s exceeds the limit of {limits.max_duration_s:.0f} s",
        )

    width = height = display_width = display_height = None
    rotation = 0
    if video is not None:
        width, height = _positive_int(video.get("width")), _positive_int(video.get("height"))
        if width is None or height is None:
            raise MediaRejected("probe_failed", "video stream without a frame size")
        if width > limits.max_width or height > limits.max_height:
            raise MediaRejected(
                "absurd_resolution",
                f"{width}x{height} exceeds {limits.max_width}x{limits.max_height}",
            )
        rotation = _rotation(video)
        display_width, display_height = _square_pixel_size(width, height, video)
        if rotation in (90, 270):
            display_width, display_height = display_height, display_width

    tags = {str(k).lower(): str(v) for k, v in (fmt.get("tags") or {}).items()}
    return AVProbe(
        demuxer=demuxer,
        container=container,
        format_name=str(fmt.get("format_name", "")),
        duration=duration,
        video_end_s=_stream_end(video, fmt) if video else None,
        audio_end_s=_stream_end(audio, fmt) if audio else None,
        has_video=video is not None,
        has_audio=audio is not None,
        video_stream_index=_int(video.get("index")) if video else None,
        audio_stream_index=_int(audio.get("index")) if audio else None,
        video_codec=video.get("codec_name") if video else None,
        pix_fmt=video.get("pix_fmt") if video else None,
        color_transfer=_known((video or {}).get("color_transfer")),
        color_primaries=_known((video or {}).get("color_primaries")),
        color_space=_known((video or {}).get("color_space")),
        color_range=_known((video or {}).get("color_range")),
        audio_codec=audio.get("codec_name") if audio else None,
        audio_channels=_positive_int(audio.get("channels")) if audio else None,
        audio_sample_rate=_positive_int(audio.get("sample_rate")) if audio else None,
        width=width,
        height=height,
        rotation=rotation,
        display_width=display_width,
        display_height=display_height,
        frame_rate=_frame_rate(video.get("avg_frame_rate")) if video else None,
        creation_time=_creation_time(tags, video),
        gps=_gps_from_tags(tags),
        trailing_bytes=trailing,
    )


def _known(value: Any) -> str | None:
    return str(value) if value not in (None, "", "unknown", "reserved") else None


def _stream_end(stream: dict[str, Any], fmt: dict[str, Any]) -> float | None:
    """Where ``stream`` ends, counted from the file's start (as ``-ss`` counts), if stated."""
    duration = _positive_float(stream.get("duration"))
    if duration is None:
        return None
    start, file_start = (_finite_float(x.get("start_time")) for x in (stream, fmt))
    return round(max(0.0, (start or 0.0) - (file_start or 0.0)) + duration, 3)


def _finite_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _positive_int(value: Any) -> int | None:
    number = _int(value)
    return number if number is not None and number > 0 else None


def _positive_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _frame_rate(value: Any) -> float | None:
    num, _, den = str(value).partition("/")
    rate = _positive_float(num)
    divisor = _positive_float(den or "1")
    return round(rate / divisor, 3) if rate and divisor else None


def _square_pixel_size(width: int, height: int, video: dict[str, Any]) -> tuple[int, int]:
    """The coded size stretched by the sample aspect ratio (never shrunk), as players show it.

    Anamorphic video (PAL DV, HDV, some dashcams) stores e.g. 720x576 for a 1024x576 picture.
    """
    num, _, den = str(video.get("sample_aspect_ratio", "")).partition(":")
    sar_num, sar_den = _positive_int(num), _positive_int(den)
    if sar_num is None or sar_den is None:  # absent, "N/A" or "0:1": square pixels
        return width, height
    if sar_num >= sar_den:
        return max(1, round(width * sar_num / sar_den)), height
    return width, max(1, round(height * sar_den / sar_num))


def _rotation(video: dict[str, Any]) -> int:
    """Clockwise display rotation: display-matrix side data (ffmpeg >= 5), else ``rotate``."""
    for side_data in video.get("side_data_list") or []:
        if "rotation" in side_data:
            # The display matrix angle is counter-clockwise.
            return round(-float(side_data["rotation"])) % 360 // 90 * 90
    rotate = _int((video.get("tags") or {}).get("rotate"))
    return rotate % 360 // 90 * 90 if rotate is not None else 0


def _creation_time(tags: dict[str, str], video: dict[str, Any] | None) -> str | None:
    # Apple's tag keeps the local UTC offset of the recording; the generic one is UTC.
    candidates = [tags.get("com.apple.quicktime.creationdate"), tags.get("creation_time")]
    if video is not None:
        candidates.append((video.get("tags") or {}).get("creation_time"))
    for raw in candidates:
        if not raw:
            continue
        try:
            when = datetime.fromisoformat(raw.strip())
        except ValueError:
            continue
        # MP4 writers put 0 (1904 or 1970) in the header when the clock was unknown.
        if when.year > 1970:
            return when.isoformat()
    return None


# ISO 6709 as phones write it: "+31.2304+121.4737+010.000/" (latitude, longitude, altitude).
_ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?")


def _gps_from_tags(tags: dict[str, str]) -> GeoPoint | None:
    for key in ("com.apple.quicktime.location.iso6709", "location", "location-eng"):
        raw = tags.get(key)
        match = _ISO6709.match(raw.strip()) if raw else None
        if match is None:
            continue
        lat = _iso6709_degrees(match.group(1), degree_digits=2)
        lon = _iso6709_degrees(match.group(2), degree_digits=3)
        if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
            continue
        alt = float(match.group(3)) if match.group(3) else None
        point = GeoPoint(lat=round(lat, 7), lon=round(lon, 7), alt=alt)
        accuracy = _finite_float(tags.get("com.apple.quicktime.location.accuracy.horizontal"))
        if accuracy is not None and accuracy >= 0:
            point["accuracy_m"] = accuracy
        return point
    return None


def _iso6709_degrees(part: str, *, degree_digits: int) -> float | None:
    """ISO 6709 writes degrees as DD.D, DDMM.M or DDMMSS.S (DDD for longitude)."""
    sign = -1.0 if part[0] == "-" else 1.0
    whole = part[1:].partition(".")[0]
    value = float(part[1:])
    if len(whole) == degree_digits:
        return sign * value
    if len(whole) == degree_digits + 2:
        degrees, minutes = divmod(value, 100)
        return sign * (degrees + minutes / 60) if minutes < 60 else None
    if len(whole) == degree_digits + 4:
        degrees, rest = divmod(value, 10000)
        minutes, seconds = divmod(rest, 100)
        if minutes >= 60 or seconds >= 60:
            return None
        return sign * (degrees + minutes / 60 + seconds / 3600)
    return None


def _confine(memory_bytes: int) -> Callable[[], None]:
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        # A crashing decoder must not leave a core file full of evidence on the worker.
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return preexec


def _child_env() -> dict[str, str]:
    # glibc reserves 64 MiB of address space per malloc arena, up to 8 per core; on a big
    # worker that alone would exhaust RLIMIT_AS. Two arenas cost ffmpeg nothing measurable.
    return {**os.environ, "MALLOC_ARENA_MAX": "2"}


def _failure(code: RejectCode, what: str, returncode: int, stderr: IO[bytes]) -> MediaRejected:
    stderr.seek(0, os.SEEK_END)
    stderr.seek(max(0, stderr.tell() - _STDERR_TAIL))
    tail = stderr.read().decode("utf-8", errors="replace").strip()
    if returncode < 0:
        try:
            how = f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"was killed by signal {-returncode}"
    else:
        how = f"exited with status {returncode}"
    return MediaRejected(code, f"{what} {how}: {tail or '(no message)'}")


def run_ffmpeg(
    args: Sequence[str],
    *,
    limits: MediaLimits,
    timeout_s: float,
    what: str,
    failure_code: RejectCode = "ffmpeg_failed",
    capture_stdout: bool = False,
) -> bytes:
    """Run a complete ffmpeg/ffprobe command line under ``limits``; return its stdout if asked.

    stderr goes to a temporary file rather than a pipe, so a flood of decoder errors cannot
    fill a pipe buffer and stall the child.
    """
    with tempfile.TemporaryFile() as stderr:
        try:
            done = subprocess.run(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
                stderr=stderr,
                timeout=timeout_s,
                preexec_fn=_confine(limits.ffmpeg_memory_bytes),
                env=_child_env(),
                check=False,
            )
        except subprocess.TimeoutExpired as exc:  # run() has already killed the child
            raise MediaRejected(
                "ffmpeg_timeout", f"{what} did not finish within {timeout_s:g} s"
            ) from exc
        if done.returncode != 0:
            raise _failure(failure_code, what, done.returncode, stderr)
        return done.stdout or b""


@contextmanager
def ffmpeg_output_stream(
    args: Sequence[str],
    *,
    limits: MediaLimits,
    timeout_s: float,
    what: str,
) -> Iterator[IO[bytes]]:
    """Run ffmpeg writing to stdout and yield that pipe, for output too big to hold in memory.

    A timer kills ffmpeg at the deadline even while the reader is blocked on the pipe. Leaving
    the block early kills ffmpeg; a failed or timed-out run raises ``MediaRejected`` on exit.
    """
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            preexec_fn=_confine(limits.ffmpeg_memory_bytes),
            env=_child_env(),
        )
        timed_out = threading.Event()

        def kill_at_deadline() -> None:
            if proc.poll() is None:  # a run that just finished did not time out
                timed_out.set()
                proc.kill()

        timer = threading.Timer(timeout_s, kill_at_deadline)
        timer.daemon = True
        timer.start()
        assert proc.stdout is not None  # stdout=PIPE
        try:
            yield proc.stdout
            returncode = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        if timed_out.is_set():
            raise MediaRejected("ffmpeg_timeout", f"{what} did not finish within {timeout_s:g} s")
        if returncode != 0:
            raise _failure("ffmpeg_failed", what, returncode, stderr)
