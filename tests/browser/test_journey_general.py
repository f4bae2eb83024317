"""A 一般程序 penalty from 立案 to 归档 through the UI only (Chromium): the officer opens the
case on a 360×740 phone (returned once by the supervisor, corrected and signed again there);
everything after is done in the console at 1366×900 — the 立案审批,
the records and the report with their signatures, 提交法制审核 (returned, corrected,
resubmitted, agreed), 告知 and 陈述申辩, the decision signed by the leader, service,
execution, archive and the export of the case file.

Only the users and their credentials are made through the API. Each step saves a screenshot
under the test's tmp folder and fails on a console error or on English words in the Chinese UI.
The on-site inspection and the service are filmed on the officer's phone (Chromium's fake
camera), so every stage is left with nothing to override.

Inside it: after round 2 agreed a fine of 5000, the officer raises the decision's fine to 8000
while the leader's signing dialog is open; the signature is refused, the dialog and the case
screen say what differs and nothing can be signed; the officer sends the decision as it reads
to round 3 on the phone; once agreed it is signed and issued.
The exported archive is then checked offline by its own verify.py (system Python, isolated)
against the key the unit publishes, and a copy with one byte of one document changed fails,
naming that document.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from server.services.legal_review import CHECKLIST_CODES
from tests.conftest import PASSWORD

from .conftest import PHONE, expect, require_browser, sign_in
from .test_officer_journeys import (
    ALLOWED_LATIN,
    SHOWN_TEXT,
    issue_credential,
    rename,
    sign_with_mouse,
)
from .test_officer_journeys import Steps as OfficerJourneySteps

pytestmark = pytest.mark.browser
require_browser()

CONSOLE = {"viewport": {"width": 1366, "height": 900}}
SYSTEM_PYTHON = "/usr/bin/python3"


class Steps(OfficerJourneySteps):
    """The officer journeys' checks after each step (screenshot, console errors, English in the
    Chinese UI, touch targets); a refusal the screen explains (409: a stage gate the
    supervisor then passes with a reason) is not an error — Chromium logs it as a failed
    resource."""

    def check(self, step: str) -> None:
        self.errors[:] = [e for e in self.errors if "status of 409" not in e]
        if self.width == 360:
            super().check(step)
            return
        # At a desk the 44 px touch rule does not apply; the rest does.
        self.n += 1
        page = self.page
        page.wait_for_timeout(150)
        page.screenshot(path=str(self.folder / f"{self.n:02d}-{step}.png"))
        assert not self.errors, f"{step}: console errors {self.errors}"
        if page.evaluate("document.documentElement.lang") == "zh-CN":
            text = re.sub(r"https?://\S+", "", page.evaluate(SHOWN_TEXT))
            text = re.sub(r"\b[0-9a-f]{6,}\b", "", text)
            words = set(re.findall(r"[A-Za-z]{2,}", text))
            assert words <= ALLOWED_LATIN, f"{step}: English in the Chinese UI: {words}"


# --- the documents sheet, driven by hand --------------------------------------------------------


def new_document(
    page,
    code: str,
    fill: dict[str, str],
    select: dict[str, str] | None = None,
    add_rows: tuple[str, ...] = (),
):
    page.click("[data-testid=btn-open-documents]")
    button = page.locator(f"[data-testid=doc-type][data-code={code}]")
    expect(button).to_be_attached()
    if not button.is_visible():  # a later stage's document: under 其他阶段的文书
        page.click(".more-types summary")
    button.click()
    form = page.locator(f"[data-testid=doc-form][data-code={code}]")
    expect(form).to_be_visible()
    for path in add_rows:
        form.locator(f"[data-testid=row-add][data-path='{path}']").click()
    for name, value in (select or {}).items():
        form.locator(f"[name='{name}']").select_option(value)
    for name, value in fill.items():
        form.locator(f"[name='{name}']").fill(value)
    return form


def save_sign_issue(page, steps: Steps, name: str, roles: list[str]) -> str:
    """Save the form, sign as each role on the pad, issue; the document's number."""
    steps.check(f"{name}-form")
    page.click("[data-testid=btn-save-doc]")
    for role in roles:
        page.click(f"[data-testid=btn-sign][data-role={role}]")
        sign_with_mouse(page)
        page.click("[data-testid=btn-sign-confirm]")
        expect(page.locator(f"[data-testid=sig-role][data-role={role}]")).to_have_attribute(
            "data-signed", "true"
        )
    if page.locator("[data-testid=btn-issue]").is_enabled():
        page.click("[data-testid=btn-issue]")
        number = page.locator("[data-testid=doc-number]").inner_text()
    else:
        number = ""
    steps.check(f"{name}-signed")
    close_sheets(page)
    return number


def close_sheets(page) -> None:
    for _ in range(4):
        back = page.locator(".sheet [data-testid=sheet-back]")
        if not back.count():
            return
        back.last.click()


def leader_signs_and_issues(page, steps: Steps, case_id: int, code: str) -> None:
    """The leader signs a document in the 文书 screen (not a decision) and issues it."""
    show_case(page, case_id)
    page.click("[data-testid=btn-open-documents]")
    page.click(f"[data-testid=doc-row][data-status=draft] >> text={TITLES[code]}")
    page.click("[data-testid=btn-sign][data-role=leader]")
    sign_with_mouse(page)
    page.click("[data-testid=btn-sign-confirm]")
    page.click("[data-testid=btn-issue]")
    expect(page.locator("[data-testid=doc-head]")).to_have_attribute("data-status", "issued")
    steps.check(f"leader-{code}")
    close_sheets(page)


def sign_until_enabled(page, button: str) -> None:
    """Sign on the pad until `button` accepts it: a dialog that is still laying itself out
    (the document rendered, the review compared) can move the pad under the pen."""
    for attempt in range(3):
        page.wait_for_load_state("networkidle")
        page.locator("[data-testid=sig-canvas]").scroll_into_view_if_needed()
        page.wait_for_timeout(300 * (attempt + 1))  # smooth scrolling and late layout settle
        sign_with_mouse(page)
        if page.locator(button).is_enabled():
            return
    raise AssertionError(f"the signature pad never took a stroke ({button} stays disabled)")


def show_case(page, case_id: int) -> None:
    """The case page, fresh: going to the hash it already shows would redraw nothing."""
    page.goto(f"/#/console/case/{case_id}")
    page.reload()
    expect(page.locator("[data-testid=wf-stage]")).to_be_visible()
    page.wait_for_load_state("networkidle")


TITLES = {"investigation_report": "调查终结报告", "closing_report": "结案报告"}


def advance(page, steps: Steps, to: str, override: str | None = None) -> None:
    """Move the case on from the workflow panel; past gaps with a written reason if refused."""
    reached = f"[data-testid=wf-stage][data-stage={to}]"
    refused = "[data-testid=wf-advance-error]"
    page.wait_for_load_state("networkidle")  # the panel redraws once its reports arrive
    for _ in range(3):
        reason = page.locator("[data-testid=wf-advance-reason]")
        if not reason.input_value().strip():
            reason.fill("本阶段工作已完成，推进办理。")
        page.click(f"[data-testid=btn-wf-advance][data-to={to}]")
        try:
            page.wait_for_selector(f"{reached}, {refused}", timeout=10_000)
            break
        except Exception:  # the panel was redrawn under the click: once more
            page.wait_for_load_state("networkidle")
    if page.locator(refused).count():
        steps.check(f"refused-{to}")
        assert override, page.locator(refused).inner_text()
        page.locator("[data-testid=wf-override-reason]").fill(override)
        page.click("[data-testid=btn-wf-override]")
    expect(page.locator("[data-testid=wf-stage]")).to_have_attribute("data-stage", to)
    steps.check(f"at-{to}")


STAGE_WORDS = {"filing": "立案", "investigation": "调查", "decision": "决定", "service": "送达"}


def open_on_phone(phone, case_id: int, stage: str) -> None:
    """The case on the phone once its list shows the case at `stage`: the list drawn from the
    phone's own copy first would open the case as it was."""
    phone.goto("/")
    row = phone.locator(f"[data-testid=case-row][data-case-id='{case_id}']")
    expect(row).to_contain_text(STAGE_WORDS[stage])
    row.click()


def film(phone, steps: Steps, case_id: int, stage: str, activity: str, *, videos: int) -> None:
    """The officer films `activity` at `stage` on the phone (Chromium's fake camera) and waits
    until the server has checked the upload's hash (the queue shows `videos` verified)."""
    open_on_phone(phone, case_id, stage)
    phone.wait_for_selector("[data-testid=btn-video]")
    phone.select_option("[data-testid=stage]", stage)
    phone.select_option("[data-testid=activity]", activity)
    phone.click("[data-testid=btn-video]")
    phone.wait_for_selector("[data-testid=rec-indicator]")
    phone.wait_for_function(
        "parseFloat(document.querySelector('[data-testid=rec-size]').textContent) > 0"
    )
    phone.wait_for_timeout(1500)
    steps.check(f"filming-{activity}")
    phone.click("[data-testid=btn-stop]")
    phone.wait_for_selector("[data-testid=capture-overlay]", state="detached")
    phone.click("[data-testid=tab-queue]")
    verified = phone.locator("[data-testid=queue-item][data-kind=video][data-state=verified]")
    expect(verified).to_have_count(videos, timeout=60_000)
    steps.check(f"filmed-{activity}")


def review_round(page, steps: Steps, raised: dict[str, str], outcome: str, opinion: str):
    page.click("[data-testid=console-nav-reviews]")
    page.click("[data-testid=review-row]")
    expect(page.locator("[data-testid=opinion-form]")).to_be_visible()
    for item in CHECKLIST_CODES:
        if item in raised:
            page.check(f"[data-testid=check-{item}-raised]")
            page.fill(f"[data-testid=check-{item}-note]", raised[item])
        else:
            page.check(f"[data-testid=check-{item}-passed]")
    page.check(f"[data-testid=outcome-{outcome}]")
    page.fill("[data-testid=opinion-text]", opinion)
    page.wait_for_load_state("networkidle")  # the page settles before the pen goes down
    sign_with_mouse(page)
    steps.check(f"opinion-{outcome}")
    page.click("[data-testid=btn-submit-opinion]")
    decided = page.locator("[data-testid=review-decided]")
    problems = page.locator("[data-testid=opinion-problems]")
    expect(decided.or_(problems.filter(has_text="签名"))).to_be_visible()
    if not decided.count():  # the stroke missed the pad (the page moved under it): again
        sign_with_mouse(page)
        page.click("[data-testid=btn-submit-opinion]")
    expect(decided).to_be_visible()


def test_a_general_procedure_penalty_from_filing_to_archive(
    open_page, app, client, users, tmp_path
):
    li = users.create("li")
    wang = users.create("wang")
    people = {
        "李明": li,
        "王芳": wang,
        "张主任": users.create("zhang", role="supervisor"),
        "孙审核": users.create("sun", role="legal"),
        "赵局长": users.create("zhao", role="leader"),
    }
    for name, actor in people.items():
        rename(app, actor, name)
    admin = users.create("admin1", role="admin")
    issue_credential(client, admin, li, "31010120260001")
    issue_credential(client, admin, wang, "31010120260002")

    # 立案: the officer opens the case and fills the 立案审批表 on the phone
    phone = open_page(**PHONE)
    on_phone = Steps(phone, tmp_path, "phone", 360)
    sign_in(phone, "li", PASSWORD)
    phone.click("[data-testid=btn-new-case]")
    phone.check("[data-testid=procedure-general] input")
    phone.fill("[data-testid=case-title]", "销售过期食品")
    phone.fill("[data-testid=case-party]", "某某食品店")
    phone.select_option("[data-testid=case-party-kind]", "organisation")
    phone.check("[data-testid=partner][data-username=wang] input")
    on_phone.check("new-case")
    phone.click("[data-testid=btn-open-case]")
    expect(phone.locator("[data-testid=doc-form][data-code=filing_approval]")).to_be_visible()
    phone.fill("[name=summary]", "群众举报该店销售过期酸奶，经现场核实属实。")
    phone.fill("[name=officer_opinion]", "建议立案调查。")
    on_phone.check("filing-form")
    phone.click("[data-testid=btn-save-doc]")
    phone.click("[data-testid=btn-sign][data-role=officer]")
    sign_with_mouse(phone)
    phone.click("[data-testid=btn-sign-confirm]")
    expect(phone.locator("[data-testid=sig-role][data-role=officer]")).to_have_attribute(
        "data-signed", "true"
    )
    on_phone.check("filing-signed")

    # the supervisor returns the form for correction (退回补正) with the reason
    desk = open_page(**CONSOLE)
    steps = Steps(desk, tmp_path, "console", 1366)
    sign_in(desk, "zhang", PASSWORD)
    desk.click("[data-testid=console-case] a")
    expect(desk.locator("[data-testid=filing-approval]")).to_be_visible()
    case_id = int(re.search(r"case/(\d+)", desk.url).group(1))
    desk.click("[data-testid=return-filing] summary")
    desk.fill("[data-testid=return-reason]", "简要案情未写明货值和数量，请补充后重新签名。")
    steps.check("filing-return")
    desk.click("[data-testid=btn-return-filing]")
    returned = desk.locator("[data-testid=filing-returned]")
    expect(returned).to_contain_text("未写明货值和数量")
    expect(desk.locator("[data-testid=wf-doc][data-type=filing_approval]")).to_contain_text(
        "版本（2）"
    )
    returned.scroll_into_view_if_needed()
    steps.check("filing-returned")

    # the officer finds it returned on the phone, corrects it and signs again
    open_on_phone(phone, case_id, "filing")
    phone.click("[data-testid=btn-documents]")
    phone.click("[data-testid=doc-row][data-status=draft]")
    expect(phone.locator(".doc-content")).to_contain_text("退回补正：简要案情未写明货值和数量")
    on_phone.check("filing-returned")
    phone.click("button:has-text('修改内容')")
    phone.fill("[name=summary]", "群众举报该店销售过期酸奶12箱，货值1200元，经现场核实属实。")
    on_phone.check("filing-corrected")
    phone.click("[data-testid=btn-save-doc]")
    phone.click("[data-testid=btn-sign][data-role=officer]")
    sign_with_mouse(phone)
    phone.click("[data-testid=btn-sign-confirm]")
    expect(phone.locator("[data-testid=sig-role][data-role=officer]")).to_have_attribute(
        "data-signed", "true"
    )
    on_phone.check("filing-signed-again")
    # signed content is not edited in place: a correction would be a new version, signed again
    correct = phone.locator("[data-testid=btn-correct-signed]")
    correct.scroll_into_view_if_needed()
    expect(correct).to_be_visible()
    on_phone.check("filing-correctable")

    # the supervisor approves the corrected filing
    show_case(desk, case_id)
    expect(desk.locator("[data-testid=filing-approval]")).to_contain_text("货值1200元")
    desk.fill("[data-testid=approver-opinion]", "同意立案，由李明、王芳调查处理。")
    sign_with_mouse(desk)
    steps.check("filing-approval")
    desk.click("[data-testid=btn-approve-filing]")
    expect(desk.locator("[data-testid=workflow-panel]")).to_have_attribute(
        "data-stage", "investigation"
    )
    steps.check("filed")

    # 现场检查, filmed on the officer's phone (the fake camera) with 王芳 on the case
    film(phone, on_phone, case_id, "investigation", "onsite_inspection", videos=1)

    # 调查: the on-site inspection record, prefilled, signed by officer and party
    form = new_document(
        desk, "onsite_inspection_record", {"findings": "货架上陈列超过保质期的酸奶12箱。"}
    )
    expect(form.locator("[name='party.name']")).to_have_value("某某食品店")
    expect(form.locator("[name='inspectors.1.badge_number']")).to_have_value("31010120260002")
    form.locator("[name=place]").fill("黄浦区某路8号店内")
    form.locator("[name=credential_shown]").check()
    save_sign_issue(desk, steps, "inspection", ["officer", "party"])
    advance(desk, steps, "evidence")  # filmed: no gap to pass

    # 取证 → 审查: the investigation report, signed by the officer and the leader
    new_document(
        desk,
        "investigation_report",
        {
            "investigation": "2026年现场检查并询问店主。",
            "facts": "当事人销售超过保质期的酸奶12箱，货值1200元。",
            "evidence": "现场检查笔录、进货单据。",
            "legal_basis": "《中华人民共和国食品安全法》第一百二十四条",
            "circumstances": "首次违法，主动配合调查。",
            "proposed_penalties.0.amount": "5000",
        },
        select={"proposal": "penalty", "proposed_penalties.0.kind": "fine"},
        add_rows=("proposed_penalties",),
    )
    save_sign_issue(desk, steps, "report", ["officer"])
    boss = open_page(**CONSOLE)
    leader = Steps(boss, tmp_path, "leader", 1366)
    sign_in(boss, "zhao", PASSWORD)
    expect(boss.locator("[data-testid=console-nav-cases]")).to_be_visible()
    leader_signs_and_issues(boss, leader, case_id, "investigation_report")
    show_case(desk, case_id)
    advance(desk, steps, "review")

    # 审查: 提交法制审核 with the package shown first
    desk.click("[data-testid=btn-submit-review]")
    expect(desk.locator("[data-testid=draft-party-name]")).to_have_value("某某食品店")
    steps.check("review-draft")
    desk.click("[data-testid=btn-preview-package]")
    expect(desk.locator("[data-testid=package-preview]")).to_be_visible()
    steps.check("review-package")
    desk.click("[data-testid=btn-confirm-submit-review]")
    desk.click("[data-testid=btn-review-submitted-close]")

    legal_page = open_page(**CONSOLE)
    legal = Steps(legal_page, tmp_path, "legal", 1366)
    sign_in(legal_page, "sun", PASSWORD)
    review_round(
        legal_page,
        legal,
        {"evidence": "缺少进货单据原件"},
        "returned",
        "请补充进货单据原件后重新送审。",
    )

    show_case(desk, case_id)
    expect(desk.locator("[data-testid=returned-item]").first).to_contain_text("缺少进货单据原件")
    steps.check("returned")
    desk.click("[data-testid=btn-resubmit-review]")
    desk.locator("[data-testid=draft-report]").fill("已补充进货单据原件，货值1200元。")
    desk.click("[data-testid=btn-preview-package]")
    desk.click("[data-testid=btn-confirm-submit-review]")
    expect(desk.locator("[data-testid=review-submitted]")).to_contain_text("第2轮")
    steps.check("resubmitted")
    desk.click("[data-testid=btn-review-submitted-close]")
    review_round(legal_page, legal, {}, "agree", "事实清楚，证据确凿，同意。")

    # 告知 and 陈述申辩, then the leader takes the case to 决定
    new_document(desk, "prior_notice", {"deadline_days": "5"})
    for right in ("rights.statement", "rights.defence", "rights.hearing"):
        desk.locator(f"[name='{right}']").check()
    save_sign_issue(desk, steps, "prior-notice", ["officer"])
    new_document(
        desk,
        "statement_record",
        {"place": "黄浦区市场监管局", "statement": "对违法事实无异议，请求从轻处罚。"},
    )
    save_sign_issue(desk, steps, "statement", ["officer", "party"])
    show_case(boss, case_id)
    advance(boss, leader, "decision")

    # 决定: the decision is prefilled from the reviewed draft; the leader opens it to sign ...
    show_case(desk, case_id)
    form = new_document(
        desk,
        "penalty_decision",
        {
            "payment": "自收到本决定书之日起十五日内缴纳。",
            "remedy": "如不服本决定，可在六十日内申请行政复议或者六个月内提起行政诉讼。",
        },
    )
    expect(form.locator("[data-testid=prefilled][data-prefill-path=penalties]")).to_contain_text(
        "经法制审核同意的决定草案"
    )
    expect(form.locator("[name='penalties.0.amount']")).to_have_value(re.compile(r"^5000"))
    steps.check("decision-form")
    desk.click("[data-testid=btn-save-doc]")
    close_sheets(desk)
    show_case(boss, case_id)
    boss.click("[data-testid=btn-leader-sign]")
    expect(boss.locator("[data-testid=review-match-consistent]")).to_contain_text("第2轮")
    sign_until_enabled(boss, "[data-testid=btn-leader-sign-confirm]")
    leader.check("decision-opened")

    # ... while the officer raises the fine to 8000 in the decision
    show_case(desk, case_id)
    desk.click("[data-testid=btn-open-documents]")
    desk.click("[data-testid=doc-row][data-status=draft] >> text=行政处罚决定书")
    desk.click("button:has-text('修改内容')")
    desk.fill("[name='penalties.0.amount']", "8000")
    steps.check("decision-raised")
    desk.click("[data-testid=btn-save-doc]")
    expect(desk.locator("[data-testid=doc-head]")).to_be_visible()
    close_sheets(desk)

    # the signature is refused (the server compares again at signing) and the dialog now shows
    # what differs from round 2, not 「一致」, with no way to sign it
    boss.click("[data-testid=btn-leader-sign-confirm]")
    expect(boss.locator("[data-testid=leader-sign-error]")).to_contain_text(
        "文书在您查看后已被修改，现已重新载入"
    )
    expect(boss.locator("[data-testid=review-match-differs]")).to_contain_text(
        "与第2轮法制审核通过的内容不一致，不能签发"
    )
    expect(boss.locator("[data-testid=review-match-consistent]")).to_have_count(0)
    expect(boss.locator("[data-testid=sign-doc-rendered]")).to_contain_text("8000.00")
    fine = boss.locator("[data-testid=review-difference][data-field=penalties] td")
    expect(fine.nth(1)).to_contain_text("5000.00元")
    expect(fine.nth(2)).to_contain_text("8000.00元")
    expect(boss.locator("[data-testid=btn-leader-sign-confirm]")).to_be_disabled()
    expect(boss.locator("[data-testid=btn-resubmit-review-from-sign]")).to_be_visible()
    boss.locator("[data-testid=review-match]").scroll_into_view_if_needed()
    leader.check("decision-refused")
    boss.locator("[data-testid=leader-sign-error]").scroll_into_view_if_needed()
    leader.check("decision-refused-why")

    # the case screen says so too, with the way to a new round
    show_case(desk, case_id)
    changed = desk.locator("[data-testid=rereview-needed]")
    expect(changed.locator("[data-testid=rereview-sentence]")).to_contain_text(
        "与第2轮法制审核同意的内容不一致（行政处罚），不得签发"
    )
    fine = changed.locator("[data-testid=review-difference][data-field=penalties] td")
    expect(fine.nth(1)).to_contain_text("5000.00元")
    expect(fine.nth(2)).to_contain_text("8000.00元")
    changed.scroll_into_view_if_needed()
    steps.check("decision-differs")

    # the officer sends the decision as it now reads to a new round, on the phone
    open_on_phone(phone, case_id, "decision")
    phone.click("[data-testid=btn-case-review]")
    offer = phone.locator("[data-testid=case-review-screen] [data-testid=rereview-needed]")
    expect(offer.locator("[data-testid=rereview-sentence]")).to_contain_text("不得签发")
    on_phone.check("rereview-offered")
    offer.locator("[data-testid=btn-rereview]").click()
    expect(phone.locator("[data-testid=rereview-intro]")).to_contain_text("第3轮")
    expect(phone.locator("[data-testid=draft-penalty-amount]").first).to_have_value("8000")
    on_phone.check("rereview-draft")
    phone.click("[data-testid=btn-preview-package]")
    expect(phone.locator("[data-testid=package-preview]")).to_have_attribute("data-round", "3")
    on_phone.check("rereview-package")
    phone.click("[data-testid=btn-confirm-submit-review]")
    expect(phone.locator("[data-testid=review-submitted]")).to_contain_text("第3轮")
    on_phone.check("rereview-submitted")
    phone.click("[data-testid=btn-review-submitted-close]")
    review_round(legal_page, legal, {}, "agree", "罚款数额在裁量基准幅度内，同意。")

    # the decision as agreed in round 3: the leader signs and it is issued
    show_case(boss, case_id)
    boss.click("[data-testid=btn-leader-sign]")
    expect(boss.locator("[data-testid=review-match-consistent]")).to_contain_text("第3轮")
    expect(boss.locator("[data-testid=sign-doc-rendered]")).to_be_visible()
    sign_until_enabled(boss, "[data-testid=btn-leader-sign-confirm]")
    leader.check("decision-sign")
    boss.click("[data-testid=btn-leader-sign-confirm]")
    expect(boss.locator("[data-testid=wf-doc][data-type=penalty_decision]")).to_have_attribute(
        "data-status", "issued"
    )
    leader.check("decision-issued")

    # 送达 and 执行
    show_case(desk, case_id)
    advance(desk, steps, "service")
    film(phone, on_phone, case_id, "service", "service", videos=2)
    form = new_document(desk, "service_receipt", {}, select={"method": "direct"})
    expect(form.locator("[name=recording_media_id]")).not_to_have_value("")  # the film of it
    save_sign_issue(desk, steps, "service", ["officer", "recipient"])
    advance(desk, steps, "execution")
    execution = desk.locator("[data-testid=wf-execution]")
    execution.locator("[data-testid=execution-amount]").fill("8000")
    execution.locator("[data-testid=execution-reference]").fill("缴款书0001")
    steps.check("execution")
    execution.locator("[data-testid=btn-add-execution]").click()
    expect(desk.locator("[data-testid=execution-record]")).to_contain_text("8000")
    new_document(desk, "closing_report", {}, select={"reason": "executed"})
    save_sign_issue(desk, steps, "closing", ["officer"])
    leader_signs_and_issues(boss, leader, case_id, "closing_report")

    # 归档 and the export of the case file
    show_case(desk, case_id)
    advance(desk, steps, "archive")
    with desk.expect_download() as download:
        desk.click("[data-testid=btn-export-archive]")
    expect(desk.locator("[data-testid=export-done]")).to_be_visible()
    steps.check("exported")
    exported = tmp_path / "case.zip"
    shutil.copyfile(download.value.path(), exported)
    with zipfile.ZipFile(exported) as archive:
        names = archive.namelist()
    assert "manifest.json" in names
    pdfs = [n for n in names if n.endswith(".pdf")]
    assert len(pdfs) >= 11, pdfs  # every document of the case, the three opinions included

    # 校验 offline: the key as the unit publishes it, the archive's own verify.py run by the
    # system Python alone (isolated: no Fieldtrace, no virtualenv), then a copy with one byte
    # of one document changed
    public = open_page(**CONSOLE)
    public.goto("/public/signing-keys")
    key = public.locator("tr:has(.current) td code").first.inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key), key
    public.screenshot(path=str(tmp_path / "signing-keys.png"))
    with public.expect_download() as published:
        public.click("a[href$='/verify.py']")
    offline = tmp_path / "offline"
    with zipfile.ZipFile(exported) as archive:
        archive.extractall(offline)
    # the copy inside the archive is the verifier the unit publishes
    assert (offline / "verify.py").read_bytes() == Path(published.value.path()).read_bytes()
    intact = verify_offline(offline / "verify.py", exported, key)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "archive intact and AUTHENTIC" in intact.stdout, intact.stdout
    altered_name = sorted(n for n in pdfs if n.startswith("documents/"))[0]
    altered = tmp_path / "altered.zip"
    with zipfile.ZipFile(exported) as source, zipfile.ZipFile(altered, "w") as copy:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == altered_name:
                data = data[:100] + bytes([data[100] ^ 0x01]) + data[101:]
            copy.writestr(info, data)
    refused = verify_offline(offline / "verify.py", altered, key)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"file altered: {altered_name} (sha256 mismatch)" in refused.stderr, refused.stderr


def verify_offline(script: Path, archive: Path, key: str) -> subprocess.CompletedProcess:
    """The bundled verifier as an auditor runs it: the system Python in isolated mode (-I: no
    PYTHONPATH, no user site, not the test's virtualenv), from the folder it was unpacked to."""
    return subprocess.run(
        [SYSTEM_PYTHON, "-I", str(script), str(archive), "--public-key", key],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=script.parent,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )
