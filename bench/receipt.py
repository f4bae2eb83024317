"""Receipts (存证回执, issue 16): size against the QR target, and the offline check's time.

    .venv/bin/python bench/receipt.py [--leaves 1000000] [--rounds 50]

A receipt of a large recording with long values (a 1 GB video, a case number of Chinese
characters, seq 10^6) signed with a fresh Ed25519 key, in the log's tree of ``--leaves``
entries (``transparency.MemoryTree``): the signed part (receipt + signature, what a QR code
must hold) against 1 KB, and the whole file served (with the tree head and the inclusion
proof). Then ``verify.py``'s standard-library check of the whole file (two Ed25519
signatures, one audit path), p50/p99 over ``--rounds``, against the signature check alone
(the baseline: what any check of a signed receipt costs). Exits 0 unless something broke
(a missed target is printed, not an error).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from server.archive import verify as offline
from server.services import transparency
from server.services.signing import Signer

QR_BYTES = 1024


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    signer = Signer(Path(tempfile.mkdtemp()) / "key.pem")
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(args.leaves)]
    # an entry in the tree's left, complete half: the longest audit path (20 hashes at 10^6)
    seq = max(1, 1 << (args.leaves.bit_length() - 2))
    body = {
        "format": offline.RECEIPT_FORMAT,
        "item_id": "84d9883226ce4a56a7644eafe2a0a1fe",
        "kind": "video",
        "device_sha256": "d1" * 32,
        "server_sha256": "d1" * 32,
        "size": 1_073_741_824,
        "captured_at": "2026-12-08T11:26:47.753+08:00",
        "received_at": "2026-12-08T03:26:48.780+00:00",
        "verified_at": "2026-12-08T03:26:49.469+00:00",
        "case_id": 123456,
        "case_number": "沪市监罚〔2026〕12345号",
        "stage": "investigation",
        "log_seq": seq,
        "log_entry_hash": leaves[seq - 1].hex(),
    }
    body["field_check"] = offline.receipt_field_check(body)
    core = {
        "receipt": body,
        "signature": {
            "algorithm": "Ed25519",
            "public_key": signer.public_key_hex,
            "value": signer.sign(offline.receipt_message(body)),
        },
    }
    t0 = time.perf_counter()
    tree = transparency.MemoryTree(leaves)
    root = transparency.root_hash(tree, args.leaves).hex()
    path = transparency.inclusion_proof(tree, seq - 1, args.leaves)
    print(f"tree of {args.leaves} entries built in {time.perf_counter() - t0:.1f} s")
    stamp = datetime.now(UTC).isoformat(timespec="microseconds")
    head = {
        "format": transparency.HEAD_FORMAT,
        "tree_size": args.leaves,
        "root_hash": root,
        "timestamp": stamp,
        "key_id": transparency.key_id(signer.public_key_hex),
        "public_key": signer.public_key_hex,
        "algorithm": "Ed25519",
        "signature": signer.sign(transparency.head_message(args.leaves, root, stamp)),
    }
    document = {
        **core,
        "tree_head": head,
        "inclusion": {
            "seq": seq,
            "leaf_index": seq - 1,
            "leaf_hash": offline.tree_leaf_hash(body["log_entry_hash"]),
            "tree_size": args.leaves,
            "audit_path": [h.hex() for h in path],
        },
    }
    signed = len(offline.canonical_json(core))
    whole = len(offline.canonical_json(document))
    verdict = "meets" if signed < QR_BYTES else "MISSES"
    print(f"signed part (receipt + signature): {signed} bytes, {verdict} < {QR_BYTES} (QR)")
    print(f"whole file with tree head and {len(path)}-hash inclusion proof: {whole} bytes")

    key = [signer.public_key_hex]
    report = offline.verify_receipt(document, key)
    if report.problems or not report.authentic:
        print(f"the receipt does not verify: {report.problems}", file=sys.stderr)
        return 1
    message = offline.receipt_message(body)
    sig = bytes.fromhex(core["signature"]["value"])
    pub = bytes.fromhex(signer.public_key_hex)

    def timed(check) -> list[float]:
        out = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            check()
            out.append((time.perf_counter() - t) * 1000)
        return sorted(out)

    base = timed(lambda: offline.ed25519_verify(pub, message, sig))
    full = timed(lambda: offline.verify_receipt(document, key))

    def p(xs: list[float], q: float) -> float:
        return xs[min(len(xs) - 1, int(q * len(xs)))]

    print(
        f"baseline, one Ed25519 check (stdlib verify.py): p50 {statistics.median(base):.1f} ms, "
        f"p99 {p(base, 0.99):.1f} ms"
    )
    print(
        f"whole receipt check (2 signatures + inclusion): p50 {statistics.median(full):.1f} ms, "
        f"p99 {p(full, 0.99):.1f} ms, {statistics.median(full) / statistics.median(base):.2f}x "
        "the baseline"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
