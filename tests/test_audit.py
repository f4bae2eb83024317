"""The hash-chained audit log: every tamper case is detected and named."""

import sqlalchemy as sa

from server.cli import main as cli_main
from server.extensions import db
from server.models import AuditEntry
from server.services import audit


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
    ids = _fill(app)
    assert cli_main(["audit", "verify"]) == 0
    assert "audit chain intact: 6 entries" in capsys.readouterr().out
    with app.app_context():
        db.session.execute(sa.update(AuditEntry).where(AuditEntry.id == ids[0]).values(action="x"))
        db.session.commit()
    assert cli_main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert f"entry id={ids[0]} seq=1" in err and "altered" in err


def test_api_actions_are_audited_in_order(app, client, users):
    officer = users.create("ma")
    client.get("/api/v1/cases", headers=officer.headers)
    with app.app_context():
        actions = list(
            db.session.execute(sa.select(AuditEntry.action).order_by(AuditEntry.seq)).scalars()
        )
    assert actions == ["user.created", "auth.login"]
    assert _verify(app).ok
