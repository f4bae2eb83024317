"""Bad input the database cannot hold or the API does not know gets a 4xx with a code, never a 500."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEntry
from tests import tus_helpers as tus
from tests.conftest import open_case, sample_jpeg

HUGE = 10**30


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/cases/{HUGE}",
        f"/api/v1/cases/{HUGE}/media",
        f"/api/v1/legal-reviews/{HUGE}",
        f"/public/decisions/{HUGE}",
        f"/public/reports/{HUGE}",
    ],
)
def test_an_id_too_large_for_the_database_is_not_found(client, users, path):
    officer = users.create("li")
    resp = client.get(path, headers=officer.headers)
    assert resp.status_code == 404, (path, resp.status_code, resp.data[:200])


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/console/media?case_id={HUGE}",
        f"/api/v1/credentials?user_id={HUGE}",
        f"/api/v1/cases?page={HUGE}",
    ],
)
def test_a_query_number_too_large_is_a_client_error_with_a_code(client, users, path):
    admin = users.create("boss", role="admin")
    resp = client.get(path, headers=admin.headers)
    assert 400 <= resp.status_code < 500, (path, resp.status_code, resp.data[:200])
    assert resp.json["error"]["code"]


def test_a_body_number_too_large_is_refused_and_nothing_is_written(app, client, users):
    admin = users.create("boss", role="admin")
    resp = client.post(
        "/api/v1/cases",
        json={"title": "过大的编号", "procedure": "ordinary", "officer_ids": [HUGE]},
        headers=admin.headers,
    )
    assert 400 <= resp.status_code < 500, resp.data[:200]
    assert resp.json["error"]["code"]
    listed = client.get("/api/v1/cases", headers=admin.headers).json
    assert all(c["title"] != "过大的编号" for c in listed["items"])


@pytest.mark.parametrize(
    "captured_at",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "1969-12-31T23:59:59Z"],
)
def test_a_capture_time_the_database_cannot_hold_is_refused_at_creation(client, users, captured_at):
    officer = users.create("li")
    case = open_case(client, officer)
    data = sample_jpeg()
    resp = tus.create(
        client, officer, len(data), tus.metadata(case["id"], data, captured_at=captured_at)
    )
    assert resp.status_code == 422, resp.data[:300]
    assert "captured_at" in resp.json["error"]["details"]["fields"]


def test_a_phone_whose_clock_reset_to_1970_still_uploads(client, users):
    officer = users.create("li")
    case = open_case(client, officer)
    data = sample_jpeg()
    item_id = tus.upload(client, officer, case["id"], data, captured_at="1970-01-01T08:00:05+08:00")
    item = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json
    assert item["status"] == "verified"
    assert item["captured_at"].startswith("1970-01-01T00:00:05")


def test_a_json_body_over_the_limit_is_refused_before_it_is_read(client, users):
    officer = users.create("li")
    big = {"title": "大" * (1024 * 1024), "procedure": "ordinary"}
    resp = client.post("/api/v1/cases", json=big, headers=officer.headers)
    assert resp.status_code == 413
    assert resp.json["error"]["code"] == "request_entity_too_large"


def test_uploads_are_not_held_to_the_json_body_limit(client, users):
    officer = users.create("li")
    case = open_case(client, officer)
    data = sample_jpeg() + b"\0" * (2 * 1024 * 1024)  # trailing bytes after EOI, still a JPEG
    item_id = tus.upload(client, officer, case["id"], data)
    item = client.get(f"/api/v1/media/{item_id}", headers=officer.headers).json
    assert item["size"] == len(data)


@pytest.mark.parametrize("body", [[{"day": "2026-10-01", "is_workday": False}], {"days": []}])
def test_a_calendar_body_of_the_wrong_shape_is_refused_and_nothing_is_audited(
    app, client, users, body
):
    admin = users.create("boss", role="admin")
    resp = client.put("/api/v1/calendar", json=body, headers=admin.headers)
    assert resp.status_code == 422, resp.data[:200]
    assert resp.json["error"]["code"] == "invalid"
    with app.app_context():
        actions = db.session.execute(sa.select(AuditEntry.action)).scalars().all()
        assert "config.calendar_changed" not in actions


def test_an_unknown_review_status_filter_is_refused(client, users):
    legal = users.create("fa", role="legal")
    resp = client.get("/api/v1/legal-reviews?status=zzz", headers=legal.headers)
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "invalid_status"
    assert (
        client.get("/api/v1/legal-reviews?status=agreed", headers=legal.headers).status_code == 200
    )


def test_a_nul_character_in_json_text_is_refused_on_every_database(client, users):
    officer = users.create("li")
    resp = client.post(
        "/api/v1/cases",
        json={"title": "无照经营\u0000案", "procedure": "ordinary"},
        headers=officer.headers,
    )
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "nul_character"
    listed = client.get("/api/v1/cases", headers=officer.headers).json
    assert listed["total"] == 0
