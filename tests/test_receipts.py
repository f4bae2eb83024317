"""Receipts the officer holds (存证回执): issued when an item is verified, served to whoever
may see the item, checked offline by verify.py (each altered field named) and online by the
public page (a quarantined item or a rewritten log fails)."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from server.archive import verify as offline
from server.extensions import db
from server.models import AuditEntry, MediaItem, MediaReceipt, MerkleNode, TreeHead
from server.services import audit, receipts, transparency
from tests import tus_helpers as tus
from tests.conftest import Actor, open_case, sample_jpeg

API = "/api/v1"
PARTY = {"name": "张三", "kind": "person", "id_number": "310101199001011234"}


@pytest.fixture
def team(users) -> dict[str, Actor]:
    return {
        "li": users.create("li"),
        "wang": users.create("wang"),
        "sup": users.create("boss", role="supervisor"),
        "legal": users.create("fa", role="legal"),
        "admin": users.create("admin", role="admin"),
        "other_sup": users.create("boss2", role="supervisor", unit="U2"),
    }


@pytest.fixture
def item(client, team) -> str:
    case = open_case(client, team["li"], parties=[PARTY])
    return tus.upload(
        client, team["li"], case["id"], sample_jpeg(), device_id="phone-li", filename="p.jpg"
    )


def public_key(app) -> str:
    return app.extensions["fieldtrace"].signer.public_key_hex


def fetch(client, actor: Actor, item_id: str) -> dict[str, Any]:
    resp = client.get(f"{API}/media/{item_id}/receipt", headers=actor.headers)
    assert resp.status_code == 200, resp.json
    return json.loads(resp.data)


def test_a_verified_item_has_a_signed_receipt_that_verifies_offline(app, client, team, item):
    with app.app_context():  # issued by the pipeline as the item was verified
        assert db.session.get(MediaReceipt, item) is not None
    resp = client.get(f"{API}/media/{item}/receipt", headers=team["li"].headers)
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert "attachment" in resp.headers["Content-Disposition"]
    document = json.loads(resp.data)
    assert resp.data == offline.canonical_json(document)  # served canonical
    body = document["receipt"]
    with app.app_context():
        row = db.session.get(MediaItem, item)
        entry = db.session.execute(
            sa.select(AuditEntry).where(
                AuditEntry.object_id == item, AuditEntry.action == "media.verified"
            )
        ).scalar_one()
        assert body["device_sha256"] == body["server_sha256"] == row.device_sha256
        assert body["size"] == row.size
        assert body["case_id"] == row.case_id
        assert body["log_seq"] == entry.seq
        assert body["log_entry_hash"] == entry.entry_hash
    assert "张三" not in resp.data.decode()
    report = offline.verify_receipt(document, [public_key(app)])
    assert report.problems == [] and report.authentic
    assert document["inclusion"]["leaf_index"] == body["log_seq"] - 1
    assert any("is in the signed log" in n for n in report.notes)
    # as issued: the same signed body the next time, and every fetch is in the custody trail
    again = fetch(client, team["li"], item)
    assert again["receipt"] == body and again["signature"] == document["signature"]
    with app.app_context():
        viewed = db.session.execute(
            sa.select(AuditEntry).where(AuditEntry.action == "media.receipt_viewed")
        ).scalars()
        assert [(e.actor, e.object_id) for e in viewed] == [("li", item), ("li", item)]
    assert len(offline.canonical_json({k: document[k] for k in ("receipt", "signature")})) < 1024


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("li", 200),  # the officer who took it (assigned)
        ("wang", 404),  # an officer not on the case
        ("sup", 200),  # the unit's supervisor
        ("legal", 200),  # the unit's legal reviewer
        ("admin", 404),  # admins see no evidence
        ("other_sup", 404),  # another unit's supervisor
    ],
)
def test_the_receipt_is_authorised_like_the_item(client, team, item, who, status):
    resp = client.get(f"{API}/media/{item}/receipt", headers=team[who].headers)
    assert resp.status_code == status
    assert (
        client.get(f"{API}/media/{item}").status_code
        == client.get(f"{API}/media/{item}/receipt").status_code
    )


def test_no_receipt_before_verification(app, client, team, item):
    with app.app_context():
        db.session.execute(sa.delete(MediaReceipt))
        db.session.get(MediaItem, item).status = "received"
        db.session.commit()
    resp = client.get(f"{API}/media/{item}/receipt", headers=team["li"].headers)
    assert resp.status_code == 409 and resp.json["error"]["code"] == "receipt_unavailable"


def test_a_receipt_is_issued_on_request_when_the_pipeline_did_not(app, client, team, item):
    with app.app_context():
        db.session.execute(sa.delete(MediaReceipt))
        db.session.execute(sa.delete(MerkleNode))
        db.session.execute(sa.delete(TreeHead))
        db.session.commit()
    document = fetch(client, team["li"], item)  # and a tree head is signed on demand
    assert document["tree_head"]["tree_size"] >= document["receipt"]["log_seq"]
    assert offline.verify_receipt(document, [public_key(app)]).authentic


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("size", 1),
        ("captured_at", "2020-01-01T00:00:00+08:00"),
        ("stage", "execution"),
        ("case_number", "另一案号"),
        ("item_id", "0" * 32),
        ("verified_at", "2030-01-01T00:00:00.000+00:00"),
    ],
)
def test_an_altered_field_fails_offline_naming_it(app, client, team, item, name, value):
    document = fetch(client, team["li"], item)
    assert document["receipt"][name] != value
    document["receipt"][name] = value
    report = offline.verify_receipt(document, [public_key(app)])
    assert not report.ok
    assert report.problems[0].startswith(f"{name}: altered after signing"), report.problems


def test_altered_hashes_and_proofs_are_named(app, client, team, item):
    key = public_key(app)
    document = fetch(client, team["li"], item)
    both = json.loads(json.dumps(document))
    both["receipt"]["device_sha256"] = both["receipt"]["server_sha256"] = "ab" * 32
    problems = offline.verify_receipt(both, [key]).problems
    assert any(p.startswith("device_sha256: altered") for p in problems)
    assert any(p.startswith("server_sha256: altered") for p in problems)
    one = json.loads(json.dumps(document))
    one["receipt"]["server_sha256"] = "cd" * 32
    assert any(
        p.startswith("server_sha256: differs from device_sha256")
        for p in offline.verify_receipt(one, [key]).problems
    )
    sig = json.loads(json.dumps(document))
    sig["signature"]["value"] = "00" * 64
    assert offline.verify_receipt(sig, [key]).problems[0].startswith("signature: does not verify")
    path = json.loads(json.dumps(document))
    if path["inclusion"]["audit_path"]:
        path["inclusion"]["audit_path"][0] = "11" * 32
    else:
        path["inclusion"]["leaf_hash"] = "11" * 32
    assert offline.verify_receipt(path, [key]).problems[0].startswith("inclusion:")
    head = json.loads(json.dumps(document))
    head["tree_head"]["root_hash"] = "22" * 32
    assert offline.verify_receipt(head, [key]).problems[0].startswith("tree_head: bad signature")
    other = offline.verify_receipt(document, ["33" * 32]).problems
    assert any(p.startswith("signature.public_key: signed by a key that is not") for p in other)
    missing = json.loads(json.dumps(document))
    del missing["receipt"]["verified_at"]
    assert "verified_at: missing" in offline.verify_receipt(missing, [key]).problems


def _run(auditor: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The verifier as an outsider runs it: the published file alone, standard library only."""
    return subprocess.run(
        [sys.executable, "-I", "-S", "verify.py", "receipt", *args],
        cwd=auditor,
        env={},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_verify_py_receipt_exit_codes_and_messages(app, client, team, item, tmp_path):
    key = public_key(app)
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    (auditor / "verify.py").write_bytes(client.get("/public/signing-keys/verify.py").data)
    run = functools.partial(_run, auditor)
    document = fetch(client, team["li"], item)
    good = tmp_path / "receipt.json"
    good.write_text(json.dumps(document))
    done = run(str(good), "--public-key", key)
    assert done.returncode == 0, done.stderr
    assert "receipt VALID" in done.stdout
    assert offline.receipt_fingerprint(document["receipt"]) in done.stdout
    assert run(str(good)).returncode == 3  # no pinned key: UNAUTHENTICATED
    assert run(str(good), "--public-key", "ab" * 32).returncode == 1
    assert run(str(good), "--public-key", "nothex").returncode == 2
    document["receipt"]["size"] += 1
    bad = tmp_path / "altered.json"
    bad.write_text(json.dumps(document))
    done = run(str(bad), "--public-key", key)
    assert done.returncode == 1
    assert "receipt INVALID" in done.stderr and "size: altered after signing" in done.stderr


# --- the public page ---------------------------------------------------------------------------


def _check(client, document: Any, *, paste: bool = False) -> str:
    raw = json.dumps(document, ensure_ascii=False)
    if paste:
        resp = client.post("/public/receipt", data={"receipt": raw})
    else:
        import io

        resp = client.post(
            "/public/receipt",
            data={"file": (io.BytesIO(raw.encode()), "receipt.json")},
            content_type="multipart/form-data",
        )
    assert resp.status_code == 200
    return resp.data.decode()


def test_the_public_page_says_valid_in_chinese_then_english(client, team, item):
    form = client.get("/public/receipt")
    assert form.status_code == 200 and "存证回执核验" in form.data.decode()
    document = fetch(client, team["li"], item)
    page = _check(client, document)
    assert 'class="verdict ok"' in page
    assert page.index("有效") < page.index("Valid")
    assert offline.receipt_fingerprint(document["receipt"]) in page
    for private in ("张三", "310101199001011234", "Li", "phone-li"):
        assert private not in page
    assert 'class="verdict ok"' in _check(client, document, paste=True)


def test_the_public_page_names_an_altered_or_foreign_receipt(client, team, item):
    document = fetch(client, team["li"], item)
    document["receipt"]["size"] = 1
    page = _check(client, document)
    assert 'class="verdict bad"' in page and 'data-code="altered"' in page
    assert "「大小」与签名不符" in page and "size does not match" in page
    assert "未经证实" in page
    for junk in ("not json", '{"receipt": {"item_id": "\\ud800"}}', "[]", '{"receipt": 1}'):
        resp = client.post("/public/receipt", data={"receipt": junk})
        assert resp.status_code == 200 and 'class="verdict bad"' in resp.data.decode()
    assert client.post("/public/receipt", data={}).status_code == 200
    lone = {**document, "receipt": {**document["receipt"], "stage": "\ud800"}}
    assert offline.verify_receipt(lone, None).problems == [
        "the file holds text that is not valid Unicode"
    ]


def test_a_receipt_for_bytes_later_quarantined_fails_online(app, client, team, item):
    document = fetch(client, team["li"], item)
    assert offline.verify_receipt(document, [public_key(app)]).authentic
    with app.app_context():  # as an integrity re-check that found the bytes changed would
        row = db.session.get(MediaItem, item)
        row.status, row.quarantine_key = "hash_mismatch", f"quarantine/{item}/2"
        audit.record(
            db.session,
            actor=None,
            action="media.hash_mismatch",
            object_type="media",
            object_id=item,
            details={"quarantine_key": row.quarantine_key},
        )
        db.session.commit()
    page = _check(client, document)
    assert 'class="verdict bad"' in page and 'data-code="quarantined"' in page
    assert "隔离" in page and "quarantined" in page
    # offline, the receipt still verifies: it proves what was received, not what is held now
    assert offline.verify_receipt(document, [public_key(app)]).authentic


def test_a_receipt_whose_log_was_rewritten_fails_online(app, client, team, item):
    document = fetch(client, team["li"], item)
    assert 'class="verdict ok"' in _check(client, document)
    with app.app_context():
        signer = app.extensions["fieldtrace"].signer
        # history rewritten: an entry before the receipt's is altered and the chain, tree and
        # heads are rebuilt over it (every hash recomputed, every head freshly signed)
        entries = db.session.execute(sa.select(AuditEntry).order_by(AuditEntry.seq)).scalars()
        prev = audit.GENESIS_HASH
        for entry in entries:
            if entry.seq == 1:
                entry.details = {**(entry.details or {}), "rewritten": True}
            entry.prev_hash = prev
            entry.entry_hash = audit._hash_of(entry)
            prev = entry.entry_hash
        db.session.execute(sa.delete(MerkleNode))
        db.session.execute(sa.delete(TreeHead))
        db.session.flush()
        transparency.sign_tree_head(db.session, signer)
        db.session.commit()
        assert audit.verify_chain(db.session).ok  # the rewrite is self-consistent
    page = _check(client, document)
    assert 'class="verdict bad"' in page and 'data-code="log_rewritten"' in page
    assert "改写" in page


def test_a_rewritten_head_alone_is_caught_by_consistency(app, client, team, item):
    document = fetch(client, team["li"], item)
    with app.app_context():
        signer = app.extensions["fieldtrace"].signer
        # the receipt's entry left alone, the tree's stored nodes replaced (a forked log)
        db.session.execute(sa.update(MerkleNode).values(hash=b"\x07" * 32))
        db.session.execute(sa.delete(TreeHead))
        db.session.flush()
        head = transparency.TreeHead(
            tree_size=document["tree_head"]["tree_size"] + 5,
            root_hash="07" * 32,
            signed_at=transparency.clock.now(),
            public_key=signer.public_key_hex,
            signature="00" * 64,
        )
        db.session.add(head)
        db.session.commit()
    page = _check(client, document)
    assert 'data-code="log_rewritten"' in page


def test_receipt_issue_refuses_an_unverified_item(app, item):
    with app.app_context():
        row = db.session.get(MediaItem, item)
        db.session.execute(sa.delete(MediaReceipt))
        row.status = "hash_mismatch"
        with pytest.raises(receipts.ReceiptUnavailable):
            receipts.issue(db.session, app.extensions["fieldtrace"].signer, row)


def test_a_receipts_head_checks_against_a_later_head_offline(app, client, team, item):
    document = fetch(client, team["li"], item)
    fetch(client, team["li"], item)  # the log grows (the fetch is audited)
    with app.app_context():
        transparency.sign_tree_head(db.session, app.extensions["fieldtrace"].signer)
        db.session.commit()
    head = client.get("/public/log/head").get_json()
    old = document["tree_head"]
    assert head["tree_size"] > old["tree_size"]
    consistency = client.get(
        f"/public/log/consistency?first={old['tree_size']}&second={head['tree_size']}"
    ).get_json()
    bundle = {"head": head, "old_head": old, "consistency": consistency}
    report = offline.verify_log_proofs(bundle, public_key(app))
    assert report.problems == [] and report.key_pinned
