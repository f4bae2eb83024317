#!/usr/bin/env python3
"""Offline verifier of a Fieldtrace case archive (案卷校验). Standard library only.

Usage::

    python3 verify.py case.zip --public-key HEX [--public-key HEX ...] [--json]
    python3 verify.py case.zip --trust-embedded-key      # NOT an authentication
    python3 verify.py proof proof.json --public-key HEX  # audit-log Merkle proofs (below)
    python3 verify.py receipt receipt.json --public-key HEX  # an evidence receipt (below)

Exit status: 0 the archive is intact and signed by a ``--public-key`` (or, with
``--trust-embedded-key``, intact against the key it carries, labelled as such); 1 something
failed (each problem is printed, naming the file or the custody entry); 2 usage error;
3 UNAUTHENTICATED: nothing failed, but no ``--public-key`` was given, so the signing key was
not compared with the published one and anyone could have made the archive.

Get ``HEX`` (the issuing unit's current and past keys, with the period each was used) and
this verifier from the unit's public page ``/public/signing-keys`` or another channel you
trust, not from the archive: the copy of ``verify.py`` inside every archive is a convenience,
and whoever could replace an archive could replace it too.

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

``audit_head`` is a signed head of the server's global chain at or after the case's last
custody entry (the exporter signs one when needed); its Ed25519 signature is over
``f"fieldtrace-audit-head\\n{seq}\\n{entry_hash}\\n{signed_at}"`` with ``signed_at`` in ISO
form with microseconds. A missing head, a head older than the last custody entry, or a head
signed by a key other than the manifest's (or not pinned) is a failure.

``items[]`` hold each recording's row as exported (``id``, ``status``, ``device_sha256``,
``server_sha256``, ``object_key``, ``object_version``, ``chosen_stage``, ``activity``,
``captured_at``, ``captured_at_offset_min``, ``captured_end_at``, ``file_captured_at``,
``device_clock_offset_s``, ``received_at``, ``stored_at``, ``verified_at``, ``device_id``,
``latitude``, ``longitude``, ``capture``, ``original_path``, ``derivatives`` ...).
A derivative exported with C2PA content credentials (a manifest signed for the unit embedded
in the copy) keeps ``sha256`` (the stored derivative, as ``media.derived`` recorded it) and
adds ``content_credentials: {"sha256", "size", "actions"}`` (the exported file); a JPEG's
file less its C2PA APP11 segments must be the recorded one. Issued PDFs get a credentialed
copy at ``credentialed/documents/...`` (``documents[].content_credentials``). The C2PA
signatures themselves are for a C2PA reader, with the unit's published CA as trust anchor.

``log.json`` (``manifest.log``) holds a tree head of the audit log's Merkle tree covering the
custody entries, signed by the archive's key (with the TSA's RFC 3161 token over its
signature when trusted time is on), and each entry's inclusion proof; ``--tsa-ca PEM`` checks
that token with the ``openssl`` command.

Checks: the manifest's SHA-256 matches ``signature.json``; the signature is valid (and made
by one of the ``--public-key`` keys when given); every listed file is present with its size
and SHA-256; no member is unlisted; every custody entry recomputes and links; the custody
count, first and last seq match the manifest; the audit head is present, valid, by the same
key and not older than the last custody entry; each item agrees with the custody entries:
its ``upload.completed`` entry (hash, object, case, stage, activity, capture time, offset,
GPS, device, clock offset, how the app took it, as recorded at receipt) and
``media.verified`` entry (server hash),
its original hashes to that hash, its derivatives to their recorded hashes; every media id
named in the custody entries is an item (unless the entries say it was quarantined,
terminated or expired).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
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
    # True only when the signing key was compared with a key the auditor obtained
    # independently (``--public-key``), or the auditor chose ``--trust-embedded-key``.
    key_pinned: bool = False
    trust_embedded_key: bool = False

    @property
    def ok(self) -> bool:
        """No problem found: the archive is intact *as signed by the key it carries*.

        Anyone can re-sign a forged archive with their own key, so ``ok`` alone is not
        authenticity; see :attr:`authentic` and :attr:`outcome`.
        """
        return not self.problems

    @property
    def authentic(self) -> bool:
        """Intact and signed by a pinned (independently obtained) public key."""
        return self.ok and self.key_pinned

    @property
    def outcome(self) -> str:
        """``AUTHENTIC`` (intact, signed by a pinned key), ``INTACT_EMBEDDED_KEY`` (intact,
        the auditor chose to trust the key inside the archive), ``UNAUTHENTICATED`` (intact
        as far as the embedded key goes, key not pinned) or ``FAILED``."""
        if not self.ok:
            return "FAILED"
        if self.key_pinned:
            return "AUTHENTIC"
        if self.trust_embedded_key:
            return "INTACT_EMBEDDED_KEY"
        return "UNAUTHENTICATED"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "authentic": self.authentic,
            "outcome": self.outcome,
            "key_pinned": self.key_pinned,
            "trust_embedded_key": self.trust_embedded_key,
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


def key_fingerprint(public_key_hex: str) -> str:
    """``SHA256:`` and the first 128 bits of the SHA-256 of the raw key, in groups of four:
    compare it with the fingerprint the issuing unit publishes."""
    digest = hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:32]
    return "SHA256:" + " ".join(digest[i : i + 4] for i in range(0, 32, 4))


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
    zf: zipfile.ZipFile, manifest_raw: bytes | None, pinned: list[str], report: Report
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
    if pinned and public_key.hex() not in pinned:
        report.problems.append(
            f"签名公钥不符 / signed by another key: {SIGNATURE} has {public_key.hex()}, "
            f"expected {' or '.join(pinned)}"
        )
    elif pinned:
        report.key_pinned = True


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
) -> tuple[dict[int, str], list[dict[str, Any]]]:
    """Recompute every custody entry and its links; returns entry hashes by seq and the
    well-formed entries."""
    custody = manifest.get("custody")
    if custody is None:
        report.problems.append(f"清单格式错误 / malformed {MANIFEST}: no custody log")
        report.summary["custody_entries"] = 0
        return {}, []
    if not isinstance(custody, dict) or not isinstance(custody.get("path"), str):
        report.problems.append(f"清单格式错误 / malformed {MANIFEST}: custody has no path")
        return {}, []
    path = custody["path"]
    if path not in listed:
        report.problems.append(
            f"未登记的文件 / unlisted file: {path} (custody log not in the manifest's files)"
        )
    loaded = _read_json(zf, path, report)
    if loaded is None:
        return {}, []
    entries = loaded[1].get("entries") if isinstance(loaded[1], dict) else None
    if not isinstance(entries, list):
        report.problems.append(f"监管链格式错误 / malformed custody log {path}: no entries list")
        return {}, []
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
    good = [e for e in entries if isinstance(e, dict) and all(k in e for k in ENTRY_FIELDS)]
    return hashes, good


def _check_audit_head(
    manifest: dict[str, Any], custody_hashes: dict[int, str], pinned: list[str], report: Report
) -> None:
    head = manifest.get("audit_head")
    if head is None:
        report.problems.append(
            f"缺少已签名的审计链头 / no signed audit head in {MANIFEST}: "
            "the custody entries are not covered by a signed head"
        )
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
    # The head must be signed by the key that signed the manifest (and, when the auditor
    # pinned keys, by one of them): a genuine head copied into a forged archive is no proof.
    if public_key is not None:
        if report.public_key and public_key.hex() != report.public_key:
            report.problems.append(
                f"审计链头由另一密钥签名 / audit head signed by another key: {public_key.hex()}, "
                f"{SIGNATURE} has {report.public_key}"
            )
        elif pinned and public_key.hex() not in pinned:
            report.problems.append(
                f"审计链头公钥不符 / audit head signed by a key that is not pinned: "
                f"{public_key.hex()}"
            )
    last_seq = report.summary.get("custody_last_seq")
    if isinstance(last_seq, int) and last_seq > seq:
        report.problems.append(
            f"审计链头早于监管链末尾 / custody entries after the signed audit head: "
            f"last seq={last_seq} > head seq={seq}"
        )
    report.summary["audit_head_seq"] = seq


def check_timestamp_token(token_b64: str, signature_hex: str, tsa_ca: str) -> str | None:
    """Check an RFC 3161 token over a tree head's signature with the ``openssl`` command
    (``openssl ts -verify``: the imprint is SHA-256 of the signature's bytes, the token's
    signer chains to ``tsa_ca``). None when it holds, else why not."""
    try:
        token = base64.b64decode(token_b64, validate=True)
        digest = hashlib.sha256(bytes.fromhex(signature_hex)).hexdigest()
    except (ValueError, TypeError) as exc:
        return f"malformed token or signature: {exc}"
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "token.tsr")
        with open(path, "wb") as fh:
            fh.write(token)
        try:
            done = subprocess.run(
                ["openssl", "ts", "-verify", "-digest", digest, "-in", path, "-CAfile", tsa_ca],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return f"the openssl command could not run: {exc}"
    if "Verification: OK" in done.stdout:
        return None
    reason = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
    return f"openssl ts -verify: {reason}"


def _check_log(
    zf: zipfile.ZipFile,
    manifest: dict[str, Any],
    listed: set[str],
    custody_hashes: dict[int, str],
    pinned: list[str],
    report: Report,
    tsa_ca: str | None = None,
) -> None:
    """Each custody entry is in the audit log's public Merkle tree: ``log.json`` holds a tree
    head signed by the archive's key and one inclusion proof per custody entry."""
    log = manifest.get("log")
    if log is None:  # archives exported before the log's proofs were added (still signed)
        report.notes.append(
            "本案卷不含审计日志包含证明（旧版导出）/ no Merkle inclusion proofs in this archive "
            "(exported before they were added)"
        )
        return
    path = log.get("path") if isinstance(log, dict) else None
    if not isinstance(path, str):
        report.problems.append(f"清单格式错误 / malformed {MANIFEST}: log has no path")
        return
    if path not in listed:
        report.problems.append(f"未登记的文件 / unlisted file: {path} (log proofs)")
    loaded = _read_json(zf, path, report)
    if loaded is None:
        return
    body = loaded[1]
    head = body.get("head") if isinstance(body, dict) else None
    proofs = body.get("proofs") if isinstance(body, dict) else None
    if not isinstance(head, dict) or not isinstance(proofs, list):
        report.problems.append(f"包含证明格式错误 / malformed {path}: needs head and proofs")
        return
    key = str(head.get("public_key", ""))
    signer = report.public_key or (pinned[0] if pinned else key)
    try:
        verify_tree_head(head, signer)
    except ProofError as exc:
        report.problems.append(f"树头签名无效 / invalid tree head in {path}: {exc}")
        return
    if pinned and key.lower() not in pinned:
        report.problems.append(f"树头公钥不符 / tree head in {path} signed by a key not pinned")
    size, root = head["tree_size"], str(head["root_hash"])
    if isinstance(log, dict) and log.get("tree_size") != size:
        report.problems.append(
            f"包含证明与清单不符 / {path} has a tree of size {size}, "
            f"{MANIFEST} says {log.get('tree_size')}"
        )
    by_seq: dict[int, dict[str, Any]] = {}
    for proof in proofs:
        seq = proof.get("seq") if isinstance(proof, dict) else None
        if not isinstance(seq, int) or isinstance(seq, bool) or seq in by_seq:
            report.problems.append(f"包含证明格式错误 / malformed or repeated proof in {path}")
            continue
        by_seq[seq] = proof
    for seq in sorted(set(by_seq) - set(custody_hashes)):
        report.problems.append(
            f"多余的包含证明 / {path} proves entry seq={seq}, which custody does not hold"
        )
    checked = 0
    for seq, entry_hash_hex in sorted(custody_hashes.items()):
        proof = by_seq.get(seq)
        if proof is None:
            report.problems.append(
                f"缺少包含证明 / no inclusion proof in {path} for custody entry seq={seq}"
            )
            continue
        try:
            if proof.get("leaf_index") != seq - 1:
                raise ProofError(f"leaf_index {proof.get('leaf_index')} is not seq - 1")
            verify_inclusion(
                seq - 1, size, tree_leaf_hash(entry_hash_hex), proof.get("audit_path"), root
            )
            checked += 1
        except ProofError as exc:
            report.problems.append(
                f"包含证明无效 / custody entry seq={seq} is not proven in the signed tree "
                f"({path}): {exc}"
            )
    if head.get("timestamp_token") and tsa_ca:
        failed = check_timestamp_token(str(head["timestamp_token"]), str(head["signature"]), tsa_ca)
        if failed:
            report.problems.append(f"可信时间戳无效 / the tree head's RFC 3161 token: {failed}")
        else:
            report.summary["trusted_time"] = head.get("timestamp_time")
    elif head.get("timestamp_token"):
        report.notes.append(
            "树头带有 RFC 3161 可信时间戳；用 --tsa-ca 指定时间戳机构的根证书即可核对 / the tree "
            "head carries an RFC 3161 time-stamp token: give --tsa-ca (the authority's root "
            "certificate) to check it"
        )
    elif tsa_ca:
        report.problems.append(
            "缺少可信时间戳 / --tsa-ca given, but the tree head carries no RFC 3161 token"
        )
    report.summary["tree_size"] = size
    report.summary["inclusion_proofs_checked"] = checked


# Custody actions that explain why a media id named in custody has no item in the archive.
_GONE_ACTIONS = {"media.hash_mismatch", "upload.terminated", "upload.expired"}
# upload.completed detail -> manifest item field, compared when both are present.
_RECORDED_AT_UPLOAD = {
    "device_sha256": "device_sha256",
    "key": "object_key",
    "version_id": "object_version",
    "stage": "chosen_stage",
    "activity": "activity",
    "captured_at_offset_min": "captured_at_offset_min",
    "device_clock_offset_s": "device_clock_offset_s",
    "latitude": "latitude",
    "longitude": "longitude",
    "device_id": "device_id",
    "capture": "capture",
}
_TIMES_AT_UPLOAD = ("captured_at", "captured_end_at", "sent_at")


def _restored_version(version: Any, entries: list[dict[str, Any]]) -> Any:
    """The version recorded at upload, followed through the ``storage.restored`` entries a
    restore into other S3 storage wrote (each names the old and the new version id)."""
    restored = [e for e in entries if e.get("action") == "storage.restored"]
    for entry in sorted(
        restored, key=lambda e: e.get("seq") if isinstance(e.get("seq"), int) else 0
    ):
        details = entry.get("details") if isinstance(entry.get("details"), dict) else {}
        if details.get("from_version") == version:
            version = details.get("version_id")
    return version


def _same_instant(a: Any, b: Any) -> bool:
    if a == b:
        return True
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    try:
        return datetime.fromisoformat(a) == datetime.fromisoformat(b)
    except (TypeError, ValueError):
        return False


def _without_c2pa_jpeg(data: bytes) -> bytes | None:
    """A JPEG with its C2PA manifest (APP11 JUMBF segments) taken out, or None when it is not
    a JPEG this can walk. C2PA only inserts these segments, so what remains is the file the
    manifest was signed into."""
    if data[:2] != b"\xff\xd8":
        return None
    out, i = bytearray(data[:2]), 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xDA:  # start of scan: the rest is image data
            return bytes(out + data[i:])
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        segment = data[i : i + 2 + length]
        if not (marker == 0xEB and segment[4:6] == b"JP"):  # APP11 "JP": JUMBF
            out += segment
        i += 2 + length
    return None


def _check_credentialed_copy(
    zf: zipfile.ZipFile, derivative: dict[str, Any], where: str, report: Report
) -> None:
    """A derivative exported with C2PA content credentials: for a JPEG, the file less its
    manifest must be the derivative media.derived recorded. (The manifest's own signature and
    the binding of other formats are for a C2PA reader: see README.)"""
    path = str(derivative.get("path"))
    report.summary["content_credentials"] = report.summary.get("content_credentials", 0) + 1
    if not path.lower().endswith((".jpg", ".jpeg")):
        return
    try:
        stripped = _without_c2pa_jpeg(zf.read(path))
    except (KeyError, zipfile.BadZipFile, zlib.error):
        return  # reported as a missing or damaged member
    if stripped is None or hashlib.sha256(stripped).hexdigest() != derivative.get("sha256"):
        report.problems.append(
            f"派生文件去掉内容凭证后与记录不符 / {where}: {path} without its C2PA manifest is "
            "not the derivative recorded (SHA-256 " + str(derivative.get("sha256")) + ")"
        )


def _check_items(
    zf: zipfile.ZipFile, manifest: dict[str, Any], custody: list[dict[str, Any]], report: Report
) -> None:
    """Each item agrees with what the custody entries recorded when it was received/verified.

    The manifest's item rows come from mutable database rows; the custody entries are hashed
    into the chain when they happen. A change made in the database before export shows here.
    """
    items = manifest.get("items")
    if not isinstance(items, list):
        return
    files = {f.get("path"): f for f in manifest.get("files") or [] if isinstance(f, dict)}
    case = manifest.get("case") if isinstance(manifest.get("case"), dict) else {}
    by_media: dict[str, list[dict[str, Any]]] = {}
    for entry in custody:
        if isinstance(entry, dict) and entry.get("object_type") == "media":
            by_media.setdefault(str(entry.get("object_id")), []).append(entry)
    ids = set()
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            report.problems.append(f"清单格式错误 / malformed {MANIFEST}: an item has no id")
            continue
        item_id = item["id"]
        ids.add(item_id)
        entries = by_media.get(item_id, [])
        where = f"item {item_id}"
        completed = [e for e in entries if e.get("action") == "upload.completed"]
        if not completed:
            report.problems.append(
                f"证据条目无接收记录 / no upload.completed custody entry for {where}"
            )
        for entry in completed[:1]:
            details = entry.get("details") if isinstance(entry.get("details"), dict) else {}
            for key, column in _RECORDED_AT_UPLOAD.items():
                recorded = details.get(key)
                if key == "version_id":  # or the version a restore moved it to (audited)
                    recorded = _restored_version(recorded, entries)
                if key in details and column in item and recorded != item[column]:
                    report.problems.append(
                        f"证据条目与接收记录不符 / {where} differs from its upload.completed "
                        f"entry seq={entry.get('seq')}: {column} is {item[column]!r}, "
                        f"recorded {recorded!r}"
                    )
            for key in _TIMES_AT_UPLOAD:
                if key in details and key in item and not _same_instant(details[key], item[key]):
                    report.problems.append(
                        f"证据条目与接收记录不符 / {where} differs from its upload.completed "
                        f"entry seq={entry.get('seq')}: {key} is {item[key]!r}, "
                        f"recorded {details[key]!r}"
                    )
            if "case_id" in details and details["case_id"] != case.get("id"):
                report.problems.append(
                    f"证据条目属于另一案件 / {where} was received for case "
                    f"{details['case_id']!r}, the archive is of case {case.get('id')!r}"
                )
        verified = [e for e in entries if e.get("action") == "media.verified"]
        server_sha = item.get("server_sha256")
        if item.get("status") == "verified" and not verified:
            report.problems.append(
                f"证据条目无核验记录 / no media.verified custody entry for {where}"
            )
        for entry in verified:
            details = entry.get("details") if isinstance(entry.get("details"), dict) else {}
            if details.get("sha256") != server_sha:
                report.problems.append(
                    f"证据条目哈希与核验记录不符 / {where}: server_sha256 {server_sha!r} "
                    f"differs from media.verified seq={entry.get('seq')} {details.get('sha256')!r}"
                )
        original = item.get("original_path")
        if original is not None:
            listed = files.get(original)
            sha = listed.get("sha256") if listed else None
            if sha is None:
                report.problems.append(f"缺少原始文件 / {where}: original {original} not listed")
            elif sha != server_sha or sha != item.get("device_sha256"):
                report.problems.append(
                    f"原始文件与哈希记录不符 / {where}: original {original} has sha256 {sha}, "
                    "not the item's recorded device/server SHA-256"
                )
        derived: dict[str, Any] = {}  # name → SHA-256 as media.derived recorded it
        for entry in entries:
            details = entry.get("details") if isinstance(entry.get("details"), dict) else {}
            if entry.get("action") == "media.derived" and isinstance(details.get("sha256"), dict):
                derived.update(details["sha256"])
        for derivative in item.get("derivatives") or []:
            if not isinstance(derivative, dict):
                continue
            path = derivative.get("path")
            listed = files.get(path)
            credentials = derivative.get("content_credentials")
            exported = (
                credentials.get("sha256")
                if isinstance(credentials, dict)
                else derivative.get("sha256")
            )
            if listed is not None and listed.get("sha256") != exported:
                report.problems.append(
                    f"派生文件与记录不符 / {where}: {path} differs from the "
                    "derivative's recorded SHA-256"
                )
            elif listed is not None and isinstance(credentials, dict):
                _check_credentialed_copy(zf, derivative, where, report)
            recorded = derived.get(derivative.get("name"), derivative.get("sha256"))
            if recorded != derivative.get("sha256"):
                report.problems.append(
                    f"派生文件与处理记录不符 / {where}: {derivative.get('path')} is not the file "
                    f"media.derived recorded (SHA-256 {recorded})"
                )
    for media_id, entries in sorted(by_media.items()):
        if media_id in ids or any(e.get("action") in _GONE_ACTIONS for e in entries):
            continue
        report.problems.append(
            f"证据条目缺失 / media {media_id} is named in the custody entries "
            f"(seq={entries[0].get('seq')}) but is not among the archive's items"
        )


def _pinned_keys(public_key_hex: str | Sequence[str] | None) -> list[str]:
    if public_key_hex is None:
        return []
    keys = [public_key_hex] if isinstance(public_key_hex, str) else list(public_key_hex)
    return [k.strip().lower() for k in keys if k and k.strip()]


def verify_archive(
    path_or_fileobj: str | IO[bytes],
    public_key_hex: str | Sequence[str] | None = None,
    *,
    trust_embedded_key: bool = False,
    tsa_ca: str | None = None,
) -> Report:
    """Check a case archive; every problem found is in ``report.problems``.

    ``public_key_hex`` is the server's published signing key (or several: current and past),
    obtained independently of the archive. Without it the archive can only be shown to be
    consistent with the key it carries, which anyone can make: ``report.outcome`` is then
    ``UNAUTHENTICATED`` (``report.ok`` still says whether any problem was found), unless
    ``trust_embedded_key`` says the auditor accepts the embedded key.

    >>> verify_archive("case.zip", "ab12...").authentic  # doctest: +SKIP
    True
    """
    pinned = _pinned_keys(public_key_hex)
    report = Report(trust_embedded_key=trust_embedded_key)
    try:
        zf = zipfile.ZipFile(path_or_fileobj)
    except (zipfile.BadZipFile, OSError) as exc:
        report.problems.append(f"不是有效的 zip 文件 / not a readable zip archive: {exc}")
        return report
    with zf:
        loaded = _read_json(zf, MANIFEST, report)
        manifest_raw, manifest = loaded if loaded else (None, None)
        _check_signature(zf, manifest_raw, pinned, report)
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
        custody_hashes, custody = _check_custody(zf, manifest, listed, report)
        _check_audit_head(manifest, custody_hashes, pinned, report)
        _check_log(zf, manifest, listed, custody_hashes, pinned, report, tsa_ca)
        _check_items(zf, manifest, custody, report)
        for key in ("items", "documents"):
            value = manifest.get(key)
            report.summary[key] = len(value) if isinstance(value, list) else 0
        report.summary["case"] = manifest.get("case")
        report.summary["generated_at"] = manifest.get("generated_at")
    if trust_embedded_key and not pinned and not report.problems:
        report.key_pinned = False
        report.notes.append(
            "按包内公钥校验，未与公布的公钥核对 / checked against the key embedded in the "
            "archive (--trust-embedded-key), NOT against the published key"
        )
    report.summary["problems"] = len(report.problems)
    return report


EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNAUTHENTICATED = 0, 1, 2, 3
UNAUTHENTICATED_TEXT = (
    "未核对签名公钥 / signing key not pinned: UNAUTHENTICATED — the archive is consistent with "
    "the key it carries, which anyone can make. Run again with --public-key HEX, the key "
    "published by the issuing unit (obtained independently of this archive)."
)


# --- the audit log's Merkle tree (RFC 6962; verifiers as RFC 9162 2.1.3.2 and 2.1.4.2) --------
# A proof file (``verify.py proof FILE --public-key HEX``) is JSON::
#
#     {"head": <GET /public/log/head>,
#      "inclusion": [<GET /public/log/proof/SEQ?tree_size=N>, ...],        (optional)
#      "old_head": <a head kept earlier>,                                   (optional)
#      "consistency": <GET /public/log/consistency?first=M&second=N>}       (with old_head)
#
# A head's Ed25519 signature is over ``f"fieldtrace-tree-head/1\n{tree_size}\n{root_hash}\n
# {timestamp}"``; a leaf is SHA-256(0x00 || the 32 bytes of the audit entry's entry_hash), a
# node SHA-256(0x01 || left || right).

TREE_HEAD_FORMAT = "fieldtrace-tree-head/1"


class ProofError(ValueError):
    """A Merkle proof or tree head does not verify; the message names what is wrong."""


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def tree_leaf_hash(entry_hash_hex: str) -> str:
    """The leaf hash (hex) of an audit entry with this ``entry_hash``."""
    return _sha256(b"\x00" + bytes.fromhex(entry_hash_hex)).hex()


def tree_head_message(tree_size: int, root_hash_hex: str, timestamp: str) -> bytes:
    """The bytes a tree head's signature covers (as ``transparency.head_message``)."""
    return f"{TREE_HEAD_FORMAT}\n{tree_size}\n{root_hash_hex}\n{timestamp}".encode()


def _hashes(values: Any, what: str) -> list[bytes]:
    if not isinstance(values, list):
        raise ProofError(f"{what} is not a list of hashes")
    out = [_unhex(v, 32) for v in values]
    if any(v is None for v in out):
        raise ProofError(f"{what} holds something that is not a 32-byte hex hash")
    return [v for v in out if v is not None]


def _hash(value: Any, what: str) -> bytes:
    out = _unhex(value, 32)
    if out is None:
        raise ProofError(f"{what} is not a 32-byte hex hash")
    return out


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash_hex: str, audit_path: Any, root_hash_hex: str
) -> bool:
    """True when the leaf hash is leaf ``leaf_index`` of the tree with that size and root;
    raises :class:`ProofError` naming the failure otherwise."""
    path = _hashes(audit_path, "audit_path")
    r, root = _hash(leaf_hash_hex, "leaf_hash"), _hash(root_hash_hex, "root_hash")
    if not 0 <= leaf_index < tree_size:
        raise ProofError(f"leaf index {leaf_index} is outside a tree of size {tree_size}")
    fn, sn = leaf_index, tree_size - 1
    for p in path:
        if sn == 0:
            raise ProofError("audit path is longer than a tree of this size needs")
        if fn & 1 or fn == sn:
            r = _sha256(b"\x01" + p + r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = _sha256(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("audit path is shorter than a tree of this size needs")
    if r != root:
        raise ProofError(
            "root mismatch: the audit path does not lead from this leaf to the tree head's root "
            "(altered leaf, altered or reordered path, or wrong tree size)"
        )
    return True


def verify_consistency(
    first: int, second: int, first_root_hex: str, second_root_hex: str, proof: Any
) -> bool:
    """True when the tree of ``second`` leaves extends the tree of ``first`` leaves (an
    older head's tree is a prefix of the newer one); raises :class:`ProofError` otherwise."""
    path = _hashes(proof, "consistency proof")
    first_root = _hash(first_root_hex, "the older root_hash")
    second_root = _hash(second_root_hex, "the newer root_hash")
    if not 0 < first <= second:
        raise ProofError(f"no consistency between tree sizes {first} and {second}")
    if first == second:
        if path:
            raise ProofError("a proof between equal sizes must be empty")
        if first_root != second_root:
            raise ProofError("two different roots for the same tree size: the log was rewritten")
        return True
    if not path:
        raise ProofError("empty consistency proof between different sizes")
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than these sizes need")
        if fn & 1 or fn == sn:
            fr, sr = _sha256(b"\x01" + c + fr), _sha256(b"\x01" + c + sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = _sha256(b"\x01" + sr + c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than these sizes need")
    if fr != first_root:
        raise ProofError(
            "the older root is not a prefix of the newer tree: history before it was rewritten"
        )
    if sr != second_root:
        raise ProofError("the proof does not lead to the newer root (altered proof or root)")
    return True


def verify_tree_head(document: Any, public_key_hex: str) -> bool:
    """True when ``document`` is a tree head signed by the pinned ``public_key_hex``."""
    try:
        size, root = int(document["tree_size"]), str(document["root_hash"])
        timestamp, signature = str(document["timestamp"]), str(document["signature"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ProofError(f"malformed tree head: {exc}") from None
    if str(document.get("public_key", public_key_hex)).lower() != public_key_hex.lower():
        raise ProofError("the tree head names another signing key than the pinned one")
    key, sig = _unhex(public_key_hex, 32), _unhex(signature, 64)
    message = tree_head_message(size, root, timestamp)
    if key is None or sig is None or not ed25519_verify(key, message, sig):
        raise ProofError("bad signature: the tree head was not signed by the pinned key")
    return True


def verify_log_proofs(bundle: Any, public_key_hex: str | None) -> Report:
    """Check a proof file (see above): the head's signature (against the pinned key when
    given), each inclusion proof against the head, and the old head's consistency with it."""
    report = Report()
    if not isinstance(bundle, dict) or not isinstance(bundle.get("head"), dict):
        report.problems.append('the proof file has no tree head ("head")')
        return report
    head = bundle["head"]
    heads = [("head", head)]
    if bundle.get("old_head") is not None:
        heads.append(("old_head", bundle["old_head"]))
    for name, doc in heads:
        key = public_key_hex or (doc.get("public_key") if isinstance(doc, dict) else None)
        try:
            verify_tree_head(doc, str(key or ""))
            report.summary[f"{name}_tree_size"] = doc["tree_size"]
        except ProofError as exc:
            report.problems.append(f"{name}: {exc}")
    report.public_key = str(head.get("public_key") or public_key_hex or "")
    report.key_pinned = public_key_hex is not None
    inclusions = bundle.get("inclusion") or []
    for proof in inclusions if isinstance(inclusions, list) else [inclusions]:
        try:
            if int(proof["tree_size"]) != int(head["tree_size"]):
                raise ProofError(
                    f"proof is for tree size {proof['tree_size']}, the head is of size "
                    f"{head['tree_size']}"
                )
            verify_inclusion(
                int(proof["leaf_index"]),
                int(proof["tree_size"]),
                proof["leaf_hash"],
                proof["audit_path"],
                head["root_hash"],
            )
            report.notes.append(f"seq {int(proof['leaf_index']) + 1} is in the tree")
        except (ProofError, KeyError, TypeError, ValueError) as exc:
            where = proof.get("seq", "?") if isinstance(proof, dict) else "?"
            report.problems.append(f"inclusion of seq {where}: {exc}")
    if bundle.get("old_head") is not None:
        old, proof = bundle["old_head"], bundle.get("consistency")
        try:
            if not isinstance(proof, dict):
                raise ProofError('an old head needs a consistency proof ("consistency")')
            first, second = int(old["tree_size"]), int(head["tree_size"])
            if (int(proof["first"]), int(proof["second"])) != (first, second):
                raise ProofError("the consistency proof is for other tree sizes than the heads")
            verify_consistency(first, second, old["root_hash"], head["root_hash"], proof["proof"])
            report.notes.append(f"the log of size {second} is consistent with size {first}")
        except (ProofError, KeyError, TypeError, ValueError) as exc:
            report.problems.append(f"consistency: {exc}")
    return report


_UNREADABLE = object()


def _load_json_file(path: str) -> Any:
    """The JSON in ``path``, or ``_UNREADABLE`` (said on stderr) for a usage error."""
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read())
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {path}: {exc}", file=sys.stderr)
        return _UNREADABLE


def run_proof(path: str, public_key_hex: str | None, *, as_json: bool = False) -> int:
    """``verify.py proof FILE``: 0 every proof holds under the pinned key, 1 a failure,
    2 usage error, 3 intact but no ``--public-key`` (UNAUTHENTICATED)."""
    if public_key_hex is not None and _unhex(public_key_hex.strip().lower(), 32) is None:
        print("error: --public-key must be 64 hex digits (32 bytes)", file=sys.stderr)
        return EXIT_USAGE
    bundle = _load_json_file(path)
    if bundle is _UNREADABLE:
        return EXIT_USAGE
    key = public_key_hex.strip().lower() if public_key_hex else None
    report = verify_log_proofs(bundle, key)
    if as_json:
        print(json.dumps({"proof_file": path, **report.as_dict()}, ensure_ascii=False, indent=2))
    elif report.problems:
        print(f"日志证明校验失败 / log proof verification FAILED: {path}", file=sys.stderr)
        for problem in report.problems:
            print(f"  - {problem}", file=sys.stderr)
    else:
        if report.key_pinned:
            print(f"日志证明成立 / log proofs hold, head signed by the pinned key: {path}")
        else:
            print(f"日志证明未认证 / log proofs UNAUTHENTICATED: {path}", file=sys.stderr)
            print("  no --public-key: checked against the key the head names", file=sys.stderr)
        for note in report.notes:
            print(f"  {note}")
    if report.problems:
        return EXIT_FAILED
    return EXIT_OK if report.key_pinned else EXIT_UNAUTHENTICATED


def build_proof_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verify.py proof",
        description="Verify a Fieldtrace audit-log proof file (tree head, inclusion and "
        "consistency proofs) offline.",
    )
    parser.add_argument("file", help="the proof file (JSON)")
    parser.add_argument(
        "--public-key", metavar="HEX", help="the unit's published Ed25519 signing key"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


# --- receipts (存证回执) ------------------------------------------------------------------------
# A receipt file (``GET /api/v1/media/<id>/receipt``; ``verify.py receipt FILE --public-key
# HEX``) is JSON::
#
#     {"receipt": {"format": "fieldtrace-receipt/1", "item_id", "kind", "device_sha256",
#                  "server_sha256", "size", "captured_at", "received_at", "verified_at",
#                  "case_id", "case_number", "stage", "log_seq", "log_entry_hash",
#                  "field_check"},
#      "signature": {"algorithm": "Ed25519", "public_key": hex32, "value": hex64},
#      "tree_head": <a signed tree head covering log_seq>,                   (optional)
#      "inclusion": <GET /public/log/proof/LOG_SEQ?tree_size=N>}            (with tree_head)
#
# The signature is over ``b"fieldtrace-receipt/1\n"`` + the receipt's canonical JSON
# (``json.dumps(receipt, sort_keys=True, ensure_ascii=False, separators=(",", ":"))``).
# ``field_check`` is, for each name in RECEIPT_FIELDS in that order, the first 6 hex digits
# of the SHA-256 of that field's canonical JSON value: it adds no security (the signature
# covers everything) but lets a failed check name the field that was altered.
# ``log_seq`` is the audit entry that recorded the verification (``media.verified``),
# ``log_entry_hash`` its entry hash; the inclusion proof's leaf must be that entry. The
# receipt's fingerprint (what the phone shows) is the SHA-256 of the signed bytes, its
# first 16 hex digits in groups of four.

RECEIPT_FORMAT = "fieldtrace-receipt/1"
RECEIPT_FIELDS = (
    "item_id",
    "kind",
    "device_sha256",
    "server_sha256",
    "size",
    "captured_at",
    "received_at",
    "verified_at",
    "case_id",
    "case_number",
    "stage",
    "log_seq",
    "log_entry_hash",
)
_RECEIPT_TIMES = ("captured_at", "received_at", "verified_at")
# Hex digits of each field's check: enough to name an altered field (a 1 in 16 million chance
# that one goes unnamed; the signature fails all the same), few enough that a receipt's signed
# part stays under 1 KB, to fit a QR code.
_CHECK_DIGITS = 6
_RECEIPT_HASHES = ("device_sha256", "server_sha256", "log_entry_hash")


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def receipt_message(receipt: dict[str, Any]) -> bytes:
    """The bytes a receipt's signature covers."""
    return (RECEIPT_FORMAT + "\n").encode() + canonical_json(receipt)


def receipt_field_check(receipt: dict[str, Any]) -> str:
    """The ``field_check`` of a receipt's fields (see above)."""
    return "".join(
        hashlib.sha256(canonical_json(receipt.get(name))).hexdigest()[:_CHECK_DIGITS]
        for name in RECEIPT_FIELDS
    )


def receipt_fingerprint(receipt: dict[str, Any]) -> str:
    """The short fingerprint the officer's phone shows beside the item."""
    digest = hashlib.sha256(receipt_message(receipt)).hexdigest()[:16]
    return " ".join(digest[i : i + 4] for i in range(0, 16, 4))


def _receipt_structure(receipt: Any) -> list[str]:
    """Problems with the receipt's shape, each naming its field."""
    if not isinstance(receipt, dict):
        return ['the file has no receipt ("receipt" is not an object)']
    problems = []
    if receipt.get("format") != RECEIPT_FORMAT:
        problems.append(f"format: not {RECEIPT_FORMAT!r} ({receipt.get('format')!r})")
    for name in (*RECEIPT_FIELDS, "field_check"):
        if name not in receipt:
            problems.append(f"{name}: missing")
    unknown = sorted(set(receipt) - {*RECEIPT_FIELDS, "field_check", "format"})
    if unknown:
        problems.append(f"unknown fields: {', '.join(unknown)}")
    for name in _RECEIPT_HASHES:
        if name in receipt and _unhex(receipt[name], 32) is None:
            problems.append(f"{name}: not a 64-digit hex SHA-256")
    for name in ("size", "log_seq", "case_id"):
        value = receipt.get(name)
        if name in receipt and (type(value) is not int or value < (name != "size")):
            problems.append(f"{name}: not a whole number")
    for name in _RECEIPT_TIMES:
        value = receipt.get(name)
        if name not in receipt or (name == "captured_at" and value is None):
            continue
        try:
            if datetime.fromisoformat(str(value)).tzinfo is None:
                raise ValueError
        except ValueError:
            problems.append(f"{name}: not an ISO 8601 time with a zone")
    for name in ("item_id", "kind", "case_number"):
        if name in receipt and not isinstance(receipt[name], str):
            problems.append(f"{name}: not a string")
    if receipt.get("stage") is not None and not isinstance(receipt.get("stage"), str):
        problems.append("stage: not a string or null")
    return problems


def verify_receipt(document: Any, public_keys: Sequence[str] | None) -> Report:
    """Check a receipt file (see above): structure, the signature (by one of ``public_keys``
    when given, else by the key it names: UNAUTHENTICATED), the hashes agreeing, and, when
    the file carries a tree head, the head's signature and the verification entry's
    inclusion in it. Each problem names the field or the part that is wrong."""
    report = Report()
    pinned = [k.strip().lower() for k in public_keys or []]
    report.key_pinned = bool(pinned)
    if not isinstance(document, dict):
        report.problems.append("the file is not a receipt (not a JSON object)")
        return report
    receipt, signature = document.get("receipt"), document.get("signature")
    report.problems.extend(_receipt_structure(receipt))
    if not isinstance(receipt, dict):
        return report
    try:
        canonical_json(document)
    except ValueError:  # a lone surrogate: text no signer could have signed
        report.problems.append("the file holds text that is not valid Unicode")
        return report
    if not isinstance(signature, dict):
        report.problems.append('signature: missing ("signature" is not an object)')
        return report
    key_hex = str(signature.get("public_key") or "").lower()
    report.public_key = key_hex or None
    report.summary.update({name: receipt.get(name) for name in RECEIPT_FIELDS if name in receipt})
    report.summary["fingerprint"] = receipt_fingerprint(receipt)
    if signature.get("algorithm") != "Ed25519":
        report.problems.append(f"signature.algorithm: not Ed25519 ({signature.get('algorithm')!r})")
    key, sig = _unhex(key_hex, 32), _unhex(signature.get("value"), 64)
    if key is None:
        report.problems.append("signature.public_key: not a 64-digit hex Ed25519 key")
    if sig is None:
        report.problems.append("signature.value: not a 128-digit hex Ed25519 signature")
    if pinned and key_hex not in pinned:
        report.problems.append(
            "signature.public_key: signed by a key that is not the published (pinned) one "
            f"({key_fingerprint(key_hex) if key else key_hex!r})"
        )
    if (
        key is not None
        and sig is not None
        and not ed25519_verify(key, receipt_message(receipt), sig)
    ):
        signed, now = str(receipt.get("field_check", "")), receipt_field_check(receipt)
        altered = [
            name
            for i, name in enumerate(RECEIPT_FIELDS)
            if signed[_CHECK_DIGITS * i : _CHECK_DIGITS * (i + 1)]
            != now[_CHECK_DIGITS * i : _CHECK_DIGITS * (i + 1)]
        ]
        if altered:
            for name in altered:
                report.problems.append(
                    f"{name}: altered after signing (does not match the signed field check; "
                    "the signature fails)"
                )
        else:
            report.problems.append(
                "signature: does not verify: the receipt was altered (field_check, format or "
                "signature) or was not signed by this key"
            )
    elif (
        key is not None
        and sig is not None
        and receipt.get("field_check") != receipt_field_check(receipt)
    ):
        report.problems.append("field_check: does not match the fields (malformed receipt)")
    if (
        receipt.get("device_sha256") is not None
        and str(receipt.get("device_sha256")).lower() != str(receipt.get("server_sha256")).lower()
    ):
        report.problems.append(
            "server_sha256: differs from device_sha256 (the server did not receive the bytes "
            "the phone hashed)"
        )
    _check_receipt_inclusion(document, receipt, pinned, key_hex, report)
    return report


def _check_receipt_inclusion(
    document: dict[str, Any],
    receipt: dict[str, Any],
    pinned: list[str],
    receipt_key: str,
    report: Report,
) -> None:
    head, proof = document.get("tree_head"), document.get("inclusion")
    if head is None:
        report.notes.append(
            "inclusion not checked: the file carries no tree head; fetch "
            f"/public/log/proof/{receipt.get('log_seq')} and /public/log/head, or check online"
        )
        return
    # The head may be signed by a later key than the receipt (a key rotated in between):
    # any pinned key will do; unpinned, the key the head names (UNAUTHENTICATED anyway).
    head_key = str(head.get("public_key") or receipt_key).lower() if isinstance(head, dict) else ""
    if pinned and head_key not in pinned:
        head_key = pinned[0]
    try:
        verify_tree_head(head, head_key)
    except ProofError as exc:
        report.problems.append(f"tree_head: {exc}")
        return
    report.summary["tree_size"] = head.get("tree_size")
    try:
        if not isinstance(proof, dict):
            raise ProofError('the file has a tree head but no inclusion proof ("inclusion")')
        if int(proof["tree_size"]) != int(head["tree_size"]):
            raise ProofError(
                f"the proof is for tree size {proof['tree_size']}, the head is of size "
                f"{head['tree_size']}"
            )
        if int(proof["leaf_index"]) != int(receipt.get("log_seq") or 0) - 1:
            raise ProofError(
                f"the proof is for entry {int(proof['leaf_index']) + 1}, not log_seq "
                f"{receipt.get('log_seq')}"
            )
        entry = receipt.get("log_entry_hash")
        if _unhex(entry, 32) is None or str(proof["leaf_hash"]).lower() != tree_leaf_hash(
            str(entry)
        ):
            raise ProofError("its leaf is not the entry named by log_entry_hash")
        verify_inclusion(
            int(proof["leaf_index"]),
            int(proof["tree_size"]),
            proof["leaf_hash"],
            proof["audit_path"],
            head["root_hash"],
        )
        report.notes.append(
            f"the verification entry (seq {receipt.get('log_seq')}) is in the signed log of "
            f"size {head['tree_size']}"
        )
    except (ProofError, KeyError, TypeError, ValueError) as exc:
        report.problems.append(f"inclusion: {exc}")


def run_receipt(path: str, public_keys: Sequence[str] | None, *, as_json: bool = False) -> int:
    """``verify.py receipt FILE``: 0 valid under a pinned key, 1 a failure, 2 usage error,
    3 intact but no ``--public-key`` (UNAUTHENTICATED)."""
    keys = _pinned_keys(public_keys)
    if any(_unhex(k, 32) is None for k in keys):
        print("error: --public-key must be 64 hex digits (32 bytes)", file=sys.stderr)
        return EXIT_USAGE
    document = _load_json_file(path)
    if document is _UNREADABLE:
        return EXIT_USAGE
    report = verify_receipt(document, keys or None)
    s = report.summary
    if as_json:
        print(json.dumps({"receipt_file": path, **report.as_dict()}, ensure_ascii=False, indent=2))
    elif report.problems:
        print(f"存证回执无效 / receipt INVALID: {path}", file=sys.stderr)
        for problem in report.problems:
            print(f"  - {problem}", file=sys.stderr)
    else:
        if report.key_pinned:
            print(f"存证回执有效 / receipt VALID, signed by the pinned key: {path}")
        else:
            print(f"存证回执未认证 / receipt UNAUTHENTICATED: {path}", file=sys.stderr)
            print("  no --public-key: checked against the key the receipt names", file=sys.stderr)
        print(f"  回执指纹 / fingerprint: {s.get('fingerprint')}")
        print(
            f"  证据 / item {s.get('item_id')}: SHA-256 {s.get('server_sha256')}, "
            f"{s.get('size')} bytes"
        )
        print(
            f"  拍摄 / captured {s.get('captured_at')}; 接收 / received {s.get('received_at')}; "
            f"核验 / verified {s.get('verified_at')}"
        )
        for note in report.notes:
            print(f"  {note}")
    if report.problems:
        return EXIT_FAILED
    return EXIT_OK if report.key_pinned else EXIT_UNAUTHENTICATED


def build_receipt_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verify.py receipt",
        description="Verify a Fieldtrace evidence receipt (存证回执) offline.",
    )
    parser.add_argument("file", help="the receipt file (JSON)")
    parser.add_argument(
        "--public-key",
        metavar="HEX",
        action="append",
        help="the unit's published Ed25519 signing key (repeat for past keys)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def _print_text(name: str, report: Report) -> None:
    s = report.summary
    outcome = report.outcome
    if outcome == "AUTHENTIC":
        print(f"案卷完好且签名公钥已核对 / archive intact and AUTHENTIC: {name}")
    elif outcome == "INTACT_EMBEDDED_KEY":
        print(
            f"案卷完好（仅按包内公钥，未核对公布的公钥）/ archive intact against its EMBEDDED key "
            f"only (--trust-embedded-key; NOT authenticated): {name}"
        )
    elif outcome == "UNAUTHENTICATED":
        print(f"案卷未认证 / archive UNAUTHENTICATED: {name}", file=sys.stderr)
        print(f"  {UNAUTHENTICATED_TEXT}", file=sys.stderr)
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
        print(
            f"  签名公钥 / signing key: {report.public_key} ({key_fingerprint(report.public_key)})"
        )
    for note in report.notes:
        print(f"  注意 / note: {note}")


def run(
    path: str,
    public_key_hex: str | Sequence[str] | None = None,
    *,
    as_json: bool = False,
    trust_embedded_key: bool = False,
    tsa_ca: str | None = None,
) -> int:
    """Verify ``path`` and print the outcome; returns the exit status.

    0 authentic (or intact with ``trust_embedded_key``), 1 a problem was found, 2 usage
    error, 3 intact but UNAUTHENTICATED (no ``--public-key`` to compare the signing key with).
    """
    keys = _pinned_keys(public_key_hex)
    if any(_unhex(k, 32) is None for k in keys):
        print("error: --public-key must be 64 hex digits (32 bytes)", file=sys.stderr)
        return EXIT_USAGE
    try:
        with open(path, "rb") as fh:
            report = verify_archive(
                fh, keys or None, trust_embedded_key=trust_embedded_key, tsa_ca=tsa_ca
            )
    except OSError as exc:
        print(f"error: cannot open {path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if as_json:
        print(json.dumps({"archive": path, **report.as_dict()}, ensure_ascii=False, indent=2))
    else:
        _print_text(path, report)
    if not report.ok:
        return EXIT_FAILED
    if report.outcome == "UNAUTHENTICATED":
        return EXIT_UNAUTHENTICATED
    return EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by ``verify.py`` and ``fieldtrace archive verify``."""
    parser.add_argument(
        "--public-key",
        metavar="HEX",
        action="append",
        help="the issuing unit's published Ed25519 signing key (repeat for past keys); "
        "without it the outcome is UNAUTHENTICATED (exit 3)",
    )
    parser.add_argument(
        "--trust-embedded-key",
        action="store_true",
        help="accept the key inside the archive without comparing it with the published one "
        "(exit 0 when intact; the output says the key was NOT checked)",
    )
    parser.add_argument(
        "--tsa-ca",
        metavar="PEM",
        help="the time-stamping authority's root certificate(s): check the tree head's RFC "
        "3161 token with the openssl command (a token that does not verify is a problem)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verify.py", description="Verify a Fieldtrace case archive (案卷校验) offline."
    )
    parser.add_argument("archive", help="the case archive (.zip)")
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["proof"]:
        try:
            proof_args = build_proof_parser().parse_args(argv[1:])
        except SystemExit as exc:
            return int(exc.code or 0)
        return run_proof(proof_args.file, proof_args.public_key, as_json=proof_args.json)
    if argv[:1] == ["receipt"]:
        try:
            receipt_args = build_receipt_parser().parse_args(argv[1:])
        except SystemExit as exc:
            return int(exc.code or 0)
        return run_receipt(receipt_args.file, receipt_args.public_key, as_json=receipt_args.json)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help
        return int(exc.code or 0)
    return run(
        args.archive,
        args.public_key,
        as_json=args.json,
        trust_embedded_key=args.trust_embedded_key,
        tsa_ca=args.tsa_ca,
    )


if __name__ == "__main__":
    # A console that cannot show Chinese (e.g. a Latin code page) must not crash the check.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    sys.exit(main())
