"""随机抽查结果公示: recording results, the scanner, publication within 20 working days, the
public list, take-down, and who may see what."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from server import clock
from server.disclosure import inspections
from server.disclosure.models import RandomInspectionResult
from server.extensions import db
from server.models import AuditEntry
from server.services import housekeeping
from tests.conftest import Actor, open_case

API = "/api/v1/disclosure/inspections"
TODAY = clock.today()
PLANTED_PHONE = "138-1234-5678"
ITEMS = ["食品经营者检查", "特种设备使用单位检查"]
RANDOM_LIST = {
    "items": [
        {
            "item": item,
            "basis": "《食品安全法》第一百一十条",
            "object": "辖区经营者",
            "method": "现场检查",
            "frequency": "每年不少于一次",
        }
        for item in ITEMS
    ]
}


def publish_list(client, actor: Actor) -> None:
    resp = client.put(
        "/api/v1/disclosure/random_inspection_list", json=RANDOM_LIST, headers=actor.headers
    )
    assert resp.status_code == 200, resp.json


@pytest.fixture
def admin(client, users) -> Actor:
    actor = users.create("ri_admin", role="admin", unit="RI")
    publish_list(client, actor)
    return actor


@pytest.fixture
def sup(users, admin) -> Actor:
    return users.create("ri_sup", role="supervisor", unit="RI")


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "item": ITEMS[0],
        "object_name": "某某食品有限公司",
        "object_kind": "legal",
        "inspected_on": (TODAY - timedelta(days=3)).isoformat(),
        "inspectors": ["王五", "赵六"],
        "result": "no_problem",
        "detail": "检查经营许可、进货查验记录，未发现问题。",
        **overrides,
    }


def record(client, actor: Actor, **overrides: Any) -> dict[str, Any]:
    resp = client.post(API, json=body(**overrides), headers=actor.headers)
    assert resp.status_code == 201, resp.json
    return resp.json


def public_list(client, query: str = "") -> str:
    resp = client.get(f"/public/units/RI/inspection-results{query}")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def actions(app, result_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.execute(
                sa.select(AuditEntry.action)
                .where(
                    AuditEntry.object_type == "random_inspection_result",
                    AuditEntry.object_id == str(result_id),
                )
                .order_by(AuditEntry.seq)
            ).scalars()
        )


# --- recording, the scanner, publishing --------------------------------------------------------


def test_planted_phone_blocks_until_fixed_then_publishes(app, client, admin, sup):
    clean = record(client, sup)
    assert clean["status"] == "pending" and clean["block_hits"] == []
    assert clean["result_label"] == "未发现问题"

    planted = record(
        client,
        sup,
        result="rectification_ordered",
        detail=f"发现过期食品，已责令整改。\n负责人电话{PLANTED_PHONE}。",
    )
    assert planted["status"] == "blocked"
    (hit,) = planted["block_hits"]
    assert (hit["kind"], hit["field"], hit["line"]) == ("phone", "detail", 2)
    assert "检查情况第2行" in hit["message"] and PLANTED_PHONE not in hit["message"]

    refused = client.post(f"{API}/{planted['id']}/publish", headers=admin.headers)
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "personal_data_found"
    assert [h["field"] for h in refused.json["error"]["details"]["hits"]] == ["detail"]
    assert "某某食品有限公司" not in public_list(client)

    # The supervisor fixes the text; publishing is the admin's.
    fixed = client.put(
        f"{API}/{planted['id']}",
        json={"detail": "发现过期食品，已责令整改。"},
        headers=sup.headers,
    )
    assert fixed.status_code == 200, fixed.json
    assert fixed.json["status"] == "pending" and fixed.json["block_hits"] == []
    assert client.post(f"{API}/{planted['id']}/publish", headers=sup.headers).status_code == 403
    published = client.post(f"{API}/{planted['id']}/publish", headers=admin.headers)
    assert published.status_code == 200, published.json
    assert published.json["status"] == "published" and published.json["published_at"]
    again = client.post(f"{API}/{planted['id']}/publish", headers=admin.headers)
    assert again.status_code == 409 and again.json["error"]["code"] == "not_publishable"
    edit = client.put(f"{API}/{planted['id']}", json={"detail": "改"}, headers=admin.headers)
    assert edit.status_code == 409 and edit.json["error"]["code"] == "not_editable"

    html = public_list(client)
    assert "某某食品有限公司" in html and "发现问题已责令整改" in html and "王五、赵六" in html
    assert PLANTED_PHONE not in html and "检查情况：发现过期食品，已责令整改。" in html
    assert "未发现问题" not in html.split("<main")[1].split("撤下说明")[0]  # clean one pending
    assert actions(app, planted["id"]) == [
        "disclosure.inspection_recorded",
        "disclosure.inspection_edited",
        "disclosure.inspection_published",
    ]
    with app.app_context():
        for entry in db.session.execute(sa.select(AuditEntry)).scalars():
            assert PLANTED_PHONE not in str(entry.details)

    listed = client.get(f"{API}?status=pending", headers=sup.headers).json["items"]
    assert [r["id"] for r in listed] == [clean["id"]]
    assert client.get(f"{API}?status=nope", headers=admin.headers).status_code == 422


def test_hits_in_other_fields_are_named(client, admin):
    row = record(client, admin, object_name="13812345678", inspectors=["王五", "010-62345678"])
    assert {(h["field"], h["kind"]) for h in row["block_hits"]} == {
        ("object_display", "phone"),
        ("inspectors", "phone"),
    }
    assert any("检查对象" in h["message"] for h in row["block_hits"])


def test_input_is_checked(client, users, admin):
    resp = client.post(API, json=body(item="不在清单中的事项"), headers=admin.headers)
    assert resp.status_code == 422 and resp.json["error"]["code"] == "unknown_inspection_item"
    resp = client.post(API, json=body(result="all_good"), headers=admin.headers)
    assert resp.status_code == 422 and "result" in resp.json["error"]["details"]["fields"]
    resp = client.post(API, json=body(inspectors=["王五"]), headers=admin.headers)
    assert resp.status_code == 422 and "inspectors" in resp.json["error"]["details"]["fields"]
    future = (TODAY + timedelta(days=1)).isoformat()
    resp = client.post(API, json=body(inspected_on=future), headers=admin.headers)
    assert resp.status_code == 422 and resp.json["error"]["code"] == "future_date"
    resp = client.post(API, json=body(case_id=999_999), headers=admin.headers)
    assert resp.status_code == 404 and resp.json["error"]["code"] == "case_not_found"
    # A unit that has not published its 随机抽查事项清单 cannot record results yet.
    newcomer = users.create("nl_admin", role="admin", unit="NL")
    resp = client.post(API, json=body(), headers=newcomer.headers)
    assert resp.status_code == 422 and resp.json["error"]["code"] == "no_inspection_list"


def test_a_result_links_the_case_opened_from_it(client, users, admin):
    officer = users.create("ri_officer", unit="RI")
    case = open_case(client, officer, title="抽查发现无证经营")
    row = record(client, admin, result="case_opened", case_id=case["id"])
    assert (row["case_id"], row["result_label"]) == (case["id"], "发现问题已立案查处")
    other = users.create("xo_officer", unit="XO")
    foreign = open_case(client, other, title="外单位")
    resp = client.put(f"{API}/{row['id']}", json={"case_id": foreign["id"]}, headers=admin.headers)
    assert resp.status_code == 404


# --- dates and the daily chore -----------------------------------------------------------------


def test_due_date_is_20_working_days_with_holidays(app, client, admin):
    # Mon 1 Jun 2026: 20 working days later is Tue 30 Jun, the shipped calendar knowing that
    # Fri 19 Jun is a holiday (端午节); a unit's own holiday on Wed 10 Jun makes it Wed 1 Jul.
    row = record(client, admin, inspected_on="2026-06-01")
    assert row["due_by"] == "2026-06-30"
    resp = client.put(
        "/api/v1/calendar",
        json={"items": [{"day": "2026-06-10", "is_workday": False, "note": "本地放假"}]},
        headers=admin.headers,
    )
    assert resp.status_code == 200, resp.json
    assert record(client, admin, inspected_on="2026-06-01")["due_by"] == "2026-07-01"
    # ... and the result recorded before the holiday was declared moves with it
    with app.app_context():
        assert db.session.get(RandomInspectionResult, row["id"]).due_by == date(2026, 7, 1)
    assert actions(app, row["id"])[-1] == "disclosure.inspection_due_moved"
    # Changing the inspection date moves the deadline: Fri 12 Jun + 20 → Mon 13 Jul.
    moved = client.put(
        f"{API}/{row['id']}", json={"inspected_on": "2026-06-12"}, headers=admin.headers
    )
    assert moved.json["due_by"] == "2026-07-13"


def test_housekeeping_publishes_due_results(app, client, admin):
    long_ago = (TODAY - timedelta(days=60)).isoformat()
    due = record(client, admin, inspected_on=long_ago)
    not_yet = record(client, admin, inspected_on=TODAY.isoformat(), object_name="乙公司")
    blocked = record(client, admin, inspected_on=long_ago, detail=f"电话{PLANTED_PHONE}")
    assert blocked["status"] == "blocked"
    now = clock.now()
    with app.app_context():
        counts = housekeeping.run(db.session, now)
        db.session.commit()
        assert counts["inspection_results_published"] == 1
        assert housekeeping.run(db.session, now)["inspection_results_published"] == 0
        db.session.commit()
        status = dict(
            db.session.execute(
                sa.select(RandomInspectionResult.id, RandomInspectionResult.status)
            ).all()
        )
    assert status == {due["id"]: "published", not_yet["id"]: "pending", blocked["id"]: "blocked"}
    assert actions(app, due["id"])[-1] == "disclosure.inspection_published"
    assert "某某食品有限公司" in public_list(client) and "乙公司" not in public_list(client)

    # Fixed in time, the blocked one goes out with the next day's run.
    with app.app_context():
        row = db.session.get(RandomInspectionResult, blocked["id"])
        row.detail = "已隐去联系电话。"
        row.status = "pending"
        assert [r.id for r in inspections.publish_due(db.session, TODAY)] == [blocked["id"]]
        db.session.commit()


# --- the public list ---------------------------------------------------------------------------


def test_taken_down_result_leaves_the_public_list(app, client, admin):
    row = record(client, admin, object_name="丙食品店")
    client.post(f"{API}/{row['id']}/publish", headers=admin.headers)
    assert "丙食品店" in public_list(client)

    resp = client.post(f"{API}/{row['id']}/take-down", json={"notice": ""}, headers=admin.headers)
    assert resp.status_code == 422
    resp = client.post(
        f"{API}/{row['id']}/take-down",
        json={"notice": f"联系人{PLANTED_PHONE}要求更正"},
        headers=admin.headers,
    )
    assert resp.status_code == 409 and resp.json["error"]["code"] == "personal_data_found"
    resp = client.post(
        f"{API}/{row['id']}/take-down",
        json={"notice": "检查对象名称录入有误，已撤下更正。"},
        headers=admin.headers,
    )
    assert resp.status_code == 200, resp.json
    assert resp.json["status"] == "taken_down" and resp.json["taken_down_at"]
    html = public_list(client)
    assert "丙食品店" not in html and "共 0 条" in html
    assert "检查对象名称录入有误，已撤下更正。" in html  # the public notice, without the object
    again = client.post(
        f"{API}/{row['id']}/take-down", json={"notice": "再次"}, headers=admin.headers
    )
    assert again.status_code == 409
    assert actions(app, row["id"])[-1] == "disclosure.inspection_taken_down"


def test_natural_person_object_is_masked(client, admin):
    row = record(
        client,
        admin,
        object_name="欧阳修",
        object_kind="natural",
        detail="欧阳修经营的小吃店未发现问题。",
    )
    assert row["object_name"] == "欧阳修"  # the unit's own record keeps the name
    assert (row["object_display"], row["detail"]) == ("欧阳某", "欧阳某经营的小吃店未发现问题。")
    client.post(f"{API}/{row['id']}/publish", headers=admin.headers)
    html = public_list(client)
    assert "欧阳某" in html and "欧阳修" not in html
    assert "欧阳某" in public_list(client, "?object=欧阳")
    assert "共 0 条" in public_list(client, "?object=欧阳修")  # the real name finds nothing


def test_public_search_and_pages(app, client, admin):
    for n in range(22):
        day = (TODAY - timedelta(days=40 + n)).isoformat()
        item = ITEMS[n % 2]
        row = record(client, admin, inspected_on=day, item=item, object_name=f"商户{n:02d}号店")
        client.post(f"{API}/{row['id']}/publish", headers=admin.headers)
    first = public_list(client)
    assert "共 22 条，第 1 / 2 页" in first and "商户00号店" in first and "商户21号店" not in first
    assert 'rel="next"' in first and '<nav class="unit-nav"' in first and "抽查结果" in first
    assert "商户21号店" in public_list(client, "?page=2")
    by_item = public_list(client, f"?item={ITEMS[1]}")
    assert "共 11 条" in by_item and "商户01号店" in by_item and "商户00号店" not in by_item
    day = (TODAY - timedelta(days=45)).isoformat()
    by_date = public_list(client, f"?from={day}&to={day}")
    assert "共 1 条" in by_date and "商户05号店" in by_date
    assert "共 1 条" in public_list(client, "?object=商户13")
    assert "不是有效日期" in public_list(client, "?from=yesterday")
    # The unit's menu links the page, and the list of items links to the results.
    items_page = client.get("/public/units/RI/random-inspections").get_data(as_text=True)
    assert 'href="/public/units/RI/inspection-results"' in items_page
    assert client.get("/public/units/NOPE/inspection-results").status_code == 404


# --- who may see what --------------------------------------------------------------------------


def test_supervisor_of_another_unit_gets_404(client, users, admin, sup):
    row = record(client, sup)
    stranger = users.create("xx_sup", role="supervisor", unit="XX")
    assert client.get(f"{API}/{row['id']}", headers=stranger.headers).status_code == 404
    resp = client.put(f"{API}/{row['id']}", json={"detail": "改"}, headers=stranger.headers)
    assert resp.status_code == 404
    assert client.get(API, headers=stranger.headers).json["items"] == []
    other_admin = users.create("xx_admin", role="admin", unit="XX")
    resp = client.post(f"{API}/{row['id']}/publish", headers=other_admin.headers)
    assert resp.status_code == 404
    assert client.get(f"{API}/{row['id']}", headers=sup.headers).json["id"] == row["id"]


def test_api_needs_a_signed_in_admin_or_supervisor(client, users, admin):
    assert client.get(API).status_code == 401
    assert client.post(API, json=body()).status_code == 401
    assert client.put(f"{API}/1", json={}).status_code == 401
    assert client.post(f"{API}/1/publish").status_code == 401
    assert client.post(f"{API}/1/take-down", json={"notice": "x"}).status_code == 401
    officer = users.create("ri_o", unit="RI")
    assert client.post(API, json=body(), headers=officer.headers).status_code == 403
    assert client.get(API, headers=officer.headers).status_code == 403
