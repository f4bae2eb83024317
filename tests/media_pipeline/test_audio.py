from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from media_pipeline import audio
from media_pipeline.audio import make_audio_proxy, make_peaks
from media_pipeline.ffmpeg_run import probe_av
from media_pipeline.limits import MediaLimits, MediaRejected
from media_pipeline.sniff import detect_type, top_level_boxes

from .conftest import SINE_PEAK


def test_audio_proxy_is_faststart_aac_m4a(tone_then_silence_wav: Path, tmp_path: Path) -> None:
    dst = tmp_path / "proxy.m4a"
    result = make_audio_proxy(tone_then_silence_wav, dst)
    assert result["audio_codec"] == "aac"
    assert result["channels"] == 1
    assert result["duration"] == pytest.approx(2.0, abs=0.1)
    assert detect_type(dst).mime == "audio/mp4"
    boxes = [b.type for b in top_level_boxes(dst)]
    assert boxes.index("moov") < boxes.index("mdat")
    assert probe_av(dst)["has_video"] is False


def test_audio_proxy_downmixes_surround(surround_wav: Path, tmp_path: Path) -> None:
    assert probe_av(surround_wav)["audio_channels"] == 6
    assert make_audio_proxy(surround_wav, tmp_path / "p.m4a")["channels"] == 2


def test_audio_proxy_from_video_and_opus(vp8_webm: Path, tmp_path: Path) -> None:
    result = make_audio_proxy(vp8_webm, tmp_path / "p.m4a")
    assert result["audio_codec"] == "aac"
    assert result["duration"] == pytest.approx(2.0, abs=0.1)


def test_peaks_follow_the_signal(tone_then_silence_wav: Path) -> None:
    peaks = make_peaks(tone_then_silence_wav)
    assert len(peaks) == 800
    assert all(0.0 <= p <= 1.0 for p in peaks)
    # First second: a sine at 1/8 of full scale; second second: digital silence.
    assert all(p == pytest.approx(SINE_PEAK, abs=0.01) for p in peaks[:395])
    assert all(p == 0.0 for p in peaks[405:])


def test_peaks_bucket_count_is_exact_even_for_tiny_audio(short_wav: Path) -> None:
    peaks = make_peaks(short_wav, buckets=800)  # 50 ms is only 5 blocks of 10 ms
    assert len(peaks) == 800
    assert min(peaks) > 0.05


@pytest.mark.parametrize("name", ["mp3_id3", "adts", "m4a", "ogg_opus"])
def test_peaks_from_compressed_audio(audio_samples: dict[str, Path], name: str) -> None:
    peaks = make_peaks(audio_samples[name], buckets=50)
    assert len(peaks) == 50
    # Lossy codecs and resampling move the peak a little; the middle is steady tone.
    assert all(p == pytest.approx(SINE_PEAK, abs=0.03) for p in peaks[5:45])


def test_peaks_without_container_duration(streamed_webm: Path) -> None:
    peaks = make_peaks(streamed_webm, buckets=100)
    assert len(peaks) == 100
    assert max(peaks) == pytest.approx(SINE_PEAK, abs=0.03)


def test_peaks_take_the_loudest_channel(antiphase_wav: Path) -> None:
    """Two channels in opposite phase sum to silence; each alone is the full tone."""
    peaks = make_peaks(antiphase_wav, buckets=20)
    assert all(p == pytest.approx(SINE_PEAK, abs=0.01) for p in peaks)


def test_peaks_stop_at_the_duration_limit(tone_then_silence_wav: Path) -> None:
    """A backstop for a duration the probe could not check: only the first 1 s is decoded."""
    probe = probe_av(tone_then_silence_wav)
    probe["duration"] = None
    limits = MediaLimits(max_duration_s=1)
    peaks = make_peaks(tone_then_silence_wav, buckets=20, probe=probe, limits=limits)
    # The 1 s of tone is spread over all buckets; the 1 s of silence after it is never read.
    assert all(p == pytest.approx(SINE_PEAK, abs=0.01) for p in peaks)


def test_audio_proxy_stops_at_the_duration_limit(
    tone_then_silence_wav: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands: list[list[str]] = []
    real = audio.run_ffmpeg

    def spy(args: list[str], **kwargs: Any) -> bytes:
        commands.append(list(args))
        return real(args, **kwargs)

    monkeypatch.setattr(audio, "run_ffmpeg", spy)
    make_audio_proxy(
        tone_then_silence_wav, tmp_path / "p.m4a", limits=MediaLimits(max_duration_s=5)
    )
    args = commands[0]
    assert args[args.index("-t") + 1] == "5"


def test_peaks_need_an_audio_stream(h264_444_mp4: Path) -> None:
    with pytest.raises(MediaRejected) as caught:
        make_peaks(h264_444_mp4)
    assert caught.value.code == "missing_stream"


def test_peaks_timeout_kills_the_streaming_decoder(tone_then_silence_wav: Path) -> None:
    limits = MediaLimits(ffmpeg_timeout_s=0.001, ffmpeg_timeout_per_media_s=0)
    probe = probe_av(tone_then_silence_wav)
    with pytest.raises(MediaRejected) as caught:
        make_peaks(tone_then_silence_wav, probe=probe, limits=limits)
    assert caught.value.code == "ffmpeg_timeout"


def test_audio_proxy_rejects_hostile_input(hostile: dict[str, Path], tmp_path: Path) -> None:
    for name, code in [("random.bin", "unsupported_type"), ("truncated.mp4", "truncated")]:
        dst = tmp_path / "p.m4a"
        with pytest.raises(MediaRejected) as caught:
            make_audio_proxy(hostile[name], dst)
        assert caught.value.code == code
        assert not dst.exists()


@pytest.mark.parametrize(
    ("fixture", "codec", "rate"),
    [("amr_nb", "amr_nb", 8000), ("amr_wb", "amr_wb", 16000), ("flac_audio", "flac", 48000)],
)
def test_phone_recordings_get_a_proxy_and_peaks(
    request: pytest.FixtureRequest, fixture: str, codec: str, rate: int, tmp_path: Path
) -> None:
    path = request.getfixturevalue(fixture)
    probe = probe_av(path)
    assert (probe["audio_codec"], probe["audio_sample_rate"], probe["has_video"]) == (
        codec,
        rate,
        False,
    )
    seconds = 1.0 if fixture == "flac_audio" else 2.0
    # Measured from the frames: ffprobe's guess from the bitrate says 2.06 s for raw AMR.
    assert probe["duration"] == pytest.approx(seconds, abs=0.03)
    proxy = make_audio_proxy(path, tmp_path / "p.m4a", probe=probe)
    assert proxy["audio_codec"] == "aac" and proxy["channels"] == 1
    assert proxy["duration"] == pytest.approx(seconds, abs=0.1)
    peaks = make_peaks(path, probe=probe, buckets=50)
    assert len(peaks) == 50 and max(peaks) > 0.05
