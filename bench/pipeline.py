"""Media pipeline speed, measured against baselines in the same run.

    .venv/bin/python bench/pipeline.py [--photos 50] [--seconds 60]

1. Thumbnails of N generated 12 MP JPEGs: ``media_pipeline.images.make_thumbnail`` (JPEG draft
   decoding) against a straightforward full-decode Pillow baseline (open, load, thumbnail,
   save); pyvips too when it is installed (``pip install -e ".[bench]"``). Also printed: the
   bare 1/8-scale decode, which no libjpeg-based thumbnailer can beat (entropy decoding reads
   every coefficient at any scale), and the ceiling on the ratio it implies.
   Then both photo derivatives of an item (thumbnail 320 px and preview 1600 px): the worker
   (``make_derivatives``, one decode) against the straightforward way (a full decode each).
2. A 1080p VP9/Opus WebM (as Chromium records) → the 720p H.264/AAC web proxy: ×realtime.
3. A 1080p H.264/AAC MP4 → the proxy by remuxing: ×realtime.

Targets: thumbnails ≥ 3× the baseline; transcode ≥ 1.5× realtime; remux ≥ 20× realtime.
Prints PASS/FAIL per target and exits 0 unless something broke.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image

from media_pipeline.ffmpeg_run import probe_av
from media_pipeline.images import make_derivatives, make_thumbnail
from media_pipeline.video import make_web_proxy


def _make_photos(directory: Path, count: int) -> list[Path]:
    """4000×3000 photos of about 4 MB, like a phone's (gradients, shapes and sensor-like noise).

    Pure noise would be a worst case no camera produces: entropy decoding, which draft mode
    cannot skip, would dominate. One is made, then copied.
    """
    from PIL import ImageDraw

    src = directory / "photo-0.jpg"
    scene = Image.merge(
        "RGB",
        [
            Image.linear_gradient("L").resize((4000, 3000)).rotate(a, expand=False)
            for a in (0, 90, 180)
        ],
    )
    draw = ImageDraw.Draw(scene)
    for i in range(40):
        x, y = (i * 97) % 3800, (i * 61) % 2800
        draw.ellipse((x, y, x + 200 + i * 5, y + 150 + i * 3), fill=(i * 6, 255 - i * 6, 128))
    noise = Image.effect_noise((4000, 3000), 64).convert("RGB")
    Image.blend(scene, noise, 0.15).save(src, "JPEG", quality=90)
    paths = [src]
    for i in range(1, count):
        copy = directory / f"photo-{i}.jpg"
        copy.write_bytes(src.read_bytes())
        paths.append(copy)
    return paths


def _baseline_thumbnail(src: Path, dst: Path, size: int = 320) -> None:
    with Image.open(src) as im:
        im.load()
        im.thumbnail((size, size))
        im.save(dst, "JPEG", quality=85)


def _baseline_both(src: Path, dst: Path) -> None:
    _baseline_thumbnail(src, dst.with_suffix(".p.jpg"), 1600)
    _baseline_thumbnail(src, dst, 320)


def _decode_eighth(src: Path, _dst: Path) -> None:
    with Image.open(src) as im:
        im.draft(None, (320, 320))
        im.load()


def _time(fn, paths: list[Path], out: Path) -> float:
    start = time.perf_counter()
    for i, path in enumerate(paths):
        fn(path, out / f"t-{i}.jpg")
    return time.perf_counter() - start


def _ffmpeg(out: Path, *args: str) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(out)], check=True)
    return out


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ft-bench-") as tmp:
        work = Path(tmp)
        photos = _make_photos(work, args.photos)
        out = work / "out"
        out.mkdir()
        base = _time(_baseline_thumbnail, photos, out)
        ours = _time(lambda s, d: make_thumbnail(s, d), photos, out)
        floor = _time(_decode_eighth, photos, out)
        ratio = base / ours
        print(f"thumbnails of {args.photos} × 12 MP JPEG ({photos[0].stat().st_size >> 10} KiB):")
        print(f"  full-decode baseline {base:.2f} s, pipeline (draft) {ours:.2f} s")
        print(f"  speed-up {ratio:.1f}×  (target ≥ 3×) {_verdict(ratio >= 3)}")
        print(
            f"  bare 1/8-scale decode {floor:.2f} s: no libjpeg thumbnailer beats "
            f"{base / floor:.1f}× on these files; the pipeline spends "
            f"{(ours - floor) / ours:.0%} of its time beyond that decode"
        )
        try:
            import pyvips  # type: ignore[import-not-found]

            vips = _time(
                lambda s, d: pyvips.Image.thumbnail(str(s), 320).write_to_file(str(d)), photos, out
            )
            print(
                f"  pyvips {pyvips.version(0)}.{pyvips.version(1)} {vips:.2f} s "
                f"({base / vips:.1f}× the baseline)"
            )
        except ImportError:
            print('  pyvips not installed (pip install -e ".[bench]"): skipped')
        both_base = _time(_baseline_both, photos, out)
        both = _time(
            lambda s, d: make_derivatives(s, {d.with_suffix(".p.jpg"): 1600, d: 320}), photos, out
        )
        print(
            f"thumbnail + preview per item: straightforward {both_base:.2f} s, "
            f"pipeline (one decode) {both:.2f} s = {both_base / both:.1f}×"
        )

        n = str(args.seconds)
        src = [
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size=1920x1080:rate=30:duration={n}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={n}",
        ]
        webm = _ffmpeg(
            work / "in.webm",
            *src,
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-b:v",
            "4M",
            "-c:a",
            "libopus",
            "-shortest",
        )
        mp4 = _ffmpeg(
            work / "in.mp4",
            *src,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        )
        for label, path, target, expect_remux in (
            ("1080p VP9/Opus WebM → 720p proxy (transcode)", webm, 1.5, False),
            ("1080p H.264/AAC MP4 → proxy (remux)", mp4, 20.0, True),
        ):
            probe = probe_av(path)
            start = time.perf_counter()
            result = make_web_proxy(path, work / f"proxy-{path.stem}.mp4", probe=probe)
            elapsed = time.perf_counter() - start
            speed = (probe["duration"] or args.seconds) / elapsed
            assert result["remuxed"] is expect_remux, result
            print(
                f"{label}: {elapsed:.2f} s for {probe['duration']:.0f} s of media = "
                f"{speed:.1f}× realtime (target ≥ {target:g}×) {_verdict(speed >= target)}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
