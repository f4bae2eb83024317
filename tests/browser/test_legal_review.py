"""法制审核 in the console (Chromium, desktop): a case at 审查 with a submitted review; the legal
reviewer finds it in the queue (overdue, flagged), reads the frozen package, asks for materials,
raises "evidence" with a note and returns it with a drawn signature; the officer resubmits; the
reviewer asks for an extension, which the leader approves from the inbox; the reviewer agrees
on every item. The leader then sees the case ready, takes it to 决定 and signs and issues the
行政处罚决定书 on screen."""

from __future__ import annotations

import re

import pytest

from server import clock
from tests.conftest import PASSWORD, open_case
from tests.workflow_helpers import API, Flow, move_case_to

from .conftest import DESKTOP, require_browser, sign_in
from .test_documents import sign_with_mouse

pytestmark = pytest.mark.browser
require_browser()

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
DRAFT = {
    "penalties": [{"kind": "fine", "amount": 5000}],
    "summary": "罚款5000元",
    "legal_basis": "《食品安全法》第一百二十四条",
}


def submit_review(client, officer, case_id: int, report: str) -> dict:
    resp = client.post(
        f"{API}/cases/{case_id}/legal-reviews",
        json={"report": report, "decision_draft": DRAFT},
        headers=officer.headers,
    )
    assert resp.status_code == 201, resp.json
    return resp.json


def make_overdue(app, review_id: int) -> None:
    """The round's deadline passed three days ago and the daily job flagged it."""
    from server.extensions import db
    from server.models import LegalReview
    from server.services import legal_review

    with app.app_context():
        review = db.session.get(LegalReview, review_id)
        # three working days ago: three calendar days can end inside a holiday, and a
        # deadline on a rest day runs to the next working day
        cal = legal_review.calendar(db.session, review.unit_id)
        review.due_on = cal.add_working_days(clock.today(), -3)
        assert [r.id for r in legal_review.flag_overdue(db.session)] == [review_id]
        db.session.commit()


def answer(page, passed: list[str], raised: dict[str, str] | None = None) -> None:
    for item in passed:
        page.check(f"[data-testid=check-{item}-passed]")
    for item, note in (raised or {}).items():
        page.check(f"[data-testid=check-{item}-raised]")
        page.fill(f"[data-testid=check-{item}-note]", note)


def test_reviewer_returns_then_agrees_and_the_leader_decides(open_page, app, client, users):
    officer = users.create("lr_officer")
    sup = users.create("lr_sup", role="supervisor")
    users.create("lr_legal", role="legal")
    leader = users.create("lr_leader", role="leader")
    case = open_case(client, officer, title="销售过期食品案")
    cid = case["id"]
    move_case_to(client, sup, cid, "review")  # with written override reasons: flag 越过缺项推进
    first = submit_review(client, officer, cid, "审查报告：当事人销售过期酸奶12箱，事实清楚。")
    make_overdue(app, first["id"])

    page = open_page(**DESKTOP)
    sign_in(page, "lr_legal", PASSWORD)
    row = page.wait_for_selector(f"[data-testid=review-row][data-review-id='{first['id']}']")
    # the reviewer lands on the queue; this round is overdue and says so
    assert row.get_attribute("data-overdue") == "true"
    assert "已超期" in row.inner_text() and case["number"] in row.inner_text()

    # the case list shows and filters the new flags
    page.click("[data-testid=console-nav-cases]")
    page.select_option("[data-testid=f-flag]", "review_overdue")
    page.click("[data-testid=f-search]")
    flagged = page.wait_for_selector(
        f"[data-testid=console-case][data-number='{case['number']}'] [data-testid=flag-review_overdue]"
    )
    assert flagged.inner_text() == "法制审核超期"
    assert page.locator(
        f"[data-testid=console-case][data-number='{case['number']}'] [data-testid=flag-override]"
    ).is_visible()
    page.click(f"[data-testid=console-case][data-number='{case['number']}']")
    panel = page.wait_for_selector(
        "[data-testid=wf-reviews] [data-testid=wf-review][data-round='1']"
    )
    assert "已超期" in panel.inner_text()
    assert page.is_visible("[data-testid=case-flag-review_overdue]")
    page.click("[data-testid=wf-review][data-round='1'] [data-testid=btn-open-review]")

    # the frozen package, in words
    package = page.wait_for_selector("[data-testid=review-package]")
    assert "当事人销售过期酸奶12箱" in page.inner_text("[data-testid=package-report]")
    assert "罚款 5000 元" in page.inner_text("[data-testid=package-draft]")
    assert "立案" in page.inner_text("[data-testid=package-completeness]")
    assert "没有亮证记录" in page.inner_text("[data-testid=package-credentials]")
    assert "未匹配" in page.inner_text("[data-testid=package-major]")
    assert package.is_visible()

    # missing materials, in a sentence
    page.fill("[data-testid=materials-form-text]", "请补充当事人进货凭证")
    page.click("[data-testid=materials-form-send]")
    page.wait_for_selector("[data-testid=materials-requests] >> text=请补充当事人进货凭证")

    # checklist labels in Chinese; agreeing with a raised item is refused before sending
    labels = page.locator("[data-testid=check-item] .check-label").all_inner_texts()
    assert labels[0] == "执法主体合法，具有管辖权" and labels[3] == "证据合法、充分"
    assert len(labels) == 9
    answer(
        page, [c for c in CHECKLIST if c != "evidence"], {"evidence": "缺少进货凭证，无法认定货值"}
    )
    page.check("[data-testid=outcome-agree]")
    page.fill("[data-testid=opinion-text]", "证据不足，请补充进货凭证后重新送审。")
    page.click("[data-testid=btn-submit-opinion]")
    problems = page.locator("[data-testid=opinion-problems]")
    problems.wait_for(state="visible")
    assert "以下事项存在问题，不能同意：证据合法、充分" in problems.inner_text()
    assert "请审核人员在签名区签名" in problems.inner_text()

    page.check("[data-testid=outcome-returned]")
    sign_with_mouse(page)
    page.click("[data-testid=btn-submit-opinion]")
    decided = page.wait_for_selector("[data-testid=review-decided]")
    assert "退回补正" in decided.inner_text() and "缺少进货凭证" in decided.inner_text()

    rounds = client.get(f"{API}/cases/{cid}/legal-reviews", headers=sup.headers).json["items"]
    assert [(r["round"], r["status"]) for r in rounds] == [(1, "returned")]
    assert rounds[0]["materials_requests"][0]["note"] == "请补充当事人进货凭证"
    raised = [c for c in rounds[0]["checklist"] if not c["passed"]]
    assert [(c["item"], c["note"]) for c in raised] == [("evidence", "缺少进货凭证，无法认定货值")]

    # the officer drafts the 行政处罚决定书, corrects and resubmits: the round freezes the draft
    flow = Flow(client)
    decision_id = flow.doc(officer, cid, "penalty_decision")
    second = submit_review(client, officer, cid, "已补充进货凭证，货值1200元。")
    assert second["round"] == 2

    page.click("[data-testid=console-nav-reviews]")
    page.click(f"[data-testid=review-row][data-review-id='{second['id']}']")
    page.wait_for_selector(f"[data-testid=review-head][data-review-id='{second['id']}']")
    page.fill("[data-testid=extension-form-text]", "案情复杂，需核实货值")
    page.click("[data-testid=extension-form-send]")
    page.wait_for_selector("[data-testid=review-extension] >> text=延期待批准")

    # the leader approves the extension from the inbox
    boss = open_page(**DESKTOP)
    sign_in(boss, "lr_leader", PASSWORD)
    request = boss.wait_for_selector(
        f"[data-testid=extension-request][data-review-id='{second['id']}']"
    )
    assert "案情复杂，需核实货值" in request.inner_text()
    request.query_selector("[data-testid=btn-approve-extension]").click()
    boss.wait_for_selector(
        f"[data-testid=extension-request][data-review-id='{second['id']}']", state="detached"
    )
    extended = client.get(f"{API}/legal-reviews/{second['id']}", headers=sup.headers).json
    assert extended["extension"]["approved"] is True
    assert extended["due_on"] > second["due_on"]

    # the reviewer agrees on every item, with a drawn signature
    page.reload()
    page.wait_for_selector("[data-testid=opinion-form]")
    answer(page, CHECKLIST)
    page.check("[data-testid=outcome-agree]")
    page.fill("[data-testid=opinion-text]", "事实清楚，证据确凿，适用法律正确，程序合法，同意。")
    sign_with_mouse(page)
    page.click("[data-testid=btn-submit-opinion]")
    page.wait_for_selector(
        "[data-testid=review-decided] [data-testid=review-status][data-status=agreed]"
    )

    rounds = client.get(f"{API}/cases/{cid}/legal-reviews", headers=sup.headers).json["items"]
    assert [(r["round"], r["status"]) for r in rounds] == [(1, "returned"), (2, "agreed")]
    assert all(c["passed"] for c in rounds[1]["checklist"])
    docs = client.get(f"{API}/cases/{cid}/documents", headers=sup.headers).json["items"]
    opinions = [d for d in docs if d["type"] == "legal_review_opinion"]
    assert [d["status"] for d in opinions] == ["issued", "issued"]
    assert rounds[1]["opinion_document_id"] == opinions[1]["id"]
    assert [s["role"] for s in opinions[1]["signatures"]] == ["reviewer"]

    # 告知 and 陈述申辩 are on file; the decision waits for the leader to sign
    flow.full_doc(cid, "prior_notice", {"officer": officer}, officer)
    flow.full_doc(cid, "statement_record", {"officer": officer, "party": officer}, officer)

    # the leader sees the case ready and takes it to 决定
    boss.click("[data-testid=console-nav-inbox]")
    ready = boss.wait_for_selector(f"[data-testid=ready-case][data-case-id='{cid}']")
    assert case["number"] in ready.inner_text()
    ready.query_selector("[data-testid=ready-case-open]").click()
    boss.click("[data-testid=btn-wf-advance][data-to=decision]")
    boss.wait_for_selector("[data-testid=wf-stage][data-stage=decision]")
    assert (
        client.get(f"{API}/cases/{cid}/completeness", headers=sup.headers).json["current_stage"]
        == "decision"
    )

    # …and signs the 行政处罚决定书 on screen, which issues it
    boss.click(f"[data-testid=btn-leader-sign][data-doc-id='{decision_id}']")
    boss.wait_for_selector("[data-testid=review-match-consistent]")
    sign_with_mouse(boss)
    boss.click("[data-testid=btn-leader-sign-confirm]")
    boss.wait_for_selector(f"[data-testid=wf-doc][data-doc-id='{decision_id}'][data-status=issued]")
    issued = client.get(f"{API}/documents/{decision_id}", headers=sup.headers).json
    assert issued["status"] == "issued" and re.fullmatch(r".+罚〔\d{4}〕1号", issued["number"])
    assert [(s["role"], s["signer_name"]) for s in issued["signatures"]] == [
        ("leader", leader.username.title())
    ]
