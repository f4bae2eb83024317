"""The offline case-archive verifier: synthetic archives, intact and tampered with."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from server import cli
from server.archive import verify
from server.services import transparency
from server.services.audit import GENESIS_HASH, compute_entry_hash, head_message
from server.services.timestamping import Tsa
from tests.tsa import LocalTsa

VERIFY_SOURCE = Path(verify.__file__).read_bytes()
T0 = datetime(2026, 3, 2, 1, 30, 0, 123456, tzinfo=UTC)


def custody_entries(seqs: list[int], *, prev_of_first: str | None = None) -> list[dict[str, Any]]:
    """Audit entries as the exporter writes them, hashed by the server's own function."""
    entries: list[dict[str, Any]] = []
    for i, seq in enumerate(seqs):
        if entries and entries[-1]["seq"] == seq - 1:
            prev_hash = entries[-1]["entry_hash"]
        elif seq == 1:
            prev_hash = GENESIS_HASH
        else:
            prev_hash = prev_of_first or hashlib.sha256(f"entry {seq - 1}".encode()).hexdigest()
        at = T0 + timedelta(minutes=i)
        fields: dict[str, Any] = {
            "seq": seq,
            "at": at,
            "actor_id": 3,
            "actor": "wang.officer",
            # The first entry receives the archive's one item; the rest are about the case.
            "action": "upload.completed" if i == 0 else "document.issued",
            "object_type": "media" if i == 0 else "case",
            "object_id": "m3" if i == 0 else "c1",
            "client_addr": "10.0.0.7",
            "details": {"sha256": "ab" * 32, "note": f"现场检查 第{i}条"},
            "prev_hash": prev_hash,
        }
        digest = compute_entry_hash(**fields)
        entries.append(
            {**fields, "at": at.isoformat(timespec="microseconds"), "entry_hash": digest}
        )
    return entries


@dataclass
class Parts:
    """The pieces of one archive; tests tamper with them after signing, then write the zip."""

    key: Ed25519PrivateKey
    files: dict[str, bytes]
    manifest: dict[str, Any]
    manifest_bytes: bytes = b""
    signature: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, bytes] = field(default_factory=dict)
    omit: set[str] = field(default_factory=set)

    @property
    def public_key_hex(self) -> str:
        return self.key.public_key().public_bytes_raw().hex()

    def sign(self) -> Parts:
        self.manifest["files"] = [
            {
                "path": path,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "kind": path.split("/")[0] if "/" in path else "meta",
            }
            for path, data in self.files.items()
        ]
        self.manifest_bytes = json.dumps(self.manifest, ensure_ascii=False, indent=1).encode()
        manifest_sha = hashlib.sha256(self.manifest_bytes).hexdigest()
        signature = self.key.sign(b"fieldtrace-case-archive/1\n" + manifest_sha.encode())
        self.signature = {
            "algorithm": "Ed25519",
            "public_key": self.public_key_hex,
            "manifest_sha256": manifest_sha,
            "signature": signature.hex(),
        }
        return self

    def write(self, path: Path) -> Path:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", self.manifest_bytes)
            zf.writestr("signature.json", json.dumps(self.signature))
            for name, data in {**self.files, **self.extra}.items():
                if name not in self.omit:
                    zf.writestr(name, data)
        return path


def log_file(key: Ed25519PrivateKey, entries: list[dict[str, Any]], size: int) -> bytes:
    """log.json as the exporter writes it: a tree head over ``size`` leaves (the custody
    entries at their seqs, other entries of the log stand-ins) and each entry's proof."""
    hashes = {e["seq"]: e["entry_hash"] for e in entries}
    tree = transparency.MemoryTree(
        (
            transparency.entry_leaf_hash(hashes.get(seq) or hashlib.sha256(b"%d" % seq).hexdigest())
            for seq in range(1, size + 1)
        ),
        hashed=True,
    )
    root = transparency.root_hash(tree, size).hex()
    timestamp = (T0 + timedelta(days=1)).isoformat(timespec="microseconds")
    head = {
        "format": verify.TREE_HEAD_FORMAT,
        "tree_size": size,
        "root_hash": root,
        "timestamp": timestamp,
        "public_key": key.public_key().public_bytes_raw().hex(),
        "algorithm": "Ed25519",
        "signature": key.sign(verify.tree_head_message(size, root, timestamp)).hex(),
    }
    proofs = [
        {
            "seq": seq,
            "leaf_index": seq - 1,
            "audit_path": [h.hex() for h in transparency.inclusion_proof(tree, seq - 1, size)],
        }
        for seq in sorted(hashes)
    ]
    return json.dumps({"head": head, "proofs": proofs}).encode()


def make_parts(
    *,
    entries: list[dict[str, Any]] | None = None,
    head_seq: int | None = 12,
    log: bool = True,
) -> Parts:
    key = Ed25519PrivateKey.generate()
    entries = custody_entries([3, 4, 9, 10, 11]) if entries is None else entries
    files = {
        "verify.py": VERIFY_SOURCE,
        "README.txt": "案卷说明 / how to verify: python3 verify.py case.zip\n".encode(),
        "cover.pdf": b"%PDF-1.7 cover",
        "catalogue.pdf": b"%PDF-1.7 catalogue",
        "documents/onsite_inspection_record-v1.pdf": b"%PDF-1.7 " + os.urandom(3000),
        "derivatives/m3/preview.jpg": os.urandom(500),
        "originals/m3/IMG_0001.MOV": os.urandom(3 * 1024 * 1024 + 17),  # several read chunks
        "custody.json": json.dumps({"entries": entries}, ensure_ascii=False).encode(),
    }
    manifest: dict[str, Any] = {
        "format": "fieldtrace-case-archive/1",
        "generated_at": "2026-03-09T02:00:00.000000+00:00",
        "case": {"id": "c1", "number": "某市监立〔2026〕7号", "title": "某超市销售过期食品案"},
        "items": [{"id": "m3"}],
        "documents": [{"id": "d1"}],
        "custody": {
            "path": "custody.json",
            "count": len(entries),
            "first_seq": entries[0]["seq"] if entries else None,
            "last_seq": entries[-1]["seq"] if entries else None,
        },
        "audit_head": None,
    }
    if log:
        files["log.json"] = log_file(key, entries, 12)
        manifest["log"] = {"path": "log.json", "tree_size": 12}
    if head_seq is not None:
        signed_at = T0 + timedelta(days=1)
        head_hash = next((e["entry_hash"] for e in entries if e["seq"] == head_seq), "cd" * 32)
        manifest["audit_head"] = {
            "seq": head_seq,
            "entry_hash": head_hash,
            "signed_at": signed_at.isoformat(timespec="microseconds"),
            "public_key": key.public_key().public_bytes_raw().hex(),
            "signature": key.sign(head_message(head_seq, head_hash, signed_at)).hex(),
        }
    return Parts(key=key, files=files, manifest=manifest).sign()


def problems_of(parts: Parts, tmp_path: Path, **kwargs: Any) -> list[str]:
    report = verify.verify_archive(parts.write(tmp_path / "case.zip"), **kwargs)
    return report.problems


def run_standalone(archive: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the verify.py bundled in the archive, alone, with only the standard library."""
    workdir = archive.parent / "auditor"
    workdir.mkdir(exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        (workdir / "verify.py").write_bytes(zf.read("verify.py"))
    return subprocess.run(
        [sys.executable, "-I", "-S", "verify.py", str(archive), *args],
        cwd=workdir,
        env={},
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- intact ----------------------------------------------------------------------------


def test_intact_archive_verifies(tmp_path: Path) -> None:
    parts = make_parts()
    archive = parts.write(tmp_path / "case.zip")

    report = verify.verify_archive(archive, parts.public_key_hex)
    assert report.ok, report.problems
    assert report.authentic and report.outcome == "AUTHENTIC"
    assert report.public_key == parts.public_key_hex
    assert report.summary["files"] == 9
    assert report.summary["custody_entries"] == 5
    assert report.summary["audit_head_seq"] == 12
    assert report.summary["inclusion_proofs_checked"] == 5
    assert report.summary["tree_size"] == 12
    assert report.notes == []
    with archive.open("rb") as fh:  # a file object works too
        assert verify.verify_archive(fh, parts.public_key_hex).authentic

    assert verify.main([str(archive), "--public-key", parts.public_key_hex]) == 0


def test_bundled_verify_py_runs_alone_with_the_standard_library(tmp_path: Path) -> None:
    parts = make_parts()
    archive = parts.write(tmp_path / "case.zip")

    result = run_standalone(archive, "--public-key", parts.public_key_hex)
    assert result.returncode == 0, result.stderr
    assert "archive intact" in result.stdout

    result = run_standalone(archive, "--json", "--public-key", parts.public_key_hex)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["ok"] is True and out["problems"] == [] and out["outcome"] == "AUTHENTIC"
    assert out["summary"]["case"]["number"] == "某市监立〔2026〕7号"


def test_head_signed_at_without_microseconds_is_accepted(tmp_path: Path) -> None:
    parts = make_parts()
    head = parts.manifest["audit_head"]
    signed_at = datetime(2026, 3, 3, 8, 0, 0, tzinfo=UTC)
    head["signed_at"] = signed_at.isoformat()  # "...T08:00:00+00:00"
    head["signature"] = parts.key.sign(
        head_message(head["seq"], head["entry_hash"], signed_at)
    ).hex()
    parts.sign()
    assert problems_of(parts, tmp_path) == []


def test_custody_beyond_the_signed_head_fails(tmp_path: Path) -> None:
    # The exporter signs a head covering the case's last custody entry; an older head leaves
    # the later entries unvouched for, so they could have been made up.
    parts = make_parts(head_seq=9)
    report = verify.verify_archive(parts.write(tmp_path / "case.zip"), parts.public_key_hex)
    assert not report.ok
    assert report.problems == [
        "审计链头早于监管链末尾 / custody entries after the signed audit head: "
        "last seq=11 > head seq=9"
    ]


def test_missing_audit_head_fails(tmp_path: Path) -> None:
    parts = make_parts(head_seq=None)
    problems = problems_of(parts, tmp_path, public_key_hex=parts.public_key_hex)
    assert len(problems) == 1 and "no signed audit head" in problems[0]


# --- tampered ---------------------------------------------------------------------------


def test_one_changed_byte_in_a_document_names_the_document(tmp_path: Path) -> None:
    parts = make_parts()
    path = "documents/onsite_inspection_record-v1.pdf"
    data = bytearray(parts.files[path])
    data[1000] ^= 0x01
    parts.files[path] = bytes(data)
    archive = parts.write(tmp_path / "case.zip")

    assert verify.verify_archive(archive).problems == [
        f"文件被改动 / file altered: {path} (sha256 mismatch)"
    ]
    result = run_standalone(archive)
    assert result.returncode == 1
    assert path in result.stderr and "sha256 mismatch" in result.stderr


def test_a_changed_original_is_found(tmp_path: Path) -> None:
    parts = make_parts()
    path = "originals/m3/IMG_0001.MOV"
    parts.files[path] = parts.files[path][:-1]
    assert problems_of(parts, tmp_path) == [
        f"文件被改动 / file altered: {path} (size {3 * 1024 * 1024 + 16}, manifest says {3 * 1024 * 1024 + 17})",
        f"文件被改动 / file altered: {path} (sha256 mismatch)",
    ]


def test_changed_manifest(tmp_path: Path) -> None:
    parts = make_parts()
    parts.manifest_bytes = parts.manifest_bytes.replace(
        "某超市销售过期食品案".encode(), "某超市案".encode()
    )
    problems = problems_of(parts, tmp_path)
    assert problems == [
        "清单被改动 / manifest altered: manifest.json (sha256 does not match signature.json)"
    ]


def test_wrong_signature(tmp_path: Path) -> None:
    parts = make_parts()
    signature = bytearray.fromhex(parts.signature["signature"])
    signature[5] ^= 0x20
    parts.signature["signature"] = signature.hex()
    assert problems_of(parts, tmp_path) == ["签名无效 / invalid signature: signature.json"]


def test_manifest_re_signed_with_another_key_fails_the_pinned_key(tmp_path: Path) -> None:
    parts = make_parts()
    genuine_key = parts.public_key_hex
    parts.key = Ed25519PrivateKey.generate()
    parts.sign()
    # The genuine head (by the genuine key) no longer matches the manifest's key.
    assert problems_of(parts, tmp_path) == [
        f"审计链头由另一密钥签名 / audit head signed by another key: {genuine_key}, "
        f"signature.json has {parts.public_key_hex}",
        "树头签名无效 / invalid tree head in log.json: the tree head names another signing "
        "key than the pinned one",
    ]
    problems = problems_of(parts, tmp_path, public_key_hex=genuine_key)
    assert problems[0].startswith("签名公钥不符 / signed by another key: signature.json")
    assert verify.main([str(tmp_path / "case.zip"), "--public-key", genuine_key]) == 1


def test_forgery_signed_throughout_by_another_key_is_only_caught_by_pinning(
    tmp_path: Path,
) -> None:
    genuine = make_parts()
    forged = make_parts()  # self-consistent: its head and manifest signed by the forger's key
    archive = forged.write(tmp_path / "case.zip")

    report = verify.verify_archive(archive)
    assert report.ok and not report.authentic and report.outcome == "UNAUTHENTICATED"
    assert verify.main([str(archive)]) == 3
    assert verify.main([str(archive), "--trust-embedded-key"]) == 0

    pinned = verify.verify_archive(archive, genuine.public_key_hex)
    assert pinned.outcome == "FAILED"
    assert pinned.problems[0].startswith("签名公钥不符 / signed by another key")
    assert any("audit head signed by a key that is not pinned" in p for p in pinned.problems)
    # Current and past keys may be pinned together.
    both = [genuine.public_key_hex, forged.public_key_hex]
    assert verify.verify_archive(archive, both).authentic
    assert verify.main([str(archive), "--public-key", both[0], "--public-key", both[1]]) == 0


def test_unpinned_outcome_is_unauthenticated_not_intact(tmp_path: Path) -> None:
    parts = make_parts()
    archive = parts.write(tmp_path / "case.zip")

    result = run_standalone(archive)
    assert result.returncode == 3
    assert "UNAUTHENTICATED" in result.stderr and "未核对签名公钥" in result.stderr
    assert "archive intact" not in result.stdout

    result = run_standalone(archive, "--trust-embedded-key")
    assert result.returncode == 0, result.stderr
    assert "EMBEDDED key" in result.stdout and "NOT authenticated" in result.stdout

    out = json.loads(run_standalone(archive, "--json").stdout)
    assert out["outcome"] == "UNAUTHENTICATED" and out["authentic"] is False


def _item_parts(**item: Any) -> Parts:
    """An archive whose item m3 was received as recorded by its upload.completed entry."""
    received = {
        "device_sha256": hashlib.sha256(b"original").hexdigest(),
        "case_id": "c1",
        "captured_at": "2026-03-02T09:30:00+08:00",
        "latitude": 31.2,
        "longitude": 121.5,
    }
    entries = custody_entries([3, 4, 9, 10, 11])
    entries[0]["details"] = {"note": "x", **received}
    entries[0]["entry_hash"] = compute_entry_hash(
        **{**{k: v for k, v in entries[0].items() if k != "entry_hash"}, "at": T0}
    )
    entries[1]["prev_hash"] = entries[0]["entry_hash"]  # seq 4 links to seq 3
    body = {k: v for k, v in entries[1].items() if k != "entry_hash"}
    entries[1]["entry_hash"] = compute_entry_hash(**{**body, "at": T0 + timedelta(minutes=1)})
    parts = make_parts(entries=entries, head_seq=11)
    parts.manifest["items"] = [
        {
            "id": "m3",
            "device_sha256": received["device_sha256"],
            "captured_at": "2026-03-02T01:30:00+00:00",
            "latitude": 31.2,
            "longitude": 121.5,
            **item,
        }
    ]
    return parts.sign()


def test_item_must_match_its_upload_completed_entry(tmp_path: Path) -> None:
    parts = _item_parts()
    assert problems_of(parts, tmp_path, public_key_hex=parts.public_key_hex) == []

    moved = _item_parts(captured_at="2020-01-01T00:00:00+00:00", latitude=1.0)
    problems = problems_of(moved, tmp_path, public_key_hex=moved.public_key_hex)
    assert any("latitude is 1.0, recorded 31.2" in p for p in problems)
    assert any("captured_at is '2020-01-01T00:00:00+00:00'" in p for p in problems)


def test_item_missing_from_items_but_named_in_custody_fails(tmp_path: Path) -> None:
    parts = _item_parts()
    parts.manifest["items"] = []
    parts.sign()
    problems = problems_of(parts, tmp_path, public_key_hex=parts.public_key_hex)
    assert problems == [
        "证据条目缺失 / media m3 is named in the custody entries (seq=3) "
        "but is not among the archive's items"
    ]


def test_original_must_hash_to_the_recorded_sha256(tmp_path: Path) -> None:
    parts = _item_parts(
        status="verified",
        server_sha256=hashlib.sha256(b"original").hexdigest(),
        original_path="originals/m3/IMG_0001.MOV",
    )
    problems = problems_of(parts, tmp_path, public_key_hex=parts.public_key_hex)
    assert any("no media.verified custody entry for item m3" in p for p in problems)
    assert any("original originals/m3/IMG_0001.MOV has sha256" in p for p in problems)


def test_unlisted_member(tmp_path: Path) -> None:
    parts = make_parts()
    parts.extra["documents/planted.pdf"] = b"%PDF-1.7 planted"
    assert problems_of(parts, tmp_path) == ["未登记的文件 / unlisted file: documents/planted.pdf"]


def test_missing_member(tmp_path: Path) -> None:
    parts = make_parts()
    parts.omit.add("derivatives/m3/preview.jpg")
    assert problems_of(parts, tmp_path) == ["缺少文件 / missing file: derivatives/m3/preview.jpg"]


def test_missing_signature_file(tmp_path: Path) -> None:
    parts = make_parts()
    archive = tmp_path / "case.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("manifest.json", parts.manifest_bytes)
        for name, data in parts.files.items():
            zf.writestr(name, data)
    assert verify.verify_archive(archive).problems == ["缺少文件 / missing file: signature.json"]


def test_edited_custody_entry_names_its_seq_even_when_re_signed(tmp_path: Path) -> None:
    entries = custody_entries([3, 4, 9, 10, 11])
    entries[2]["details"]["note"] = "改过的 edited"
    # The manifest is rebuilt and signed over the edited log: only the entry hash shows it.
    parts = make_parts(entries=entries)
    assert problems_of(parts, tmp_path) == [
        "监管链记录被改动 / custody entry altered: custody.json seq=9 (entry_hash mismatch)"
    ]


def test_edited_custody_file_alone_fails_twice(tmp_path: Path) -> None:
    parts = make_parts()
    log = json.loads(parts.files["custody.json"])
    log["entries"][0]["actor"] = "someone.else"
    parts.files["custody.json"] = json.dumps(log, ensure_ascii=False).encode()
    problems = problems_of(parts, tmp_path)
    assert "文件被改动 / file altered: custody.json (sha256 mismatch)" in problems
    assert any("custody entry altered: custody.json seq=3" in p for p in problems)


def test_broken_link_between_consecutive_entries(tmp_path: Path) -> None:
    entries = custody_entries([3, 4, 5])
    # seq 4 replaced by a self-consistent entry that links elsewhere: both links around it break.
    entries[1] = custody_entries([4], prev_of_first="ee" * 32)[0]
    assert problems_of(make_parts(entries=entries), tmp_path) == [
        "监管链断裂 / custody chain broken: custody.json seq=4 "
        "(prev_hash does not match the entry before it)",
        "监管链断裂 / custody chain broken: custody.json seq=5 "
        "(prev_hash does not match the entry before it)",
    ]


def test_custody_out_of_order_and_counts(tmp_path: Path) -> None:
    entries = custody_entries([3, 9, 4])
    parts = make_parts(entries=entries, head_seq=None)
    parts.manifest["custody"]["count"] = 4
    parts.sign()
    problems = problems_of(parts, tmp_path)
    assert any("out of order: custody.json seq=4 after seq=9" in p for p in problems)
    assert any("count is 3, manifest says 4" in p for p in problems)


def test_audit_head_with_bad_signature_or_other_hash(tmp_path: Path) -> None:
    parts = make_parts(head_seq=11)
    head = parts.manifest["audit_head"]
    head["entry_hash"] = "ab" * 32
    parts.sign()
    problems = problems_of(parts, tmp_path)
    assert any("invalid audit head signature" in p and "seq=11" in p for p in problems)
    assert any("custody entry differs from the signed audit head: seq=11" in p for p in problems)


def test_not_a_zip_and_usage_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    assert not verify.verify_archive(junk).ok
    assert verify.main([str(junk)]) == 1
    assert verify.main([]) == 2
    assert verify.main([str(tmp_path / "absent.zip")]) == 2
    assert verify.main([str(junk), "--public-key", "xyz"]) == 2


# --- the fieldtrace command -------------------------------------------------------------


def test_fieldtrace_archive_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parts = make_parts()
    archive = parts.write(tmp_path / "case.zip")
    assert cli.main(["archive", "verify", str(archive), "--public-key", parts.public_key_hex]) == 0
    assert "archive intact" in capsys.readouterr().out

    parts.extra["x.bin"] = b"x"
    tampered = parts.write(tmp_path / "tampered.zip")
    assert cli.main(["archive", "verify", str(tampered)]) == 1
    assert "unlisted file: x.bin" in capsys.readouterr().err

    command = Path(sys.executable).with_name("fieldtrace")
    key = ["--public-key", parts.public_key_hex]
    ok = subprocess.run(
        [command, "archive", "verify", archive, *key], capture_output=True, timeout=120
    )
    unpinned = subprocess.run(
        [command, "archive", "verify", archive], capture_output=True, timeout=120
    )
    bad = subprocess.run(
        [command, "archive", "verify", tampered, *key], capture_output=True, timeout=120
    )
    assert (ok.returncode, unpinned.returncode, bad.returncode) == (0, 3, 1), bad.stderr
    assert b"UNAUTHENTICATED" in unpinned.stderr


# --- Ed25519 ----------------------------------------------------------------------------

RFC8032_VECTORS = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
        "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032_VECTORS)
def test_ed25519_rfc8032_vectors(secret: str, public: str, message: str, signature: str) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
    assert key.public_key().public_bytes_raw().hex() == public
    assert key.sign(bytes.fromhex(message)).hex() == signature
    pk, msg, sig = bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature)
    assert verify.ed25519_verify(pk, msg, sig)
    assert not verify.ed25519_verify(pk, msg + b"\x00", sig)


def _reference_verdict(public: bytes, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _flip(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    bit = rng.randrange(len(out) * 8)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_ed25519_agrees_with_cryptography_on_random_keys() -> None:
    rng = random.Random(8032)
    for _ in range(50):
        key = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
        public = key.public_key().public_bytes_raw()
        message = rng.randbytes(rng.randrange(0, 200))
        signature = key.sign(message)
        assert verify.ed25519_verify(public, message, signature)
        for forged in (
            (public, message, _flip(signature, rng)),
            (public, message, _flip(signature[:32], rng) + signature[32:]),
            (public, _flip(message, rng) if message else b"x", signature),
            (_flip(public, rng), message, signature),
        ):
            assert verify.ed25519_verify(*forged) is _reference_verdict(*forged) is False


def test_ed25519_rejects_non_canonical_encodings() -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    public, message = key.public_key().public_bytes_raw(), b"fieldtrace"
    signature = key.sign(message)
    s = int.from_bytes(signature[32:], "little")
    malleable = signature[:32] + (s + verify._L).to_bytes(32, "little")
    assert not verify.ed25519_verify(public, message, malleable)
    assert not _reference_verdict(public, message, malleable)
    # y = p + 1 encodes the neutral point non-canonically; x = 0 with the sign bit set too.
    assert verify._point_decompress((verify._P + 1).to_bytes(32, "little")) is None
    assert verify._point_decompress((1 | 1 << 255).to_bytes(32, "little")) is None
    assert verify._point_decompress((1).to_bytes(32, "little")) is not None
    assert not verify.ed25519_verify(public[:31], message, signature)
    assert not verify.ed25519_verify(public, message, signature[:63])


def test_report_as_dict_round_trips_through_json(tmp_path: Path) -> None:
    report = verify.verify_archive(io.BytesIO(b"PK"))
    data = json.loads(json.dumps(report.as_dict(), ensure_ascii=False))
    assert data["ok"] is False and data["problems"]


# --- the custody entries in the audit log's Merkle tree (log.json) --------------------------


def _log_tampered(tmp_path: Path, change: Any) -> list[str]:
    """Change log.json (and re-sign the manifest, as an insider holding the key could)."""
    parts = make_parts()
    log = json.loads(parts.files["log.json"])
    change(log)
    parts.files["log.json"] = json.dumps(log).encode()
    return problems_of(parts.sign(), tmp_path, public_key_hex=parts.public_key_hex)


def _swap_path(log: dict[str, Any]) -> None:
    path = log["proofs"][1]["audit_path"]
    path[0], path[1] = path[1], path[0]


def _flip_path(log: dict[str, Any]) -> None:
    path = log["proofs"][1]["audit_path"]
    path[-1] = ("0" if path[-1][0] != "0" else "1") + path[-1][1:]


def _resign_head(log: dict[str, Any], key: Ed25519PrivateKey) -> None:
    head = log["head"]
    head["public_key"] = key.public_key().public_bytes_raw().hex()
    head["signature"] = key.sign(
        verify.tree_head_message(head["tree_size"], head["root_hash"], head["timestamp"])
    ).hex()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            lambda log: log["proofs"].pop(2),
            "no inclusion proof in log.json for custody entry seq=9",
        ),
        (_flip_path, "custody entry seq=4 is not proven"),
        (_swap_path, "custody entry seq=4 is not proven"),
        (lambda log: log["proofs"][0].update(leaf_index=3), "seq=3 is not proven"),
        (
            lambda log: log["proofs"].append({**log["proofs"][0], "seq": 5}),
            "proves entry seq=5, which custody does not hold",
        ),
        (lambda log: log["proofs"].append(log["proofs"][0]), "malformed or repeated proof"),
        (lambda log: log["head"].update(root_hash="00" * 32), "invalid tree head in log.json"),
        (lambda log: log["head"].update(tree_size=13), "invalid tree head in log.json"),
        (
            lambda log: _resign_head(log, Ed25519PrivateKey.generate()),
            "invalid tree head in log.json",
        ),
        (lambda log: log.pop("proofs"), "malformed log.json"),
    ],
    ids=[
        "removed",
        "altered",
        "reordered",
        "wrong-leaf",
        "extra",
        "repeated",
        "root",
        "size",
        "other-key",
        "no-proofs",
    ],
)
def test_each_piece_of_the_log_proofs_is_checked(tmp_path: Path, change: Any, named: str) -> None:
    problems = _log_tampered(tmp_path, change)
    assert any(named in p for p in problems), problems


def test_a_rewritten_custody_entry_is_not_in_the_signed_tree(tmp_path: Path) -> None:
    """An insider who rewrites entry 10 consistently (its hash and the next link) and re-signs
    the manifest still cannot prove the new entry in the tree head outsiders hold."""
    parts = make_parts()
    entries = json.loads(parts.files["custody.json"])["entries"]
    fields = {k: v for k, v in entries[3].items() if k != "entry_hash"}
    fields["details"] = {**fields["details"], "note": "改写"}
    fields["at"] = datetime.fromisoformat(fields["at"])
    entries[3]["details"] = fields["details"]
    entries[3]["entry_hash"] = compute_entry_hash(**fields)
    parts.files["custody.json"] = json.dumps({"entries": entries}, ensure_ascii=False).encode()
    problems = problems_of(parts.sign(), tmp_path, public_key_hex=parts.public_key_hex)
    assert any("custody entry seq=10 is not proven" in p for p in problems), problems


def test_the_log_file_removed_or_its_size_misstated(tmp_path: Path) -> None:
    parts = make_parts()
    parts.omit.add("log.json")
    problems = problems_of(parts, tmp_path, public_key_hex=parts.public_key_hex)
    assert any("log.json" in p for p in problems), problems
    parts = make_parts()
    parts.manifest["log"]["tree_size"] = 11
    problems = problems_of(parts.sign(), tmp_path, public_key_hex=parts.public_key_hex)
    assert any("has a tree of size 12, manifest.json says 11" in p for p in problems), problems


def test_an_archive_exported_before_log_proofs_is_noted(tmp_path: Path) -> None:
    parts = make_parts(log=False)
    report = verify.verify_archive(parts.write(tmp_path / "case.zip"), parts.public_key_hex)
    assert report.ok and report.authentic, report.problems
    assert any("no Merkle inclusion proofs" in n for n in report.notes)


# --- trusted time of the log's tree head (--tsa-ca) ---------------------------------------


def _stamped(tsa: LocalTsa, *, other_signature: bool = False) -> Parts:
    parts = make_parts()
    log = json.loads(parts.files["log.json"])
    roots = x509.load_pem_x509_certificates(tsa.ca_file.read_bytes())
    signed = bytes.fromhex(log["head"]["signature"])
    stamp = Tsa(url=tsa.url, roots=roots).stamp(os.urandom(64) if other_signature else signed)
    log["head"]["timestamp_token"] = base64.b64encode(stamp.token).decode()
    log["head"]["timestamp_time"] = stamp.time.isoformat()
    parts.files["log.json"] = json.dumps(log).encode()
    return parts.sign()


def test_the_tree_heads_time_stamp_is_checked_with_the_authoritys_root(tsa, tmp_path):
    parts = _stamped(tsa)
    archive = parts.write(tmp_path / "case.zip")
    report = verify.verify_archive(archive, parts.public_key_hex, tsa_ca=str(tsa.ca_file))
    assert report.ok and report.authentic, report.problems
    assert report.summary["trusted_time"]
    unchecked = verify.verify_archive(archive, parts.public_key_hex)
    assert unchecked.ok and any("--tsa-ca" in n for n in unchecked.notes)
    # the bundled verify.py alone (standard library and the openssl command)
    done = run_standalone(
        archive, "--public-key", parts.public_key_hex, "--tsa-ca", str(tsa.ca_file)
    )
    assert done.returncode == 0, done.stderr


def test_a_time_stamp_of_another_signature_or_authority_fails(tsa, tmp_path):
    other = _stamped(tsa, other_signature=True)
    problems = problems_of(
        other, tmp_path, public_key_hex=other.public_key_hex, tsa_ca=str(tsa.ca_file)
    )
    assert any("the tree head's RFC 3161 token: openssl ts -verify" in p for p in problems), (
        problems
    )
    stranger = LocalTsa(tmp_path / "stranger")
    stranger.dir.mkdir()
    stranger.start()
    try:
        problems = problems_of(
            _stamped(tsa),
            tmp_path,
            public_key_hex=other.public_key_hex,
            tsa_ca=str(stranger.ca_file),
        )
    finally:
        stranger.stop()
    assert any("RFC 3161 token" in p for p in problems), problems


def test_tsa_ca_given_without_a_token_is_a_problem(tsa, tmp_path):
    parts = make_parts()
    problems = problems_of(
        parts, tmp_path, public_key_hex=parts.public_key_hex, tsa_ca=str(tsa.ca_file)
    )
    assert any("carries no RFC 3161 token" in p for p in problems), problems
