"""Audio derivatives: an AAC/M4A proxy for playback and waveform peaks for display.

Like :mod:`media_pipeline.video`, each step takes the source's :class:`AVProbe` (or probes
first) so the demuxer picked from the magic bytes is forced, and runs through
:mod:`media_pipeline.ffmpeg_run`. Both work on the first audio stream of video files too.
"""

from __future__ import annotations

import os
import sys
from array import array
from contextlib import suppress
from typing import TypedDict

import ffmpeg

from media_pipeline.ffmpeg_run import (
    AVProbe,
    command_line,
    ffmpeg_output_stream,
    file_url,
    input_options,
    probe_av,
    run_ffmpeg,
)
from media_pipeline.limits import DEFAULT_LIMITS, MediaLimits, MediaRejected

# Peaks are taken from 8 kHz: speech (the content of field recordings) survives the
# resampler's low-pass, and a six-hour stereo recording is 691 MB of PCM streamed through a pipe.
PEAK_SAMPLE_RATE = 8000
# Channels are never mixed for peaks (a phase-inverted channel would cancel the other out);
# a file with more than this many is downmixed to it.
_MAX_PEAK_CHANNELS = 8
_BLOCK = PEAK_SAMPLE_RATE // 100  # 10 ms of samples per stored block peak
_READ_BYTES = 1 << 16
_FULL_SCALE = 32768


class AudioProxy(TypedDict):
    duration: float | None
    audio_codec: str
    channels: int | None
    sample_rate: int | None


def _require_audio(probe: AVProbe) -> int:
    if not probe["has_audio"] or probe["audio_stream_index"] is None:
        raise MediaRejected("missing_stream", "the file has no audio stream")
    return probe["audio_stream_index"]


def make_audio_proxy(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    probe: AVProbe | None = None,
    limits: MediaLimits = DEFAULT_LIMITS,
) -> AudioProxy:
    """Write the first audio stream as AAC in an M4A file with the index first (faststart).

    More than two channels are downmixed to stereo; mono stays mono.
    """
    probe = probe or probe_av(src, limits=limits)
    audio_index = _require_audio(probe)
    source = ffmpeg.input(file_url(src), **input_options(probe["demuxer"]))
    output = (
        source[str(audio_index)]
        .filter("aformat", channel_layouts="mono|stereo")
        .output(
            file_url(dst),
            f="ipod",  # MP4 with the "M4A " brand, what players expect of .m4a
            acodec="aac",
            audio_bitrate="96k",
            movflags="+faststart",
            t=limits.max_duration_s,  # a backstop for a duration probe_av could not limit
            map_metadata="-1",
            map_chapters="-1",
        )
    )
    try:
        run_ffmpeg(
            command_line(output.compile()),
            limits=limits,
            timeout_s=limits.ffmpeg_timeout_for(probe["duration"]),
            what="audio proxy encode",
        )
        result = probe_av(dst, limits=limits)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(dst)
        raise
    return AudioProxy(
        duration=result["duration"],
        audio_codec=result["audio_codec"] or "",
        channels=result["audio_channels"],
        sample_rate=result["audio_sample_rate"],
    )


def make_peaks(
    src: str | os.PathLike[str],
    *,
    buckets: int = 800,
    probe: AVProbe | None = None,
    limits: MediaLimits = DEFAULT_LIMITS,
) -> list[float]:
    """``buckets`` waveform peaks, each the loudest sample of its slice of time.

    Values are fractions of digital full scale (0..1), not rescaled to the loudest moment, so
    a quiet recording looks quiet. A peak is the loudest sample of any channel: channels are
    not mixed, so one recorded in opposite phase cannot cancel another. The audio is decoded
    to 8 kHz s16 and streamed through a pipe; memory grows by 2 bytes per 10 ms of audio
    (about 4 MB for six hours), so a duration missing from the container does not matter.

    >>> len(make_peaks("interview.m4a", buckets=800))  # doctest: +SKIP
    800
    """
    if buckets < 1:
        raise ValueError("buckets must be >= 1")
    probe = probe or probe_av(src, limits=limits)
    audio_index = _require_audio(probe)
    channels = min(probe["audio_channels"] or 1, _MAX_PEAK_CHANNELS)
    block = _BLOCK * channels  # interleaved samples per 10 ms block
    source = ffmpeg.input(file_url(src), **input_options(probe["demuxer"]))
    output = source[str(audio_index)].output(
        "pipe:1",
        f="s16le",
        acodec="pcm_s16le",
        ac=channels,  # the count the samples are read with, whatever the stream later says
        ar=PEAK_SAMPLE_RATE,
        t=limits.max_duration_s,  # a backstop for a duration probe_av could not limit
    )
    block_peaks = array("H")
    with ffmpeg_output_stream(
        command_line(output.compile()),
        limits=limits,
        timeout_s=limits.ffmpeg_timeout_for(probe["duration"]),
        what="audio decode for peaks",
    ) as pcm:
        pending = b""
        while chunk := pcm.read(_READ_BYTES):
            data = pending + chunk
            whole = len(data) - len(data) % (2 * block)
            _add_block_peaks(block_peaks, data[:whole], block)
            pending = data[whole:]
        _add_block_peaks(block_peaks, pending[: len(pending) // 2 * 2], block)
    return _bucket_peaks(block_peaks, buckets)


def _add_block_peaks(block_peaks: array[int], data: bytes, block: int) -> None:
    samples = array("h")
    samples.frombytes(data)
    if sys.byteorder == "big":
        samples.byteswap()  # s16le from ffmpeg
    for start in range(0, len(samples), block):
        chunk = samples[start : start + block]
        block_peaks.append(max(max(chunk), -min(chunk)))


def _bucket_peaks(block_peaks: array[int], buckets: int) -> list[float]:
    total = len(block_peaks)
    if total == 0:
        return [0.0] * buckets
    peaks = []
    for i in range(buckets):
        start = i * total // buckets
        # Fewer blocks than buckets (very short audio): repeat blocks rather than leave gaps.
        end = max(start + 1, (i + 1) * total // buckets)
        peaks.append(round(min(1.0, max(block_peaks[start:end]) / _FULL_SCALE), 4))
    return peaks
