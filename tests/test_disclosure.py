"""行政执法公示: versioned public content, the public pages, and publishing decisions safely."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from server import clock
from server.disclosure import service
from server.disclosure.models import PublishedDecision
from server.disclosure.service import DecisionSource
from server.extensions import db
from server.models import AuditEntry, Unit, User

TODAY = clock.today()
PLANTED_ID = "11010519491231002X"
PLANTED_PHONE = "138-1234-5678"
PLANTED_CARD = "6228 4804 0256 4890 018"

UNIT_INFO = {
    "name": "浦东新区市场监督管理局",
    "address": "上海市浦东新区合欢路2号",
    "duties": "负责辖区内市场综合监督管理。",
    "complaint_contact": {"phone": "12315", "address": "合欢路2号信访窗口", "online": "12315.cn"},
}
POWER_LIST = {
    "items": [
        {
            "item": "对无照经营的处罚",
            "legal_basis": "《无证无照经营查处办法》第十三条",
            "category": "行政处罚",
        },
        {
            "item": "查封经营场所",
            "legal_basis": "《无证无照经营查处办法》第十一条",
            "category": "行政强制",
        },
    ]
}
RANDOM_LIST = {
    "items": [
        {
            "item": "食品经营者检查",
            "basis": "《食品安全法》第一百一十条",
            "object": "辖区食品经营者",
            "method": "现场检查",
            "frequency": "每年不少于一次",
        }
    ]
}
PROCEDURES = {
    "steps": [
        {"name": "立案", "description": "发现违法线索，经负责人批准立案。"},
        {"name": "调查取证", "description": "两名以上执法人员出示证件，全程记录。"},
        {"name": "告知陈述申辩", "description": ""},
        {"name": "作出决定", "description": "法制审核后作出决定。"},
        {"name": "送达执行", "description": ""},
    ],
    "simple_steps": [{"name": "当场出示证件"}, {"name": "当场作出决定"}],
}
REMEDIES = {
    "reconsideration_body": "浦东新区人民政府",
    "court": "上海市浦东新区人民法院",
    "complaint_channels": [{"name": "12345热线", "contact": "拨打12345"}],
}


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def local(at_iso: str) -> str:
    return datetime.fromisoformat(at_iso).astimezone(clock.ZONE).strftime("%Y-%m-%d %H:%M")


@pytest.fixture
def admin(users):
    return users.create("pd_admin", role="admin", unit="PD")


def unit_id(app, code: str = "PD") -> int:
    with app.app_context():
        return db.session.execute(sa.select(Unit.id).where(Unit.code == code)).scalar_one()


def source(app, **overrides: Any) -> DecisionSource:
    fields: dict[str, Any] = {
        "unit_id": unit_id(app),
        "case_id": None,
        "document_id": None,
        "number": "沪市监罚〔2026〕12号",
        "title": "张三无证经营案",
        "decided_at": TODAY - timedelta(days=3),
        "party_kind": "natural",
        "party_name": "张三",
        "other_names": ["李四"],
        "facts": "2026-11-27，当事人张三在未取得营业执照的情况下从事经营活动，李四在场。",
        "legal_basis": "《无证无照经营查处办法》第十三条",
        "penalties": [{"kind": "罚款", "amount": 5000}, {"kind": "警告"}],
        "sensitive": None,
    }
    fields.update(overrides)
    return DecisionSource(**fields)


def prepare(app, due_by: date | None = None, **overrides: Any) -> int:
    src = source(app, **overrides)
    with app.app_context():
        pd = service.prepare_publication(db.session, src, due_by=due_by or TODAY)
        db.session.commit()
        return pd.id


def decision(app, decision_id: int) -> PublishedDecision:
    with app.app_context():
        pd = db.session.get(PublishedDecision, decision_id)
        db.session.expunge(pd)
        return pd


def actions(app, decision_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.execute(
                sa.select(AuditEntry.action)
                .where(
                    AuditEntry.object_type == "published_decision",
                    AuditEntry.object_id == str(decision_id),
                )
                .order_by(AuditEntry.seq)
            ).scalars()
        )


# --- 事前公开: versioned content --------------------------------------------------------------


def test_admin_edit_adds_a_version_and_the_page_shows_when(client, admin):
    first = client.put("/api/v1/disclosure/unit_info", json=UNIT_INFO, headers=admin.headers)
    assert first.status_code == 200, first.json
    assert first.json["version"] == 1
    renamed = {**UNIT_INFO, "name": "上海市浦东新区市场监督管理局"}
    second = client.put("/api/v1/disclosure/unit_info", json=renamed, headers=admin.headers)
    assert second.json["version"] == 2

    latest = client.get("/api/v1/disclosure/unit_info", headers=admin.headers).json
    assert latest["version"] == 2 and latest["content"]["name"] == renamed["name"]
    versions = client.get("/api/v1/disclosure/unit_info/versions", headers=admin.headers).json
    assert [v["version"] for v in versions["items"]] == [2, 1]
    assert versions["items"][1]["content"]["name"] == UNIT_INFO["name"]

    page = client.get("/public/units/PD/")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "public, max-age=300"
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert f"<h1>{renamed['name']}</h1>" in html
    assert (
        f'最后更新：<time datetime="{second.json["created_at"]}">{local(second.json["created_at"])}</time>'
        in html
    )
    assert "合欢路2号信访窗口" in html and "12315" in html


def test_content_is_audited(app, client, admin):
    row = client.put("/api/v1/disclosure/power_list", json=POWER_LIST, headers=admin.headers).json
    pd_unit = unit_id(app)
    with app.app_context():
        entry = db.session.execute(
            sa.select(AuditEntry).where(AuditEntry.object_type == "public_content")
        ).scalar_one()
        assert entry.action == "disclosure.content_saved"
        assert entry.object_id == str(row["id"]) and entry.actor == "pd_admin"
        assert entry.details == {"unit_id": pd_unit, "kind": "power_list", "version": 1}


def test_content_is_validated_per_kind(client, admin):
    bad = {"items": [{"item": "对无照经营的处罚", "category": "行政处罚"}]}
    resp = client.put("/api/v1/disclosure/power_list", json=bad, headers=admin.headers)
    assert resp.status_code == 422
    assert "legal_basis" in str(resp.json["error"]["details"])
    resp = client.put(
        "/api/v1/disclosure/remedies", json={**REMEDIES, "extra": 1}, headers=admin.headers
    )
    assert resp.status_code == 422
    resp = client.put("/api/v1/disclosure/remedies", json=REMEDIES, headers=admin.headers)
    assert resp.json["content"]["reconsideration_days"] == 60
    assert resp.json["content"]["litigation_months"] == 6
    resp = client.put("/api/v1/disclosure/parking", json={}, headers=admin.headers)
    assert resp.status_code == 404 and resp.json["error"]["code"] == "unknown_content_kind"
    resp = client.get("/api/v1/disclosure/procedures", headers=admin.headers)
    assert resp.status_code == 404 and resp.json["error"]["code"] == "content_not_found"


def test_admin_api_is_for_admins_only(client, users, admin):
    officer = users.create("pd_officer", role="officer", unit="PD")
    supervisor = users.create("pd_super", role="supervisor", unit="PD")
    for who in (officer, supervisor):
        assert client.get("/api/v1/disclosure/unit_info", headers=who.headers).status_code == 403
        resp = client.put("/api/v1/disclosure/unit_info", json=UNIT_INFO, headers=who.headers)
        assert resp.status_code == 403 and resp.json["error"]["code"] == "role_forbidden"
        assert client.get("/api/v1/disclosure/decisions", headers=who.headers).status_code == 403
    for method, url in [
        ("get", "/api/v1/disclosure/unit_info"),
        ("put", "/api/v1/disclosure/unit_info"),
        ("get", "/api/v1/disclosure/unit_info/versions"),
        ("get", "/api/v1/disclosure/decisions"),
        ("post", "/api/v1/disclosure/decisions/1/publish"),
        ("post", "/api/v1/disclosure/decisions/1/take-down"),
        ("put", "/api/v1/disclosure/decisions/1"),
    ]:
        resp = getattr(client, method)(url, json={})
        assert resp.status_code == 401, url
        assert resp.json["error"]["code"] == "unauthorized"


def test_each_unit_edits_only_its_own_content(client, users, admin):
    other = users.create("xh_admin", role="admin", unit="XH")
    client.put("/api/v1/disclosure/unit_info", json=UNIT_INFO, headers=admin.headers)
    assert client.get("/api/v1/disclosure/unit_info", headers=other.headers).status_code == 404
    assert "尚未公开" in client.get("/public/units/XH/").get_data(as_text=True)


def test_missing_content_is_a_friendly_page(client, admin):
    for path in ("", "powers", "random-inspections", "procedures", "remedies"):
        resp = client.get(f"/public/units/PD/{path}")
        assert resp.status_code == 200, path
        assert "尚未公开" in resp.get_data(as_text=True)
    assert client.get("/public/units/PD/procedures.svg").status_code == 404
    resp = client.get("/public/units/NOPE/")
    assert resp.status_code == 404 and resp.mimetype == "text/html"
    assert "未找到" in resp.get_data(as_text=True)
    assert client.get("/public/decisions/999").status_code == 404


def test_index_lists_units(client, admin, users):
    users.create("xh_admin", role="admin", unit="XH")
    client.put("/api/v1/disclosure/unit_info", json=UNIT_INFO, headers=admin.headers)
    html = client.get("/public/").get_data(as_text=True)
    assert UNIT_INFO["name"] in html
    assert 'href="/public/units/PD/"' in html and 'href="/public/units/XH/"' in html


def test_lists_procedures_and_remedies_pages(client, admin):
    for kind, body in [
        ("power_list", POWER_LIST),
        ("random_inspection_list", RANDOM_LIST),
        ("procedures", PROCEDURES),
        ("remedies", REMEDIES),
    ]:
        resp = client.put(f"/api/v1/disclosure/{kind}", json=body, headers=admin.headers)
        assert resp.status_code == 200, resp.json

    powers = client.get("/public/units/PD/powers").get_data(as_text=True)
    assert "对无照经营的处罚" in powers and "《无证无照经营查处办法》第十三条" in powers
    assert "行政强制" in powers and "最后更新" in powers
    inspections = text_of(client.get("/public/units/PD/random-inspections").get_data(as_text=True))
    for value in RANDOM_LIST["items"][0].values():
        assert value in inspections
    remedies = text_of(client.get("/public/units/PD/remedies").get_data(as_text=True))
    assert "60 日" in remedies and "6 个月" in remedies
    assert "浦东新区人民政府" in remedies and "上海市浦东新区人民法院" in remedies

    procedures = client.get("/public/units/PD/procedures")
    html = procedures.get_data(as_text=True)
    assert '<img src="/public/units/PD/procedures.svg"' in html
    assert (
        'alt="一般程序流程图：1. 立案 → 2. 调查取证 → 3. 告知陈述申辩 → 4. 作出决定 → 5. 送达执行"'
        in html
    )
    assert 'src="/public/units/PD/procedures.svg?procedure=simple"' in html
    svg = client.get("/public/units/PD/procedures.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.headers["Cache-Control"] == "public, max-age=300"
    body = svg.get_data(as_text=True)
    assert body.startswith("<svg") and "<title>一般程序</title>" in body
    assert all(s["name"] in body for s in PROCEDURES["steps"])
    assert body.count("<rect") == 1 + len(PROCEDURES["steps"])
    simple = client.get("/public/units/PD/procedures.svg?procedure=simple").get_data(as_text=True)
    assert "当场作出决定" in simple and "调查取证" not in simple


def test_flow_chart_escapes_text():
    svg = service.procedure_flow_svg([{"name": "<script>&"}], title="一般程序")
    assert "<script>" not in svg and "&lt;script&gt;&amp;" in svg


# --- officers ---------------------------------------------------------------------------------


def _credential(client, admin, user_id: int, number: str, **extra: Any):
    body = {
        "user_id": user_id,
        "number": number,
        "issuing_authority": "上海市浦东新区人民政府",
        "categories": ["市场监管", "食品安全"],
        "area": "浦东新区",
        "valid_from": (TODAY - timedelta(days=30)).isoformat(),
        "valid_to": (TODAY + timedelta(days=700)).isoformat(),
        **extra,
    }
    resp = client.post("/api/v1/credentials", json=body, headers=admin.headers)
    assert resp.status_code == 201, resp.json
    return resp.json


def test_officers_page_shows_only_public_facts(app, client, users, admin):
    officer = users.create("wang_officer", role="officer", unit="PD")
    suspended = users.create("zhao_officer", role="officer", unit="PD")
    expired = users.create("sun_officer", role="officer", unit="PD")
    outsider = users.create("qian_officer", role="officer", unit="XH")
    other_admin = users.create("xh_admin", role="admin", unit="XH")
    with app.app_context():
        for uid, name in [
            (officer.id, "王小明"),
            (suspended.id, "赵停证"),
            (expired.id, "孙过期"),
            (outsider.id, "钱外单位"),
        ]:
            db.session.get(User, uid).name = name
        db.session.commit()
    _credential(client, admin, officer.id, "31010020260001")
    cred = _credential(client, admin, suspended.id, "31010020260002")
    client.post(
        f"/api/v1/credentials/{cred['id']}/status",
        json={"status": "suspended", "reason": "调岗"},
        headers=admin.headers,
    )
    _credential(
        client,
        admin,
        expired.id,
        "31010020260003",
        valid_from=(TODAY - timedelta(days=400)).isoformat(),
        valid_to=(TODAY - timedelta(days=1)).isoformat(),
    )
    _credential(client, other_admin, outsider.id, "31010120260009")

    resp = client.get("/public/units/PD/officers")
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "public, max-age=300"
    html = resp.get_data(as_text=True)
    text = text_of(html)
    assert "王小明" in text and "31010020260001" in text
    assert "市场监管、食品安全" in text and "浦东新区" in text
    assert (TODAY + timedelta(days=700)).isoformat() in text
    for absent in ("赵停证", "31010020260002", "孙过期", "31010020260003", "钱外单位"):
        assert absent not in text, absent
    lowered = html.lower()
    for private in (
        "wang_officer",
        "zhao_officer",
        "sun_officer",
        "pd_admin",
        "username",
        "password",
    ):
        assert private not in lowered, private
    # No user ids either: the only numbers on the page are the credential's and dates.
    assert f"/users/{officer.id}" not in html and "user_id" not in html


# --- 事后公开: decisions ---------------------------------------------------------------------


def test_natural_person_party_is_masked(app, client, admin):
    pd = decision(app, prepare(app))
    assert pd.status == "pending"
    assert pd.party_display == "张某"
    assert pd.title == "张某无证经营案"
    assert "张三" not in pd.body and "李四" not in pd.body
    assert "当事人张某" in pd.body and "李某在场" in pd.body
    assert pd.penalty_summary == "罚款5000元；警告"
    assert pd.block_hits == []

    legal = decision(
        app,
        prepare(
            app,
            party_kind="legal",
            party_name="上海某某餐饮有限公司",
            title="某某餐饮案",
            facts="法定代表人王五未办理许可。",
            other_names=["王五"],
            number="沪市监罚〔2026〕13号",
        ),
    )
    assert legal.party_display == "上海某某餐饮有限公司"
    assert "王某" in legal.body and "王五" not in legal.body


def test_planted_personal_data_blocks_publication_until_fixed(app, client, admin):
    facts = (
        f"当事人张三（身份证号{PLANTED_ID}，联系电话{PLANTED_PHONE}）"
        f"通过银行卡{PLANTED_CARD}收取货款。"
    )
    decision_id = prepare(app, facts=facts)
    pd = decision(app, decision_id)
    assert pd.status == "blocked"
    assert sorted(h["kind"] for h in pd.block_hits) == ["bank_card", "id_number", "phone"]
    assert {h["field"] for h in pd.block_hits} == {"body"}
    id_hit = next(h for h in pd.block_hits if h["kind"] == "id_number")
    assert pd.body[id_hit["start"] : id_hit["end"]] == PLANTED_ID
    assert id_hit["line"] == 2 and "正文第2行" in id_hit["message"]
    assert PLANTED_ID not in str(pd.block_hits)  # the admin's message shows a masked excerpt

    listed = client.get("/api/v1/disclosure/decisions?status=blocked", headers=admin.headers).json
    assert [d["id"] for d in listed["items"]] == [decision_id]

    resp = client.post(f"/api/v1/disclosure/decisions/{decision_id}/publish", headers=admin.headers)
    assert resp.status_code == 409
    assert resp.json["error"]["code"] == "personal_data_found"
    hits = resp.json["error"]["details"]["hits"]
    assert sorted(h["kind"] for h in hits) == ["bank_card", "id_number", "phone"]
    assert all(h["field"] == "body" and h["end"] > h["start"] for h in hits)
    assert decision(app, decision_id).status == "blocked"
    assert "沪市监罚" not in client.get("/public/units/PD/decisions").get_data(as_text=True)

    # Still a hit in the fixed text: still refused, and the admin sees where.
    half_fixed = pd.body.replace(PLANTED_ID, "（已隐去）").replace(PLANTED_CARD, "（已隐去）")
    resp = client.put(
        f"/api/v1/disclosure/decisions/{decision_id}",
        json={"body": half_fixed},
        headers=admin.headers,
    )
    assert resp.status_code == 200
    assert resp.json["status"] == "blocked"
    assert [h["kind"] for h in resp.json["block_hits"]] == ["phone"]
    resp = client.put(
        f"/api/v1/disclosure/decisions/{decision_id}",
        json={"party_display": "13812345678"},
        headers=admin.headers,
    )
    assert {h["field"] for h in resp.json["block_hits"]} == {"body", "party_display"}

    fixed = half_fixed.replace(PLANTED_PHONE, "（已隐去）")
    resp = client.put(
        f"/api/v1/disclosure/decisions/{decision_id}",
        json={"body": fixed, "party_display": "张某"},
        headers=admin.headers,
    )
    assert resp.json["status"] == "pending" and resp.json["block_hits"] == []
    resp = client.post(f"/api/v1/disclosure/decisions/{decision_id}/publish", headers=admin.headers)
    assert resp.status_code == 200, resp.json
    assert resp.json["status"] == "published" and resp.json["published_at"]

    page = client.get(f"/public/decisions/{decision_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "张某" in html and "张三" not in html
    for planted in (PLANTED_ID, PLANTED_PHONE, PLANTED_CARD):
        assert planted not in html
    assert (
        f'最后更新：<time datetime="{resp.json["published_at"]}">{local(resp.json["published_at"])}</time>'
        in html
    )
    assert "张某无证经营案" in client.get("/public/units/PD/decisions").get_data(as_text=True)
    assert actions(app, decision_id) == [
        "disclosure.decision_prepared",
        "disclosure.decision_edited",
        "disclosure.decision_edited",
        "disclosure.decision_edited",
        "disclosure.decision_published",
    ]
    with app.app_context():
        for entry in db.session.execute(sa.select(AuditEntry)).scalars():
            assert PLANTED_ID not in str(entry.details)


def test_hits_in_title_name_the_field(app, admin):
    pd = decision(app, prepare(app, title="关于13812345678的处罚"))
    assert pd.status == "blocked"
    assert [(h["field"], h["kind"]) for h in pd.block_hits] == [("title", "phone")]


def test_decisions_of_another_unit_are_invisible(app, client, users, admin):
    other = users.create("xh_admin", role="admin", unit="XH")
    decision_id = prepare(app)
    assert (
        client.post(
            f"/api/v1/disclosure/decisions/{decision_id}/publish", headers=other.headers
        ).status_code
        == 404
    )
    assert client.get("/api/v1/disclosure/decisions", headers=other.headers).json["items"] == []


def test_withheld_for_minors(app, client, admin):
    decision_id = prepare(app, sensitive="minors")
    pd = decision(app, decision_id)
    assert pd.status == "withheld" and "未成年人" in pd.withheld_reason
    resp = client.post(f"/api/v1/disclosure/decisions/{decision_id}/publish", headers=admin.headers)
    assert resp.status_code == 409 and resp.json["error"]["code"] == "withheld"
    with app.app_context():
        assert service.publish_due(db.session, TODAY + timedelta(days=30)) == []
        db.session.commit()
    assert decision(app, decision_id).status == "withheld"
    assert client.get(f"/public/decisions/{decision_id}").status_code == 404
    with pytest.raises(service.Invalid):
        source_bad = source(app, sensitive="gossip")
        with app.app_context():
            service.prepare_publication(db.session, source_bad, due_by=TODAY)


def test_publish_due_publishes_pending_only_when_due(app, client, admin):
    due_later = prepare(app, due_by=TODAY + timedelta(days=5))
    due_now = prepare(app, due_by=TODAY, number="沪市监罚〔2026〕20号")
    blocked = prepare(
        app, due_by=TODAY, facts=f"电话{PLANTED_PHONE}", number="沪市监罚〔2026〕21号"
    )
    with app.app_context():
        published = service.publish_due(db.session, TODAY)
        db.session.commit()
        assert [pd.id for pd in published] == [due_now]
        assert service.publish_due(db.session, TODAY) == []  # idempotent
    assert decision(app, due_later).status == "pending"
    assert decision(app, blocked).status == "blocked"
    assert decision(app, due_now).status == "published"
    assert actions(app, due_now)[-1] == "disclosure.decision_published"
    with app.app_context():
        service.publish_due(db.session, TODAY + timedelta(days=5))
        db.session.commit()
    assert decision(app, due_later).status == "published"
    assert decision(app, blocked).status == "blocked"


def test_a_holiday_declared_later_moves_a_pending_publication(app, client, users):
    admin = users.create("cal_admin", role="admin", unit="PD")
    friday = date(2026, 3, 6)  # 7 working days → Tue 17 Mar
    with app.app_context():
        due = service.decision_due_by(db.session, unit_id(app), friday)
    pending = prepare(app, due_by=due, decided_at=friday)
    resp = client.put(
        "/api/v1/calendar",
        json={"items": [{"day": "2026-03-10", "is_workday": False, "note": "本地放假"}]},
        headers=admin.headers,
    )
    assert resp.status_code == 200, resp.json
    assert decision(app, pending).due_by == date(2026, 3, 18)
    with app.app_context():
        moved = db.session.execute(
            sa.select(AuditEntry.details).where(
                AuditEntry.action == "disclosure.decision_due_moved"
            )
        ).scalar_one()
    assert (moved["from"], moved["to"]) == ("2026-03-17", "2026-03-18")


def test_due_date_counts_working_days(app):
    with app.app_context():
        friday = date(2026, 3, 6)  # a plain week: 7 working days → Tue 17 Mar
        assert friday.weekday() == 4
        assert service.decision_due_by(db.session, None, friday) == date(2026, 3, 17)
        # The shipped calendar: 2 Jan is in the 元旦 holiday, Sun 4 Jan a make-up workday.
        assert service.decision_due_by(db.session, None, date(2026, 1, 2)) == date(2026, 1, 12)


def test_taken_down_decision_leaves_the_list_and_shows_the_notice(app, client, admin):
    decision_id = prepare(app)
    client.post(f"/api/v1/disclosure/decisions/{decision_id}/publish", headers=admin.headers)
    listing = client.get("/public/units/PD/decisions").get_data(as_text=True)
    assert f'href="/public/decisions/{decision_id}"' in listing

    resp = client.post(
        f"/api/v1/disclosure/decisions/{decision_id}/take-down",
        json={"notice": ""},
        headers=admin.headers,
    )
    assert resp.status_code == 422
    # The notice is public too: personal data in it is refused, and nothing changes.
    leaky = "当事人张三（身份证11010519491231002X，电话138-1234-5678）申请复议，决定被撤销。"
    resp = client.post(
        f"/api/v1/disclosure/decisions/{decision_id}/take-down",
        json={"notice": leaky},
        headers=admin.headers,
    )
    assert resp.status_code == 409 and resp.json["error"]["code"] == "personal_data_found"
    hits = resp.json["error"]["details"]["hits"]
    assert {h["kind"] for h in hits} >= {"id_number", "phone"}
    assert all(h["message"].startswith("撤下说明") for h in hits)
    assert f'href="/public/decisions/{decision_id}"' in client.get(
        "/public/units/PD/decisions"
    ).get_data(as_text=True)
    notice = "该决定已于2026年5月6日被依法撤销，现予撤下。"
    resp = client.post(
        f"/api/v1/disclosure/decisions/{decision_id}/take-down",
        json={"notice": notice},
        headers=admin.headers,
    )
    assert resp.status_code == 200, resp.json
    assert resp.json["status"] == "taken_down"

    listing = client.get("/public/units/PD/decisions").get_data(as_text=True)
    assert f'href="/public/decisions/{decision_id}"' not in listing and "共 0 条" in listing
    page = client.get(f"/public/decisions/{decision_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert notice in html and "已撤下" in html
    assert "罚款5000元" not in html  # the body is no longer shown
    assert actions(app, decision_id)[-1] == "disclosure.decision_taken_down"
    again = client.post(
        f"/api/v1/disclosure/decisions/{decision_id}/take-down",
        json={"notice": notice},
        headers=admin.headers,
    )
    assert again.status_code == 409


def test_changed_decision_is_corrected_with_a_link(app, client, admin):
    decision_id = prepare(app)
    client.post(f"/api/v1/disclosure/decisions/{decision_id}/publish", headers=admin.headers)
    replacement = source(app, penalties=[{"kind": "罚款", "amount": 3000}])
    with app.app_context():
        old = db.session.get(PublishedDecision, decision_id)
        admin_user = db.session.get(User, admin.id)
        corrected = service.take_down(
            db.session,
            old,
            admin_user,
            "原决定罚款数额有误，已更正。",
            replacement=replacement,
        )
        db.session.commit()
        new_id = corrected.id
        assert corrected.status == "published" and corrected.corrected_from_id == decision_id
    html = client.get(f"/public/decisions/{decision_id}").get_data(as_text=True)
    assert "原决定罚款数额有误" in html and f'href="/public/decisions/{new_id}"' in html
    listing = text_of(client.get("/public/units/PD/decisions").get_data(as_text=True))
    assert "罚款3000元" in listing and "罚款5000元" not in listing


@pytest.mark.parametrize(("party_kind", "years"), [("natural", 2), ("legal", 5)])
def test_decisions_go_offline_after_2_or_5_years(app, client, admin, party_kind, years):
    decision_id = prepare(
        app, party_kind=party_kind, party_name="张三" if party_kind == "natural" else "某某有限公司"
    )
    published_at = datetime(2024, 2, 29, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a leap day
    with app.app_context():
        pd = db.session.get(PublishedDecision, decision_id)
        service.publish(db.session, pd, None, now=published_at)
        db.session.commit()
        assert pd.offline_after == date(2024 + years, 2, 28)
        assert service.expire(db.session, date(2024 + years, 2, 27)) == []
        assert [d.id for d in service.expire(db.session, date(2024 + years, 2, 28))] == [
            decision_id
        ]
        db.session.commit()
        assert service.expire(db.session, date(2024 + years, 3, 1)) == []
    assert decision(app, decision_id).status == "expired"
    assert actions(app, decision_id)[-1] == "disclosure.decision_expired"
    assert client.get(f"/public/decisions/{decision_id}").status_code == 404


def test_search_by_number_date_and_type(app, client, admin):
    ids = [
        prepare(
            app,
            number="沪市监罚〔2026〕31号",
            decided_at=date(2026, 1, 10),
            penalties=[{"kind": "罚款", "amount": 2000}],
            title="甲案",
        ),
        prepare(
            app,
            number="沪市监罚〔2026〕32号",
            decided_at=date(2026, 2, 10),
            penalties=[{"kind": "警告"}],
            title="乙案",
        ),
        prepare(
            app,
            number="沪市监罚〔2026〕33号",
            decided_at=date(2026, 3, 10),
            penalties=[{"kind": "没收违法所得", "amount": 100}],
            title="丙案",
        ),
    ]
    with app.app_context():
        service.publish_due(db.session, TODAY)
        db.session.commit()

    def titles(query: str) -> list[str]:
        html = client.get(f"/public/units/PD/decisions{query}").get_data(as_text=True)
        return re.findall(r'<a href="/public/decisions/\d+">(.*?)</a>', html)

    assert titles("") == ["丙案", "乙案", "甲案"]
    assert titles("?number=32号") == ["乙案"]
    assert titles("?type=罚款") == ["甲案"]
    assert titles("?from=2026-02-01&to=2026-03-01") == ["乙案"]
    assert titles("?q=丙") == ["丙案"]
    html = client.get("/public/units/PD/decisions?from=31/12/2026").get_data(as_text=True)
    assert "不是有效日期" in html and len(re.findall(r"/public/decisions/\d+", html)) == 3
    pd_unit = unit_id(app)
    with app.app_context():
        page = service.search_published(
            db.session, pd_unit, service.DecisionSearch(per_page=2, page=2), TODAY
        )
        assert (page.total, page.pages, [d.id for d in page.items]) == (3, 2, [ids[0]])
