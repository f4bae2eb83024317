"""Forms that know the case (prefill), the package preview of a legal-review round, and a
supervisor moving any item of the case to another stage."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server import clock
from server.extensions import db
from server.models import AuditEntry
from server.services.legal_review import CHECKLIST_CODES
from tests import tus_helpers as tus
from tests.conftest import open_case, sample_jpeg
from tests.test_documents_registry import COMPANY
from tests.workflow_helpers import API, Flow, move_case_to, signature_png

DRAFT = {
    "penalties": [{"kind": "fine", "amount": 5000, "description": "罚款人民币伍仟元"}],
    "summary": "罚款5000元",
    "legal_basis": "《中华人民共和国食品安全法》第一百二十四条",
    "party": {"type": "legal", "name": "某某食品有限公司", "id_number": "91110000MA01234567"},
    "facts": "当事人销售超过保质期的酸奶12箱。",
    "discretion": "首次违法，主动配合调查，依裁量基准从轻处罚。",
}


@pytest.fixture
def team(users, client):
    li = users.create("li", role="officer")
    wang = users.create("wang", role="officer")
    sup = users.create("sup", role="supervisor")
    legal = users.create("legal", role="legal")
    admin = users.create("adm", role="admin")
    for officer, number in ((li, "31010020260001"), (wang, "31010020260002")):
        today = clock.today()
        resp = client.post(
            f"{API}/credentials",
            json={
                "user_id": officer.id,
                "number": number,
                "issuing_authority": "上海市静安区人民政府",
                "categories": ["市场监管"],
                "area": "静安区",
                "valid_from": (today - timedelta(days=30)).isoformat(),
                "valid_to": (today + timedelta(days=300)).isoformat(),
            },
            headers=admin.headers,
        )
        assert resp.status_code == 201, resp.json
    return {"li": li, "wang": wang, "sup": sup, "legal": legal}


def prefill(client, actor, case_id: int, doc_type: str, expect: int = 200) -> dict:
    resp = client.get(
        f"{API}/cases/{case_id}/documents/prefill",
        query_string={"type": doc_type},
        headers=actor.headers,
    )
    assert resp.status_code == expect, resp.json
    return resp.json


def test_a_new_record_knows_the_case_and_says_where_each_value_came_from(client, team):
    li, wang = team["li"], team["wang"]
    case = open_case(
        client,
        li,
        title="销售过期食品案",
        location="静安区某路1号",
        parties=[{"name": "某某超市", "kind": "organisation", "id_number": "9131000012345"}],
        officer_ids=[wang.id],
    )
    cid = case["id"]

    # Only the case so far: the party and the place from the case, the officers with their
    # credential numbers (the signed-in one first).
    first = prefill(client, li, cid, "onsite_inspection_record")
    assert first["fields"]["party"] == {
        "name": "某某超市",
        "type": "legal",
        "id_number": "9131000012345",
    }
    assert first["sources"]["party"]["kind"] == "case"
    assert first["fields"]["place"] == "静安区某路1号"
    assert first["fields"]["inspectors"] == [
        {"name": "Li", "badge_number": "31010020260001"},
        {"name": "Wang", "badge_number": "31010020260002"},
    ]
    assert first["sources"]["inspectors"]["label"]["zh"] == "本案执法人员及其执法证号"
    # Nothing is made up: findings, statements and times without a recording stay empty.
    assert not {"findings", "party_statement", "inspected_at"} & set(first["fields"])

    # An earlier document knows more (address, representative): it wins over the case.
    filing = Flow(client).doc(li, cid, "filing_approval")
    second = prefill(client, wang, cid, "inquiry_record")
    assert second["fields"]["interviewee"]["address"] == COMPANY["address"]
    assert second["sources"]["interviewee"] == {
        "kind": "document",
        "document_id": filing,
        "label": {
            "zh": "《立案审批表》（草稿）",
            "en": "Case filing approval form (draft)",
        },
    }
    assert second["fields"]["interviewer"] == "Wang"  # the one filling the form
    assert second["fields"]["recorder"] == "Li"
    assert all(set(s) >= {"kind", "label"} for s in second["sources"].values())

    # The suggestion is a valid start: with what only the officer can know, it is accepted.
    fields = {
        **first["fields"],
        "inspected_at": clock.local_now().replace(microsecond=0).isoformat(),
        "credential_shown": True,
        "findings": "货架上陈列过期酸奶。",
    }
    resp = client.post(
        f"{API}/cases/{cid}/documents",
        json={"type": "onsite_inspection_record", "fields": fields},
        headers=li.headers,
    )
    assert resp.status_code == 201, resp.json

    # Audited like a view; unknown types, missing types, other people's cases are refused.
    with client.application.app_context():
        actions = db.session.query(AuditEntry.action).filter_by(object_id=str(cid)).all()
        assert ("document.prefilled",) in actions
    assert prefill(client, li, cid, "nonsense", expect=422)["error"]["code"] == (
        "unknown_document_type"
    )
    resp = client.get(f"{API}/cases/{cid}/documents/prefill", headers=li.headers)
    assert resp.status_code == 422 and resp.json["error"]["code"] == "type_required"
    stranger = open_case(client, team["sup"], title="别的案件")
    prefill(client, li, stranger["id"], "filing_approval", expect=404)


def test_the_decision_follows_the_reviewed_draft_and_times_come_from_the_recording(
    client, team, tmp_path
):
    li, sup = team["li"], team["sup"]
    case = open_case(client, li, title="销售过期食品案")
    cid = case["id"]
    flow = Flow(client, clips=tmp_path)

    # The on-site inspection's times from its recording.
    move_case_to(client, sup, cid, "investigation")
    flow.video(li, cid, "investigation", "onsite_inspection")
    times = prefill(client, li, cid, "onsite_inspection_record")
    assert times["sources"]["inspected_at"]["kind"] == "media"
    assert times["sources"]["inspected_at"]["label"]["zh"].startswith("音像记录录像开始时间")
    assert times["fields"]["inspected_at"].endswith("+08:00")
    assert times["fields"]["ended_at"] >= times["fields"]["inspected_at"]

    # The investigation report gives the draft for legal review.
    move_case_to(client, sup, cid, "review")
    flow.doc(li, cid, "investigation_report")
    suggestion = client.get(f"{API}/cases/{cid}/legal-reviews/draft", headers=li.headers).json
    draft = suggestion["decision_draft"]
    assert draft["party"]["name"] == COMPANY["name"]
    assert draft["facts"] and draft["legal_basis"] and draft["penalties"][0]["kind"] == "fine"
    assert isinstance(draft["penalties"][0]["amount"], float)
    assert suggestion["sources"]["facts"]["kind"] == "document"
    assert "违法事实" in suggestion["report"]

    # Once the legal review agreed, the decision's operative fields come from that draft.
    resp = client.post(
        f"{API}/cases/{cid}/legal-reviews",
        json={"report": "审查报告", "decision_draft": DRAFT},
        headers=li.headers,
    )
    assert resp.status_code == 201, resp.json
    legal = team["legal"]
    agreed = client.post(
        f"{API}/legal-reviews/{resp.json['id']}/opinion",
        json={
            "outcome": "agree",
            "checklist": [{"item": code, "passed": True} for code in CHECKLIST_CODES],
            "opinion": "事实清楚，证据确凿，同意。",
            "signature": signature_png(),
        },
        headers=legal.headers,
    )
    assert agreed.status_code == 200, agreed.json
    decision = prefill(client, li, cid, "penalty_decision")
    assert decision["fields"]["party"] == DRAFT["party"]
    assert decision["fields"]["facts"] == DRAFT["facts"]
    assert decision["fields"]["legal_basis"] == DRAFT["legal_basis"]
    assert decision["fields"]["penalties"] == [
        {"kind": "fine", "amount": "5000.00", "description": "罚款人民币伍仟元"}
    ]
    assert decision["fields"]["discretion"] == DRAFT["discretion"]
    assert decision["sources"]["penalties"]["kind"] == "legal_review"
    assert decision["sources"]["penalties"]["label"]["zh"] == "经法制审核同意的决定草案（第1轮）"

    # A decision written from the suggestion is the one the legal review agreed to.
    fields = {
        **decision["fields"],
        "evidence": "现场检查笔录、询问笔录。",
        "payment": "自收到本决定书之日起十五日内缴纳。",
        "remedy": "如不服本决定，可在六十日内申请行政复议或六个月内提起行政诉讼。",
    }
    resp = client.post(
        f"{API}/cases/{cid}/documents",
        json={"type": "penalty_decision", "fields": fields},
        headers=li.headers,
    )
    assert resp.status_code == 201, resp.json
    match = client.get(f"{API}/documents/{resp.json['id']}/review-match", headers=li.headers)
    assert match.status_code == 200, match.json
    assert match.json["consistent"] is True, match.json["differences"]


def test_the_preview_shows_the_package_a_round_would_freeze_and_writes_nothing(client, team):
    li, sup = team["li"], team["sup"]
    cid = open_case(client, li, title="销售过期食品案")["id"]
    body = {"report": "审查报告：事实清楚。", "decision_draft": DRAFT}

    # Not at 审查 yet: refused like the submission itself.
    resp = client.post(f"{API}/cases/{cid}/legal-reviews/preview", json=body, headers=li.headers)
    assert resp.status_code == 409 and resp.json["error"]["code"] == "not_in_review_stage"

    move_case_to(client, sup, cid, "review")
    report = Flow(client).doc(li, cid, "investigation_report")
    resp = client.post(f"{API}/cases/{cid}/legal-reviews/preview", json=body, headers=li.headers)
    assert resp.status_code == 200, resp.json
    preview = resp.json
    assert preview["round"] == 1
    package = preview["package"]
    assert [d["id"] for d in package["documents"]] == [report]
    assert package["completeness"]["current_stage"] == "review"
    # The operative content of the draft is in what will be frozen.
    for name in ("party", "facts", "legal_basis", "penalties", "discretion"):
        assert package["decision_draft"][name] == DRAFT[name], name
    assert client.get(f"{API}/cases/{cid}/legal-reviews", headers=li.headers).json["items"] == []

    # Submitting freezes the same package.
    resp = client.post(f"{API}/cases/{cid}/legal-reviews", json=body, headers=li.headers)
    assert resp.status_code == 201
    frozen = resp.json["package"]
    assert frozen["decision_draft"] == package["decision_draft"]
    assert frozen["documents"] == package["documents"]
    # A second preview while the round runs is refused, as a second submission would be.
    resp = client.post(f"{API}/cases/{cid}/legal-reviews/preview", json=body, headers=li.headers)
    assert resp.status_code == 409 and resp.json["error"]["code"] == "review_in_progress"


def test_a_supervisor_moves_any_item_with_a_reason_and_an_archived_case_stays(client, team, app):
    li, sup = team["li"], team["sup"]
    cid = open_case(client, li, title="油烟扰民")["id"]
    move_case_to(client, sup, cid, "evidence")
    # An item the officer attached to 立案 (not an unattached one).
    item = tus.upload(
        client, li, cid, sample_jpeg(), stage="filing", activity="evidence_collection"
    )
    assert client.get(f"{API}/media/{item}", headers=sup.headers).json["attached_stage"] == "filing"

    def move(actor, stage: str, reason: str = "拍摄于调查取证时，阶段选错"):
        return client.post(
            f"{API}/media/{item}/attachment",
            json={"stage": stage, "reason": reason},
            headers=actor.headers,
        )

    assert move(li, "evidence").status_code == 403  # officers do not move evidence
    resp = move(sup, "archive")
    assert resp.status_code == 409 and resp.json["error"]["code"] == "stage_not_reached"
    assert move(sup, "evidence", reason="").status_code == 422  # a reason is required

    resp = move(sup, "evidence")
    assert resp.status_code == 200, resp.json
    assert resp.json["attached_stage"] == "evidence"
    custody = client.get(f"{API}/media/{item}/custody", headers=sup.headers).json["entries"]
    moved = [e for e in custody if e["action"] == "media.moved"]
    assert moved[-1]["details"]["from"] == "filing" and moved[-1]["details"]["to"] == "evidence"
    assert moved[-1]["details"]["reason"] == "拍摄于调查取证时，阶段选错"
    timeline = client.get(f"{API}/cases/{cid}/timeline", headers=sup.headers).json
    by_stage = {s["stage"]: [m["id"] for m in s["items"]] for s in timeline["stages"]}
    assert item in by_stage["evidence"] and item not in by_stage["filing"]

    with app.app_context():
        from server.models import Case

        db.session.get(Case, cid).archived_at = clock.now()
        db.session.commit()
    resp = move(sup, "filing")
    assert resp.status_code == 409 and resp.json["error"]["code"] == "case_archived"
