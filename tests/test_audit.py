"""The hash-chained audit log: every tamper case is detected and named."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from server import clock
from server.cli import main as cli_main
from server.extensions import db
from server.models import AuditEntry, AuditHead
from server.services import audit
from server.storage import ObjectLocked


def _fill(app, n: int = 6) -> list[int]:
    with app.app_context():
        for i in range(n):
            audit.record(
                db.session,
                actor=None,
                action="test.event",
                object_type="t",
                object_id=i,
                details={"i": i, "text": "现场"},
            )
        db.session.commit()
        return list(db.session.execute(sa.select(AuditEntry.id).order_by(AuditEntry.seq)).scalars())


def _verify(app) -> audit.VerifyReport:
    with app.app_context():
        return audit.verify_chain(db.session)


def test_intact_chain_verifies(app):
    _fill(app)
    report = _verify(app)
    assert report.ok and report.checked == 6


def test_edited_entry_is_named(app):
    ids = _fill(app)
    with app.app_context():
        db.session.execute(
            sa.update(AuditEntry).where(AuditEntry.id == ids[2]).values(actor="mallory")
        )
        db.session.commit()
    report = _verify(app)
    assert not report.ok
    assert report.problems[0].entry_id == ids[2] and "altered" in report.problems[0].what


def test_deleted_entry_is_named(app):
    ids = _fill(app)
    with app.app_context():
        db.session.execute(sa.delete(AuditEntry).where(AuditEntry.id == ids[3]))
        db.session.commit()
    report = _verify(app)
    assert not report.ok
    first = report.problems[0]
    assert first.entry_id == ids[4] and "expected seq 4" in first.what


def test_reordered_pair_is_detected(app):
    ids = _fill(app)
    with app.app_context():
        # Swap the positions of entries 2 and 3 (seq values), as an attacker reordering rows would.
        db.session.execute(sa.update(AuditEntry).where(AuditEntry.id == ids[1]).values(seq=-1))
        db.session.execute(sa.update(AuditEntry).where(AuditEntry.id == ids[2]).values(seq=2))
        db.session.execute(sa.update(AuditEntry).where(AuditEntry.id == ids[1]).values(seq=3))
        db.session.commit()
    report = _verify(app)
    assert not report.ok
    assert report.problems[0].seq == 2
    assert any("link broken" in p.what for p in report.problems)


def test_rewritten_chain_is_caught_by_the_signed_head(app):
    ids = _fill(app)
    with app.app_context():
        audit.sign_head(db.session, app.extensions["fieldtrace"].signer)
        db.session.commit()
        # Rewrite entry 5 and recompute its hash: the chain alone cannot tell, the head can.
        entry = db.session.get(AuditEntry, ids[5])
        entry.actor = "mallory"
        entry.entry_hash = audit._hash_of(entry)
        db.session.commit()
    report = _verify(app)
    assert not report.ok and "rewritten" in report.problems[0].what


def test_cut_off_tail_is_detected(app):
    ids = _fill(app)
    with app.app_context():
        audit.sign_head(db.session, app.extensions["fieldtrace"].signer)
        db.session.commit()
        db.session.execute(sa.delete(AuditEntry).where(AuditEntry.id.in_(ids[4:])))
        db.session.commit()
    report = _verify(app)
    assert not report.ok
    assert "tail cut off" in report.problems[0].what and report.problems[0].seq == 6


def test_cli_verify_exit_codes(app, app_config, monkeypatch, capsys):
    # The CLI builds its own app from the environment: point it at this test's database.
    monkeypatch.setenv("FIELDTRACE_DATABASE_URL", app_config["SQLALCHEMY_DATABASE_URI"])
    monkeypatch.setenv("FIELDTRACE_DATA_DIR", str(app_config["DATA_DIR"]))
    monkeypatch.setenv("FIELDTRACE_SECRET_KEY", "x")
    monkeypatch.setenv("FIELDTRACE_S3_ENDPOINT_URL", app_config["S3_ENDPOINT_URL"])
    monkeypatch.setenv("FIELDTRACE_SIGNING_KEY_FILE", str(app_config["SIGNING_KEY_FILE"]))
    monkeypatch.setenv("FIELDTRACE_S3_BUCKET_ORIGINALS", app_config["S3_BUCKET_ORIGINALS"])
    monkeypatch.setenv("FIELDTRACE_AUDIT_HEADS_PREFIX", app_config["AUDIT_HEADS_PREFIX"])
    monkeypatch.setenv("FIELDTRACE_S3_ACCESS_KEY", app_config["S3_ACCESS_KEY"])
    monkeypatch.setenv("FIELDTRACE_S3_SECRET_KEY", app_config["S3_SECRET_KEY"])
    ids = _fill(app)
    assert cli_main(["audit", "verify"]) == 0
    assert "audit chain intact: 6 entries" in capsys.readouterr().out
    assert cli_main(["audit", "verify"]) == 0  # the head signed by the first run, now stored
    assert "1 signed heads, 1 kept in WORM storage" in capsys.readouterr().out
    _rewrite_history(app, ids[1])
    assert cli_main(["audit", "verify"]) == 1
    assert "rewritten in the database" in capsys.readouterr().err
    assert cli_main(["audit", "verify", "--no-storage"]) == 0  # the database alone cannot tell
    capsys.readouterr()
    with app.app_context():
        db.session.execute(sa.update(AuditEntry).where(AuditEntry.id == ids[0]).values(action="x"))
        db.session.commit()
    assert cli_main(["audit", "verify", "--no-storage"]) == 1
    err = capsys.readouterr().err
    assert f"entry id={ids[0]} seq=1" in err and "altered" in err


def test_api_actions_are_audited_in_order(app, client, users):
    officer = users.create("ma")
    client.get("/api/v1/cases", headers=officer.headers)
    with app.app_context():
        actions = list(
            db.session.execute(sa.select(AuditEntry.action).order_by(AuditEntry.seq)).scalars()
        )
    assert actions == ["user.created", "auth.login", "case.listed"]
    assert _verify(app).ok


# --- signed heads kept in WORM storage -----------------------------------------------------


def _checkpoint(app) -> audit.AuditHead | None:
    rt = app.extensions["fieldtrace"]
    with app.app_context():
        head = audit.checkpoint(
            db.session,
            rt.signer,
            rt.storage,
            app.config["S3_BUCKET_ORIGINALS"],
            retain_until=clock.now() + timedelta(days=1),
            prefix=app.config["AUDIT_HEADS_PREFIX"],
        )
        db.session.commit()
        return head and (head.seq, head.entry_hash)


def _verify_stored(app) -> audit.VerifyReport:
    rt = app.extensions["fieldtrace"]
    with app.app_context():
        return audit.verify_stored_heads(
            db.session,
            rt.storage,
            app.config["S3_BUCKET_ORIGINALS"],
            trusted_public_keys={rt.signer.public_key_hex},
            prefix=app.config["AUDIT_HEADS_PREFIX"],
        )


def _rewrite_history(app, entry_id: int) -> None:
    """What an insider with the database and the signing key can do: edit an entry, recompute
    every later hash and link, delete the signed heads and sign a new one."""
    with app.app_context():
        entries = db.session.execute(sa.select(AuditEntry).order_by(AuditEntry.seq)).scalars()
        prev = audit.GENESIS_HASH
        for entry in entries:
            if entry.id == entry_id:
                entry.actor = "mallory"
            entry.prev_hash = prev
            entry.entry_hash = prev = audit._hash_of(entry)
        db.session.execute(sa.delete(AuditHead))
        audit.sign_head(db.session, app.extensions["fieldtrace"].signer)
        db.session.commit()


def test_checkpoint_keeps_heads_in_worm_storage_only_when_the_chain_moved(app):
    _fill(app, 3)
    first = _checkpoint(app)
    assert first is not None and first[0] == 3
    assert _checkpoint(app) is None  # nothing new: no new head
    _fill(app, 2)
    assert _checkpoint(app)[0] == 5
    rt = app.extensions["fieldtrace"]
    bucket = app.config["S3_BUCKET_ORIGINALS"]
    stored = rt.storage.list_versions(bucket, app.config["AUDIT_HEADS_PREFIX"])
    assert [key.split("/")[-1][:12] for key, _ in stored] == ["000000000003", "000000000005"]
    key, version = stored[0]
    assert rt.storage.stat(bucket, key, version_id=version).lock_mode == "COMPLIANCE"
    with pytest.raises(ObjectLocked):
        rt.storage.delete(bucket, key, version_id=version)
    rt.storage.delete(bucket, key)  # a delete marker hides it from a plain listing, not from us
    report = _verify_stored(app)
    assert report.ok and report.heads_checked == 2


def test_rewritten_history_passes_the_database_check_but_not_the_worm_heads(app):
    ids = _fill(app)
    assert _checkpoint(app) is not None
    _rewrite_history(app, ids[2])
    assert _verify(app).ok  # the database alone is consistent again
    report = _verify_stored(app)
    assert not report.ok
    [problem] = report.problems
    assert problem.seq == 6 and "rewritten in the database" in problem.what


def test_cut_tail_and_foreign_heads_are_caught_in_storage(app):
    ids = _fill(app)
    _checkpoint(app)
    with app.app_context():
        db.session.execute(sa.delete(AuditEntry).where(AuditEntry.id.in_(ids[4:])))
        db.session.execute(sa.delete(AuditHead))
        db.session.commit()
    [problem] = _verify_stored(app).problems
    assert "tail cut off" in problem.what and problem.seq == 6
    rt = app.extensions["fieldtrace"]
    with app.app_context():
        untrusted = audit.verify_stored_heads(
            db.session,
            rt.storage,
            app.config["S3_BUCKET_ORIGINALS"],
            trusted_public_keys={"0" * 64},
            prefix=app.config["AUDIT_HEADS_PREFIX"],
        )
    assert any("unknown key" in p.what for p in untrusted.problems)
