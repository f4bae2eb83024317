"""Every screen in both languages (Chromium): Chinese shows no English and no raw codes, English
shows no Chinese, outside the data people typed (names, titles, file names, usernames).

Signs in as each role — the officer on a phone (360×740), the supervisor, legal reviewer, leader
and admin on a desktop (1366×900) — visits their screens in zh and in en, and fails naming the
words that leaked. Screenshots land in /tmp/shots/lang-*.png for a person to look at.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from server import clock
from server.extensions import db
from server.models import LoginThrottle
from tests import tus_helpers as tus
from tests.conftest import PASSWORD, open_case, sample_jpeg
from tests.workflow_helpers import Flow, move_case_to

from .conftest import PHONE, expect, require_browser, sign_in, to_english

pytestmark = pytest.mark.browser
require_browser()

API = "/api/v1"
CONSOLE = {"viewport": {"width": 1366, "height": 900}}
SHOTS = Path("/tmp/shots")
CJK = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uf900-\ufaff\uff00-\uffef]")
# Latin a Chinese screen may show: names of formats, standards and units people know by them.
ALLOWED_LATIN = {
    "PDF", "QR", "GPS", "SHA", "ID", "CSV", "HTTPS", "Wi", "Fi", "UTC", "JPEG", "PNG", "MP4",
    "English", "m", "km", "MB", "KB", "GB", "B", "s", "px", "N", "RFC",
}  # fmt: skip
HEX = re.compile(r"\b[0-9a-f]{8,}\b")
URL = re.compile(r"https?://\S+")  # an address to open or type, as the QR beside it holds
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
WORD = re.compile(r"[A-Za-z][A-Za-z_]*")
DOC_NUMBER = re.compile(r"\S*〔\d{4}〕\d+号")
DOC_TITLE = re.compile(r"《[^》]*》|\S*关于\S*的通知")
CASE_TITLE = "占道经营检查"
REVIEW_TITLE = "销售过期食品案"
ADMIN_ROUTES = (
    "/admin/unit",
    "/admin/people",
    "/admin/devices",
    "/admin/calendar",
    "/admin/decisions",
    "/admin/reports",
)
GENERIC = ("其他操作", "Other action", "其他处理发现", "Another processing finding")


def visible_text(page) -> str:
    """The page's visible text (typed values of inputs are not part of it)."""
    return page.inner_text("body")


def english_on_chinese_page(page, data: tuple[str, ...]) -> list[str]:
    text = visible_text(page)
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    text = UUID.sub(" ", HEX.sub(" ", URL.sub(" ", text)))
    return sorted({w for w in WORD.findall(text) if w not in ALLOWED_LATIN})


def chinese_on_english_page(page, data: tuple[str, ...]) -> list[str]:
    text = visible_text(page).replace("中文", "")  # the switch back names its language
    for value in sorted(data, key=len, reverse=True):  # first, as data may hold a title
        text = text.replace(value, " ")
    text = DOC_NUMBER.sub(" ", text)  # a document's number is its name: 沪市监罚〔2026〕1号
    text = DOC_TITLE.sub(
        " ", text
    )  # and a title is a title: 《食品安全法》, 国务院办公厅关于…的通知
    return [line for line in text.splitlines() if CJK.search(line)]


def check(page, name: str, data: tuple[str, ...], problems: list[str]) -> None:
    """Screenshot the page and note what leaked, in whichever language it is in."""
    SHOTS.mkdir(exist_ok=True)
    english = page.evaluate("document.documentElement.lang") == "en"
    page.screenshot(
        path=str(SHOTS / f"lang-{name}-{'en' if english else 'zh'}.png"), full_page=True
    )
    leaked = chinese_on_english_page(page, data) if english else english_on_chinese_page(page, data)
    # the general label of an action or flag the server's tables lack (audit_words, flag_words)
    unlabelled = [g for g in GENERIC if g in visible_text(page)]
    if unlabelled:
        problems.append(f"{name}: unlabelled action or flag shown as {unlabelled}")
    if leaked:
        problems.append(f"{name} ({'en' if english else 'zh'}): {leaked}")


def seed_case(client, users):
    """The people of every role and the officer's case, without media."""
    officer = users.create("lc_officer")
    sup = users.create("lc_sup", role="supervisor")
    users.create("lc_legal", role="legal")
    users.create("lc_leader", role="leader")
    users.create("lc_admin", role="admin")
    return officer, sup, open_case(client, officer, title=CASE_TITLE, case_type="市场监管")


def seed(client, users):
    officer, sup, case = seed_case(client, users)
    # a JPEG sent as a PNG: the pipeline flags type_mismatch with an English detail
    photo = tus.upload(
        client,
        officer,
        case["id"],
        sample_jpeg(64, 48),
        filename="scene.png",
        content_type="image/png",
        activity="onsite_inspection",
    )
    return officer, sup, case, photo


def data_of(case: dict, *more: str) -> tuple[str, ...]:
    people = ("lc_officer", "lc_sup", "lc_legal", "lc_leader", "lc_admin", "lc_other", "lc_third")
    names = tuple(p.title() for p in people)
    return (*people, *names, "U1", case["number"], CASE_TITLE, "市场监管", *more)


def test_every_screen_in_both_languages(open_page, client, users, app):
    officer, sup, case, photo = seed(client, users)
    data = data_of(case, "scene.png", "lc_device", "lc_slow", "lc_nobody", "phone-1")
    problems: list[str] = []

    # the login page and its refusals: a wrong password, then the throttle
    page = open_page(**PHONE)
    sign_in(page, "lc_nobody", "wrong-password")
    expect(page.locator("[role=alert]")).to_have_text("账号或密码错误。")
    check(page, "login-refused", data, problems)
    with app.app_context():  # failed often enough to wait five minutes
        db.session.add(
            LoginThrottle(
                username="lc_slow",
                failures=10,
                next_allowed_at=clock.now() + timedelta(minutes=5),
            )
        )
        db.session.commit()
    sign_in(page, "lc_slow", "wrong-password")
    expect(page.locator("[role=alert]")).to_contain_text("登录失败次数过多")
    check(page, "login-throttled", data, problems)
    page.context.close()

    # the officer on the phone: case list, case screen, queue
    for english in (False, True):
        page = open_page(**PHONE)
        sign_in(page, "lc_officer", PASSWORD)
        page.wait_for_selector("[data-testid=case-row]")
        if english:
            to_english(page)
        check(page, "officer-cases", data, problems)
        page.click(f"[data-testid=case-row][data-case-id='{case['id']}']")
        page.wait_for_selector("[data-testid=btn-photo]")
        check(page, "officer-case", data, problems)
        page.click("[data-testid=btn-completeness]")
        page.wait_for_selector("[data-testid=completeness-screen] [data-testid=stage-block]")
        check(page, "officer-completeness", data, problems)
        page.click("[data-testid=sheet-back]")
        page.click("[data-testid=btn-documents]")
        page.wait_for_selector("[data-testid=documents-screen]")
        page.wait_for_load_state("networkidle")
        check(page, "officer-documents", data, problems)
        page.click("[data-testid=sheet-back]")
        page.click("[data-testid=tab-queue]")
        page.wait_for_timeout(300)
        check(page, "officer-queue", data, problems)
        page.click("[data-testid=btn-credential]")  # 亮证 without a credential: it says so
        page.wait_for_selector("[data-testid=credential-screen] [data-testid=cred-standing]")
        check(page, "officer-credential", data, problems)
        page.context.close()

    # a refused upload in the queue: a photo taken offline, the officer taken off the case
    # meanwhile; back online, the server does not know the case for them (404 case_not_found:
    # another's case is not found, not forbidden) and the queue says so in words
    others = [users.create("lc_other"), users.create("lc_third")]
    page = open_page(**PHONE)
    sign_in(page, "lc_officer", PASSWORD)
    page.click(f"[data-testid=case-row][data-case-id='{case['id']}']")
    page.wait_for_selector("[data-testid=btn-photo]")
    page.context.set_offline(True)
    page.click("[data-testid=btn-photo]")
    page.click("[data-testid=btn-shutter]:not([disabled])")
    page.wait_for_selector("[data-testid=capture-overlay]", state="detached")
    resp = client.put(
        f"{API}/cases/{case['id']}/officers",
        json={"officer_ids": [o.id for o in others]},
        headers=sup.headers,
    )
    assert resp.status_code == 200, resp.json
    page.click("[data-testid=tab-queue]")
    page.context.set_offline(False)
    refused = page.locator("[data-testid=queue-error]")
    expect(refused).to_have_text("此案件不存在，或您已不再办理此案件。")
    check(
        page,
        "officer-queue-refused",
        data,
        problems,
    )
    to_english(page)
    expect(refused).to_have_text("This case does not exist, or you no longer work on it.")
    check(
        page,
        "officer-queue-refused",
        data,
        problems,
    )
    page.context.close()

    # the supervisor at a desk: case list, case page, item page with its flags and custody
    for english in (False, True):
        page = open_page(**CONSOLE)
        sign_in(page, "lc_sup", PASSWORD)
        page.wait_for_selector("[data-testid=console-cases]")
        if english:
            to_english(page)
        check(page, "console-cases", data, problems)
        page.click(f"[data-testid=console-case][data-number='{case['number']}']")
        page.wait_for_selector("[data-testid=wf-summary]")
        check(page, "console-case", data, problems)
        page.goto(f"/#/console/media/{photo}")
        page.wait_for_selector("[data-testid=item-head]")
        expect(page.locator("[data-flag=type_mismatch]").first).to_be_visible()
        page.click("[data-testid=custody-show]")
        page.wait_for_selector("[data-testid=custody-entry]")
        check(page, "console-item", data, problems)
        page.context.close()

    # a second case at 审查 with a legal review round for the reviewer to open
    review_case = open_case(client, officer, title=REVIEW_TITLE, case_type="市场监管")
    for stage in ("investigation", "evidence", "review"):
        resp = client.post(
            f"{API}/cases/{review_case['id']}/stage",
            json={"to_stage": stage, "reason": "测试准备", "override_reason": "测试准备：越过缺项"},
            headers=sup.headers,
        )
        assert resp.status_code == 200, resp.json
    resp = client.post(
        f"{API}/cases/{review_case['id']}/legal-reviews",
        json={
            "report": "当事人销售过期牛奶。",
            "decision_draft": {
                "penalties": [{"kind": "fine", "amount": 5000}],
                "summary": "罚款五千元",
                "legal_basis": "《食品安全法》第一百二十四条",
            },
        },
        headers=officer.headers,
    )
    assert resp.status_code == 201, resp.json
    review_id = resp.json["id"]
    data = (
        *data,
        review_case["number"],
        REVIEW_TITLE,
        "当事人销售过期牛奶。",
        "罚款五千元",
        "第一百二十四条",
    )
    for english in (False, True):
        page = open_page(**CONSOLE)
        sign_in(page, "lc_legal", PASSWORD)
        row = f"[data-testid=review-row][data-review-id='{review_id}']"
        page.wait_for_selector(row)
        if english:
            to_english(page)
        check(page, "legal-queue", data, problems)
        page.click(row)
        page.wait_for_selector("[data-testid=review-package]")
        page.wait_for_selector("[data-testid=opinion-form]")
        check(page, "legal-round", data, problems)
        page.context.close()

    for english in (False, True):
        page = open_page(**CONSOLE)
        sign_in(page, "lc_admin", PASSWORD)
        page.wait_for_selector("[data-testid=admin-kinds]")
        if english:
            to_english(page)
        for route in ADMIN_ROUTES:
            page.goto(f"/#{route}")
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(300)
            check(page, "admin" + route.replace("/", "-"), data, problems)
        page.context.close()

    # the legal reviewer, the leader and the admin: their landing pages
    for username, ready in (
        ("lc_legal", "[data-testid=review-queue], [data-testid=queue-empty]"),
        ("lc_leader", "[data-testid=inbox-ready]"),
        ("lc_admin", "[data-testid=admin-kinds]"),
    ):
        for english in (False, True):
            page = open_page(**CONSOLE)
            sign_in(page, username, PASSWORD)
            page.wait_for_selector(ready)
            if english:
                to_english(page)
            page.wait_for_timeout(500)  # the lists under the heading fill in
            check(page, username.removeprefix("lc_"), data, problems)
            page.context.close()

    assert problems == [], "\n".join(problems)


def string_leaves(value: object) -> tuple[str, ...]:
    """Every string in a (nested) form's fields: data people typed."""
    if isinstance(value, dict):
        return tuple(s for v in value.values() for s in string_leaves(v))
    if isinstance(value, list):
        return tuple(s for v in value for s in string_leaves(v))
    return (value,) if isinstance(value, str) else ()


def test_every_document_form_in_both_languages(open_page, client, users):
    """Each type of the 文书 sheet opens its form (prefilled from the case), then says what is
    missing when saved empty; and a saved document shows its times and signatures."""
    from server.documents import DOCUMENT_TYPES
    from tests.test_documents_registry import SAMPLES

    officer, _sup, case = seed_case(client, users)
    made = client.post(
        f"{API}/cases/{case['id']}/documents",
        json={"type": "filing_approval", "fields": SAMPLES["filing_approval"]},
        headers=officer.headers,
    )
    assert made.status_code == 201, made.json
    # a notice issued to the party: its issue time, and the handover QR with its expiry
    issued = Flow(client).full_doc(case["id"], "prior_notice", {"officer": officer}, officer)
    data = data_of(
        case,
        *string_leaves(SAMPLES["filing_approval"]),
        *string_leaves(SAMPLES["prior_notice"]),
        issued["number"],
    )
    creatable = {code for code, t in DOCUMENT_TYPES.items() if t.signatures}
    problems: list[str] = []
    for english in (False, True):
        page = open_page(**PHONE)
        sign_in(page, "lc_officer", PASSWORD)
        page.click(f"[data-testid=case-row][data-case-id='{case['id']}']")
        page.wait_for_selector("[data-testid=btn-documents]")
        if english:
            to_english(page)
        page.click("[data-testid=btn-documents]")
        page.wait_for_selector("[data-testid=doc-type]")
        codes = page.eval_on_selector_all(
            "[data-testid=doc-type]", "els => els.map(e => e.dataset.code)"
        )
        assert set(codes) == creatable
        # a saved document: its number, status, times and signatures
        page.click(f"[data-testid=doc-row][data-doc-id='{made.json['id']}']")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)
        check(page, "document-view", data, problems)
        page.click("[data-testid=btn-sign][data-role=officer]")  # the pad, and who signs
        page.wait_for_selector("[data-testid=btn-sign-confirm]")
        check(page, "document-sign", data, problems)
        page.click("[data-testid=sheet-back]")
        page.wait_for_selector("[data-testid=btn-sign]")
        page.click("[data-testid=sheet-back]")
        page.click(f"[data-testid=doc-row][data-doc-id='{issued['id']}']")
        page.wait_for_selector("[data-testid=btn-handover]")
        check(page, "document-issued", data, problems)
        page.click("[data-testid=btn-handover]")
        page.wait_for_selector("[data-testid=handover-countdown]:not(:empty)")
        check(page, "document-handover", data, problems)
        page.click("[data-testid=sheet-back]")
        page.wait_for_selector("[data-testid=btn-handover]")
        page.click("[data-testid=sheet-back]")
        for code in codes:
            button = page.locator(f"[data-testid=doc-type][data-code='{code}']")
            button.wait_for(state="attached")
            if not button.is_visible():
                page.click(".more-types summary")
            button.click()
            page.wait_for_selector(f"[data-testid=doc-form][data-code='{code}']")
            page.wait_for_load_state("networkidle")
            check(page, f"doc-form-{code}", data, problems)
            page.click("[data-testid=btn-save-doc]")  # empty: what is missing, said in words
            page.wait_for_selector("[data-testid=doc-form] .error:not(:empty)")
            check(page, f"doc-form-{code}-missing", data, problems)
            page.click("[data-testid=sheet-back]")
        page.context.close()
    assert problems == [], "\n".join(problems)


def test_opinion_form_in_both_languages(open_page, client, users):
    """The legal reviewer's opinion form: the checklist with a raised point, the outcomes, and
    what is missing when sent incomplete."""
    officer, sup, case = seed_case(client, users)
    move_case_to(client, sup, case["id"], "review")
    resp = client.post(
        f"{API}/cases/{case['id']}/legal-reviews",
        json={
            "report": "当事人销售过期牛奶。",
            "decision_draft": {
                "penalties": [{"kind": "fine", "amount": 5000}],
                "summary": "罚款五千元",
                "legal_basis": "《食品安全法》第一百二十四条",
            },
        },
        headers=officer.headers,
    )
    assert resp.status_code == 201, resp.json
    review_id = resp.json["id"]
    data = data_of(case, "当事人销售过期牛奶。", "罚款五千元", "第一百二十四条")
    problems: list[str] = []
    for english in (False, True):
        page = open_page(**CONSOLE)
        sign_in(page, "lc_legal", PASSWORD)
        page.wait_for_selector("[data-testid=review-queue], [data-testid=queue-empty]")
        if english:
            to_english(page)
        page.goto(f"/#/console/review/{review_id}")
        form = page.wait_for_selector("[data-testid=opinion-form]")
        page.wait_for_load_state("networkidle")
        check(page, "opinion-form", data, problems)
        page.click("[data-testid=btn-submit-opinion]")  # nothing chosen: what is missing
        page.wait_for_selector("[data-testid=opinion-form] .error")
        check(page, "opinion-form-missing", data, problems)
        # a raised point asks for its note; an outcome chosen; sent without a signature
        form.query_selector_all("input[type=radio][value=raised]")[0].check()
        page.check("[data-testid=outcome-returned]")
        page.click("[data-testid=btn-submit-opinion]")
        page.wait_for_timeout(300)
        check(page, "opinion-form-raised", data, problems)
        page.context.close()
    assert problems == [], "\n".join(problems)


def test_leader_sign_dialog_in_both_languages(open_page, client, users):
    """The leader's sign-and-issue dialog: a decision that matches the agreed review, one that
    differs (with the way to a new round), and the inbox that leads to them."""
    from tests.test_decision_binding import decision_fields

    from .test_decision_binding import agreed_case
    from .test_documents import sign_with_mouse

    team = {
        "officer": users.create("lc_officer"),
        "sup": users.create("lc_sup", role="supervisor"),
        "legal": users.create("lc_legal", role="legal"),
        "leader": users.create("lc_leader", role="leader"),
    }
    changed, changed_doc = agreed_case(client, team, REVIEW_TITLE)
    changed.edit(
        changed_doc,
        penalties=[
            {"kind": "fine", "amount": "200000", "description": "罚款人民币贰拾万元"},
            {"kind": "confiscation", "amount": "480", "description": "没收违法所得480元"},
        ],
    )
    same, same_doc = agreed_case(client, team, CASE_TITLE)
    # changed after the agreed round, and already in a new round: waiting for its opinion
    waiting, waiting_doc = agreed_case(client, team, "无证经营案")
    waiting.edit(waiting_doc, discretion="从轻处罚。")
    waiting.submit()
    numbers = tuple(
        client.get(f"{API}/cases/{c.case_id}", headers=team["sup"].headers).json["number"]
        for c in (changed, same, waiting)
    )
    data = (
        *data_of({"number": numbers[0]}, *numbers[1:], REVIEW_TITLE, "无证经营案", "从轻处罚。"),
        *string_leaves(decision_fields()),  # what the officer typed into the decision
        "罚款人民币贰拾万元",
        "罚款人民币伍万元",
        "没收违法所得480元",
        "审查报告：事实清楚。",
    )
    problems: list[str] = []
    for english in (False, True):
        page = open_page(**CONSOLE)
        sign_in(page, "lc_leader", PASSWORD)
        page.wait_for_selector("[data-testid=inbox-to-sign] [data-testid=to-sign]")
        if english:
            to_english(page)
        page.wait_for_load_state("networkidle")
        check(page, "leader-inbox-to-sign", data, problems)
        for doc_id, state in (
            (changed_doc, "differs"),
            (same_doc, "consistent"),
            (waiting_doc, "pending"),
        ):
            page.goto("/#/console/inbox")
            page.click(f"[data-testid=to-sign][data-doc-id='{doc_id}'] [data-testid=to-sign-go]")
            page.wait_for_selector(f"[data-testid=leader-sign][data-doc-id='{doc_id}']")
            page.wait_for_selector(f"[data-testid=review-match][data-state={state}]")
            sign_with_mouse(page)
            check(page, f"leader-sign-{state}", data, problems)
            if state == "differs":
                page.click("[data-testid=btn-resubmit-review-from-sign]")
                page.wait_for_selector("[data-testid=resubmit-note]")
                check(page, "leader-sign-resubmit", data, problems)
        page.context.close()
    assert problems == [], "\n".join(problems)


def test_submitting_the_legal_review_on_the_phone_in_both_languages(open_page, client, users):
    """The officer's 法制审核 sheet at 审查 and the submission form, then what it lacks."""
    _officer, sup, case = seed_case(client, users)
    move_case_to(client, sup, case["id"], "review")
    data = data_of(case)
    problems: list[str] = []
    for english in (False, True):
        page = open_page(**PHONE)
        sign_in(page, "lc_officer", PASSWORD)
        page.click(f"[data-testid=case-row][data-case-id='{case['id']}']")
        page.wait_for_selector("[data-testid=btn-case-review]")
        if english:
            to_english(page)
        page.click("[data-testid=btn-case-review]")
        page.wait_for_selector("[data-testid=case-review-screen] [data-testid=btn-submit-review]")
        page.wait_for_load_state("networkidle")
        check(page, "review-sheet", data, problems)
        page.click("[data-testid=btn-submit-review]")
        sheet = page.locator("[data-testid=review-submit-screen]")
        sheet.locator("[data-testid=btn-preview-package]").wait_for()
        check(page, "review-submit", data, problems)
        page.click("[data-testid=btn-preview-package]")  # nothing written: what is missing
        sheet.locator("[data-testid=draft-problems]:not(:empty)").wait_for()
        check(page, "review-submit-missing", data, problems)
        page.context.close()
    assert problems == [], "\n".join(problems)
