"""The case's officers: at least two certified officers on site (《行政处罚法》第四十二条),
credential standing in words, the supervisor's assignment and 立案审批."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from server import clock
from tests.conftest import open_case
from tests.workflow_helpers import API, Flow, signature_png


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "REQUIRE_CREDENTIAL": True}  # 持证上岗 on, as in production


@pytest.fixture
def unit(users) -> dict:
    return {
        "li": users.create("li"),
        "wang": users.create("wang"),
        "zhou": users.create("zhou"),
        "wu": users.create("wu"),
        "chen": users.create("chen"),
        "sup": users.create("zhang", role="supervisor"),
        "admin": users.create("admin1", role="admin"),
        "outsider": users.create("qian", unit="U2"),
    }


def issue_credential(client, admin, user, number: str, *, days_left: int = 700) -> dict:
    today = clock.today()
    resp = client.post(
        f"{API}/credentials",
        json={
            "user_id": user.id,
            "number": number,
            "issuing_authority": "上海市浦东新区人民政府",
            "categories": ["市场监管"],
            "area": "浦东新区",
            "valid_from": (today - timedelta(days=800)).isoformat(),
            "valid_to": (today + timedelta(days=days_left)).isoformat(),
        },
        headers=admin.headers,
    )
    assert resp.status_code == 201, resp.json
    return resp.json


@pytest.fixture
def credentials(client, unit) -> dict:
    """li and wang valid, zhou suspended, wu expired, chen none."""
    admin = unit["admin"]
    made = {
        "li": issue_credential(client, admin, unit["li"], "3101002026A001"),
        "wang": issue_credential(client, admin, unit["wang"], "3101002026A002"),
        "zhou": issue_credential(client, admin, unit["zhou"], "3101002026A003"),
        "wu": issue_credential(client, admin, unit["wu"], "3101002026A004", days_left=-3),
    }
    resp = client.post(
        f"{API}/credentials/{made['zhou']['id']}/status",
        json={"status": "suspended", "reason": "涉嫌违纪，暂停执法资格"},
        headers=admin.headers,
    )
    assert resp.status_code == 200, resp.json
    return made


def test_unit_officers_come_with_their_standing_in_words(client, unit, credentials):
    resp = client.get(f"{API}/officers", headers=unit["li"].headers)
    assert resp.status_code == 200, resp.json
    by_name = {o["username"]: o for o in resp.json["items"]}
    assert resp.json["minimum"] == 2
    assert "qian" not in by_name  # another unit's officer is not offered
    assert by_name["li"]["certified"] and by_name["li"]["credential_number"] == "3101002026A001"
    assert (by_name["zhou"]["certified"], by_name["zhou"]["message"]) == (False, "执法证已暂停")
    assert (by_name["wu"]["certified"], by_name["wu"]["message"]) == (False, "执法证已过期")
    assert (by_name["chen"]["certified"], by_name["chen"]["message"]) == (False, "未持有执法证")
    assert client.get(f"{API}/officers", headers=unit["admin"].headers).status_code == 403


def test_on_site_work_needs_two_certified_officers(client, unit, credentials, tmp_path):
    li, sup = unit["li"], unit["sup"]
    flow = Flow(client, tmp_path)
    # li opens an on-the-spot case with zhou, whose credential is suspended.
    case = open_case(client, li, procedure="simple", officer_ids=[unit["zhou"].id])
    cid = case["id"]
    team = client.get(f"{API}/cases/{cid}/officers", headers=li.headers).json
    assert (team["certified"], team["minimum"], team["enough"]) == (1, 2, False)
    assert "不得少于2人" in team["message"] and "执法证已暂停" in team["message"]
    # Filmed a little after the suspension: the phone's capture time has whole seconds, so a
    # capture in the same second as the suspension would read as before it (and count zhou).
    with clock.travel(clock.now() + timedelta(seconds=2)):
        flow.video(li, cid, "filing", "onsite_inspection")
    report = client.get(f"{API}/cases/{cid}/completeness", headers=li.headers).json
    filing = next(s for s in report["stages"] if s["stage"] == "filing")
    [short] = [r for r in filing["requirements"] if r["code"] == "too_few_officers"]
    assert short["met"] is False and short["kind"] == "officers"
    assert "现场执法的执法人员不得少于2人" in short["message"]
    assert "只有1人" in short["message"] and "执法证已暂停" in short["message"]
    assert not report["can_advance"]
    blocked = flow.advance(li, cid, "decision", expect=409)
    assert [m["code"] for m in blocked.json["error"]["details"]["missing"]] == ["too_few_officers"]
    gaps = client.get(f"{API}/cases/{cid}/gaps", headers=li.headers).json["gaps"]
    assert [g["code"] for g in gaps] == ["too_few_officers"]
    # The supervisor cannot assign the suspended officer, and must name two.
    refused = client.put(
        f"{API}/cases/{cid}/officers",
        json={"officer_ids": [li.id, unit["zhou"].id]},
        headers=sup.headers,
    )
    assert refused.status_code == 422 and refused.json["error"]["code"] == "officer_not_certified"
    assert "执法证已暂停" in refused.json["error"]["message"]
    one = client.put(
        f"{API}/cases/{cid}/officers", json={"officer_ids": [li.id]}, headers=sup.headers
    )
    assert one.status_code == 422 and one.json["error"]["code"] == "too_few_officers"
    foreign = client.put(
        f"{API}/cases/{cid}/officers",
        json={"officer_ids": [li.id, unit["outsider"].id]},
        headers=sup.headers,
    )
    assert foreign.status_code == 422 and foreign.json["error"]["code"] == "invalid_officers"
    not_theirs = client.put(
        f"{API}/cases/{cid}/officers",
        json={"officer_ids": [li.id, unit["wang"].id]},
        headers=li.headers,
    )
    assert not_theirs.status_code == 403
    ok = client.put(
        f"{API}/cases/{cid}/officers",
        json={"officer_ids": [li.id, unit["wang"].id]},
        headers=sup.headers,
    )
    assert ok.status_code == 200, ok.json
    assert ok.json["enough"] and [o["username"] for o in ok.json["items"]] == ["li", "wang"]
    # Now two certified officers are on the case: the on-site requirement is met.
    flow.advance(li, cid, "decision")
    # zhou, no longer on the case, sees it no more.
    assert client.get(f"{API}/cases/{cid}", headers=unit["zhou"].headers).status_code == 404


def test_an_expired_credential_does_not_count(client, unit, credentials, tmp_path):
    li = unit["li"]
    case = open_case(client, li, procedure="simple", officer_ids=[unit["wu"].id])
    Flow(client, tmp_path).video(li, case["id"], "filing", "random_inspection")
    gaps = client.get(f"{API}/cases/{case['id']}/gaps", headers=li.headers).json["gaps"]
    [gap] = gaps
    assert gap["code"] == "too_few_officers" and "执法证已过期" in gap["message"]


def test_the_supervisor_approves_the_filing_and_the_case_enters_investigation(
    client, unit, credentials
):
    li, sup = unit["li"], unit["sup"]
    flow = Flow(client)
    case = open_case(client, li, procedure="general", officer_ids=[unit["wang"].id])
    cid = case["id"]
    approval = {"opinion": "同意立案", "signer_name": "张科长", "image": signature_png(3)}
    early = client.post(f"{API}/cases/{cid}/filing-approval", json=approval, headers=sup.headers)
    assert early.status_code == 409 and early.json["error"]["code"] == "filing_approval_missing"
    doc_id = flow.doc(li, cid, "filing_approval")
    flow.sign(li, doc_id, "officer", name="李明")
    by_officer = client.post(
        f"{API}/cases/{cid}/filing-approval", json=approval, headers=li.headers
    )
    assert by_officer.status_code == 403
    resp = client.post(f"{API}/cases/{cid}/filing-approval", json=approval, headers=sup.headers)
    assert resp.status_code == 200, resp.json
    assert resp.json["case"]["current_stage"] == "investigation"
    assert resp.json["document"]["status"] == "issued" and resp.json["document"]["number"]
    doc = client.get(f"{API}/documents/{doc_id}", headers=sup.headers).json
    assert doc["fields"]["approver_opinion"] == "同意立案"
    assert {s["role"] for s in doc["signatures"]} == {"officer", "approver"}
    again = client.post(f"{API}/cases/{cid}/filing-approval", json=approval, headers=sup.headers)
    assert again.status_code == 409


def test_the_supervisor_returns_the_filing_and_the_officer_corrects_and_resubmits(
    client, unit, credentials
):
    li, sup = unit["li"], unit["sup"]
    flow = Flow(client)
    case = open_case(client, li, procedure="general", officer_ids=[unit["wang"].id])
    cid = case["id"]
    first = flow.doc(li, cid, "filing_approval", summary="群众举报该店销售过期酸奶。")
    flow.sign(li, first, "officer", name="李明")
    back = f"{API}/cases/{cid}/filing-approval/return"
    by_officer = client.post(back, json={"reason": "自己退回"}, headers=li.headers)
    assert by_officer.status_code == 403
    silent = client.post(back, json={"reason": " "}, headers=sup.headers)
    assert silent.status_code in (400, 422) and silent.json["error"]["code"]
    resp = client.post(back, json={"reason": "简要案情未写明货值和数量"}, headers=sup.headers)
    assert resp.status_code == 200, resp.json
    assert resp.json["case"]["current_stage"] == "filing"
    second = resp.json["document"]["id"]
    assert resp.json["document"] == {"id": second, "version": 2, "status": "draft"}
    # what the officer signed stays as signed; the new version carries the reason, unsigned
    kept = client.get(f"{API}/documents/{first}", headers=sup.headers).json
    assert kept["status"] == "withdrawn" and [s["role"] for s in kept["signatures"]] == ["officer"]
    assert "approver_opinion" not in kept["fields"] or not kept["fields"]["approver_opinion"]
    draft = client.get(f"{API}/documents/{second}", headers=li.headers).json
    assert draft["fields"]["approver_opinion"] == "退回补正：简要案情未写明货值和数量"
    assert draft["signatures"] == [] and draft["series_id"] == kept["series_id"]
    # nothing to approve until the officer signs again; then approval as before
    approval = {"opinion": "同意立案", "signer_name": "张科长", "image": signature_png(3)}
    early = client.post(f"{API}/cases/{cid}/filing-approval", json=approval, headers=sup.headers)
    assert early.status_code == 409 and early.json["error"]["code"] == "filing_approval_missing"
    fixed = {**draft["fields"], "summary": "群众举报该店销售过期酸奶12箱，货值1200元。"}
    edited = client.put(f"{API}/documents/{second}", json={"fields": fixed}, headers=li.headers)
    assert edited.status_code == 200, edited.json
    flow.sign(li, second, "officer", name="李明")
    resp = client.post(f"{API}/cases/{cid}/filing-approval", json=approval, headers=sup.headers)
    assert resp.status_code == 200, resp.json
    assert resp.json["document"]["id"] == second and resp.json["document"]["status"] == "issued"
    issued = client.get(f"{API}/documents/{second}", headers=sup.headers).json
    assert issued["fields"]["approver_opinion"] == "同意立案"
    assert issued["fields"]["summary"].endswith("货值1200元。")


def test_a_signed_draft_is_not_edited_but_corrected_as_a_new_version(client, unit, credentials):
    li = unit["li"]
    flow = Flow(client)
    case = open_case(client, li, procedure="general", officer_ids=[unit["wang"].id])
    doc_id = flow.doc(li, case["id"], "filing_approval")
    flow.sign(li, doc_id, "officer", name="李明")
    signed = client.get(f"{API}/documents/{doc_id}", headers=li.headers).json
    changed = {**signed["fields"], "summary": "签名后改写的案情。"}
    refused = client.put(f"{API}/documents/{doc_id}", json={"fields": changed}, headers=li.headers)
    assert refused.status_code == 409
    error = refused.json["error"]
    assert error["code"] == "signed_draft" and error["details"]["fields"] == ["summary"]
    assert error["message"].startswith("《立案审批表》已由执法人员李明签名，签名后内容不能再修改")
    assert (
        client.get(f"{API}/documents/{doc_id}", headers=li.headers).json["fields"]
        == (signed["fields"])
    )
    # the approver's own section may still be written before the approver signs
    opinion = {**signed["fields"], "approver_opinion": "拟同意"}
    ok = client.put(f"{API}/documents/{doc_id}", json={"fields": opinion}, headers=li.headers)
    assert ok.status_code == 200, ok.json
    # the correction: a new version, unsigned; the signed draft kept as signed
    corrected = client.post(
        f"{API}/documents/{doc_id}/versions", json={"fields": changed}, headers=li.headers
    )
    assert corrected.status_code == 201, corrected.json
    assert corrected.json["version"] == 2 and corrected.json["signatures"] == []
    kept = client.get(f"{API}/documents/{doc_id}", headers=li.headers).json
    assert kept["status"] == "withdrawn" and kept["signatures"][0]["signer_name"] == "李明"


def test_no_filing_approval_while_the_case_lacks_two_certified_officers(client, unit, credentials):
    li, sup = unit["li"], unit["sup"]
    flow = Flow(client)
    case = open_case(client, li, procedure="general", officer_ids=[unit["chen"].id])
    doc_id = flow.doc(li, case["id"], "filing_approval", cause="无证经营")
    flow.sign(li, doc_id, "officer", name="李明")
    approval = {"signer_name": "张科长", "image": signature_png(3)}
    resp = client.post(
        f"{API}/cases/{case['id']}/filing-approval", json=approval, headers=sup.headers
    )
    assert resp.status_code == 409 and resp.json["error"]["code"] == "too_few_officers"
    assert "未持有执法证" in resp.json["error"]["message"]


def test_an_officer_learns_their_own_standing_in_words(client, unit, credentials):
    said = {
        name: client.get(f"{API}/me/standing", headers=unit[name].headers).json
        for name in ("li", "zhou", "wu", "chen")
    }
    assert said["li"] == {
        "valid": True,
        "reason": None,
        "message": "持有效执法证",
        "message_en": "holds a valid credential",
    }
    assert (said["zhou"]["valid"], said["zhou"]["reason"]) == (False, "suspended")
    assert (said["wu"]["reason"], said["wu"]["message"]) == ("expired", "执法证已过期")
    assert (said["chen"]["reason"], said["chen"]["message"]) == ("no_credential", "未持有执法证")
    assert client.get(f"{API}/me/standing", headers=unit["admin"].headers).status_code == 403
