"""Follow-ups from review: archiving a case without issued documents, and working-day
deadlines that follow the holiday calendar as it stands."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, timedelta

import pytest

from server import clock
from server.archive.verify import verify_archive
from server.extensions import db
from server.models import AuditEntry, Case, CaseStage, Document, LegalReview, User
from server.services import legal_review
from tests.conftest import open_case
from tests.workflow_helpers import API, Flow, move_case_to, submitted_review


@pytest.fixture
def team(users):
    return {
        "officer": users.create("li"),
        # 执法人员不得少于两人: li's colleague on every case here.
        "officer2": users.create("wang"),
        "sup": users.create("zhang", role="supervisor"),
        "legal": users.create("sun", role="legal"),
        "leader": users.create("zhao", role="leader"),
        "admin": users.create("admin1", role="admin"),
    }


def _pay(client, officer, cid: int) -> None:
    resp = client.post(
        f"{API}/cases/{cid}/execution",
        json={"kind": "payment", "on": "2026-11-27", "amount": 50},
        headers=officer.headers,
    )
    assert resp.status_code == 201, resp.json


# --- archiving a case whose file holds no issued document ----------------------------------


def test_case_with_only_recordings_archives_with_them_in_the_catalogue(app, client, team, tmp_path):
    """A 简易程序 case decided on a pre-printed paper form: the system holds only the video.
    The supervisor overrides the missing 当场行政处罚决定书 with a reason; archiving must then
    list the recordings in the 案卷目录 instead of failing on an empty catalogue."""
    flow, officer, sup = Flow(client, tmp_path), team["officer"], team["sup"]
    cid = open_case(client, officer, procedure="simple", officer_ids=[team["officer2"].id])["id"]
    video = flow.video(officer, cid, "filing", "onsite_inspection")
    flow.advance(officer, cid, "decision")
    flow.advance(sup, cid, "service", override_reason="当场处罚决定书为纸质预印文书，已扫描另存")
    flow.advance(officer, cid, "execution")
    _pay(client, officer, cid)
    archived = flow.advance(sup, cid, "archive").json
    assert archived["archived_at"] and archived["current_stage"] == "archive"

    [catalogue] = client.get(f"{API}/cases/{cid}/documents", headers=sup.headers).json["items"]
    assert catalogue["type"] == "case_catalogue" and catalogue["status"] == "issued"
    [entry] = catalogue["fields"]["entries"]
    assert entry["seq"] == 1 and entry["title"] == "音像记录：现场检查（视频）"
    assert video[:8] in entry["note"] and "SHA-256" in entry["note"]
    resp = client.get(f"{API}/cases/{cid}/archive.zip", headers=sup.headers)
    data = resp.data
    resp.close()
    assert verify_archive(io.BytesIO(data)).ok
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert any(n.startswith("documents/case_catalogue") for n in zf.namelist())


def test_catalogue_lists_documents_first_then_recordings(app, client, team, tmp_path):
    flow, officer, sup = Flow(client, tmp_path), team["officer"], team["sup"]
    cid = open_case(client, officer, procedure="simple", officer_ids=[team["officer2"].id])["id"]
    flow.video(officer, cid, "filing", "onsite_inspection")
    flow.advance(officer, cid, "decision")
    flow.video(officer, cid, "decision", "other")
    decision = flow.full_doc(
        cid, "onsite_penalty_decision", {"officer": officer, "party": officer}, officer
    )
    flow.advance(officer, cid, "service")
    flow.advance(officer, cid, "execution")
    _pay(client, officer, cid)
    flow.advance(sup, cid, "archive")
    docs = client.get(f"{API}/cases/{cid}/documents", headers=sup.headers).json["items"]
    entries = next(d for d in docs if d["type"] == "case_catalogue")["fields"]["entries"]
    assert [(e["seq"], e["title"], e["number"]) for e in entries] == [
        (1, "当场行政处罚决定书", decision["number"]),
        (2, "音像记录：现场检查（视频）", ""),
        (3, "音像记录：其他（视频）", ""),
    ]
    assert entries[0]["pages"] == 1 and entries[1].get("pages") is None


def test_empty_case_file_is_refused_before_anything_is_written(app, client, team):
    """Nothing issued and nothing recorded: archiving would seal an empty case file. The
    gate says so up front (completeness report and stage move), even to an override."""
    officer, sup = team["officer"], team["sup"]
    cid = open_case(client, officer, procedure="simple", officer_ids=[team["officer2"].id])["id"]
    move_case_to(client, sup, cid, "execution")
    _pay(client, officer, cid)
    with app.app_context():
        audit_before = db.session.query(AuditEntry).count()

    report = client.get(f"{API}/cases/{cid}/completeness", headers=sup.headers).json
    assert not report["can_advance"]
    execution = next(s for s in report["stages"] if s["stage"] == "execution")
    [gap] = [r for r in execution["requirements"] if not r["met"]]
    assert gap["code"] == "case_file_empty" and not gap["overridable"]
    assert "结案报告" in gap["message"]

    for extra in ({}, {"override_reason": "纸质案卷另行归档"}):
        refused = client.post(
            f"{API}/cases/{cid}/stage",
            json={"to_stage": "archive", "reason": "结案归档", **extra},
            headers=sup.headers,
        )
        assert refused.status_code == 409, refused.json
        error = refused.json["error"]
        assert error["code"] == "stage_requirements_missing"
        assert [m["code"] for m in error["details"]["missing"]] == ["case_file_empty"]
        assert "案卷中没有" in error["message"]
    with app.app_context():
        case = db.session.get(Case, cid)
        assert case.current_stage == "execution" and case.archived_at is None
        assert db.session.query(Document).filter_by(case_id=cid).count() == 0
        assert db.session.query(CaseStage).filter_by(case_id=cid, stage="archive").count() == 0
        assert db.session.query(AuditEntry).count() == audit_before

    # The way out the message names: a 结案报告 stating why the case closes.
    flow = Flow(client)
    flow.full_doc(
        cid,
        "closing_report",
        {"officer": officer, "leader": team["leader"]},
        officer,
        reason="terminated",
    )
    flow.advance(sup, cid, "archive")
    docs = client.get(f"{API}/cases/{cid}/documents", headers=sup.headers).json["items"]
    entries = next(d for d in docs if d["type"] == "case_catalogue")["fields"]["entries"]
    assert [e["title"] for e in entries] == ["结案报告"]


# --- working-day deadlines follow the calendar as it stands ------------------------------------


def _submitted_review(client, team) -> dict:
    return submitted_review(client, team["officer"], team["officer2"], team["sup"])


def _set_calendar(client, admin, *days: date, workday: bool = False) -> None:
    resp = client.put(
        f"{API}/calendar",
        json={
            "items": [{"day": d.isoformat(), "is_workday": workday, "note": "临时"} for d in days]
        },
        headers=admin.headers,
    )
    assert resp.status_code == 200, resp.json


def _unit(team) -> int:
    """The team's unit (call inside an app context)."""
    return db.session.get(User, team["sup"].id).unit_id


def _at_ten(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=clock.ZONE)


def test_holiday_added_after_submission_moves_review_and_materials_deadlines(app, client, team):
    """Submitted, then the unit declares a day off inside the review period: the review and
    the materials request both end one working day later, on either database, in the flag
    job and in the overdue queue alike."""
    sup, legal = team["sup"], team["legal"]
    review = _submitted_review(client, team)
    asked = client.post(
        f"{API}/legal-reviews/{review['id']}/materials",
        json={"note": "请补充进货凭证"},
        headers=legal.headers,
    )
    assert asked.status_code == 200, asked.json
    due = date.fromisoformat(review["due_on"])
    materials_due = date.fromisoformat(asked.json["materials_requests"][0]["due_on"])
    with app.app_context():
        cal = legal_review.calendar(db.session, _unit(team))
        submitted_on = clock.today()
        day_off = cal.add_working_days(submitted_on, 1)  # inside both periods
    _set_calendar(client, team["admin"], day_off)

    with app.app_context():
        cal = legal_review.calendar(db.session, _unit(team))
        new_due = cal.add_working_days(submitted_on, 10)
        new_materials_due = cal.add_working_days(submitted_on, 3)
    assert new_due > due and new_materials_due > materials_due
    moved = client.get(f"{API}/legal-reviews/{review['id']}", headers=sup.headers).json
    assert moved["due_on"] == new_due.isoformat() and not moved["overdue"]
    assert moved["materials_requests"][0]["due_on"] == new_materials_due.isoformat()
    with app.app_context():
        # The old deadlines have passed, the new ones not yet.
        assert legal_review.flag_overdue(db.session, today=materials_due + timedelta(days=1)) == []
        row = db.session.get(LegalReview, review["id"])
        assert "overdue" not in row.materials_requests[0]
        assert legal_review.flag_overdue(db.session, today=due + timedelta(days=1)) == []
        late = legal_review.flag_overdue(db.session, today=new_due + timedelta(days=1))
        assert [r.id for r in late] == [review["id"]]
        assert row.materials_requests[0]["overdue"] is True
        moved_entries = (
            db.session.query(AuditEntry).filter_by(action="legal_review.deadline_moved").all()
        )
        assert [(e.details["from"], e.details["to"]) for e in moved_entries] == [
            (due.isoformat(), new_due.isoformat())
        ]
        db.session.rollback()


def test_overdue_queue_and_flag_follow_a_holiday_declared_late(app, client, team):
    """A round whose deadline was yesterday is overdue and flagged; then the unit declares a
    day off inside its period (e.g. a local typhoon day): the deadline moves past today, the
    round leaves the overdue queue (SQL, on SQLite and PostgreSQL) and the case's flag clears."""
    sup = team["sup"]
    review = _submitted_review(client, team)
    with app.app_context():
        cal = legal_review.calendar(db.session, _unit(team))
        today = clock.today()
        yesterday_due = cal.add_working_days(today, -1)
        submitted_on = cal.add_working_days(yesterday_due, -10)
        row = db.session.get(LegalReview, review["id"])
        row.submitted_at, row.due_on = _at_ten(submitted_on), yesterday_due
        assert [r.id for r in legal_review.flag_overdue(db.session, today=today)] == [row.id]
        db.session.commit()
    queue = client.get(f"{API}/legal-reviews?overdue=1", headers=sup.headers).json["items"]
    assert [r["id"] for r in queue] == [review["id"]] and queue[0]["overdue"]

    with app.app_context():
        day_off = legal_review.calendar(db.session, _unit(team)).add_working_days(submitted_on, 4)
    _set_calendar(client, team["admin"], day_off)
    assert client.get(f"{API}/legal-reviews?overdue=1", headers=sup.headers).json["items"] == []
    shown = client.get(f"{API}/legal-reviews/{review['id']}", headers=sup.headers).json
    assert shown["due_on"] >= today.isoformat() and not shown["overdue"]
    with app.app_context():
        row = db.session.get(LegalReview, review["id"])
        assert row.overdue_flagged_at is None and not row.case.review_overdue
        assert legal_review.flag_overdue(db.session, today=today) == []
        # Flagged again, once, when the moved deadline passes.
        after = legal_review.calendar(db.session, _unit(team)).add_working_days(row.due_on, 1)
        assert [r.id for r in legal_review.flag_overdue(db.session, today=after)] == [row.id]
        assert row.case.review_overdue
        db.session.rollback()


def test_deadline_on_a_rest_day_runs_to_the_next_working_day(app, client, team):
    """期间届满的最后一日是节假日的，以节假日后的第一日为期满日: a round due on a day that
    became a holiday is overdue only after the first working day after it, in the SQL filter
    too. Sat 3 Oct 2026 is in the 国庆 holiday; the next working day is Thu 8 Oct."""
    review = _submitted_review(client, team)
    with app.app_context():
        row = db.session.get(LegalReview, review["id"])
        row.due_on = date(2026, 10, 3)
        db.session.commit()
        assert legal_review.flag_overdue(db.session, today=date(2026, 10, 8)) == []
        flagged = legal_review.flag_overdue(db.session, today=date(2026, 10, 9))
        assert [r.id for r in flagged] == [review["id"]]
        db.session.rollback()


def test_extension_after_the_flag_lets_the_new_deadline_be_flagged(app, client, team):
    """An approved extension moves the deadline; if the round was already flagged overdue,
    the flag is lifted and the new deadline is watched (flagged once when it passes too)."""
    legal, leader = team["legal"], team["leader"]
    review = _submitted_review(client, team)
    with app.app_context():
        cal = legal_review.calendar(db.session, _unit(team))
        today = clock.today()
        row = db.session.get(LegalReview, review["id"])
        row.due_on = cal.add_working_days(today, -1)
        row.submitted_at = _at_ten(cal.add_working_days(row.due_on, -10))
        assert [r.id for r in legal_review.flag_overdue(db.session, today=today)] == [row.id]
        db.session.commit()
    client.post(
        f"{API}/legal-reviews/{review['id']}/extension",
        json={"reason": "案情复杂"},
        headers=legal.headers,
    )
    extended = client.post(
        f"{API}/legal-reviews/{review['id']}/extension/approve", headers=leader.headers
    ).json
    new_due = date.fromisoformat(extended["due_on"])
    assert new_due >= today and not extended["overdue"]
    with app.app_context():
        row = db.session.get(LegalReview, review["id"])
        assert row.overdue_flagged_at is None and not row.case.review_overdue
        after = legal_review.calendar(db.session, _unit(team)).add_working_days(new_due, 1)
        assert [r.id for r in legal_review.flag_overdue(db.session, today=after)] == [row.id]
        db.session.rollback()
