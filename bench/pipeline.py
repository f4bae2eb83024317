"""Media pipeline speed, measured against baselines in the same run.

    .venv/bin/python bench/pipeline.py [--photos 50] [--seconds 60]

1. Thumbnails of N generated 12 MP JPEGs: ``media_pipeline.images.make_thumbnail`` (JPEG draft
   decoding) against a straightforward full-decode Pillow baseline (open, load, thumbnail,
   save); pyvips too when it is installed (``pip install -e ".[bench]"``). Also printed: the
   bare 1/8-scale decode, which no libjpeg-based thumbnailer can beat (entropy decoding reads
   every coefficient at any scale), and the ceiling on the ratio it implies.
   Then both photo derivatives of an item (thumbnail 320 px and preview 1600 px): the worker
   (``make_derivatives``, one decode) against the straightforward way (a full decode each);
   and a whole photo item as the worker runs it (probe reading headers, then both
   derivatives) against the same with the probe decoding the pixels as well.
   Then a progressive copy of the photo: what counting its scans costs next to its
   thumbnail, and what 300 data-less scans added to it (3 KB) do to a plain Pillow decode,
   against the pipeline refusing the file from its markers.
2. A 1080p VP9/Opus WebM (as Chromium records) → the 720p H.264/AAC web proxy: ×realtime.
3. A 1080p H.264/AAC MP4 → the proxy by remuxing: ×realtime.

Targets: thumbnails ≥ 3× the baseline; transcode ≥ 1.5× realtime; remux ≥ 20× realtime.
Prints PASS/FAIL per target and exits 0 unless something broke.
"""

from __future__ import annotations

import argparse
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image

from media_pipeline.ffmpeg_run import probe_av
from media_pipeline.images import make_derivatives, make_thumbnail, probe_image
from media_pipeline.limits import MediaRejected
from media_pipeline.sniff import jpeg_scan_count
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


def _photo_item(src: Path, dst: Path, *, probe_decodes: bool = False) -> None:
    probe_image(src, check_decodes=probe_decodes)
    make_derivatives(src, {dst.with_suffix(".p.jpg"): 1600, dst: 320})


# A refinement scan of the first component's AC coefficients carrying no data: 10 bytes.
_EMPTY_SCAN = b"\xff\xda" + struct.pack(">HB", 8, 1) + bytes([1, 0x00, 1, 63, 0x10])


def _plain_decode(src: Path, _dst: Path) -> None:
    with Image.open(src) as im:
        im.load()


def _scan_costs(photo: Path, work: Path, out: Path) -> None:
    progressive = work / "progressive.jpg"
    with Image.open(photo) as im:
        im.save(progressive, "JPEG", quality=90, progressive=True)
    count = _time(lambda s, d: jpeg_scan_count(s), [progressive] * 20, out) / 20
    thumb = _time(lambda s, d: make_thumbnail(s, d), [progressive] * 5, out) / 5
    print(
        f"progressive 12 MP JPEG ({jpeg_scan_count(progressive)} scans): counting its scans "
        f"{count * 1000:.1f} ms, its thumbnail {thumb * 1000:.0f} ms"
    )
    hostile = work / "scans.jpg"
    added = 300
    hostile.write_bytes(progressive.read_bytes()[:-2] + _EMPTY_SCAN * added + b"\xff\xd9")
    plain = _time(_plain_decode, [progressive], out)
    slowed = _time(_plain_decode, [hostile], out)
    per_scan = (slowed - plain) / added
    start = time.perf_counter()
    try:
        make_thumbnail(hostile, out / "hostile.jpg")
        verdict = "NOT REFUSED"
    except MediaRejected as exc:
        verdict = exc.code
    refused = time.perf_counter() - start
    print(
        f"  +{added} data-less scans ({added * len(_EMPTY_SCAN) // 1000} KB): a plain decode "
        f"takes {slowed:.2f} s instead of {plain:.2f} s, {per_scan * 1000:.1f} ms a scan, so a "
        f"1 MB file of them would take {per_scan * 100_000 / 60:.0f} min; the pipeline "
        f"refuses it in {refused * 1000:.1f} ms ({verdict})"
    )


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
        item = _time(_photo_item, photos, out)
        item_decoding_probe = _time(lambda s, d: _photo_item(s, d, probe_decodes=True), photos, out)
        print(
            f"photo item (probe, thumbnail, preview): {item:.2f} s with the probe reading "
            f"headers only, {item_decoding_probe:.2f} s with the probe decoding as well "
            f"(saved {1 - item / item_decoding_probe:.0%})"
        )
        _scan_costs(photos[0], work, out)

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
