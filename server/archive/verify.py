#!/usr/bin/env python3
"""Offline verifier of a Fieldtrace case archive (案卷校验). Standard library only.

Usage::

    python3 verify.py case.zip [--public-key HEX] [--json]

Exit status: 0 the archive is intact, 1 something failed (each problem is printed, naming the
file or the custody entry), 2 usage error. This file is copied verbatim into every archive as
``verify.py`` so an auditor can check it without Fieldtrace.

Archive format ``fieldtrace-case-archive/1``
=============================================

Zip members: ``manifest.json``, ``signature.json``, ``verify.py``, ``README.txt`` and the
listed files (e.g. ``cover.pdf``, ``catalogue.pdf``, ``documents/...pdf``,
``derivatives/...``, ``originals/...``, ``custody.json``).

``manifest.json`` (UTF-8 JSON)::

    {"format": "fieldtrace-case-archive/1", "generated_at": ISO, "case": {...},
     "files": [{"path", "sha256", "size", "kind"}, ...],
     "items": [...], "documents": [...],
     "custody": {"path": "custody.json", "count": n, "first_seq", "last_seq"},
     "audit_head": {"seq", "entry_hash", "signed_at", "public_key", "signature"} | null}

``files`` lists every member except ``manifest.json`` and ``signature.json`` (``verify.py``
and ``README.txt`` are listed). A member that is not listed is a problem; bare directory
entries (a name ending in ``/`` with no content) are ignored.

``signature.json``::

    {"algorithm": "Ed25519", "public_key": hex32, "manifest_sha256": hex, "signature": hex64}

The signature is over ``b"fieldtrace-case-archive/1\\n" + manifest_sha256_hex.encode()``.

``custody.json``: ``{"entries": [{"seq", "at", "actor_id", "actor", "action", "object_type",
"object_id", "client_addr", "details", "prev_hash", "entry_hash"}, ...]}`` ordered by seq.
``entry_hash`` is the SHA-256 (hex) of ``json.dumps(body, sort_keys=True,
ensure_ascii=False, separators=(",", ":"))`` where ``body`` is the entry without
``entry_hash`` (``at`` is the ISO time string as stored). The entries are a subset of the
server's global audit chain: seq must increase strictly, and where an entry's seq is the
previous one's plus 1 its ``prev_hash`` must equal the previous ``entry_hash`` (seq 1 links
to 64 zeros).

``audit_head`` (optional) is the server's last signed head of the global chain; its Ed25519
signature is over ``f"fieldtrace-audit-head\\n{seq}\\n{entry_hash}\\n{signed_at}"`` with
``signed_at`` in ISO form with microseconds. Custody entries after the head (last_seq > head
seq) are reported as a note, not a failure.

Checks: the manifest's SHA-256 matches ``signature.json``; the signature is valid (and made
by ``--public-key`` when given); every listed file is present with its size and SHA-256;
no member is unlisted; every custody entry recomputes and links; the custody count, first
and last seq match the manifest; the audit head's signature is valid.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # a runtime alias would need Python 3.9; auditors may have older ones
    _Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T): x = X/Z, y = Y/Z

FORMAT = "fieldtrace-case-archive/1"
MANIFEST = "manifest.json"
SIGNATURE = "signature.json"
GENESIS_HASH = "0" * 64
CHUNK_SIZE = 1 << 20
ENTRY_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor",
    "action",
    "object_type",
    "object_id",
    "client_addr",
    "details",
    "prev_hash",
)


# --- Ed25519 verification (RFC 8032 section 6 reference style) ----------------------------
# Correct rather than fast or constant-time: it only verifies public data, a few times.

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _point_add(p: _Point, q: _Point) -> _Point:
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _point_mul(s: int, p: _Point) -> _Point:
    q: _Point = (0, 1, 1, 0)  # the neutral element
    while s > 0:
        if s & 1:
            q = _point_add(q, p)
        p = _point_add(p, p)
        s >>= 1
    return q


def _point_equal(p: _Point, q: _Point) -> bool:
    return (p[0] * q[2] - q[0] * p[2]) % _P == 0 and (p[1] * q[2] - q[1] * p[2]) % _P == 0


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None  # non-canonical encoding
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0  # x = 0 has no negative: non-canonical
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None  # not on the curve
    if (x & 1) != sign:
        x = _P - x
    return x


def _point_decompress(s: bytes) -> _Point | None:
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


_G_Y = 4 * pow(5, _P - 2, _P) % _P
_G_X = _recover_x(_G_Y, 0)
assert _G_X is not None
_G: _Point = (_G_X, _G_Y, 1, _G_X * _G_Y % _P)


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``.

    Cofactorless check [S]B == R + [k]A; rejects S >= L and non-canonical point encodings.
    """
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _point_decompress(public_key)
    r = _point_decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little")
    return _point_equal(_point_mul(s, _G), _point_add(r, _point_mul(k % _L, a)))


# --- the archive ------------------------------------------------------------------------


@dataclass
class Report:
    """The outcome of :func:`verify_archive`; ``ok`` when there is no problem."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    public_key: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "notes": list(self.notes),
            "summary": dict(self.summary),
            "public_key": self.public_key,
        }


def signed_message(manifest_sha256_hex: str) -> bytes:
    """The bytes that ``signature.json``'s signature covers."""
    return (FORMAT + "\n").encode() + manifest_sha256_hex.encode()


def head_message(seq: int, entry_hash: str, signed_at: str) -> bytes:
    """The bytes an audit head's signature covers (as ``server.services.audit.head_message``)."""
    return f"fieldtrace-audit-head\n{seq}\n{entry_hash}\n{signed_at}".encode()


def entry_hash(body: dict[str, Any]) -> str:
    """SHA-256 of a custody entry's canonical JSON (as ``audit.compute_entry_hash``)."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _canonical_times(text: str) -> list[str]:
    """The time string as given, then in ISO form with microseconds if that differs.

    The server hashes ``isoformat(timespec="microseconds")``; a plain ``isoformat()`` drops a
    zero microsecond part, so both spellings of the same instant are accepted.
    """
    forms = [text]
    try:
        canonical = datetime.fromisoformat(text).isoformat(timespec="microseconds")
    except (TypeError, ValueError):
        return forms
    if canonical != text:
        forms.append(canonical)
    return forms


def _unhex(value: Any, length: int) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    return raw if len(raw) == length else None


def _read_json(zf: zipfile.ZipFile, name: str, report: Report) -> tuple[bytes, Any] | None:
    try:
        raw = zf.read(name)
    except KeyError:
        report.problems.append(f"缺少文件 / missing file: {name}")
        return None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError) as exc:
        report.problems.append(f"无法读取 / unreadable member: {name} ({exc})")
        return None
    try:
        return raw, json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        report.problems.append(f"不是有效的 JSON / not valid JSON: {name} ({exc})")
        return None


def _digest_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, str]:
    """Size and SHA-256 of a member, read in chunks (originals may be large)."""
    digest = hashlib.sha256()
    size = 0
    with zf.open(info) as fh:
        while chunk := fh.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _check_signature(
    zf: zipfile.ZipFile, manifest_raw: bytes | None, pinned_key: str | None, report: Report
) -> None:
    loaded = _read_json(zf, SIGNATURE, report)
    if loaded is None:
        return
    sig = loaded[1]
    if not isinstance(sig, dict):
        report.problems.append(f"签名文件格式错误 / malformed {SIGNATURE}: not an object")
        return
    if sig.get("algorithm") != "Ed25519":
        report.problems.append(
            f"不支持的签名算法 / unsupported signature algorithm in {SIGNATURE}: "
            f"{sig.get('algorithm')!r}"
        )
        return
    public_key = _unhex(sig.get("public_key"), 32)
    signature = _unhex(sig.get("signature"), 64)
    recorded_sha = sig.get("manifest_sha256")
    if public_key is None or signature is None or not isinstance(recorded_sha, str):
        report.problems.append(
            f"签名文件格式错误 / malformed {SIGNATURE}: "
            "public_key, signature or manifest_sha256 missing or not hex of the right length"
        )
        return
    report.public_key = public_key.hex()
    if (
        manifest_raw is not None
        and hashlib.sha256(manifest_raw).hexdigest() != recorded_sha.lower()
    ):
        report.problems.append(
            f"清单被改动 / manifest altered: {MANIFEST} (sha256 does not match {SIGNATURE})"
        )
    if not ed25519_verify(public_key, signed_message(recorded_sha), signature):
        report.problems.append(f"签名无效 / invalid signature: {SIGNATURE}")
    if pinned_key is not None and pinned_key.lower() != public_key.hex():
        report.problems.append(
            f"签名公钥不符 / signed by another key: {SIGNATURE} has {public_key.hex()}, "
            f"expected {pinned_key.lower()}"
        )


def _check_files(zf: zipfile.ZipFile, manifest: dict[str, Any], report: Report) -> set[str]:
    """Every listed file present with its size and hash; nothing unlisted. Returns the paths."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        if info.filename in members:
            report.problems.append(f"重复的文件 / duplicate member: {info.filename}")
        members[info.filename] = info
    files = manifest.get("files")
    if not isinstance(files, list):
        report.problems.append(f"清单格式错误 / malformed {MANIFEST}: files is not a list")
        files = []
    listed: set[str] = set()
    total = 0
    for index, entry in enumerate(files):
        path = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(path, str) or not path:
            report.problems.append(
                f"清单格式错误 / malformed {MANIFEST}: files[{index}] has no path"
            )
            continue
        if path in listed:
            report.problems.append(f"清单重复登记 / listed twice in {MANIFEST}: {path}")
            continue
        listed.add(path)
        if path in (MANIFEST, SIGNATURE):
            report.problems.append(f"清单格式错误 / malformed {MANIFEST}: lists {path}")
            continue
        info = members.get(path)
        if info is None:
            report.problems.append(f"缺少文件 / missing file: {path}")
            continue
        try:
            size, sha = _digest_member(zf, info)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError) as exc:
            report.problems.append(f"文件被改动 / file altered: {path} (unreadable: {exc})")
            continue
        total += size
        if size != entry.get("size"):
            report.problems.append(
                f"文件被改动 / file altered: {path} "
                f"(size {size}, manifest says {entry.get('size')})"
            )
        if sha != str(entry.get("sha256", "")).lower():
            report.problems.append(f"文件被改动 / file altered: {path} (sha256 mismatch)")
    for name in members:
        if name in listed or name in (MANIFEST, SIGNATURE):
            continue
        if name.endswith("/") and members[name].file_size == 0:
            continue  # a directory entry carries no content
        report.problems.append(f"未登记的文件 / unlisted file: {name}")
    report.summary["files"] = len(listed)
    report.summary["bytes"] = total
    return listed


def _check_custody(
    zf: zipfile.ZipFile, manifest: dict[str, Any], listed: set[str], report: Report
) -> dict[int, str]:
    """Recompute every custody entry and its links; returns entry hashes by seq."""
    custody = manifest.get("custody")
    if custody is None:
        report.summary["custody_entries"] = 0
        return {}
    if not isinstance(custody, dict) or not isinstance(custody.get("path"), str):
        report.problems.append(f"清单格式错误 / malformed {MANIFEST}: custody has no path")
        return {}
    path = custody["path"]
    if path not in listed:
        report.problems.append(
            f"未登记的文件 / unlisted file: {path} (custody log not in the manifest's files)"
        )
    loaded = _read_json(zf, path, report)
    if loaded is None:
        return {}
    entries = loaded[1].get("entries") if isinstance(loaded[1], dict) else None
    if not isinstance(entries, list):
        report.problems.append(f"监管链格式错误 / malformed custody log {path}: no entries list")
        return {}
    hashes: dict[int, str] = {}
    previous: dict[str, Any] | None = None
    for index, entry in enumerate(entries):
        where = f"{path} seq={entry.get('seq')}" if isinstance(entry, dict) else path
        if not isinstance(entry, dict) or any(
            k not in entry for k in (*ENTRY_FIELDS, "entry_hash")
        ):
            report.problems.append(
                f"监管链记录不完整 / incomplete custody entry: {where} (entries[{index}])"
            )
            previous = None
            continue
        seq = entry["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool):
            report.problems.append(f"监管链记录不完整 / incomplete custody entry: {where}")
            previous = None
            continue
        body = {k: entry[k] for k in ENTRY_FIELDS}
        recomputed: set[str] = set()
        for at in _canonical_times(entry["at"]) if isinstance(entry["at"], str) else [None]:
            recomputed.add(entry_hash({**body, "at": at}))
        if entry["entry_hash"] not in recomputed:
            report.problems.append(
                f"监管链记录被改动 / custody entry altered: {where} (entry_hash mismatch)"
            )
        if previous is not None and seq <= previous["seq"]:
            report.problems.append(
                f"监管链顺序错误 / custody entries out of order: {where} "
                f"after seq={previous['seq']}"
            )
        expected_prev = None
        if seq == 1:
            expected_prev = GENESIS_HASH
        elif previous is not None and seq == previous["seq"] + 1:
            expected_prev = previous["entry_hash"]
        if expected_prev is not None and entry["prev_hash"] != expected_prev:
            report.problems.append(
                f"监管链断裂 / custody chain broken: {where} "
                "(prev_hash does not match the entry before it)"
            )
        hashes[seq] = entry["entry_hash"]
        previous = entry
    seqs = [e["seq"] for e in entries if isinstance(e, dict) and isinstance(e.get("seq"), int)]
    actual = {
        "count": len(entries),
        "first_seq": seqs[0] if seqs else None,
        "last_seq": seqs[-1] if seqs else None,
    }
    for key, value in actual.items():
        if custody.get(key) != value:
            report.problems.append(
                f"监管链与清单不符 / custody log does not match {MANIFEST}: {path} "
                f"{key} is {value}, manifest says {custody.get(key)}"
            )
    report.summary["custody_entries"] = len(entries)
    report.summary["custody_first_seq"] = actual["first_seq"]
    report.summary["custody_last_seq"] = actual["last_seq"]
    return hashes


def _check_audit_head(
    manifest: dict[str, Any], custody_hashes: dict[int, str], report: Report
) -> None:
    head = manifest.get("audit_head")
    if head is None:
        report.notes.append("清单中没有已签名的审计链头 / no signed audit head in the manifest")
        return
    fields = ("seq", "entry_hash", "signed_at", "public_key", "signature")
    if not isinstance(head, dict) or any(k not in head for k in fields):
        report.problems.append(f"清单格式错误 / malformed {MANIFEST}: audit_head incomplete")
        return
    public_key = _unhex(head["public_key"], 32)
    signature = _unhex(head["signature"], 64)
    seq, head_hash, signed_at = head["seq"], head["entry_hash"], head["signed_at"]
    if not isinstance(seq, int) or not isinstance(head_hash, str):
        report.problems.append(f"清单格式错误 / malformed {MANIFEST}: audit_head seq or hash")
        return
    valid = (
        public_key is not None
        and signature is not None
        and isinstance(signed_at, str)
        and any(
            ed25519_verify(public_key, head_message(seq, head_hash, at), signature)
            for at in _canonical_times(signed_at)
        )
    )
    if not valid:
        report.problems.append(
            f"审计链头签名无效 / invalid audit head signature: {MANIFEST} audit_head seq={seq}"
        )
    if seq in custody_hashes and custody_hashes[seq] != head_hash:
        report.problems.append(
            f"监管链与审计链头不符 / custody entry differs from the signed audit head: seq={seq}"
        )
    if report.public_key and public_key is not None and public_key.hex() != report.public_key:
        report.notes.append(
            f"审计链头由另一密钥签名 / audit head signed by another key: {public_key.hex()}"
        )
    last_seq = report.summary.get("custody_last_seq")
    if isinstance(last_seq, int) and isinstance(seq, int) and last_seq > seq:
        report.notes.append(
            f"监管链末尾晚于已签名的审计链头 / custody entries after the signed audit head: "
            f"last seq={last_seq} > head seq={seq}"
        )
    report.summary["audit_head_seq"] = seq


def verify_archive(path_or_fileobj: str | IO[bytes], public_key_hex: str | None = None) -> Report:
    """Check a case archive; every problem found is in ``report.problems``.

    >>> verify_archive("case.zip", "ab12...").ok  # doctest: +SKIP
    True
    """
    report = Report()
    try:
        zf = zipfile.ZipFile(path_or_fileobj)
    except (zipfile.BadZipFile, OSError) as exc:
        report.problems.append(f"不是有效的 zip 文件 / not a readable zip archive: {exc}")
        return report
    with zf:
        loaded = _read_json(zf, MANIFEST, report)
        manifest_raw, manifest = loaded if loaded else (None, None)
        _check_signature(zf, manifest_raw, public_key_hex, report)
        if not isinstance(manifest, dict):
            if loaded is not None:
                report.problems.append(f"清单格式错误 / malformed {MANIFEST}: not an object")
            return report
        if manifest.get("format") != FORMAT:
            report.problems.append(
                f"不支持的格式 / unsupported format in {MANIFEST}: {manifest.get('format')!r}"
            )
            return report
        listed = _check_files(zf, manifest, report)
        custody_hashes = _check_custody(zf, manifest, listed, report)
        _check_audit_head(manifest, custody_hashes, report)
        for key in ("items", "documents"):
            value = manifest.get(key)
            report.summary[key] = len(value) if isinstance(value, list) else 0
        report.summary["case"] = manifest.get("case")
        report.summary["generated_at"] = manifest.get("generated_at")
    report.summary["problems"] = len(report.problems)
    return report


def _print_text(name: str, report: Report) -> None:
    s = report.summary
    if report.ok:
        print(f"案卷完好 / archive intact: {name}")
    else:
        print(f"案卷校验失败 / archive verification FAILED: {name}", file=sys.stderr)
        for problem in report.problems:
            print(f"  - {problem}", file=sys.stderr)
    if "files" in s:
        print(
            f"  文件 / files: {s['files']} ({s.get('bytes', 0)} bytes); "
            f"文书 / documents: {s.get('documents', 0)}; 证据 / items: {s.get('items', 0)}"
        )
    if s.get("custody_entries"):
        print(
            f"  监管链 / custody entries: {s['custody_entries']} "
            f"(seq {s.get('custody_first_seq')}..{s.get('custody_last_seq')})"
        )
    if "audit_head_seq" in s:
        print(f"  已签名审计链头 / signed audit head: seq {s['audit_head_seq']}")
    if report.public_key:
        print(f"  签名公钥 / signing key: {report.public_key}")
    for note in report.notes:
        print(f"  注意 / note: {note}")


def run(path: str, public_key_hex: str | None = None, *, as_json: bool = False) -> int:
    """Verify ``path`` and print the outcome; returns the exit status (0, 1 or 2)."""
    if public_key_hex is not None and _unhex(public_key_hex, 32) is None:
        print("error: --public-key must be 64 hex digits (32 bytes)", file=sys.stderr)
        return 2
    try:
        with open(path, "rb") as fh:
            report = verify_archive(fh, public_key_hex)
    except OSError as exc:
        print(f"error: cannot open {path}: {exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps({"archive": path, **report.as_dict()}, ensure_ascii=False, indent=2))
    else:
        _print_text(path, report)
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verify.py", description="Verify a Fieldtrace case archive (案卷校验) offline."
    )
    parser.add_argument("archive", help="the case archive (.zip)")
    parser.add_argument(
        "--public-key", metavar="HEX", help="the Ed25519 public key the archive must be signed by"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help
        return int(exc.code or 0)
    return run(args.archive, args.public_key, as_json=args.json)


if __name__ == "__main__":
    # A console that cannot show Chinese (e.g. a Latin code page) must not crash the check.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    sys.exit(main())
