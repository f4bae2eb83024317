"""文书 on the officer's phone (360 px, touch): open a case in investigation, fill the
现场检查(勘验)笔录 generated from the document types, have the officer and the party sign on the
screen, issue it, show the party the handover QR code; then read the case's completeness."""

from __future__ import annotations

import io
import re
import urllib.request
from itertools import pairwise

import pytest

from tests.conftest import PASSWORD, open_case
from tests.test_documents_registry import COMPANY
from tests.workflow_helpers import Flow

from .conftest import PHONE, require_browser, sign_in, to_english

pytestmark = pytest.mark.browser
require_browser()

API = "/api/v1"
NUMBER = re.compile(r"检〔\d{4}〕1号")
# A zigzag across the pad, as fractions of its width and height.
SCRIBBLE = [
    (0.1, 0.7),
    (0.2, 0.3),
    (0.32, 0.75),
    (0.45, 0.35),
    (0.6, 0.72),
    (0.75, 0.3),
    (0.9, 0.65),
]


def case_in_investigation(client, officer, supervisor) -> dict:
    """A general-procedure case whose filing the supervisor approved (立案审批表 issued)."""
    case = open_case(client, officer)
    flow = Flow(client)
    flow.full_doc(
        case["id"], "filing_approval", {"officer": officer, "approver": supervisor}, creator=officer
    )
    flow.advance(supervisor, case["id"], "investigation")
    return case


def pad_points(page) -> list[tuple[float, float]]:
    canvas = page.locator("[data-testid=sig-canvas]")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box and box["width"] >= 300 and box["height"] >= 140, box
    return [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in SCRIBBLE]


def sign_with_mouse(page) -> None:
    points = pad_points(page)
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=6)
    page.mouse.up()


def sign_with_finger(page) -> None:
    """Real touch input (touchStart, touchMove…, touchEnd) through the DevTools protocol."""
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


def assert_fits_phone(page) -> None:
    """Nothing sticks out sideways at 360 px, on the page or inside the open sheet."""
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.evaluate(
        "[...document.querySelectorAll('.sheet')].every(s => s.scrollWidth <= s.clientWidth)"
    )


def signature_pngs(app, doc_id: str) -> list[bytes]:
    from server.extensions import db
    from server.models import DocumentSignature
    from server.runtime import runtime

    with app.app_context():
        rows = db.session.query(DocumentSignature).filter_by(document_id=doc_id).all()
        storage = runtime().storage
        return [
            storage.get_bytes(s.bucket, s.object_key, version_id=s.object_version) for s in rows
        ]


def is_blank(png: bytes) -> bool:
    """The server's rule: transparent is white paper; blank is one uniform light colour."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        rgba = image.convert("RGBA")
    paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    low, high = Image.alpha_composite(paper, rgba).convert("L").getextrema()
    return low == high or low >= 240


def test_officer_fills_signs_issues_and_hands_over_an_inspection_record(
    open_page, app, client, users
):
    officer = users.create("wangwu")
    supervisor = users.create("zhaoliu", role="supervisor")
    case = case_in_investigation(client, officer, supervisor)

    page = open_page(**PHONE, device_scale_factor=3)
    sign_in(page, "wangwu", PASSWORD)
    page.click(f"[data-testid=case-row][data-case-id='{case['id']}']")
    page.click("[data-testid=btn-documents]")
    page.click("[data-testid=doc-type][data-code=onsite_inspection_record]")

    # the form generated from GET /document-types
    page.wait_for_selector("[data-testid=doc-form][data-code=onsite_inspection_record]")
    assert page.get_attribute("[name=inspected_at]", "type") == "datetime-local"
    assert page.input_value("[name=inspected_at]")  # the record is written on the spot
    assert page.locator("[data-testid=list-row]").count() == 2  # at least two inspectors
    page.fill("[name=inspected_at]", "2026-11-21T09:30")
    page.fill("[name=place]", "某市某区工业园8号仓库")
    page.select_option("[name='party.type']", "legal")
    page.fill("[name='party.name']", "某某食品有限公司")
    page.fill("[name='inspectors.0.name']", "王五")
    page.fill("[name='inspectors.0.badge_number']", "31010020260001")
    page.fill("[name='inspectors.1.name']", "赵六")
    page.click("[data-testid=row-add]")  # a third row, then changed my mind
    assert page.locator("[data-testid=list-row]").count() == 3
    page.locator("[data-testid=row-remove]").nth(2).click()
    assert page.locator("[data-testid=list-row]").count() == 2
    page.fill("[name=findings]", "仓库内存放超过保质期的酸奶共计12箱。")
    assert_fits_phone(page)

    # 已出示执法证件 must be true: only the server knows; its 422 shows next to the checkbox
    page.click("[data-testid=btn-save-doc]")
    error = page.locator("[data-error-for=credential_shown]")
    error.wait_for(state="visible")
    assert "必须为“是”" in error.inner_text()
    assert page.get_attribute("[name=credential_shown]", "aria-invalid") == "true"
    assert (
        client.get(f"{API}/cases/{case['id']}/documents", headers=officer.headers).json["items"][
            -1
        ]["type"]
        == "filing_approval"
    )
    page.check("[name=credential_shown]")
    page.click("[data-testid=btn-save-doc]")

    # signatures: the officer (mouse), then the party (finger) on the same phone
    page.wait_for_selector("[data-testid=sig-role][data-role=officer][data-signed=false]")
    assert page.is_disabled("[data-testid=btn-issue]")
    page.click("[data-testid=btn-sign][data-role=officer]")
    assert page.input_value("[data-testid=signer-name]") == "Wangwu"
    assert page.is_disabled("[data-testid=btn-sign-confirm]")  # nothing drawn yet
    assert_fits_phone(page)
    sign_with_mouse(page)
    page.click("[data-testid=btn-sign-confirm]")
    page.wait_for_selector("[data-testid=sig-role][data-role=officer][data-signed=true]")

    page.click("[data-testid=btn-sign][data-role=party]")
    assert page.input_value("[data-testid=signer-name]") == "某某食品有限公司"
    sign_with_finger(page)
    page.click("[data-testid=sig-clear]")  # the party starts over
    assert page.is_disabled("[data-testid=btn-sign-confirm]")
    sign_with_finger(page)
    page.click("[data-testid=btn-sign-confirm]")
    page.wait_for_selector("[data-testid=sig-role][data-role=party][data-signed=true]")

    page.click("[data-testid=btn-issue]")
    number = page.wait_for_selector("[data-testid=doc-number]").inner_text()
    assert NUMBER.search(number), number
    assert_fits_phone(page)

    # the party scans the QR code to take a copy
    page.click("[data-testid=btn-handover]")
    qr = page.wait_for_selector("[data-testid=handover-qr]")
    page.wait_for_function("document.querySelector('[data-testid=handover-qr]').naturalWidth > 0")
    assert qr.is_visible()
    assert qr.get_attribute("src").startswith("data:image/svg+xml;base64,")
    box = qr.bounding_box()
    assert box and box["width"] >= 250  # large enough to scan from across a counter
    assert "有效至" in page.inner_text("[data-testid=handover-expires]")
    assert "分" in page.inner_text("[data-testid=handover-countdown]")
    assert_fits_phone(page)
    url = qr.get_attribute("data-url")
    assert "/public/documents/" in url
    with urllib.request.urlopen(url, timeout=10) as resp:  # no login: the party's phone
        assert resp.read(5) == b"%PDF-"

    # what the server holds
    docs = client.get(f"{API}/cases/{case['id']}/documents", headers=officer.headers).json
    (doc,) = [d for d in docs["items"] if d["type"] == "onsite_inspection_record"]
    assert doc["status"] == "issued"
    assert NUMBER.search(doc["number"]) and doc["number"] == number
    assert doc["fields"]["inspected_at"].startswith("2026-11-21T09:30:00")
    assert [i["name"] for i in doc["fields"]["inspectors"]] == ["王五", "赵六"]
    # the form knew the party from the 立案审批表 (prefill): confirmed, not typed again
    assert doc["fields"]["party"] == COMPANY
    assert doc["fields"]["credential_shown"] is True
    assert sorted((s["role"], s["signer_name"]) for s in doc["signatures"]) == [
        ("officer", "Wangwu"),
        ("party", "某某食品有限公司"),
    ]
    assert all(s["device_signed_at"] for s in doc["signatures"])
    pngs = signature_pngs(app, doc["id"])
    assert len(pngs) == 2
    assert not any(is_blank(png) for png in pngs)
    from PIL import Image

    with Image.open(io.BytesIO(pngs[0])) as image:
        assert image.width >= 900  # drawn at the phone's 3× pixel ratio, not blurred up

    # completeness: the record is there, its on-site video is not
    page.click("[data-testid=sheet-back]")
    page.click("[data-testid=btn-open-completeness]")
    video = page.locator(
        "[data-testid=stage-block][data-stage=investigation] "
        "[data-testid=requirement][data-code=document_not_filmed][data-met=false]"
    )
    video.wait_for(state="visible")
    assert "《现场检查(勘验)笔录》须附现场检查视频" in video.inner_text()
    assert "尚缺" in video.inner_text()
    met = page.locator(
        "[data-testid=stage-block][data-stage=investigation] "
        "[data-testid=requirement][data-code=document_missing]"
    )
    assert met.get_attribute("data-met") == "true"
    assert_fits_phone(page)

    # the officer tries to move on anyway (the reason is theirs to write while items are
    # missing): the server's reasons are listed
    page.fill("[data-testid=advance-reason]", "现场检查已完成，申请进入取证阶段。")
    page.click("[data-testid=btn-advance]")
    missing = page.locator("[data-testid=advance-missing]")
    missing.wait_for(state="visible")
    assert "须附现场检查视频" in missing.inner_text()
    case_now = client.get(f"{API}/cases/{case['id']}", headers=officer.headers).json
    assert case_now["current_stage"] == "investigation"


def test_completeness_from_the_case_screen_advances_when_nothing_is_missing(
    open_page, client, users
):
    officer = users.create("sunqi")
    supervisor = users.create("zhouba", role="supervisor")
    case = open_case(client, officer)
    Flow(client).full_doc(
        case["id"], "filing_approval", {"officer": officer, "approver": supervisor}, creator=officer
    )

    # the officer sees the filing is complete but only the supervisor may approve it onward
    page = open_page(**PHONE)
    sign_in(page, "sunqi", PASSWORD)
    page.click(f"[data-testid=case-row][data-case-id='{case['id']}']")
    page.click("[data-testid=btn-completeness]")
    page.wait_for_selector(
        "[data-testid=stage-block][data-stage=filing] details[open] "
        "[data-testid=requirement][data-met=true]"
    )
    assert "执法机构负责人" in page.inner_text("[data-testid=advance-not-allowed]")
    assert page.is_disabled("[data-testid=btn-advance]")
    assert_fits_phone(page)

    page.click("[data-testid=sheet-back]")
    to_english(page)
    page.click("[data-testid=btn-completeness]")
    page.wait_for_selector("[data-testid=completeness-summary]")
    assert "Investigation" in page.inner_text("[data-testid=can-advance]")

    # the supervisor, on the same phone, moves the case on
    page.click("[data-testid=sheet-back]")
    page.click("text=Sign out")
    page.wait_for_selector("input[name=username]")  # the stored session is gone
    sign_in(page, "zhouba", PASSWORD)
    page.click("[data-testid=switch-capture]")
    page.click(f"[data-testid=case-row][data-case-id='{case['id']}']")
    page.click("[data-testid=btn-completeness]")
    page.click("[data-testid=btn-advance]:not([disabled])")
    page.wait_for_selector("[data-testid=advance-done]")
    assert (
        client.get(f"{API}/cases/{case['id']}", headers=officer.headers).json["current_stage"]
        == "investigation"
    )
    assert (
        page.get_attribute("[data-testid=stage-block][data-stage=investigation]", "class")
        .split()
        .count("current")
        == 1
    )
