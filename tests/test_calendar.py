"""Working-day calendars: national notices as data, each unit's own days, unknown years flagged."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from server import clock
from server.cli import main as cli_main
from server.extensions import db
from server.models import AuditEntry, LegalReview
from server.services import calendar as calendar_service
from server.workcal import WorkCalendar, parse_notice, shipped_notices
from tests.conftest import PASSWORD, Actor
from tests.workflow_helpers import submitted_review

API = "/api/v1"
# A 2027 notice as a bureau would type it in (the State Council's real one is imported the
# same way once published): 春节 7–15 Feb, make-up working Sat 6 Feb and Sat 20 Feb.
NOTICE_2027 = {
    "year": 2027,
    "source": "国务院办公厅关于2027年部分节假日安排的通知（测试用）",
    "holidays": [
        {"name": "元旦", "rest": ["2027-01-01", "2027-01-02", "2027-01-03"], "work": []},
        {
            "name": "春节",
            "rest": [(date(2027, 2, 7) + timedelta(days=i)).isoformat() for i in range(9)],
            "work": ["2027-02-06", "2027-02-20"],
        },
    ],
}
FRIDAY_BEFORE_SPRING_FESTIVAL = datetime(2027, 2, 5, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


def test_shipped_notices_agree_with_chinesecalendar_on_every_day() -> None:
    """The shipped years, day by day, against an independent table (PyPI chinesecalendar)."""
    chinese_calendar = pytest.importorskip("chinese_calendar")
    notices = shipped_notices()
    assert set(range(2004, 2027)) <= set(notices)
    for year, notice in notices.items():
        cal = WorkCalendar(notice.overrides)
        day = date(year, 1, 1)
        while day.year == year:
            assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
            day += timedelta(days=1)


def test_a_notice_is_checked() -> None:
    assert parse_notice(NOTICE_2027).overrides[date(2027, 2, 6)] is True
    bad = [
        ({**NOTICE_2027, "year": "2027"}, "invalid_notice_year"),
        ({**NOTICE_2027, "source": ""}, "invalid_notice_source"),
        (
            {**NOTICE_2027, "holidays": [{"name": "x", "rest": ["2027-13-01"]}]},
            "invalid_notice_day",
        ),
        (
            {**NOTICE_2027, "holidays": [{"name": "x", "rest": ["2029-01-01"]}]},
            "invalid_notice_day",
        ),
        # A make-up working day on a weekday is a typing error.
        (
            {**NOTICE_2027, "holidays": [{"name": "x", "work": ["2027-02-08"]}]},
            "invalid_notice_day",
        ),
        ({**NOTICE_2027, "holidays": []}, "invalid_notice"),
        ([], "invalid_notice"),
    ]
    for doc, code in bad:
        with pytest.raises(ValueError) as err:
            parse_notice(doc)
        assert err.value.code == code, doc  # type: ignore[attr-defined]


@pytest.fixture
def two_units(users):
    return {
        "officer": users.create("li", unit="JA"),
        "officer2": users.create("wang", unit="JA"),
        "sup": users.create("zhang", role="supervisor", unit="JA"),
        "admin": users.create("admin_ja", role="admin", unit="JA"),
        "officer_b": users.create("chen", unit="PD"),
        "officer2_b": users.create("zhou", unit="PD"),
        "sup_b": users.create("qian", role="supervisor", unit="PD"),
        "admin_b": users.create("admin_pd", role="admin", unit="PD"),
    }


def _signed_in_again(client, team: dict[str, Actor]) -> dict[str, Actor]:
    """Fresh tokens after the clock moved past the old ones' lifetime."""
    fresh = {}
    for key, actor in team.items():
        resp = client.post(
            f"{API}/auth/login", json={"username": actor.username, "password": PASSWORD}
        )
        assert resp.status_code == 200, resp.json
        fresh[key] = Actor(actor.id, actor.username, actor.role, actor.unit, resp.json["token"])
    return fresh


def test_a_deadline_in_a_year_without_a_notice_is_an_estimate_until_the_notice_is_loaded(
    app, client, two_units
):
    """Ten working days from Fri 5 Feb 2027 is Fri 19 Feb counted Monday to Friday, straight
    across 春节: shown as an estimate in words, never silently; the notice, once loaded,
    gives the real date and every running deadline is recounted on it."""
    with clock.travel(FRIDAY_BEFORE_SPRING_FESTIVAL):
        t = _signed_in_again(client, two_units)
        review = submitted_review(client, t["officer"], t["officer2"], t["sup"])
        assert review["due_on"] == "2027-02-19"
        assert review["due_estimated"] is True
        assert review["due_note"]["zh"] == "日历未配置，期限仅按周一至周五估算"
        status = client.get(f"{API}/calendar", headers=t["admin"].headers).json
        assert 2027 in status["missing_years"] and status["remind"]
        assert "2027年" in status["message"]["zh"]

        # A unit admin loads the notice in the app; the CLI does the same (below).
        refused = client.post(
            f"{API}/calendar/national",
            json={**NOTICE_2027, "year": 1900},
            headers=t["admin"].headers,
        )
        assert refused.status_code == 422
        assert refused.json["error"]["code"] == "invalid_notice_year"
        not_admin = client.post(
            f"{API}/calendar/national", json=NOTICE_2027, headers=t["sup"].headers
        )
        assert not_admin.status_code == 403
        loaded = client.post(
            f"{API}/calendar/national", json=NOTICE_2027, headers=t["admin"].headers
        )
        assert loaded.status_code == 201, loaded.json

        shown = client.get(f"{API}/legal-reviews/{review['id']}", headers=t["sup"].headers).json
        # Sat 6 Feb works, 7–15 Feb are off, Sat 20 Feb works: the tenth is Thu 25 Feb.
        assert shown["due_on"] == "2027-02-25"
        assert shown["due_estimated"] is False and shown["due_note"] is None
        status = client.get(f"{API}/calendar", headers=t["admin"].headers).json
        assert 2027 not in status["missing_years"]
        assert {"year": 2027, "origin": "imported"}.items() <= next(
            y for y in status["years"] if y["year"] == 2027
        ).items()
    with app.app_context():
        moved = db.session.execute(
            sa.select(AuditEntry.details).where(AuditEntry.action == "legal_review.deadline_moved")
        ).scalar_one()
        assert (moved["from"], moved["to"]) == ("2027-02-19", "2027-02-25")


def test_a_units_closure_moves_only_its_own_deadlines(app, client, two_units):
    t = two_units
    mine = submitted_review(client, t["officer"], t["officer2"], t["sup"])
    theirs = submitted_review(client, t["officer_b"], t["officer2_b"], t["sup_b"])
    assert mine["due_on"] == theirs["due_on"]
    with app.app_context():
        cal = calendar_service.calendar(db.session, None)
        day_off = cal.add_working_days(clock.today(), 2)
    resp = client.put(
        f"{API}/calendar",
        json={"items": [{"day": day_off.isoformat(), "is_workday": False, "note": "台风停工"}]},
        headers=t["admin"].headers,
    )
    assert resp.status_code == 200, resp.json
    mine_now = client.get(f"{API}/legal-reviews/{mine['id']}", headers=t["sup"].headers).json
    theirs_now = client.get(f"{API}/legal-reviews/{theirs['id']}", headers=t["sup_b"].headers).json
    assert mine_now["due_on"] > mine["due_on"]
    assert theirs_now["due_on"] == theirs["due_on"]
    # Each admin sees and edits their own unit's days only.
    assert [
        d["day"] for d in client.get(f"{API}/calendar", headers=t["admin"].headers).json["items"]
    ] == [day_off.isoformat()]
    assert client.get(f"{API}/calendar", headers=t["admin_b"].headers).json["items"] == []
    with app.app_context():
        unit_a = db.session.get(LegalReview, mine["id"]).unit_id
        unit_b = db.session.get(LegalReview, theirs["id"]).unit_id
        assert not calendar_service.calendar(db.session, unit_a).is_workday(day_off)
        assert calendar_service.calendar(db.session, unit_b).is_workday(day_off)


@pytest.mark.parametrize(
    ("today", "remind", "missing"),
    [
        (date(2026, 10, 31), False, [2027]),
        (date(2026, 11, 1), True, [2027]),
        (date(2027, 1, 4), True, [2027, 2028]),
    ],
)
def test_reminders_from_the_first_of_november(app, today, remind, missing) -> None:
    with app.app_context():
        status = calendar_service.status(db.session, today)
    assert (status["remind"], status["missing_years"]) == (remind, missing)
    assert (status["message"] is not None) == remind


def test_cli_imports_a_notice(app, tmp_path, monkeypatch, capsys, app_config) -> None:
    for name, value in (
        ("FIELDTRACE_DATABASE_URL", app_config["SQLALCHEMY_DATABASE_URI"]),
        ("FIELDTRACE_DATA_DIR", str(app_config["DATA_DIR"])),
        ("FIELDTRACE_SECRET_KEY", app_config["SECRET_KEY"]),
        ("FIELDTRACE_S3_ENDPOINT_URL", app_config["S3_ENDPOINT_URL"]),
        ("FIELDTRACE_SIGNING_KEY_FILE", str(app_config["SIGNING_KEY_FILE"])),
    ):
        monkeypatch.setenv(name, value)
    notice = tmp_path / "2027.json"
    notice.write_text(json.dumps(NOTICE_2027, ensure_ascii=False), encoding="utf-8")
    assert cli_main(["calendar", "import", str(notice)]) == 0
    assert "loaded 2027" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**NOTICE_2027, "holidays": []}), encoding="utf-8")
    assert cli_main(["calendar", "import", str(bad)]) == 1
    assert "invalid_notice" in capsys.readouterr().err
    assert cli_main(["calendar", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {y["year"]: y["origin"] for y in shown["years"]}[2027] == "imported"
    with app.app_context():
        entry = db.session.execute(
            sa.select(AuditEntry).where(AuditEntry.action == "config.national_calendar_imported")
        ).scalar_one()
        assert entry.object_id == "2027" and entry.details["work_days"] == 2
