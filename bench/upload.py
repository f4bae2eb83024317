"""Upload throughput through the whole stack versus straight to S3, and the web worker's memory.

    python bench/upload.py [--size-mib 1024] [--chunk-mib 64] [--direct-concurrency 10]
                           [--rounds 1] [--workdir DIR]

Starts its own SeaweedFS (``weed mini``), gunicorn (gthread, one worker, so its RSS is one
process) and nginx with the repo's nginx.conf, exactly as tests/test_nginx.py does
(tests/stack.py). Then, with one random file:

* stack:  tuspy -> nginx (TLS) -> gunicorn -> Flask tus endpoint -> S3 multipart;
* direct: boto3 ``upload_file`` to the same SeaweedFS and the same (Object Lock) bucket.

Prints both throughputs (medians over ``--rounds`` alternating runs), the CPU seconds each
process spent, their ratio and the gunicorn worker's RSS (sampled every 100 ms from /proc, the
baseline taken after a 16 MiB warm-up upload) against the targets: ratio >= 0.8 and RSS growth
< 100 MB. Exits 0 unless something broke; a missed target is reported, not raised.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import boto3  # noqa: E402
from boto3.s3.transfer import TransferConfig  # noqa: E402
from botocore.config import Config as BotoConfig  # noqa: E402

from server.storage.embedded import EmbeddedSeaweed  # noqa: E402
from tests.stack import (  # noqa: E402
    MiB,
    S3Endpoint,
    Stack,
    open_case,
    tus_upload,
    upload_metadata,
    write_random_file,
)

TARGET_RATIO = 0.8
TARGET_RSS_GROWTH = 100 * 1000 * 1000  # bytes
S3_KEY, S3_SECRET = "fieldtrace-bench", "fieldtrace-bench-secret"


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def vm_rss(pid: int) -> int:
    """Resident set size of ``pid`` in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time used so far by ``pids``."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


class RssSampler(threading.Thread):
    """Samples one process's RSS every ``interval`` seconds until stopped; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.baseline = vm_rss(pid)
        self.peak = self.baseline
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.peak = max(self.peak, vm_rss(self.pid))
            self.samples += 1

    def stop(self) -> None:
        self._done.set()
        self.join()
        self.peak = max(self.peak, vm_rss(self.pid))


@dataclass
class Timed:
    seconds: float
    size: int
    cpu: dict[str, float]

    @property
    def mib_s(self) -> float:
        return self.size / MiB / self.seconds


class Meter:
    """Wall time and per-process CPU time of one transfer."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups

    def __call__(self, transfer: Callable[[], None], size: int) -> Timed:
        before = {name: cpu_seconds(pids) for name, pids in self.groups.items()}
        started = time.perf_counter()
        transfer()
        seconds = time.perf_counter() - started
        cpu = {name: cpu_seconds(pids) - before[name] for name, pids in self.groups.items()}
        return Timed(seconds, size, cpu)


def stack_upload(stack: Stack, token: str, case_id: int, path: Path, sha: str, chunk: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    size = path.stat().st_size
    with path.open("rb") as stream:
        result = tus_upload(stack.url, headers, stream, upload_metadata(case_id, sha), chunk)
    if result.offset != size or not result.media_item_id:
        raise RuntimeError(f"upload ended at offset {result.offset} of {size}: {result}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def cpu_text(timed: Timed) -> str:
    return ", ".join(f"{name} {seconds:.1f}" for name, seconds in timed.cpu.items())


def run(args: argparse.Namespace, workdir: Path) -> None:
    weed = EmbeddedSeaweed(workdir / "seaweed", S3_KEY, S3_SECRET)
    weed.start()
    try:
        s3 = S3Endpoint(weed.endpoint_url, S3_KEY, S3_SECRET)
        with Stack(workdir / "stack", s3, workers=1, threads=4) as stack:
            assert weed.process is not None and stack.nginx is not None
            measure(args, workdir, stack, s3, weed.process.pid)
    finally:
        weed.stop()


def measure(
    args: argparse.Namespace, workdir: Path, stack: Stack, s3: S3Endpoint, weed_pid: int
) -> None:
    size = args.size_mib * MiB
    chunk = args.chunk_mib * MiB
    os.environ["REQUESTS_CA_BUNDLE"] = str(stack.ca_file)  # tuspy's requests
    stack.create_user("bench")
    with stack.session() as http:
        token = stack.login(http, "bench")
        case_id = open_case(http, stack.url, "上传性能测试")

    client = boto3.client(
        "s3",
        endpoint_url=s3.url,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
        region_name="us-east-1",
        config=BotoConfig(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",  # as the app's client (SeaweedFS)
            response_checksum_validation="when_required",
        ),
    )
    transfer = TransferConfig(
        multipart_threshold=8 * MiB,
        multipart_chunksize=8 * MiB,
        max_concurrency=args.direct_concurrency,
        use_threads=True,
    )
    bucket = stack.buckets["S3_BUCKET_ORIGINALS"]

    print(f"writing {args.size_mib} MiB of random bytes ...", flush=True)
    source = workdir / "source.bin"
    sha = write_random_file(source, size)
    warm = workdir / "warm.bin"
    warm_sha = write_random_file(warm, 16 * MiB)

    # Warm-up on both paths: imports, connections, SeaweedFS volume growth.
    stack_upload(stack, token, case_id, warm, warm_sha, chunk)
    client.upload_file(str(warm), bucket, "bench/warm", Config=transfer)

    assert stack.nginx is not None
    (worker,) = stack.worker_pids()
    meter = Meter(
        {
            "gunicorn worker": [worker],
            "nginx": process_tree(stack.nginx.pid),
            "SeaweedFS": process_tree(weed_pid),
            "client": [os.getpid()],
        }
    )
    sampler = RssSampler(worker)
    sampler.start()
    via_stack: list[Timed] = []
    direct: list[Timed] = []
    try:
        for n in range(args.rounds):
            # Alternate the order, so neither path always meets a fuller SeaweedFS.
            for path in ("stack", "direct") if n % 2 == 0 else ("direct", "stack"):
                if path == "stack":
                    timed = meter(
                        lambda: stack_upload(stack, token, case_id, source, sha, chunk), size
                    )
                    via_stack.append(timed)
                else:
                    key = f"bench/direct-{n}"
                    timed = meter(
                        lambda k=key: client.upload_file(str(source), bucket, k, Config=transfer),
                        size,
                    )
                    direct.append(timed)
                print(
                    f"round {n + 1} {path:6} {timed.seconds:6.2f} s {timed.mib_s:6.1f} MiB/s"
                    f"   CPU s: {cpu_text(timed)}",
                    flush=True,
                )
    finally:
        sampler.stop()

    stack_rate = statistics.median(t.mib_s for t in via_stack)
    direct_rate = statistics.median(t.mib_s for t in direct)
    ratio = stack_rate / direct_rate
    growth = sampler.peak - sampler.baseline
    ok_ratio, ok_rss = ratio >= TARGET_RATIO, growth < TARGET_RSS_GROWTH
    mb = 1000 * 1000
    median = "median of " + str(args.rounds) if args.rounds > 1 else "one run"
    print(
        f"""
file      {args.size_mib} MiB random; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}
stack     tuspy (chunk {args.chunk_mib} MiB) -> nginx (TLS, HTTP/1.1) -> gunicorn gthread
          1 worker x 4 threads -> Flask tus -> S3 multipart, 8 MiB parts (server default)
direct    boto3 upload_file, TransferConfig(multipart_threshold=8 MiB,
          multipart_chunksize=8 MiB, max_concurrency={args.direct_concurrency}, use_threads=True)

stack     {stack_rate:7.1f} MiB/s ({median})
direct    {direct_rate:7.1f} MiB/s ({median})
ratio     {ratio:7.2f} stack/direct        target >= {TARGET_RATIO}   {verdict(ok_ratio)}
worker    RSS baseline {sampler.baseline / mb:.1f} MB, peak {sampler.peak / mb:.1f} MB, \
growth {growth / mb:.1f} MB ({sampler.samples} samples)
          target growth < {TARGET_RSS_GROWTH // mb} MB   {verdict(ok_rss)}""",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="file size (default 1024)")
    parser.add_argument("--chunk-mib", type=int, default=64, help="tus PATCH size (default 64)")
    parser.add_argument(
        "--direct-concurrency", type=int, default=10, help="boto3 max_concurrency (default 10)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="alternating runs of each path")
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: a temp dir)")
    args = parser.parse_args()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        run(args, args.workdir.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="fieldtrace-bench-") as tmp:
            run(args, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
