from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageStat

from media_pipeline import video
from media_pipeline.ffmpeg_run import probe_av
from media_pipeline.limits import MediaLimits, MediaRejected
from media_pipeline.sniff import top_level_boxes
from media_pipeline.video import (
    can_remux,
    is_hdr,
    make_poster,
    make_thumb_strip,
    make_web_proxy,
    video_stops_early,
)

from .conftest import PATCH_SIZE, PATCHES, ffmpeg, hdr_patches


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
    probe = probe_av(h264_mp4)
    probe["video_end_s"] = None  # a stream that does not state where it ends
    assert make_poster(h264_mp4, dst, at_s=60.0, probe=probe) == {"at_s": 0.0}
    with Image.open(dst) as poster:
        assert poster.size == (320, 240)


def test_poster_past_the_end_of_a_known_video_is_its_last_frame(
    h264_mp4: Path, tmp_path: Path
) -> None:
    dst = tmp_path / "poster.jpg"
    assert 1.7 < make_poster(h264_mp4, dst, at_s=60.0)["at_s"] < 2.0
    with Image.open(dst) as poster:
        assert poster.size == (320, 240)


def test_thumb_strip(h264_mp4: Path, tmp_path: Path) -> None:
    dst = tmp_path / "strip.jpg"
    strip = make_thumb_strip(h264_mp4, dst, count=4, height=60)
    # One frame (1/15 s) before the middle of each quarter of the 2 s clip: a seek lands on
    # the first frame at or after its time, so each tile shows its quarter's middle.
    assert strip == {
        "timestamps": [0.183, 0.683, 1.183, 1.683],
        "tile_width": 80,
        "tile_height": 60,
    }
    with Image.open(dst) as sprite:
        assert sprite.format == "JPEG"
        assert sprite.size == (4 * 80, 60)
        # testsrc draws a moving gradient band: tiles from different moments differ.
        tiles = [sprite.crop((i * 80, 0, (i + 1) * 80, 60)).tobytes() for i in range(4)]
        assert len(set(tiles)) == 4


def test_thumb_strip_needs_a_duration(streamed_webm: Path, tmp_path: Path) -> None:
    probe = probe_av(streamed_webm)
    probe["duration"] = None
    with pytest.raises(MediaRejected) as caught:
        make_thumb_strip(streamed_webm, tmp_path / "strip.jpg", probe=probe)
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
    # Never past the last frame (0.9 s), less slack for an overstated duration.
    assert len(strip["timestamps"]) == 10 and max(strip["timestamps"]) <= 0.8
    with Image.open(tmp_path / "strip.jpg") as sprite:
        assert sprite.size[0] == 10 * strip["tile_width"]


def test_thumb_strip_of_a_short_clip_with_fewer_frames_than_tiles(tmp_path: Path) -> None:
    """1 s at 5 fps: several tiles fell on the same time, and ffmpeg-python merged their
    identical inputs into one node with many outputs, which it cannot compile."""
    clip = ffmpeg(
        tmp_path / "short5.mp4",
        *("-f", "lavfi", "-i", "testsrc=size=160x120:rate=5:duration=1"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
    )
    strip = make_thumb_strip(clip, tmp_path / "strip.jpg", count=10, height=40)
    timestamps = strip["timestamps"]
    assert 1 < len(timestamps) < 10 and timestamps == sorted(set(timestamps))
    with Image.open(tmp_path / "strip.jpg") as sprite:
        assert sprite.size[0] == len(timestamps) * strip["tile_width"]


def _tiles(sprite: Path, count: int) -> list[Image.Image]:
    with Image.open(sprite) as img:
        width = img.width // count
        return [img.crop((i * width, 0, (i + 1) * width, img.height)) for i in range(count)]


def test_thumb_strip_reaches_the_end_of_a_low_frame_rate_clip(
    one_fps_mp4: Path, tmp_path: Path
) -> None:
    """A 4 s clip at 1 fps has four frames; one tile per quarter shows each of them."""
    dst = tmp_path / "strip.jpg"
    strip = make_thumb_strip(one_fps_mp4, dst, count=4, height=60)
    assert strip["timestamps"] == [0.0, 0.5, 1.5, 2.5]
    tiles = _tiles(dst, 4)
    for i, a in enumerate(tiles):
        for b in tiles[i + 1 :]:  # testsrc frames differ: no frame is shown twice
            assert max(ImageStat.Stat(ImageChops.difference(a, b)).mean) > 2


def test_anamorphic_poster_and_strip_have_square_pixels(
    anamorphic_mp4: Path, tmp_path: Path
) -> None:
    """360x288 coded with 64:45 pixels is a 512x288 picture; stored as is, it looks squeezed."""
    poster = tmp_path / "poster.jpg"
    make_poster(anamorphic_mp4, poster, at_s=0.5)
    with Image.open(poster) as img:
        assert img.size == (512, 288)
    strip = make_thumb_strip(anamorphic_mp4, tmp_path / "strip.jpg", count=2, height=54)
    assert (strip["tile_width"], strip["tile_height"]) == (96, 54)  # 54 * 16 / 9


def test_anamorphic_remux_keeps_the_aspect_ratio(anamorphic_mp4: Path, tmp_path: Path) -> None:
    result = make_web_proxy(anamorphic_mp4, tmp_path / "proxy.mp4", probe=probe_av(anamorphic_mp4))
    assert result["remuxed"] is True  # browsers honour the H.264 aspect ratio
    assert (result["width"], result["height"]) == (512, 288)


def test_anamorphic_reencode_has_square_pixels(anamorphic_webm: Path, tmp_path: Path) -> None:
    dst = tmp_path / "proxy.mp4"
    result = make_web_proxy(anamorphic_webm, dst, probe=probe_av(anamorphic_webm))
    assert result["remuxed"] is False
    assert (result["width"], result["height"]) == (512, 288)
    proxy = probe_av(dst)
    assert (proxy["width"], proxy["height"]) == (512, 288)  # coded square, nothing to stretch


def test_anamorphic_rotated_poster(anamorphic_mp4: Path, tmp_path: Path) -> None:
    rotated = tmp_path / "rotated.mp4"
    subprocess.run(
        [
            *("ffmpeg", "-v", "error", "-i", str(anamorphic_mp4), "-c", "copy"),
            *("-metadata:s:v:0", "rotate=90", str(rotated)),
        ],
        check=True,
    )
    probe = probe_av(rotated)
    assert (probe["display_width"], probe["display_height"]) == (288, 512)
    make_poster(rotated, tmp_path / "poster.jpg", at_s=0.5, probe=probe)
    with Image.open(tmp_path / "poster.jpg") as img:
        assert img.size == (288, 512)


def test_web_proxy_stops_at_the_duration_limit(
    streamed_webm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backstop for a duration the probe could not check."""
    commands: list[list[str]] = []
    real = video.run_ffmpeg

    def spy(args: list[str], **kwargs: Any) -> bytes:
        commands.append(list(args))
        return real(args, **kwargs)

    monkeypatch.setattr(video, "run_ffmpeg", spy)
    probe = probe_av(streamed_webm)
    probe["duration"] = None
    make_web_proxy(
        streamed_webm, tmp_path / "p.mp4", probe=probe, limits=MediaLimits(max_duration_s=5)
    )
    args = commands[0]
    assert args[args.index("-t") + 1] == "5"


def test_video_that_stops_before_its_audio(
    video_stops_before_audio_webm: Path, tmp_path: Path
) -> None:
    """0.3 s of picture and 5 s of sound: strip and poster come from where there is video,
    and the early stop is measured, not mistaken for a broken file."""
    proxy = tmp_path / "proxy.mp4"
    make_web_proxy(
        video_stops_before_audio_webm, proxy, probe=probe_av(video_stops_before_audio_webm)
    )
    proxy_probe = probe_av(proxy)
    assert proxy_probe["video_end_s"] == pytest.approx(0.333, abs=0.05)
    assert proxy_probe["audio_end_s"] == pytest.approx(5.0, abs=0.1)
    early = video_stops_early(proxy_probe)
    assert early is not None and early["video_end_s"] < 0.4 < 4.9 < early["audio_end_s"]

    strip = make_thumb_strip(proxy, tmp_path / "strip.jpg", count=10, height=60, probe=proxy_probe)
    assert strip["timestamps"] and max(strip["timestamps"]) < 0.33
    with Image.open(tmp_path / "strip.jpg") as sprite:
        assert sprite.size == (len(strip["timestamps"]) * 80, 60)
    poster = make_poster(proxy, tmp_path / "poster.jpg", at_s=1.0, probe=proxy_probe)
    assert poster["at_s"] < 0.33
    with Image.open(tmp_path / "poster.jpg") as img:
        assert img.size == (320, 240)


def test_audio_running_a_little_longer_than_video_is_no_finding(h264_mp4: Path) -> None:
    assert video_stops_early(probe_av(h264_mp4)) is None


def _lab(rgb: tuple[float, ...]) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour."""

    def linear(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    xyz = (
        (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047,
        0.2126 * r + 0.7152 * g + 0.0722 * b,
        (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883,
    )
    fx, fy, fz = (t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in xyz)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def _delta_e(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return sum((x - y) ** 2 for x, y in zip(_lab(a), _lab(b), strict=True)) ** 0.5


def _patch_colours(poster: Path) -> list[tuple[float, ...]]:
    with Image.open(poster) as img:
        rgb = img.convert("RGB")
        colours = []
        for i in range(len(PATCHES)):
            # The middle of each patch: chroma subsampling blurs the borders.
            box = (i * PATCH_SIZE + 12, 12, (i + 1) * PATCH_SIZE - 12, PATCH_SIZE - 12)
            colours.append(tuple(ImageStat.Stat(rgb.crop(box)).mean))
        return colours


def _poster_through_the_proxy(src: Path, tmp_path: Path, name: str) -> Path:
    proxy = tmp_path / f"{name}.mp4"
    make_web_proxy(src, proxy, probe=probe_av(src))
    poster = tmp_path / f"{name}.jpg"
    make_poster(proxy, poster, at_s=0.5)
    return poster


def test_hlg_reference_white_is_sdr_white_and_the_proxy_is_bt709(
    hlg_grey_mp4: Path, tmp_path: Path
) -> None:
    """iPhone HLG: 75 % signal (HDR reference white) came out 191 of 255, washed out."""
    source = probe_av(hlg_grey_mp4)
    assert is_hdr(source) and not can_remux(source)
    proxy = tmp_path / "proxy.mp4"
    make_web_proxy(hlg_grey_mp4, proxy, probe=source)
    tags = probe_av(proxy)
    assert (tags["color_transfer"], tags["color_primaries"], tags["color_space"]) == (
        "bt709",
        "bt709",
        "bt709",
    )
    assert tags["pix_fmt"] == "yuv420p"
    for poster in (tmp_path / "from_proxy.jpg", tmp_path / "from_original.jpg"):
        make_poster(proxy if "proxy" in poster.name else hlg_grey_mp4, poster, at_s=0.5)
        with Image.open(poster) as img:
            assert min(ImageStat.Stat(img.convert("L")).mean) >= 225
    strip = tmp_path / "strip.jpg"
    make_thumb_strip(hlg_grey_mp4, strip, count=2, height=40, probe=source)
    with Image.open(strip) as img:
        assert ImageStat.Stat(img.convert("L")).mean[0] >= 225


@pytest.mark.parametrize("transfer", ["hlg", "pq"])
def test_hdr_colours_come_back_close_to_the_sdr_picture(
    transfer: str, sdr_patches_mp4: Path, tmp_path: Path
) -> None:
    """The same patches recorded in SDR and in HDR give posters a small colour difference
    apart: identical below the knee of the curve, a little darker at full white/red."""
    hdr = hdr_patches(tmp_path / f"{transfer}_source.mp4", transfer)
    assert probe_av(hdr)["color_transfer"] == {"hlg": "arib-std-b67", "pq": "smpte2084"}[transfer]
    reference = _patch_colours(_poster_through_the_proxy(sdr_patches_mp4, tmp_path, "sdr"))
    mapped = _patch_colours(_poster_through_the_proxy(hdr, tmp_path, transfer))
    differences = [_delta_e(a, b) for a, b in zip(reference, mapped, strict=True)]
    assert max(differences) < 5, differences  # full red and white: 4.2 and 3.8
    assert sum(differences) / len(differences) < 2, differences


def test_posters_of_bt709_video_keep_their_colours(sdr_patches_mp4: Path, tmp_path: Path) -> None:
    """JPEG is BT.601: a BT.709 frame written into it unconverted showed red 255 as 233."""
    poster = _patch_colours(_poster_through_the_proxy(sdr_patches_mp4, tmp_path, "sdr"))
    differences = [_delta_e(a, b) for a, b in zip(PATCHES, poster, strict=True)]
    assert max(differences) < 1.5, differences


def test_the_transcode_time_limit_grows_with_pixels_and_frames() -> None:
    limits = MediaLimits()
    hd30 = limits.transcode_timeout_for(600, width=1920, height=1080, frame_rate=30)
    uhd60 = limits.transcode_timeout_for(600, width=3840, height=2160, frame_rate=60)
    assert hd30 >= limits.ffmpeg_timeout_for(600)  # never less than before
    assert uhd60 - limits.ffmpeg_timeout_s > 7 * (hd30 - limits.ffmpeg_timeout_s)
    # A still frame is no cheaper to open than the fixed allowance.
    assert limits.transcode_timeout_for(None, width=1, height=1, frame_rate=1) == 600


def test_the_proxy_encode_gets_the_scaled_time(
    vp8_webm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    budgets: dict[str, float] = {}
    real = video.run_ffmpeg

    def spy(args: list[str], **kwargs: Any) -> bytes:
        budgets[kwargs["what"]] = kwargs["timeout_s"]
        return real(args, **kwargs)

    monkeypatch.setattr(video, "run_ffmpeg", spy)
    slow = MediaLimits(transcode_pixels_per_s=1000)  # 320x240 at 15 fps: 1152 s a second
    make_web_proxy(vp8_webm, tmp_path / "p.mp4", probe=probe_av(vp8_webm), limits=slow)
    assert budgets["web proxy encode"] == pytest.approx(600 + 3 * 2.0 * 320 * 240 * 15 / 1000, 0.02)


def test_decoder_and_encoder_threads_are_capped(
    vp8_webm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 32-core worker gave x264 48 threads, whose buffers outgrew the 2 GiB memory cap."""
    commands: list[list[str]] = []
    real = video.run_ffmpeg

    def spy(args: list[str], **kwargs: Any) -> bytes:
        commands.append(list(args))
        return real(args, **kwargs)

    monkeypatch.setattr(video, "run_ffmpeg", spy)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    make_web_proxy(
        vp8_webm, tmp_path / "p.mp4", probe=probe_av(vp8_webm), limits=MediaLimits(max_threads=3)
    )
    args = commands[0]
    threads = [args[i + 1] for i, arg in enumerate(args) if arg == "-threads"]
    assert threads == ["3", "3"]  # before the input (decoder) and for the output (x264)
    assert args.index("-threads") < args.index("-i")


def test_a_60_fps_recording_gets_a_30_fps_proxy(tmp_path: Path) -> None:
    """Half the frames to decode, scale and encode for 4K60 and slow motion; same length."""
    clip = ffmpeg(
        tmp_path / "sixty.webm",
        *("-f", "lavfi", "-i", "testsrc=size=160x120:rate=60:duration=1"),
        *_VP8_FAST,
    )
    source = probe_av(clip)
    assert source["frame_rate"] == 60
    make_web_proxy(clip, tmp_path / "proxy.mp4", probe=source)
    proxy = probe_av(tmp_path / "proxy.mp4")
    assert proxy["frame_rate"] == 30 and proxy["duration"] == pytest.approx(1.0, abs=0.05)


_VP8_FAST = ("-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k")
