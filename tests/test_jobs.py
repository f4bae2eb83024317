"""The periodic chores each package registers (server/jobs.py), run by the worker's sweep."""

from __future__ import annotations

import logging

import pytest

from server import clock, jobs
from server.extensions import db


def test_every_package_registers_its_chores_in_order(app):
    jobs.require_chores()
    assert jobs.registered() == [
        "expired",
        "housekeeping",
        "report_reminders",
        "audit_checkpoint",
        "tree_head",
        "tree_head_time",
        "tree_head_kept",
    ]


def test_a_failing_chore_is_rolled_back_and_the_others_still_run(app, monkeypatch):
    ran: list[str] = []
    logged: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append(record.getMessage())

    catch = Catch(level=logging.ERROR)
    logging.getLogger("server.jobs").addHandler(catch)  # whatever the app's log setup
    monkeypatch.setattr(logging.getLogger("server.jobs"), "disabled", False)

    def broken(ctx: jobs.ChoreContext) -> int:
        ran.append("broken")
        raise RuntimeError("S3 away")

    def counting(ctx: jobs.ChoreContext) -> dict[str, int]:
        ran.append("counting")
        return {"counted": 3}

    monkeypatch.setattr(jobs, "_CHORES", {})
    jobs.chore("broken", order=1)(broken)
    jobs.chore("counting", order=2)(counting)
    with app.app_context():
        context = jobs.ChoreContext(
            db.session, app.extensions["fieldtrace"], clock.now(), app.config
        )
        assert jobs.run_chores(context) == {"counted": 3}
    logging.getLogger("server.jobs").removeHandler(catch)
    assert ran == ["broken", "counting"]
    assert any("periodic chore broken failed" in line for line in logged), logged


def test_two_chores_cannot_share_a_name(monkeypatch):
    monkeypatch.setattr(jobs, "_CHORES", {})
    jobs.chore("x")(lambda ctx: None)
    with pytest.raises(RuntimeError, match="two periodic chores named 'x'"):
        jobs.chore("x")(lambda ctx: 1)


def test_the_sweep_reports_what_the_chores_did(app):
    done = app.extensions["fieldtrace"].jobs.sweep()
    assert {"requeued", "reprocessed", "expired", "report_reminders"} <= set(done), done
