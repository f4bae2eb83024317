"""The audit log as an RFC 6962 Merkle tree: hashes, proofs, signed tree heads, the public
endpoints and the offline verifier; every tamper case is detected and named."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.archive import verify as offline
from server.extensions import db
from server.models import AuditEntry, MerkleNode, TreeHead
from server.services import audit, transparency
from server.services.signing import Signer
from server.services.transparency import MemoryTree, ProofError

# --- an independent, literal transcription of RFC 6962 section 2.1 (recursive, slow) ---------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return _h(b"")
    if len(d) == 1:
        return _h(b"\x00" + d[0])
    k = _k(len(d))
    return _h(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [ref_mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    return ref_subproof(m, d, True)


# The Certificate Transparency reference test leaves (merkle_tree_test.cc).
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
# The published CT roots for the first 1..8 of them; the test also derives each one with the
# reference recursion above, so a wrong constant here could not pass.
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

LEAVES_40 = [f"leaf {i}".encode() * (i % 3 + 1) for i in range(40)]


def test_ct_reference_vectors():
    tree = MemoryTree(CT_LEAVES)
    assert transparency.root_hash(tree, 0) == _h(b"")
    for n in range(1, 9):
        root = transparency.root_hash(tree, n)
        assert root == ref_mth(CT_LEAVES[:n])
        assert root.hex() == CT_ROOTS[n - 1]
        for m in range(n):
            path = transparency.inclusion_proof(tree, m, n)
            assert path == ref_path(m, CT_LEAVES[:n])
            transparency.verify_inclusion(m, n, transparency.leaf_hash(CT_LEAVES[m]), path, root)
        for m in range(1, n + 1):
            assert transparency.consistency_proof(tree, m, n) == ref_proof(m, CT_LEAVES[:n])


def test_every_inclusion_proof_up_to_40_verifies():
    tree = MemoryTree(LEAVES_40)
    for n in range(1, 41):
        root = transparency.root_hash(tree, n)
        assert root == ref_mth(LEAVES_40[:n])
        for m in range(n):
            path = transparency.inclusion_proof(tree, m, n)
            assert path == ref_path(m, LEAVES_40[:n])
            leaf = transparency.leaf_hash(LEAVES_40[m])
            transparency.verify_inclusion(m, n, leaf, path, root)
            assert offline.verify_inclusion(m, n, leaf.hex(), [p.hex() for p in path], root.hex())


def test_every_consistency_proof_up_to_40_verifies():
    tree = MemoryTree(LEAVES_40)
    roots = [transparency.root_hash(tree, n) for n in range(41)]
    for n in range(1, 41):
        for m in range(1, n + 1):
            proof = transparency.consistency_proof(tree, m, n)
            assert proof == ref_proof(m, LEAVES_40[:n])
            transparency.verify_consistency(m, n, roots[m], roots[n], proof)
            assert offline.verify_consistency(
                m, n, roots[m].hex(), roots[n].hex(), [p.hex() for p in proof]
            )


def _both_reject_inclusion(m: int, n: int, leaf: bytes, path: list[bytes], root: bytes) -> str:
    with pytest.raises(ProofError) as caught:
        transparency.verify_inclusion(m, n, leaf, path, root)
    with pytest.raises(offline.ProofError) as offline_caught:
        offline.verify_inclusion(m, n, leaf.hex(), [p.hex() for p in path], root.hex())
    assert str(caught.value) == str(offline_caught.value)
    return str(caught.value)


def test_tampered_inclusion_proofs_are_named():
    tree = MemoryTree(LEAVES_40)
    n, m = 37, 21
    root, path = transparency.root_hash(tree, n), transparency.inclusion_proof(tree, m, n)
    leaf = transparency.leaf_hash(LEAVES_40[m])
    changed_leaf = transparency.leaf_hash(LEAVES_40[m] + b"!")
    assert "root mismatch" in _both_reject_inclusion(m, n, changed_leaf, path, root)
    reordered = [path[1], path[0], *path[2:]]
    assert "root mismatch" in _both_reject_inclusion(m, n, leaf, reordered, root)
    assert "shorter" in _both_reject_inclusion(m, 1000, leaf, path, root)
    assert "longer" in _both_reject_inclusion(m, 22, leaf, path, root)
    # A size with the same path shape (21 in 40 as in 37) cannot be told from the hashes
    # alone: the signed head binds size and root together, and verify.py requires the proof's
    # tree_size to be the head's (test_verify_py_checks_a_proof_file).
    assert "outside" in _both_reject_inclusion(n, n, leaf, path, root)
    assert "root mismatch" in _both_reject_inclusion(m + 1, n, leaf, path, root)


def test_a_rewritten_past_entry_breaks_consistency():
    tree = MemoryTree(LEAVES_40)
    old_root = transparency.root_hash(tree, 10)
    rewritten = list(LEAVES_40)
    rewritten[3] = b"what the insider wishes had happened"
    new_tree = MemoryTree(rewritten)
    proof = transparency.consistency_proof(new_tree, 10, 40)
    new_root = transparency.root_hash(new_tree, 40)
    for check, args in (
        (transparency.verify_consistency, (10, 40, old_root, new_root, proof)),
        (
            offline.verify_consistency,
            (10, 40, old_root.hex(), new_root.hex(), [p.hex() for p in proof]),
        ),
    ):
        with pytest.raises((ProofError, offline.ProofError), match="rewritten"):
            check(*args)
    # The honest proof for the same sizes does not lead to the rewritten tree either.
    honest = transparency.consistency_proof(tree, 10, 40)
    with pytest.raises(ProofError, match="newer root"):
        transparency.verify_consistency(10, 40, old_root, new_root, honest)
    with pytest.raises(ProofError, match="rewritten"):
        transparency.verify_consistency(10, 10, old_root, transparency.root_hash(new_tree, 10), [])
    root_40 = transparency.root_hash(tree, 40)
    with pytest.raises(ProofError, match="empty consistency proof"):
        transparency.verify_consistency(10, 40, old_root, root_40, [])
    with pytest.raises(ProofError, match="shorter"):
        transparency.verify_consistency(10, 40, old_root, root_40, honest[:-1])
    with pytest.raises(ProofError, match="longer"):
        transparency.verify_consistency(10, 40, old_root, root_40, [*honest, honest[0]])


def test_memory_tree_of_two_to_the_twelve():
    leaves = [i.to_bytes(4, "big") for i in range(4096 + 3)]
    tree = MemoryTree(leaves)
    assert transparency.root_hash(tree, len(leaves)) == ref_mth(leaves)
    assert transparency.root_hash(tree, 4096) == ref_mth(leaves[:4096])


# --- the stored tree over the audit log, signed heads, the public endpoints -----------------


def _fill(app, n: int, start: int = 0) -> None:
    with app.app_context():
        for i in range(start, start + n):
            audit.record(
                db.session,
                actor=None,
                action="test.event",
                object_type="t",
                object_id=i,
                details={"i": i, "text": "现场"},
            )
        db.session.commit()


def _sign(app) -> dict:
    with app.app_context():
        head = transparency.sign_tree_head(db.session, app.extensions["fieldtrace"].signer)
        db.session.commit()
        assert head is not None
        return transparency.head_document(head)


def _entry_leaves(app) -> list[bytes]:
    with app.app_context():
        hashes = db.session.execute(
            sa.select(AuditEntry.entry_hash).order_by(AuditEntry.seq)
        ).scalars()
        return [bytes.fromhex(h) for h in hashes]


def _key(app) -> str:
    with app.app_context():
        return app.extensions["fieldtrace"].signer.public_key_hex


def test_the_stored_tree_grows_and_matches_the_reference(app, client):
    assert client.get("/public/log/head").status_code == 404
    sizes = []
    for batch in (1, 4, 8, 3, 24):
        _fill(app, batch, start=sum(sizes[-1:]))
        head = _sign(app)
        sizes.append(head["tree_size"])
        leaves = _entry_leaves(app)
        assert head["tree_size"] == len(leaves)
        assert head["root_hash"] == ref_mth(leaves).hex()
    assert sizes == [1, 5, 13, 16, 40]
    leaves = _entry_leaves(app)
    with app.app_context():
        for n in range(1, 41):
            assert transparency.stored_root(db.session, n) == ref_mth(leaves[:n])
            for m in range(n):
                assert transparency.stored_inclusion_proof(db.session, m, n) == ref_path(
                    m, leaves[:n]
                )
            for m in range(1, n + 1):
                assert transparency.stored_consistency_proof(db.session, m, n) == ref_proof(
                    m, leaves[:n]
                )
        # Only complete subtrees above the leaves are stored: 40 leaves make 20+10+5+2+1.
        assert db.session.execute(sa.select(sa.func.count()).select_from(MerkleNode)).scalar() == 38
        assert db.session.execute(sa.select(sa.func.count()).select_from(TreeHead)).scalar() == 5


def test_public_proofs_verify_offline_against_the_pinned_key(app, client):
    _fill(app, 11)
    _sign(app)
    old = client.get("/public/log/head").get_json()
    _fill(app, 18, start=11)
    _sign(app)
    response = client.get("/public/log/head")
    assert response.status_code == 200
    head = response.get_json()
    key = _key(app)
    assert head["tree_size"] == 29 and old["tree_size"] == 11
    assert head["key_id"] == hashlib.sha256(bytes.fromhex(key)).hexdigest()
    assert set(head) >= {"tree_size", "root_hash", "timestamp", "key_id", "signature"}
    assert client.get("/public/log/head?tree_size=11").get_json() == old
    for doc in (head, old):
        transparency.verify_head(doc, key)
        offline.verify_tree_head(doc, key)

    leaves = _entry_leaves(app)
    for seq in (1, 7, 11, 29):
        for size in (11, 29):
            if seq > size:
                continue
            proof = client.get(f"/public/log/proof/{seq}?tree_size={size}").get_json()
            assert proof["leaf_index"] == seq - 1 and proof["tree_size"] == size
            assert proof["leaf_hash"] == transparency.leaf_hash(leaves[seq - 1]).hex()
            assert proof["leaf_hash"] == offline.tree_leaf_hash(leaves[seq - 1].hex())
            root = (head if size == 29 else old)["root_hash"]
            assert offline.verify_inclusion(
                proof["leaf_index"], size, proof["leaf_hash"], proof["audit_path"], root
            )
    default = client.get("/public/log/proof/5").get_json()
    assert default["tree_size"] == 29

    consistency = client.get("/public/log/consistency?first=11&second=29").get_json()
    assert consistency["first"] == 11 and consistency["second"] == 29
    assert offline.verify_consistency(
        11, 29, old["root_hash"], head["root_hash"], consistency["proof"]
    )


def test_bad_requests_are_named(app, client):
    _fill(app, 5)
    assert client.get("/public/log/proof/1").status_code == 404  # no head yet
    _sign(app)
    cases = {
        "/public/log/proof/6": (404, "not_in_tree"),
        "/public/log/proof/0": (404, "not_in_tree"),
        "/public/log/proof/3?tree_size=2": (404, "not_in_tree"),
        "/public/log/proof/1?tree_size=6": (404, "beyond_log"),
        "/public/log/proof/1?tree_size=0": (400, "invalid_parameter"),
        "/public/log/proof/1?tree_size=abc": (400, "invalid_parameter"),
        "/public/log/proof/1?tree_size=-1": (400, "invalid_parameter"),
        "/public/log/consistency": (400, "missing_parameter"),
        "/public/log/consistency?first=4&second=3": (400, "invalid_parameter"),
        "/public/log/consistency?first=2&second=9": (404, "beyond_log"),
        "/public/log/consistency?first=0&second=5": (400, "invalid_parameter"),
        "/public/log/head?tree_size=4": (404, "no_tree_head"),
        "/public/log/head?tree_size=x": (400, "invalid_parameter"),
    }
    for url, (status, code) in cases.items():
        response = client.get(url)
        assert (response.status_code, response.get_json()["error"]["code"]) == (status, code), url
    assert client.get("/public/log/consistency?first=5").get_json()["proof"] == []


def test_an_unchanged_log_gets_a_fresh_head_not_a_new_row(app):
    _fill(app, 3)
    first = _sign(app)
    second = _sign(app)
    assert first["tree_size"] == second["tree_size"] and first["root_hash"] == second["root_hash"]
    assert second["timestamp"] >= first["timestamp"]
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(TreeHead)).scalar() == 1


def test_the_worker_sweep_signs_a_tree_head(app, client):
    _fill(app, 4)
    app.extensions["fieldtrace"].jobs.sweep()
    head = client.get("/public/log/head").get_json()
    assert head["tree_size"] == 4
    offline.verify_tree_head(head, _key(app))


def test_an_outsider_with_yesterdays_head_detects_a_rewrite(app, client):
    """The insider edits entry 3, recomputes the whole chain and the whole tree and signs a
    new head with the real key: the chain verifies, but not against the kept head."""
    _fill(app, 10)
    _sign(app)
    kept = client.get("/public/log/head").get_json()
    kept_proof = client.get("/public/log/proof/3").get_json()
    _fill(app, 6, start=10)
    _sign(app)
    with app.app_context():
        # Without rebuilding the tree: the entry's own proof no longer leads to the head.
        entries = list(db.session.execute(sa.select(AuditEntry).order_by(AuditEntry.seq)).scalars())
        entries[2].details = {"i": 2, "text": "改写"}
        prev = audit.GENESIS_HASH
        for entry in entries:
            entry.prev_hash = prev
            entry.entry_hash = audit._hash_of(entry)
            prev = entry.entry_hash
        db.session.commit()
    head = client.get("/public/log/head").get_json()
    proof = client.get("/public/log/proof/3").get_json()
    assert proof["leaf_hash"] != kept_proof["leaf_hash"]
    with pytest.raises(offline.ProofError, match="root mismatch"):
        offline.verify_inclusion(2, 16, proof["leaf_hash"], proof["audit_path"], head["root_hash"])
    with app.app_context():  # ... then rebuilding it and re-signing with the server's key
        db.session.execute(sa.delete(MerkleNode))
        db.session.execute(sa.delete(TreeHead))
        db.session.commit()
        assert audit.verify_chain(db.session).ok
    new_head = _sign(app)
    offline.verify_tree_head(new_head, _key(app))  # a valid signature on a rewritten log
    consistency = client.get("/public/log/consistency?first=10&second=16").get_json()
    with pytest.raises(offline.ProofError, match="rewritten"):
        offline.verify_consistency(
            10, 16, kept["root_hash"], new_head["root_hash"], consistency["proof"]
        )


def test_a_head_signed_by_another_key_is_refused(app, client):
    _fill(app, 2)
    head = _sign(app)
    other = Signer(Path(app.instance_path) / "other-key.pem")
    forged = dict(
        head,
        signature=other.sign(offline.tree_head_message(2, head["root_hash"], head["timestamp"])),
    )
    for check in (transparency.verify_head, offline.verify_tree_head):
        with pytest.raises((ProofError, offline.ProofError), match="bad signature"):
            check(forged, _key(app))
        with pytest.raises((ProofError, offline.ProofError), match="another signing key"):
            check(dict(forged, public_key=other.public_key_hex), _key(app))
        with pytest.raises((ProofError, offline.ProofError), match="bad signature"):
            check(dict(head, tree_size=3), _key(app))
    stranger = Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()
    with pytest.raises(offline.ProofError):
        offline.verify_tree_head(head, stranger)


def test_verify_py_checks_a_proof_file(app, client, tmp_path, capsys):
    _fill(app, 7)
    _sign(app)
    old = client.get("/public/log/head").get_json()
    _fill(app, 5, start=7)
    _sign(app)
    bundle = {
        "head": client.get("/public/log/head").get_json(),
        "inclusion": [client.get(f"/public/log/proof/{s}").get_json() for s in (1, 7, 12)],
        "old_head": old,
        "consistency": client.get("/public/log/consistency?first=7&second=12").get_json(),
    }
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(bundle))
    key = _key(app)
    assert offline.main(["proof", str(path), "--public-key", key]) == offline.EXIT_OK
    assert "consistent" in capsys.readouterr().out
    # The standalone file, alone, with only the standard library (as an outsider runs it).
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    (auditor / "verify.py").write_bytes(client.get("/public/signing-keys/verify.py").data)
    standalone = subprocess.run(
        [sys.executable, "-I", "-S", "verify.py", "proof", str(path), "--public-key", key],
        cwd=auditor,
        env={},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert standalone.returncode == 0, standalone.stderr
    assert "seq 12 is in the tree" in standalone.stdout
    assert offline.main(["proof", str(path)]) == offline.EXIT_UNAUTHENTICATED
    stranger = Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()
    assert offline.main(["proof", str(path), "--public-key", stranger]) == offline.EXIT_FAILED
    stale = dict(bundle, inclusion=[client.get("/public/log/proof/3?tree_size=7").get_json()])
    path.write_text(json.dumps(stale))
    assert offline.main(["proof", str(path), "--public-key", key]) == offline.EXIT_FAILED
    assert "proof is for tree size 7, the head is of size 12" in capsys.readouterr().err
    rewritten = dict(bundle, old_head=dict(old, root_hash="00" * 32))
    path.write_text(json.dumps(rewritten))
    assert offline.main(["proof", str(path), "--public-key", key]) == offline.EXIT_FAILED
    assert "old_head: bad signature" in capsys.readouterr().err
    bundle["inclusion"][1]["audit_path"].reverse()
    path.write_text(json.dumps(bundle))
    assert offline.main(["proof", str(path), "--public-key", key]) == offline.EXIT_FAILED
    err = capsys.readouterr().err
    assert "seq 7" in err and "root mismatch" in err
    # The archive form of the command is unchanged.
    assert offline.main([str(tmp_path / "missing.zip")]) == offline.EXIT_USAGE


def test_cli_signs_a_tree_head_on_demand(app, app_config, client, monkeypatch, capsys):
    from server.cli import main as cli_main

    # The CLI builds its own app from the environment: point it at this test's database.
    for name in (
        "DATABASE_URL:SQLALCHEMY_DATABASE_URI",
        "DATA_DIR",
        "S3_ENDPOINT_URL",
        "SIGNING_KEY_FILE",
        "S3_BUCKET_ORIGINALS",
        "S3_ACCESS_KEY",
        "S3_SECRET_KEY",
    ):
        env, _, key = name.partition(":")
        monkeypatch.setenv(f"FIELDTRACE_{env}", str(app_config[key or env]))
    monkeypatch.setenv("FIELDTRACE_SECRET_KEY", "x")
    assert cli_main(["audit", "tree-head"]) == 1  # an empty log has no head
    capsys.readouterr()
    _fill(app, 9)
    assert cli_main(["audit", "tree-head"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["tree_size"] == 9
    assert printed == client.get("/public/log/head").get_json()
    offline.verify_tree_head(printed, _key(app))


def test_a_long_log_is_caught_up_head_by_head(app, client):
    """A bounded step per head (the sweep's, when the tree is first built over a long log):
    each head extends the one before, and the end matches the reference."""
    _fill(app, 23)
    signer = app.extensions["fieldtrace"].signer
    sizes, roots = [], {}
    with app.app_context():
        for _ in range(5):
            head = transparency.sign_tree_head(db.session, signer, max_leaves=5)
            db.session.commit()
            assert head is not None
            sizes.append(head.tree_size)
            roots[head.tree_size] = head.root_hash
    assert sizes == [5, 10, 15, 20, 23]
    assert roots[23] == ref_mth(_entry_leaves(app)).hex()
    for first in sizes:
        proof = client.get(f"/public/log/consistency?first={first}&second=23").get_json()
        assert offline.verify_consistency(first, 23, roots[first], roots[23], proof["proof"])


def test_growth_in_small_reads_and_a_gap(app):
    _fill(app, 12)
    with app.app_context():
        db.session.execute(sa.delete(AuditEntry).where(AuditEntry.seq == 9))  # a deleted entry
        db.session.commit()
        size, root = transparency.grow(db.session, batch=3)
        db.session.rollback()  # grow belongs inside sign_tree_head's transaction
        head = transparency.sign_tree_head(db.session, app.extensions["fieldtrace"].signer)
        db.session.commit()
    # The tree stops before the gap (audit verify names the deleted entry).
    assert size == 8 and root == ref_mth(_entry_leaves(app)[:8])
    assert head is not None and (head.tree_size, head.root_hash) == (8, root.hex())
