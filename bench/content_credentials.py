"""C2PA content credentials (issue 16): the cost of signing an exported copy.

    .venv/bin/python bench/content_credentials.py [--mb 10] [--rounds 5]

Makes a ``--mb`` MB H.264/AAC web proxy (faststart, as the pipeline's) and a 1600x1200
preview JPEG with ffmpeg, then signs each as the export does (``ContentCredentials.sign``
from one spooled temporary file into another, the unit's ES256 certificate made beforehand),
p50 over ``--rounds``: seconds, seconds per MB, and against the baseline the export pays
anyway (reading the copy once and hashing it with SHA-256). Prints the bytes the manifest
adds. Exits 0 unless something broke.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from server.services.content_credentials import ContentCredentials, Original
from server.services.signing import Signer


def make_proxy(path: Path, mb: float) -> None:
    seconds = 20
    kbps = int(mb * 8 * 1024 / seconds)
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-b:v", f"{kbps}k",
            "-maxrate", f"{kbps}k", "-bufsize", f"{kbps}k",
            "-c:a", "aac", "-movflags", "+faststart", str(path),
        ],
        check=True,
    )  # fmt: skip


def make_preview(path: Path) -> None:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1600x1200",
         "-frames:v", "1", "-q:v", "3", str(path)],
        check=True,
    )  # fmt: skip


def measure(creds: ContentCredentials, src: Path, content_type: str, rounds: int) -> None:
    size = src.stat().st_size
    mb = size / 1e6
    original = Original(sha256="ab" * 32, content_type="video/webm", id="bench")
    sign_s, hash_s, added = [], [], 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        with src.open("rb") as fh:
            hashlib.file_digest(fh, "sha256")
        hash_s.append(time.perf_counter() - t0)
        with (
            src.open("rb") as source,
            tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as spooled,
            tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as signed,
        ):
            t0 = time.perf_counter()
            while chunk := source.read(1 << 20):
                spooled.write(chunk)
            spooled.seek(0)
            creds.sign(
                spooled,
                signed,
                content_type=content_type,
                title=src.name,
                original=original,
                actions=["c2pa.transcoded"],
            )
            sign_s.append(time.perf_counter() - t0)
            added = signed.seek(0, 2) - size
    sign, base = statistics.median(sign_s), statistics.median(hash_s)
    print(
        f"{src.name}: {mb:.2f} MB  sign p50 {sign * 1000:.0f} ms = {sign / mb:.4f} s/MB  "
        f"(read+SHA-256 {base * 1000:.1f} ms; {sign / base:.1f}x)  manifest adds {added} bytes"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    creds = ContentCredentials(Signer(work / "audit-key.pem"))
    assert creds.chain_pem  # derived once per process, not per export
    proxy, preview = work / "proxy.mp4", work / "preview.jpg"
    make_proxy(proxy, args.mb)
    make_preview(preview)
    measure(creds, proxy, "video/mp4", args.rounds)
    measure(creds, preview, "image/jpeg", args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
