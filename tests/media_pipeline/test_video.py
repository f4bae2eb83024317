from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from media_pipeline.ffmpeg_run import probe_av
from media_pipeline.limits import MediaLimits, MediaRejected
from media_pipeline.sniff import top_level_boxes
from media_pipeline.video import can_remux, make_poster, make_thumb_strip, make_web_proxy


def _assert_browser_ready(proxy: Path) -> None:
    """H.264 4:2:0 + AAC in MP4 with the index (moov) before the media data (mdat)."""
    boxes = [b.type for b in top_level_boxes(proxy)]
    assert boxes.index("moov") < boxes.index("mdat")
    probe = probe_av(proxy)
    assert probe["container"] == "mp4"
    assert (probe["video_codec"], probe["pix_fmt"], probe["audio_codec"]) == (
        "h264",
        "yuv420p",
        "aac",
    )
    assert probe["width"] is not None and probe["height"] is not None
    assert probe["width"] % 2 == 0 and probe["height"] % 2 == 0


def test_h264_aac_mp4_is_remuxed(h264_mp4: Path, tmp_path: Path) -> None:
    source = probe_av(h264_mp4)
    assert can_remux(source)
    dst = tmp_path / "proxy.mp4"
    result = make_web_proxy(h264_mp4, dst, probe=source)
    assert result["remuxed"] is True
    assert (result["width"], result["height"]) == (320, 240)
    assert result["duration"] == pytest.approx(2.0, abs=0.1)
    _assert_browser_ready(dst)
    # Same coded video, but the location and creation time stay with the original.
    proxy = probe_av(dst)
    assert proxy["gps"] is None
    assert proxy["creation_time"] is None
    assert b"+31.2304" not in dst.read_bytes()


def test_remux_keeps_rotation(rotated_mp4: Path, tmp_path: Path) -> None:
    source = probe_av(rotated_mp4)
    result = make_web_proxy(rotated_mp4, tmp_path / "proxy.mp4", probe=source)
    assert result["remuxed"] is True
    assert result["rotation"] == source["rotation"] != 0
    assert (result["width"], result["height"]) == (240, 320)


def test_vp8_webm_is_reencoded(vp8_webm: Path, tmp_path: Path) -> None:
    source = probe_av(vp8_webm)
    assert not can_remux(source)
    dst = tmp_path / "proxy.mp4"
    result = make_web_proxy(vp8_webm, dst, probe=source)
    assert result["remuxed"] is False
    assert (result["width"], result["height"], result["rotation"]) == (320, 240, 0)
    assert (result["video_codec"], result["audio_codec"]) == ("h264", "aac")
    _assert_browser_ready(dst)


def test_streamed_webm_proxy_gains_a_duration(streamed_webm: Path, tmp_path: Path) -> None:
    dst = tmp_path / "proxy.mp4"
    result = make_web_proxy(streamed_webm, dst, probe=probe_av(streamed_webm))
    assert result["duration"] == pytest.approx(2.0, abs=0.1)
    _assert_browser_ready(dst)


def test_h264_444_is_reencoded_to_420(h264_444_mp4: Path, tmp_path: Path) -> None:
    source = probe_av(h264_444_mp4)
    assert source["pix_fmt"] == "yuv444p"
    dst = tmp_path / "proxy.mp4"
    result = make_web_proxy(h264_444_mp4, dst, probe=source)
    assert result["remuxed"] is False
    assert result["audio_codec"] is None
    assert probe_av(dst)["pix_fmt"] == "yuv420p"


def test_reencode_caps_long_side_with_even_size(portrait_odd_webm: Path, tmp_path: Path) -> None:
    dst = tmp_path / "proxy.mp4"
    result = make_web_proxy(portrait_odd_webm, dst, probe=probe_av(portrait_odd_webm))
    # 721x1601 -> long side 1280, width 721 * 1280 / 1601 = 576.4 -> 576 (even).
    assert (result["width"], result["height"]) == (576, 1280)


def test_audio_only_file_has_no_web_proxy(tone_then_silence_wav: Path, tmp_path: Path) -> None:
    dst = tmp_path / "proxy.mp4"
    with pytest.raises(MediaRejected) as caught:
        make_web_proxy(tone_then_silence_wav, dst, probe=probe_av(tone_then_silence_wav))
    assert caught.value.code == "missing_stream"
    assert not dst.exists()


def test_encode_timeout_kills_ffmpeg_and_leaves_nothing(vp8_webm: Path, tmp_path: Path) -> None:
    limits = MediaLimits(ffmpeg_timeout_s=0.001, ffmpeg_timeout_per_media_s=0)
    dst = tmp_path / "proxy.mp4"
    with pytest.raises(MediaRejected) as caught:
        make_web_proxy(vp8_webm, dst, probe=probe_av(vp8_webm), limits=limits)
    assert caught.value.code == "ffmpeg_timeout"
    assert not dst.exists()


def test_encode_memory_limit(vp8_webm: Path, tmp_path: Path) -> None:
    limits = MediaLimits(ffmpeg_memory_bytes=64 * 1024**2)
    dst = tmp_path / "proxy.mp4"
    with pytest.raises(MediaRejected) as caught:
        make_web_proxy(vp8_webm, dst, probe=probe_av(vp8_webm), limits=limits)
    assert caught.value.code == "ffmpeg_failed"
    assert not dst.exists()


def test_poster_is_an_upright_jpeg(rotated_mp4: Path, tmp_path: Path) -> None:
    dst = tmp_path / "poster.jpg"
    assert make_poster(rotated_mp4, dst, at_s=1.0) == {"at_s": 1.0}
    with Image.open(dst) as poster:
        assert poster.format == "JPEG"
        assert poster.size == (240, 320)
        assert not poster.getexif()


def test_poster_past_the_end_falls_back_to_first_frame(h264_mp4: Path, tmp_path: Path) -> None:
    dst = tmp_path / "poster.jpg"
    assert make_poster(h264_mp4, dst, at_s=60.0) == {"at_s": 0.0}
    with Image.open(dst) as poster:
        assert poster.size == (320, 240)


def test_thumb_strip(h264_mp4: Path, tmp_path: Path) -> None:
    dst = tmp_path / "strip.jpg"
    strip = make_thumb_strip(h264_mp4, dst, count=4, height=60)
    # Evenly spaced over the clip short of its last two frame intervals (2 s at 15 fps).
    assert strip == {"timestamps": [0.233, 0.7, 1.167, 1.633], "tile_width": 80, "tile_height": 60}
    with Image.open(dst) as sprite:
        assert sprite.format == "JPEG"
        assert sprite.size == (4 * 80, 60)
        # testsrc draws a moving gradient band: tiles from different moments differ.
        tiles = [sprite.crop((i * 80, 0, (i + 1) * 80, 60)).tobytes() for i in range(4)]
        assert len(set(tiles)) == 4


def test_thumb_strip_needs_a_duration(streamed_webm: Path, tmp_path: Path) -> None:
    with pytest.raises(MediaRejected) as caught:
        make_thumb_strip(streamed_webm, tmp_path / "strip.jpg")
    assert caught.value.code == "probe_failed"
    assert "web proxy" in caught.value.message


def test_thumb_strip_of_a_one_second_clip(tmp_path: Path) -> None:
    """Seeking into the last frame interval decoded nothing and emptied the whole sprite."""
    import subprocess

    clip = tmp_path / "short.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=10:duration=1",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            str(clip),
        ],
        check=True,
    )
    strip = make_thumb_strip(clip, tmp_path / "strip.jpg", count=10, height=40)
    assert len(strip["timestamps"]) == 10 and max(strip["timestamps"]) < 0.8
    with Image.open(tmp_path / "strip.jpg") as sprite:
        assert sprite.size[0] == 10 * strip["tile_width"]
