from __future__ import annotations

from pathlib import Path

import pytest

from media_pipeline.ffmpeg_run import probe_av
from media_pipeline.limits import MediaLimits, MediaRejected

from .conftest import LAT, LON, ffmpeg


def test_probe_mp4(h264_mp4: Path) -> None:
    probe = probe_av(h264_mp4)
    assert probe["demuxer"] == "mov"
    assert probe["container"] == "mp4"
    assert probe["duration"] == pytest.approx(2.0, abs=0.1)
    assert (probe["video_codec"], probe["pix_fmt"], probe["audio_codec"]) == (
        "h264",
        "yuv420p",
        "aac",
    )
    assert (probe["width"], probe["height"], probe["rotation"]) == (320, 240, 0)
    assert probe["frame_rate"] == 15.0
    assert probe["audio_sample_rate"] == 44100
    assert probe["creation_time"] == "2024-05-01T10:20:30+00:00"
    assert probe["gps"] == {"lat": LAT, "lon": LON, "alt": None}
    assert probe["trailing_bytes"] == 0


def test_probe_apple_tags_keep_local_offset(apple_mov: Path) -> None:
    probe = probe_av(apple_mov)
    assert probe["container"] == "mov"
    assert probe["creation_time"] == "2024-05-01T18:20:30+08:00"
    assert probe["gps"] == {"lat": LAT, "lon": LON, "alt": 10.0}


def test_probe_reads_apples_location_accuracy(apple_mov: Path, tmp_path: Path) -> None:
    mov = ffmpeg(
        tmp_path / "accurate.mov",
        *("-i", str(apple_mov), "-c", "copy", "-movflags", "use_metadata_tags"),
        *("-metadata", "com.apple.quicktime.location.accuracy.horizontal=14.5"),
    )
    assert probe_av(mov)["gps"] == {"lat": LAT, "lon": LON, "alt": 10.0, "accuracy_m": 14.5}


def test_probe_rotation_swaps_display_size(rotated_mp4: Path) -> None:
    probe = probe_av(rotated_mp4)
    assert (probe["width"], probe["height"]) == (320, 240)
    assert probe["rotation"] in (90, 270)
    assert (probe["display_width"], probe["display_height"]) == (240, 320)


def test_probe_streamed_webm_measures_its_duration(streamed_webm: Path) -> None:
    """MediaRecorder WebM states no duration: it is measured by reading the packets."""
    probe = probe_av(streamed_webm)
    assert probe["demuxer"] == "matroska"
    assert probe["duration"] == pytest.approx(2.0, abs=0.1)
    assert (probe["video_codec"], probe["audio_codec"]) == ("vp8", "opus")
    assert probe["trailing_bytes"] is None


def test_duration_limit_holds_without_a_stated_duration(streamed_webm: Path) -> None:
    with pytest.raises(MediaRejected) as caught:
        probe_av(streamed_webm, limits=MediaLimits(max_duration_s=1))
    assert caught.value.code == "absurd_duration"


def test_anamorphic_display_size_uses_the_sample_aspect_ratio(anamorphic_mp4: Path) -> None:
    probe = probe_av(anamorphic_mp4)
    assert (probe["width"], probe["height"]) == (360, 288)  # as coded, 64:45 pixels
    assert (probe["display_width"], probe["display_height"]) == (512, 288)


def test_probe_audio_only(tone_then_silence_wav: Path) -> None:
    probe = probe_av(tone_then_silence_wav)
    assert (probe["has_video"], probe["has_audio"]) == (False, True)
    assert probe["audio_codec"] == "pcm_s16le"
    assert probe["audio_channels"] == 1
    assert probe["display_width"] is None


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("empty.jpg", "empty_file"),
        ("random.bin", "unsupported_type"),
        ("photo.heic", "unsupported_type"),
        ("document.pdf", "unsupported_type"),
        ("truncated.mp4", "truncated"),
        ("truncated_faststart.mp4", "truncated"),
        ("truncated.webm", "truncated"),
        ("huge_frame.mov", "absurd_resolution"),
        ("endless.mp4", "absurd_duration"),
    ],
)
def test_hostile_av_is_rejected(hostile: dict[str, Path], name: str, code: str) -> None:
    with pytest.raises(MediaRejected) as caught:
        probe_av(hostile[name])
    assert caught.value.code == code
    assert caught.value.message


def test_forcing_a_demuxer_on_random_bytes_fails_cleanly(hostile: dict[str, Path]) -> None:
    with pytest.raises(MediaRejected) as caught:
        probe_av(hostile["random.bin"], forced_format="mov")
    assert caught.value.code == "probe_failed"
    assert "ffprobe exited with status" in caught.value.message


def test_only_known_demuxers_can_be_forced(h264_mp4: Path) -> None:
    with pytest.raises(ValueError, match="hls"):
        probe_av(h264_mp4, forced_format="hls")


def test_duration_and_resolution_limits(h264_mp4: Path) -> None:
    with pytest.raises(MediaRejected) as caught:
        probe_av(h264_mp4, limits=MediaLimits(max_duration_s=1))
    assert caught.value.code == "absurd_duration"
    with pytest.raises(MediaRejected) as caught:
        probe_av(h264_mp4, limits=MediaLimits(max_width=300))
    assert caught.value.code == "absurd_resolution"


def test_memory_limit_is_applied_to_ffprobe(h264_mp4: Path) -> None:
    # 64 MiB of address space is too little for ffprobe to even map its libraries, which
    # proves the limit reaches the child process.
    with pytest.raises(MediaRejected) as caught:
        probe_av(h264_mp4, limits=MediaLimits(ffmpeg_memory_bytes=64 * 1024**2))
    assert caught.value.code == "probe_failed"
