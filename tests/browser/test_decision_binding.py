"""The leader's signing dialog in the console (Chromium, 1366×900): the inbox lists every
document waiting for the leader's signature; the dialog shows the document itself and either
「与法制审核通过的内容一致」 or what differs from the agreed review, with signing disabled and a
new round one click away."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD
from tests.test_decision_binding import Binding, decision_fields
from tests.workflow_helpers import API, fields

from .conftest import PHONE, require_browser, sign_in
from .test_documents import sign_with_mouse

pytestmark = pytest.mark.browser
require_browser()

CONSOLE = {"viewport": {"width": 1366, "height": 900}}
SHOTS = "/tmp/shots"


def agreed_case(client, team, title: str) -> tuple[Binding, str]:
    """A case at 决定 whose 行政处罚决定书 (fine 50,000 + confiscation 480) was agreed."""
    case = Binding(client, team, title=title)
    doc_id = case.new_decision()
    review = case.submit()
    case.agree(review["id"])
    case.to_decision_stage()
    return case, doc_id


def test_the_leader_sees_what_differs_and_signs_what_matches(open_page, client, users, tmp_path):
    team = {
        "officer": users.create("bd_li"),
        "sup": users.create("bd_zhang", role="supervisor"),
        "legal": users.create("bd_sun", role="legal"),
        "leader": users.create("bd_zhao", role="leader"),
    }
    changed, changed_doc = agreed_case(client, team, "销售过期食品案")
    # typed into the decision after the review: 200,000 instead of 50,000
    changed.edit(
        changed_doc,
        penalties=[
            {"kind": "fine", "amount": "200000", "description": "罚款人民币贰拾万元"},
            {"kind": "confiscation", "amount": "480", "description": "没收违法所得480元"},
        ],
    )
    same, same_doc = agreed_case(client, team, "无证经营案")
    report = client.post(
        f"{API}/cases/{same.case_id}/documents",
        json={"type": "investigation_report", "fields": _report_fields()},
        headers=team["officer"].headers,
    )
    assert report.status_code == 201, report.json

    page = open_page(**CONSOLE)
    sign_in(page, "bd_zhao", PASSWORD)
    inbox = page.wait_for_selector("[data-testid=inbox-to-sign] [data-testid=to-sign]")
    rows = page.locator("[data-testid=inbox-to-sign] [data-testid=to-sign]")
    assert rows.count() == 3
    assert {r.get_attribute("data-doc-id") for r in rows.element_handles()} == {
        changed_doc,
        same_doc,
        report.json["id"],
    }
    row = page.locator(f"[data-testid=to-sign][data-doc-id='{changed_doc}']")
    text = row.inner_text()
    assert "行政处罚决定书" in text and "第 1 版" in text and "未编号" in text and "起待签" in text
    assert row.locator("[data-testid=to-sign-review-state]").inner_text() == "与法制审核内容不一致"
    assert inbox.is_visible()
    page.screenshot(path=f"{SHOTS}/leader-inbox-to-sign-1366.png", full_page=True)

    # the dialog of the changed decision: the document, the difference, no signing
    row.locator("[data-testid=to-sign-go]").click()
    dialog = page.wait_for_selector(f"[data-testid=leader-sign][data-doc-id='{changed_doc}']")
    page.wait_for_selector("[data-testid=review-match][data-state=differs]")
    paper = page.inner_text("[data-testid=sign-doc-rendered]")
    assert "行政处罚决定书" in paper and "某某食品有限公司" in paper and "200000.00" in paper
    assert "与第1轮法制审核通过的内容不一致，不能签发" in page.inner_text(
        "[data-testid=review-match-differs]"
    )
    diff = page.locator("[data-testid=review-difference][data-field=penalties]")
    cells = diff.locator("td").all_inner_texts()
    assert cells[0] == "行政处罚"
    assert "罚款" in cells[1] and "50000.00元" in cells[1]
    assert "罚款" in cells[2] and "200000.00元" in cells[2]
    sign_with_mouse(page)
    assert page.is_disabled("[data-testid=btn-leader-sign-confirm]")
    assert page.is_visible("[data-testid=btn-resubmit-review-from-sign]")
    body = page.inner_text("body")
    assert not re.search(r"penalties|decision_differs|review_match|\bfine\b", body), body
    dialog.scroll_into_view_if_needed()
    page.locator("[data-testid=leader-sign]").screenshot(
        path=f"{SHOTS}/leader-sign-differs-1366.png"
    )

    # 重新提交法制审核 from the dialog: a new round on the changed content
    page.click("[data-testid=btn-resubmit-review-from-sign]")
    assert "不一致" in page.input_value("[data-testid=resubmit-note]")
    page.click("[data-testid=btn-resubmit-review-send]")
    page.wait_for_selector("[data-testid=review-match][data-state=pending]")
    assert "第2轮" in page.inner_text("[data-testid=review-match-pending]")
    rounds = client.get(
        f"{API}/cases/{changed.case_id}/legal-reviews", headers=team["sup"].headers
    ).json["items"]
    assert [(r["round"], r["status"]) for r in rounds] == [(1, "agreed"), (2, "submitted")]
    frozen = rounds[1]["package"]["decision_documents"][0]["fields"]["penalties"]
    assert {p["amount"] for p in frozen} == {"200000.00", "480.00"}
    assert rounds[1]["decision_draft"]["party"]["name"] == "某某食品有限公司"

    # the legal reviewer reads the decision frozen in the new round, as it will bind
    reviewer = open_page(**CONSOLE)
    sign_in(reviewer, "bd_sun", PASSWORD)
    reviewer.wait_for_selector("[data-testid=review-queue]")
    reviewer.goto(reviewer.url.split("#")[0] + f"#/console/review/{rounds[1]['id']}")
    frozen_view = reviewer.wait_for_selector(
        f"[data-testid=package-decision][data-doc-id='{changed_doc}']"
    )
    assert "行政处罚决定书" in frozen_view.inner_text()
    assert (
        "200000.00" in frozen_view.inner_text() and "某某食品有限公司" in frozen_view.inner_text()
    )
    assert "签发的内容须与此一致" in reviewer.inner_text("[data-testid=package-decisions]")
    reviewer.locator("[data-testid=package-decisions]").screenshot(
        path=f"{SHOTS}/review-package-decision-1366.png"
    )

    # the decision that matches: 「与法制审核通过的内容一致」, signed and issued
    page.goto(page.url.split("#")[0] + "#/console/inbox")
    page.click(f"[data-testid=to-sign][data-doc-id='{same_doc}'] [data-testid=to-sign-go]")
    page.wait_for_selector(f"[data-testid=leader-sign][data-doc-id='{same_doc}']")
    ok = page.wait_for_selector("[data-testid=review-match-consistent]")
    assert ok.inner_text().startswith("✓ 与法制审核通过的内容一致")
    assert "50000.00" in page.inner_text("[data-testid=sign-doc-rendered]")
    sign_with_mouse(page)
    page.locator("[data-testid=leader-sign]").screenshot(
        path=f"{SHOTS}/leader-sign-consistent-1366.png"
    )
    page.click("[data-testid=btn-leader-sign-confirm]")
    page.wait_for_selector(f"[data-testid=wf-doc][data-doc-id='{same_doc}'][data-status=issued]")
    issued = client.get(f"{API}/documents/{same_doc}", headers=team["sup"].headers).json
    assert issued["status"] == "issued" and re.fullmatch(r".+罚〔\d{4}〕\d+号", issued["number"])


def test_a_change_while_the_dialog_is_open_is_refused_and_shown(open_page, client, users):
    team = {
        "officer": users.create("bd2_li"),
        "sup": users.create("bd2_zhang", role="supervisor"),
        "legal": users.create("bd2_sun", role="legal"),
        "leader": users.create("bd2_zhao", role="leader"),
    }
    _, doc_id = agreed_case(client, team, "销售过期食品案")
    page = open_page(**CONSOLE)
    sign_in(page, "bd2_zhao", PASSWORD)
    page.click(f"[data-testid=to-sign][data-doc-id='{doc_id}'] [data-testid=to-sign-go]")
    page.wait_for_selector("[data-testid=review-match-consistent]")
    sign_with_mouse(page)
    # meanwhile the officer changes the fine
    changed = client.put(
        f"{API}/documents/{doc_id}",
        json={
            "fields": decision_fields(
                penalties=[{"kind": "fine", "amount": "200000", "description": "罚款"}]
            )
        },
        headers=team["officer"].headers,
    )
    assert changed.status_code == 200
    page.click("[data-testid=btn-leader-sign-confirm]")
    error = page.wait_for_selector("[data-testid=leader-sign-error]")
    assert "文书在您查看后已被修改" in error.inner_text()
    page.wait_for_selector("[data-testid=review-match][data-state=differs]")
    assert "200000.00" in page.inner_text("[data-testid=sign-doc-rendered]")
    assert page.is_disabled("[data-testid=btn-leader-sign-confirm]")
    doc = client.get(f"{API}/documents/{doc_id}", headers=team["sup"].headers).json
    assert doc["signatures"] == [] and doc["status"] == "draft"


def _report_fields() -> dict:
    return fields("investigation_report")


def test_the_inbox_and_the_dialog_fit_a_phone(open_page, client, users):
    team = {
        "officer": users.create("bd3_li"),
        "sup": users.create("bd3_zhang", role="supervisor"),
        "legal": users.create("bd3_sun", role="legal"),
        "leader": users.create("bd3_zhao", role="leader"),
    }
    case, doc_id = agreed_case(client, team, "销售过期食品案")
    case.edit(doc_id, party={"type": "legal", "name": "某某商贸有限公司"})
    page = open_page(**PHONE)
    sign_in(page, "bd3_zhao", PASSWORD)
    row = page.wait_for_selector(f"[data-testid=to-sign][data-doc-id='{doc_id}']")
    assert "与法制审核内容不一致" in row.inner_text()
    page.screenshot(path=f"{SHOTS}/leader-inbox-to-sign-360.png", full_page=True)
    page.click(f"[data-testid=to-sign][data-doc-id='{doc_id}'] [data-testid=to-sign-go]")
    page.wait_for_selector("[data-testid=review-match][data-state=differs]")
    fields = page.locator("[data-testid=review-difference]").evaluate_all(
        "rows => rows.map(r => r.dataset.field)"
    )
    assert "party.name" in fields and "party.id_number" in fields
    name = page.locator("[data-testid=review-difference][data-field='party.name'] td")
    assert name.all_inner_texts() == ["当事人·姓名/名称", "某某食品有限公司", "某某商贸有限公司"]
    page.locator("[data-testid=leader-sign]").screenshot(
        path=f"{SHOTS}/leader-sign-differs-360.png"
    )
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 360, wide
