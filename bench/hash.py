"""On-device SHA-256 speed in Chromium: the PWA's own ``sha256Blob`` (pwa/src/hash.ts).

    .venv/bin/python bench/hash.py [--mib 256] [--rounds 3]

The module is bundled with the PWA's esbuild and run in Debian's headless Chromium on a
generated Blob of ``--mib`` MiB (a recording as the phone stores it). Baseline, same run, same
bytes: WebCrypto's one-shot ``crypto.subtle.digest`` over the whole buffer in memory — what
the app cannot use for large videos (no streaming) but the fastest digest the browser has.
Prints MB/s of both, the ratio, checks both give the same hash, and the issue's target:
streaming SHA-256 at least 100 MB/s. Exits 0 unless something broke.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB_S = 100.0

PAGE = """<!doctype html><meta charset="utf-8"><script src="hash.js"></script>
<script>
async function makeBlob(mib) {
  const chunk = new Uint8Array(1024 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 2654435761) >>> 24;
  const parts = [];
  for (let i = 0; i < mib; i++) { const c = chunk.slice(); c[0] = i & 255; parts.push(c); }
  return new Blob(parts, { type: "video/webm" });
}
async function streaming(blob) {
  const t0 = performance.now();
  const hex = await FT.sha256Blob(blob);
  return { ms: performance.now() - t0, hex };
}
async function oneShot(blob) {
  const buffer = await blob.arrayBuffer();
  const t0 = performance.now();
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  const ms = performance.now() - t0;
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { ms, hex };
}
</script>"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def bundle(out: Path) -> None:
    esbuild = ROOT / "pwa" / "node_modules" / ".bin" / "esbuild"
    subprocess.run(
        [
            str(esbuild),
            str(ROOT / "pwa" / "src" / "hash.ts"),
            "--bundle",
            "--format=iife",
            "--global-name=FT",
            "--log-level=warning",
            f"--outfile={out / 'hash.js'}",
        ],
        check=True,
    )
    (out / "index.html").write_text(PAGE, "utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp)
        bundle(site)
        handler = partial(_QuietHandler, directory=str(site))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium")
            page = browser.new_page()
            page.goto(url)
            page.evaluate(f"async () => {{ window.blob = await makeBlob({args.mib}); }}")
            stream, once = [], []
            for _ in range(args.rounds):
                s = page.evaluate("() => streaming(window.blob)")
                o = page.evaluate("() => oneShot(window.blob)")
                if s["hex"] != o["hex"]:
                    print(f"hash mismatch: streaming {s['hex']} vs WebCrypto {o['hex']}")
                    return 1
                stream.append(s["ms"])
                once.append(o["ms"])
            browser.close()
        server.shutdown()
    mb = args.mib * 1024 * 1024 / 1e6
    s_rate = mb / (statistics.median(stream) / 1000)
    o_rate = mb / (statistics.median(once) / 1000)
    print(f"{args.mib} MiB Blob, median of {args.rounds} rounds (Chromium {sys.platform})")
    print(f"  streaming sha256Blob (hash-wasm, 4 MiB slices): {s_rate:8.1f} MB/s")
    print(f"  baseline WebCrypto one-shot digest (in memory):  {o_rate:8.1f} MB/s")
    print(f"  ratio streaming / one-shot: {s_rate / o_rate:.2f}")
    verdict = "PASS" if s_rate >= TARGET_MB_S else "FAIL"
    print(f"  target ≥ {TARGET_MB_S:.0f} MB/s streaming: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
