"""提交法制审核, returned rounds and forms that know the case, in the console (Chromium,
1366×900) and on the phone (360×740): a supervisor submits a case after checking the
prefilled draft and the package to be frozen; a returned round shows the reviewer's findings
item by item and is fixed and resubmitted as round 2; a new record opens filled in from the
case and earlier documents, each such field marked 「已自动填写，请核对」."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from server import clock
from tests.conftest import PASSWORD, open_case
from tests.workflow_helpers import API, Flow, move_case_to, signature_png

from .conftest import PHONE, expect, require_browser, sign_in

pytestmark = pytest.mark.browser
require_browser()

CONSOLE = {"viewport": {"width": 1366, "height": 900}}
SHOTS = Path("/tmp/shots")
CHECKLIST = [
    "authority",
    "credentials",
    "facts",
    "evidence",
    "law_applied",
    "procedure",
    "documents",
    "within_power",
    "no_crime",
]


def shot(page, tmp_path: Path, name: str) -> None:
    """A screenshot in the test's output folder, and a copy to look at under /tmp/shots."""
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=False)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def credential(client, admin, user_id: int, number: str) -> None:
    today = clock.today()
    resp = client.post(
        f"{API}/credentials",
        json={
            "user_id": user_id,
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


@pytest.fixture
def case_at_review(client, users):
    """A case at 审查 with an issued 调查终结报告 (the draft comes from it)."""
    officer = users.create("rs_officer")
    sup = users.create("rs_sup", role="supervisor")
    legal = users.create("rs_legal", role="legal")
    leader = users.create("rs_leader", role="leader")
    case = open_case(client, officer, title="销售过期食品案")
    move_case_to(client, sup, case["id"], "review")
    report = Flow(client).full_doc(
        case["id"], "investigation_report", {"officer": officer, "leader": leader}, officer
    )
    return {
        "case": case,
        "officer": officer,
        "sup": sup,
        "legal": legal,
        "report": report,
    }


def open_case_page(page, case_id: int) -> None:
    page.goto(f"/#/console/case/{case_id}")
    expect(page.locator("[data-testid=wf-reviews]")).to_be_visible()


def test_submit_shows_the_package_to_be_frozen_then_submits(
    open_page, client, case_at_review, tmp_path
):
    cid, report = case_at_review["case"]["id"], case_at_review["report"]
    page = open_page(**CONSOLE)
    sign_in(page, "rs_sup", PASSWORD)
    expect(page.locator("[data-testid=console-nav-cases]")).to_be_visible()
    open_case_page(page, cid)

    page.click("[data-testid=btn-submit-review]")
    sheet = page.locator("[data-testid=review-submit-screen]")
    # the draft comes from the 调查终结报告, each part marked for checking
    expect(sheet.locator("[data-testid=draft-party-name]")).to_have_value("某某食品有限公司")
    marks = sheet.locator("[data-testid=prefilled]")
    expect(marks.first).to_contain_text("已自动填写，请核对")
    assert (
        "《调查终结报告》"
        in sheet.locator("[data-testid=prefilled][data-prefill-path=facts]").inner_text()
    )
    assert sheet.locator("[data-testid=draft-penalty-amount]").first.input_value() == "5000"
    shot(page, tmp_path, "review-submit-draft")

    # nothing left empty that the review needs: the form says what is missing, in Chinese
    sheet.locator("[data-testid=draft-legal-basis]").fill("")
    page.click("[data-testid=btn-preview-package]")
    expect(sheet.locator("[data-testid=draft-problems]")).to_have_text("请填写法律依据。")
    sheet.locator("[data-testid=draft-legal-basis]").fill(
        "《中华人民共和国食品安全法》第一百二十四条"
    )
    sheet.locator("[data-testid=draft-discretion]").fill("首次违法，主动配合，依裁量基准从轻。")
    page.click("[data-testid=btn-preview-package]")

    # the package: documents with their hashes, completeness, the operative draft
    preview = sheet.locator("[data-testid=package-preview]")
    expect(preview).to_contain_text("将冻结的送审材料（第1轮）")
    doc_row = sheet.locator(f"[data-testid=package-document][data-doc-id='{report['id']}']")
    expect(doc_row).to_contain_text("调查终结报告")
    assert doc_row.locator("code.hash").get_attribute("title") == report["sha256"]
    expect(sheet.locator("[data-testid=package-completeness]")).to_contain_text("审查")
    expect(sheet.locator("[data-testid=package-party]")).to_contain_text("某某食品有限公司")
    expect(sheet.locator("[data-testid=package-facts]")).to_be_visible()
    expect(sheet.locator("[data-testid=package-discretion]")).to_have_text(
        "首次违法，主动配合，依裁量基准从轻。"
    )
    expect(sheet.locator("[data-testid=package-draft]")).to_contain_text("罚款 5000 元")
    shot(page, tmp_path, "review-submit-preview")
    doc_row.scroll_into_view_if_needed()
    shot(page, tmp_path, "review-submit-preview-documents")
    # nothing is submitted before the confirmation
    assert (
        client.get(f"{API}/cases/{cid}/legal-reviews", headers=case_at_review["sup"].headers).json[
            "items"
        ]
        == []
    )

    page.click("[data-testid=btn-confirm-submit-review]")
    done = sheet.locator("[data-testid=review-submitted]")
    expect(done).to_contain_text("已提交第1轮法制审核")
    shot(page, tmp_path, "review-submit-done")
    page.click("[data-testid=btn-review-submitted-close]")
    expect(page.locator("[data-testid=wf-review][data-round='1']")).to_have_attribute(
        "data-status", "submitted"
    )
    expect(page.locator("[data-testid=btn-submit-review]")).to_have_count(0)

    rounds = client.get(
        f"{API}/cases/{cid}/legal-reviews", headers=case_at_review["sup"].headers
    ).json["items"]
    frozen = rounds[0]["package"]
    assert frozen["decision_draft"]["party"]["name"] == "某某食品有限公司"
    assert frozen["decision_draft"]["discretion"] == "首次违法，主动配合，依裁量基准从轻。"
    assert frozen["decision_draft"]["penalties"][0] == {
        "kind": "fine",
        "amount": 5000.0,
        "description": "罚款人民币伍仟元",
    }
    assert [d["id"] for d in frozen["documents"]] == [report["id"]]


def return_round(client, legal, review_id: int) -> None:
    checklist = [
        {
            "item": c,
            "passed": c != "evidence",
            "note": "缺少进货凭证，无法认定货值" if c == "evidence" else "",
        }
        for c in CHECKLIST
    ]
    resp = client.post(
        f"{API}/legal-reviews/{review_id}/opinion",
        json={
            "outcome": "returned",
            "checklist": checklist,
            "opinion": "证据不足，请补充进货凭证后重新送审。",
            "signature": signature_png(3),
        },
        headers=legal.headers,
    )
    assert resp.status_code == 200, resp.json


def test_a_returned_round_item_by_item_then_resubmitted(
    open_page, client, case_at_review, tmp_path
):
    cid, officer = case_at_review["case"]["id"], case_at_review["officer"]
    draft = client.get(f"{API}/cases/{cid}/legal-reviews/draft", headers=officer.headers).json
    first = client.post(
        f"{API}/cases/{cid}/legal-reviews",
        json={"report": "审查报告：事实清楚。", "decision_draft": draft["decision_draft"]},
        headers=officer.headers,
    ).json
    return_round(client, case_at_review["legal"], first["id"])

    # the officer sees the returned round on the phone, item by item, and may resubmit there
    phone = open_page(**PHONE)
    sign_in(phone, "rs_officer", PASSWORD)
    phone.click(f"[data-testid=case-row][data-case-id='{cid}']")
    phone.click("[data-testid=btn-case-review]")
    on_phone = phone.locator("[data-testid=case-review-screen] [data-testid=returned-round]")
    expect(on_phone.locator("[data-testid=returned-item]")).to_have_count(9)
    expect(on_phone.locator("[data-testid=returned-item]").first).to_contain_text("缺少进货凭证")
    expect(phone.locator("[data-testid=btn-resubmit-review]")).to_be_visible()
    shot(phone, tmp_path, "review-returned-phone")

    page = open_page(**CONSOLE)
    sign_in(page, "rs_sup", PASSWORD)
    expect(page.locator("[data-testid=console-nav-cases]")).to_be_visible()
    open_case_page(page, cid)
    returned = page.locator("[data-testid=review-actions] [data-testid=returned-round]")
    expect(returned).to_contain_text("第1轮审核意见（逐项）")
    items = returned.locator("[data-testid=returned-item]")
    expect(items).to_have_count(9)
    # the problem first, with its note; then the eight items that passed
    assert items.first.get_attribute("data-item") == "evidence"
    assert items.first.get_attribute("data-passed") == "false"
    assert "证据合法、充分" in items.first.inner_text()
    assert "缺少进货凭证，无法认定货值" in items.first.inner_text()
    assert [i.get_attribute("data-passed") for i in items.all()[1:]] == ["true"] * 8
    expect(returned.locator("[data-testid=returned-opinion]")).to_contain_text("证据不足")
    returned.scroll_into_view_if_needed()
    shot(page, tmp_path, "review-returned-console")

    # 修改后重新提交: the findings again, a way to the documents, and back with the draft kept
    page.click("[data-testid=btn-resubmit-review]")
    sheet = page.locator("[data-testid=review-submit-screen]")
    expect(sheet.locator("[data-testid=returned-item][data-item=evidence]")).to_contain_text(
        "缺少进货凭证"
    )
    expect(sheet.locator("[data-testid=draft-report]")).to_have_value("审查报告：事实清楚。")
    sheet.locator("[data-testid=draft-report]").fill("审查报告：已补充进货凭证，货值1200元。")
    shot(page, tmp_path, "review-resubmit-draft")
    page.click("[data-testid=btn-fix-documents]")
    documents = page.locator("[data-testid=documents-screen]")
    expect(documents.locator("[data-testid=doc-row]").first).to_be_visible()
    page.click("[data-testid=documents-screen] [data-testid=sheet-back]")
    expect(sheet.locator("[data-testid=draft-report]")).to_have_value(
        "审查报告：已补充进货凭证，货值1200元。"
    )

    page.click("[data-testid=btn-preview-package]")
    expect(sheet.locator("[data-testid=package-preview]")).to_contain_text("第2轮")
    page.click("[data-testid=btn-confirm-submit-review]")
    expect(sheet.locator("[data-testid=review-submitted]")).to_contain_text("已提交第2轮法制审核")
    page.click("[data-testid=btn-review-submitted-close]")
    expect(page.locator("[data-testid=wf-review][data-round='2']")).to_have_attribute(
        "data-status", "submitted"
    )
    rounds = client.get(f"{API}/cases/{cid}/legal-reviews", headers=officer.headers).json["items"]
    assert [(r["round"], r["status"]) for r in rounds] == [(1, "returned"), (2, "submitted")]
    assert rounds[1]["report"] == "审查报告：已补充进货凭证，货值1200元。"


def test_a_new_record_opens_filled_in_from_the_case(open_page, client, users, tmp_path):
    officer = users.create("pf_officer")
    partner = users.create("pf_partner")
    sup = users.create("pf_sup", role="supervisor")
    admin = users.create("pf_admin", role="admin")
    credential(client, admin, officer.id, "31010020260101")
    credential(client, admin, partner.id, "31010020260102")
    case = open_case(
        client,
        officer,
        title="无证经营检查",
        location="静安区某路1号",
        parties=[{"name": "某某小吃店", "kind": "organisation"}],
        officer_ids=[partner.id],
    )
    cid = case["id"]
    Flow(client).doc(officer, cid, "filing_approval", party={
        "type": "legal", "name": "某某小吃店", "id_number": "92310106MA1234567X",
        "address": "静安区某路1号",
    })  # fmt: skip
    move_case_to(client, sup, cid, "investigation")

    page = open_page(**CONSOLE)
    sign_in(page, "pf_sup", PASSWORD)
    expect(page.locator("[data-testid=console-nav-cases]")).to_be_visible()
    open_case_page(page, cid)
    page.click("[data-testid=btn-open-documents]")
    page.click("[data-testid=doc-type][data-code=onsite_inspection_record]")
    form = page.locator("[data-testid=doc-form]")
    expect(form.locator("[data-testid=prefilled-banner]")).to_be_visible()
    expect(form.locator("[name='party.name']")).to_have_value("某某小吃店")
    expect(form.locator("[name='party.id_number']")).to_have_value("92310106MA1234567X")
    expect(form.locator("[name='place']")).to_have_value("静安区某路1号")
    expect(form.locator("[name='inspectors.0.name']")).to_have_value("Pf_Officer")
    expect(form.locator("[name='inspectors.0.badge_number']")).to_have_value("31010020260101")
    expect(form.locator("[name='inspectors.1.badge_number']")).to_have_value("31010020260102")
    party_note = form.locator("[data-testid=prefilled][data-prefill-path=party]")
    expect(party_note).to_have_text(re.compile(r"^已自动填写，请核对：《立案审批表》"))
    expect(form.locator("[data-testid=prefilled][data-prefill-path=inspectors]")).to_contain_text(
        "本案执法人员及其执法证号"
    )
    # what only the officer knows stays empty and unmarked
    expect(form.locator("[name=findings]")).to_have_value("")
    expect(form.locator("[data-testid=prefilled][data-prefill-path=findings]")).to_have_count(0)
    shot(page, tmp_path, "prefilled-form-console")

    form.locator("[name=findings]").fill("店内无营业执照，现场有顾客就餐。")
    form.locator("[name=credential_shown]").check()
    page.click("[data-testid=btn-save-doc]")
    expect(page.locator("[data-testid=doc-head]")).to_have_attribute("data-status", "draft")
    docs = client.get(f"{API}/cases/{cid}/documents", headers=sup.headers).json["items"]
    record = next(d for d in docs if d["type"] == "onsite_inspection_record")
    assert record["fields"]["party"]["id_number"] == "92310106MA1234567X"
    assert [i["badge_number"] for i in record["fields"]["inspectors"]] == [
        "31010020260101",
        "31010020260102",
    ]

    # on the phone, the officer's own inquiry record: the officer is the interviewer
    phone = open_page(**PHONE)
    sign_in(phone, "pf_officer", PASSWORD)
    phone.click(f"[data-testid=case-row][data-case-id='{cid}']")
    phone.click("[data-testid=btn-documents]")
    phone.click("[data-testid=doc-type][data-code=inquiry_record]")
    phone_form = phone.locator("[data-testid=doc-form]")
    expect(phone_form.locator("[name=interviewer]")).to_have_value("Pf_Officer")
    expect(phone_form.locator("[name=recorder]")).to_have_value("Pf_Partner")
    expect(phone_form.locator("[name='interviewee.name']")).to_have_value("某某小吃店")
    shot(phone, tmp_path, "prefilled-form-phone")
