"""The officer's journeys through the UI only: a 当场处罚 (简易程序) from opening the case to the
party's copy and an archive-ready case on a 360×740 phone, and a 一般程序 case opened by a
立案审批表 on the phone and approved by the supervisor in the console at 1366×900.

Only the users and their credentials are made through the API (fixtures); every step after
that is a tap. Each step saves a screenshot under the test's tmp folder and fails on a console
error, on sideways scroll at 360 px, on a touch target under 44 px, or on English words in the
Chinese UI (names and codes such as numbers are not words).
"""

from __future__ import annotations

import re
import urllib.request
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from server import clock
from tests.conftest import PASSWORD

from .conftest import PHONE, expect, require_browser, sign_in

pytestmark = pytest.mark.browser
require_browser()

CONSOLE = {"viewport": {"width": 1366, "height": 900}}
# What Chinese mode may show in Latin letters: the language switch names the other language;
# sizes and hashes are units and codes.
# Wi-Fi is written so in Chinese too (仅 Wi-Fi); the units and names are not words.
ALLOWED_LATIN = {"English", "SHA", "KB", "MB", "GB", "PDF", "Wi", "Fi"}

TOUCH_TARGETS = """() => {
  const bad = [];
  const sel = 'button, a[href], input:not([type=hidden]), select, textarea, summary';
  for (const el of document.querySelectorAll(sel)) {
    const box = el.type === 'checkbox' || el.type === 'radio' ? el.closest('label') || el : el;
    const r = box.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1 || el.closest('.visually-hidden')) continue;  // not shown
    if (getComputedStyle(box).visibility === 'hidden') continue;
    if (r.height < 44 || r.width < 44) {
      bad.push(`${box.tagName.toLowerCase()} "${(box.innerText || box.name || '').trim()
        .slice(0, 30)}" ${Math.round(r.width)}×${Math.round(r.height)}`);
    }
  }
  return bad;
}"""

# The text on show: the topmost layer (capture overlay, sheet) when one is open.
SHOWN_TEXT = """() => {
  const layers = [...document.querySelectorAll('.overlay, .credential, .sheet')];
  return (layers.length ? layers[layers.length - 1] : document.body).innerText;
}"""


class Steps:
    """Screenshot and checks after each step of a journey."""

    def __init__(self, page: Any, folder: Path, name: str, width: int) -> None:
        self.page, self.width, self.n = page, width, 0
        self.folder = folder / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.errors: list[str] = []
        page.on(
            "console",
            lambda msg: self.errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def check(self, step: str) -> None:
        self.n += 1
        page = self.page
        page.wait_for_timeout(150)  # let a redraw settle before the picture
        page.screenshot(path=str(self.folder / f"{self.n:02d}-{step}.png"))
        assert not self.errors, f"{step}: console errors {self.errors}"
        if self.width == 360:
            wide = page.evaluate(
                "() => [document.documentElement, ...document.querySelectorAll('.sheet')]"
                ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.className)"
            )
            assert not wide, f"{step}: sideways scroll in {wide}"
        small = page.evaluate(TOUCH_TARGETS)
        assert not small, f"{step}: touch targets under 44 px: {small}"
        if page.evaluate("document.documentElement.lang") == "zh-CN":
            text = re.sub(r"https?://\S+", "", page.evaluate(SHOWN_TEXT))  # links are codes
            text = re.sub(r"\b[0-9a-f]{6,}\b", "", text)  # and so are hashes (SHA-256 …)
            text = re.sub(r"\b[0-9a-f]{4}(?: [0-9a-f]{4})+\b", "", text)  # fingerprints
            words = set(re.findall(r"[A-Za-z]{2,}", text))
            assert words <= ALLOWED_LATIN, f"{step}: English in the Chinese UI: {words}"


def rename(app, actor, name: str) -> None:
    from server.extensions import db
    from server.models import User

    with app.app_context():
        db.session.get(User, actor.id).name = name
        db.session.commit()


def issue_credential(client, admin, user, number: str) -> None:
    today = clock.today()
    resp = client.post(
        "/api/v1/credentials",
        json={
            "user_id": user.id,
            "number": number,
            "issuing_authority": "上海市黄浦区人民政府",
            "categories": ["市场监管"],
            "area": "黄浦区",
            "valid_from": (today - timedelta(days=30)).isoformat(),
            "valid_to": (today + timedelta(days=700)).isoformat(),
        },
        headers=admin.headers,
    )
    assert resp.status_code == 201, resp.json


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "REQUIRE_CREDENTIAL": True}  # 持证上岗, as in production


@pytest.fixture
def unit(app, client, users) -> dict:
    """A unit with three certified officers, one without a credential, and a supervisor."""
    people = {
        "li": users.create("li"),
        "wang": users.create("wang"),
        "zhou": users.create("zhou"),
        "zhao": users.create("zhao"),
        "sup": users.create("zhang", role="supervisor"),
        "admin": users.create("admin1", role="admin"),
    }
    names = (
        ("li", "李明"),
        ("wang", "王芳"),
        ("zhou", "周杰"),
        ("zhao", "赵强"),
        ("sup", "张主任"),
    )
    for key, name in names:
        rename(app, people[key], name)
    issue_credential(client, people["admin"], people["li"], "31010120260001")
    issue_credential(client, people["admin"], people["wang"], "31010120260002")
    issue_credential(client, people["admin"], people["zhou"], "31010120260004")
    return people


def pad_points(page) -> list[tuple[float, float]]:
    box = page.locator("[data-testid=sig-canvas]").bounding_box()
    assert box and box["width"] > 100
    x, y, w, hgt = box["x"], box["y"], box["width"], box["height"]
    return [
        (x + w * fx, y + hgt * fy) for fx, fy in ((0.15, 0.6), (0.35, 0.3), (0.55, 0.7), (0.8, 0.4))
    ]


def sign_with_finger(page) -> None:
    points = pad_points(page)
    cdp = page.context.new_cdp_session(page)

    def touch(kind: str, at: list[tuple[float, float]]) -> None:
        cdp.send(
            "Input.dispatchTouchEvent",
            {"type": kind, "touchPoints": [{"x": x, "y": y} for x, y in at]},
        )

    touch("touchStart", points[:1])
    for (x0, y0), (x1, y1) in pairwise(points):
        for step in range(1, 7):
            touch("touchMove", [(x0 + (x1 - x0) * step / 6, y0 + (y1 - y0) * step / 6)])
    touch("touchEnd", [])
    cdp.detach()


def sign_with_mouse(page) -> None:
    points = pad_points(page)
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=6)
    page.mouse.up()


def test_on_the_spot_penalty_from_opening_to_archive_ready_on_a_phone(open_page, unit, tmp_path):
    page = open_page(**PHONE)
    steps = Steps(page, tmp_path, "onsite-penalty", 360)
    sign_in(page, "li", PASSWORD)
    page.wait_for_selector("[data-testid=btn-new-case]")
    steps.check("cases")

    # open the case: 当场处罚, the party, the place, and the colleague on site
    page.click("[data-testid=btn-new-case]")
    page.wait_for_selector("[data-testid=partner][data-username=wang]")
    expect(page.locator("[data-testid=partner][data-username=zhao]")).to_contain_text(
        "未持有执法证"
    )
    assert page.is_disabled("[data-testid=partner][data-username=zhao] input")
    steps.check("new-case")
    page.fill("[data-testid=case-title]", "占道经营")
    page.fill("[data-testid=case-party]", "张三")
    page.fill("[data-testid=case-location]", "南京东路100号门前")
    page.check("[data-testid=partner][data-username=wang] input")
    steps.check("new-case-filled")
    page.click("[data-testid=btn-open-case]")

    # the guided flow: the on-site video first
    page.wait_for_selector("[data-testid=onsite-flow]")
    page.wait_for_selector("[data-testid=flow-record]")
    expect(page.locator("[data-step=flow_step_team]")).to_have_attribute("data-state", "done")
    steps.check("flow-start")
    page.click("[data-testid=flow-record]")
    page.wait_for_selector("[data-testid=rec-indicator]")
    page.wait_for_function(
        "parseFloat(document.querySelector('[data-testid=rec-size]').textContent) > 0"
    )
    page.wait_for_timeout(1500)
    steps.check("recording")
    page.click("[data-testid=btn-stop]")
    page.wait_for_selector("[data-testid=capture-overlay]", state="detached")
    # uploaded (verified hash) → the decision may be made
    page.wait_for_selector("[data-testid=flow-decide]", timeout=60_000)
    steps.check("filmed")
    page.click("[data-testid=flow-decide]")

    # the decision, prefilled with the party, place and officers
    page.wait_for_selector("[data-testid=doc-form][data-code=onsite_penalty_decision]")
    assert page.input_value("[name='party.name']") == "张三"
    assert page.input_value("[name=place]") == "南京东路100号门前"
    assert page.input_value("[name='officers.0.name']") == "李明"
    assert page.input_value("[name='officers.1.badge_number']") == "31010120260002"
    assert page.input_value("[name=occurred_at]")  # decided on the spot, now
    page.fill("[name=facts]", "当事人在南京东路100号门前占用人行道摆摊经营。")
    page.fill("[name=legal_basis]", "《城市市容和环境卫生管理条例》第三十六条")
    page.fill("[name='penalties.0.amount']", "200")
    steps.check("decision-form")
    page.click("[data-testid=btn-save-doc]")

    # officer, then party, sign on screen; then issue
    page.click("[data-testid=btn-sign][data-role=officer]")
    assert page.input_value("[data-testid=signer-name]") == "李明"
    sign_with_finger(page)
    steps.check("officer-signs")
    page.click("[data-testid=btn-sign-confirm]")
    page.wait_for_selector("[data-testid=sig-role][data-role=officer][data-signed=true]")
    page.click("[data-testid=btn-sign][data-role=party]")
    assert page.input_value("[data-testid=signer-name]") == "张三"
    sign_with_finger(page)
    page.click("[data-testid=btn-sign-confirm]")
    page.wait_for_selector("[data-testid=sig-role][data-role=party][data-signed=true]")
    steps.check("signed")
    page.click("[data-testid=btn-issue]")
    number = page.wait_for_selector("[data-testid=doc-number]").inner_text()
    assert re.search(r"当〔\d{4}〕1号$", number), number
    steps.check("issued")

    # the party takes a copy by QR: the link opens the PDF on any phone, no login
    page.click("[data-testid=btn-handover]")
    qr = page.wait_for_selector("[data-testid=handover-qr]")
    page.wait_for_function("document.querySelector('[data-testid=handover-qr]').naturalWidth > 0")
    box = qr.bounding_box()
    assert box and box["y"] + box["height"] <= 740 and box["width"] >= 200
    steps.check("party-qr")
    with urllib.request.urlopen(qr.get_attribute("data-url"), timeout=10) as resp:
        assert resp.read(5) == b"%PDF-"

    # back to the flow: serve, then the fine paid
    for _ in range(3):
        if page.locator("[data-testid=onsite-flow]").count():
            break
        page.click("[data-testid=sheet-back]")
    page.wait_for_selector("[data-testid=flow-serve]")
    assert number in page.inner_text("[data-testid=flow-decision-number]")
    steps.check("to-serve")
    page.click("[data-testid=flow-serve]")
    page.wait_for_selector("[data-testid=flow-pay]")
    assert page.input_value("[data-testid=flow-amount]") == "200"
    page.fill("[data-testid=flow-reference]", "No.0001")
    steps.check("execution")
    page.click("[data-testid=flow-pay]")
    ready = page.wait_for_selector("[data-testid=flow-archive-ready]")
    assert "等待执法机构负责人归档" in ready.inner_text()
    assert page.get_attribute("[data-testid=flow-steps]", "data-stage") == "execution"
    assert page.is_visible("[data-testid=onsite-flow]")
    steps.check("archive-ready")


def test_general_procedure_opened_on_the_phone_and_approved_in_the_console(
    open_page, unit, tmp_path
):
    # the officer fills and signs the 立案审批表 on the phone
    phone = open_page(**PHONE)
    steps = Steps(phone, tmp_path, "filing-phone", 360)
    sign_in(phone, "li", PASSWORD)
    phone.click("[data-testid=btn-new-case]")
    phone.check("[data-testid=procedure-general] input")
    phone.fill("[data-testid=case-title]", "销售过期食品")
    phone.fill("[data-testid=case-party]", "某某食品店")
    phone.select_option("[data-testid=case-party-kind]", "organisation")
    phone.wait_for_selector("[data-testid=partner][data-username=wang]")
    phone.check("[data-testid=partner][data-username=wang] input")
    steps.check("new-case")
    phone.click("[data-testid=btn-open-case]")
    phone.wait_for_selector("[data-testid=doc-form][data-code=filing_approval]")
    assert phone.input_value("[name=cause]") == "销售过期食品"
    assert phone.input_value("[name='party.name']") == "某某食品店"
    assert phone.input_value("[name='party.type']") == "legal"
    phone.fill("[name=summary]", "群众举报该店销售过期酸奶，经现场核实属实。")
    phone.fill("[name=officer_opinion]", "建议立案调查。")
    steps.check("filing-form")
    phone.click("[data-testid=btn-save-doc]")
    phone.click("[data-testid=btn-sign][data-role=officer]")
    sign_with_finger(phone)
    phone.click("[data-testid=btn-sign-confirm]")
    phone.wait_for_selector("[data-testid=sig-role][data-role=officer][data-signed=true]")
    expect(phone.locator("[data-testid=sig-role][data-role=approver]")).to_contain_text("审批人")
    steps.check("filing-signed")

    # the supervisor sees it in the console, adds an officer, approves and signs
    desk = open_page(**CONSOLE)
    console = Steps(desk, tmp_path, "filing-console", 1366)
    sign_in(desk, "zhang", PASSWORD)
    desk.wait_for_selector("[data-testid=console-case]")
    console.check("console-list")
    desk.click("[data-testid=console-case] a")
    approval = desk.wait_for_selector("[data-testid=filing-approval]")
    assert "建议立案调查" in approval.inner_text()
    expect(desk.locator("[data-testid=team-enough]")).to_contain_text("2")
    member = desk.locator("[data-testid=assign-officer][data-username=zhao]")
    expect(member).to_contain_text("未持有执法证")
    assert desk.is_disabled("[data-testid=assign-officer][data-username=zhao] input")
    console.check("case-with-approval")
    # the supervisor adds a third certified officer to the case
    desk.check("[data-testid=assign-officer][data-username=zhou] input")
    desk.click("[data-testid=btn-assign]")
    desk.wait_for_selector("[data-testid=team-member][data-username=zhou]")
    expect(desk.locator("[data-testid=team-enough]")).to_contain_text("3")
    console.check("officers-assigned")
    desk.fill("[data-testid=approver-opinion]", "同意立案，由李明、王芳调查处理。")
    sign_with_mouse(desk)
    console.check("approver-signed")
    desk.click("[data-testid=btn-approve-filing]")
    expect(desk.locator("[data-testid=workflow-panel]")).to_have_attribute(
        "data-stage", "investigation"
    )
    desk.wait_for_selector("[data-testid=filing-approval]", state="detached")
    console.check("approved")


@pytest.fixture
def alone_and_suspended(app, client, unit, users) -> dict:
    """An officer whose credential is suspended, alone on a case opened for them."""
    sun = users.create("sun")
    rename(app, sun, "孙伟")
    issue_credential(client, unit["admin"], sun, "31010120260003")
    [credential] = client.get(
        f"/api/v1/credentials?user_id={sun.id}", headers=unit["admin"].headers
    ).json["items"]
    resp = client.post(
        f"/api/v1/credentials/{credential['id']}/status",
        json={"status": "suspended", "reason": "证件遗失"},
        headers=unit["admin"].headers,
    )
    assert resp.status_code == 200, resp.json
    case = client.post(
        "/api/v1/cases", json={"title": "夜间施工噪声", "procedure": "simple"}, headers=sun.headers
    )
    assert case.status_code == 201, case.json
    return {"officer": sun, "case": case.json}


def test_credential_standing_and_a_lone_officer_are_told_before_recording(
    open_page, alone_and_suspended, tmp_path
):
    page = open_page(**PHONE)
    steps = Steps(page, tmp_path, "told-before-recording", 360)
    sign_in(page, "sun", PASSWORD)
    # at sign-in, in words: suspended, recording still works, the server will refuse it
    standing = page.wait_for_selector("[data-testid=cred-standing]")
    text = standing.inner_text()
    assert "执法证已暂停" in text and "仍可拍摄" in text and "服务器不会接收" in text
    steps.check("signed-in")
    case_id = alone_and_suspended["case"]["id"]
    page.click(f"[data-testid=case-row][data-case-id='{case_id}']")
    page.wait_for_selector("[data-testid=btn-video]")
    # on the capture screen, before any recording: the standing and the lone officer
    assert "执法证已暂停" in page.inner_text("[data-testid=cred-standing]")
    short = page.wait_for_selector("[data-testid=team-short]")
    assert "现场执法的执法人员不得少于2人" in short.inner_text()
    assert "孙伟：执法证已暂停" in short.inner_text()
    assert page.is_enabled("[data-testid=btn-video]")  # evidence is never lost: it records
    steps.check("capture-screen")
