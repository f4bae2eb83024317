"""行政执法公示 pages on a 360 px phone in Chromium: no horizontal scroll, a 360 px wide
screenshot, readable contrast, and nothing about officers beyond the public facts."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from PIL import Image

from server import clock
from server.disclosure import service
from server.extensions import db
from server.models import User
from tests.test_disclosure import (
    POWER_LIST,
    PROCEDURES,
    RANDOM_LIST,
    REMEDIES,
    UNIT_INFO,
    prepare,
)

from .conftest import CHROMIUM, CHROMIUM_ARGS, PHONE

pytestmark = pytest.mark.browser

TODAY = clock.today()
OFFICER_USERNAME = "wang_xiaoming_2026"

# WCAG 2.x contrast of every element that holds text, against its nearest opaque background.
CONTRAST_JS = """
() => {
  const parse = (c) => {
    const p = c.match(/rgba?\\(([^)]+)\\)/)[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const lum = ({ r, g, b }) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.a > 0) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.getBoundingClientRect().width === 0) continue;
    const a = lum(parse(getComputedStyle(el).color));
    const b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) bad.push(`${el.tagName} "${el.textContent.trim().slice(0, 20)}" ${ratio.toFixed(2)}`);
  }
  return bad;
}
"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Chromium alone: these pages need neither the PWA build nor JavaScript."""
    api = pytest.importorskip("playwright.sync_api", reason="Python Playwright missing")
    if not CHROMIUM.exists() or not shutil.which(str(CHROMIUM)):
        pytest.skip("Debian chromium (/usr/bin/chromium) is not installed")
    with api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def phone_page(chromium, live_server) -> Iterator[Callable[[], object]]:
    contexts: list[object] = []

    def _open():
        context = chromium.new_context(base_url=live_server, locale="zh-CN", **PHONE)
        contexts.append(context)
        return context.new_page()

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def seeded(app, client, users) -> dict[str, int]:
    """A unit with every kind of content, one certified officer and decisions."""
    admin = users.create("pd_admin", role="admin", unit="PD")
    officer = users.create(OFFICER_USERNAME, role="officer", unit="PD")
    with app.app_context():
        db.session.get(User, officer.id).name = "王小明"
        db.session.commit()
    long_powers = {
        "items": [
            *POWER_LIST["items"],
            {
                "item": "对未按规定公示年度报告的企业列入经营异常名录" * 2,
                "legal_basis": "《企业信息公示暂行条例》第八条、第十七条；ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                "category": "行政处罚",
            },
        ]
    }
    for kind, body in [
        ("unit_info", UNIT_INFO),
        ("power_list", long_powers),
        ("random_inspection_list", RANDOM_LIST),
        ("procedures", PROCEDURES),
        ("remedies", REMEDIES),
    ]:
        resp = client.put(f"/api/v1/disclosure/{kind}", json=body, headers=admin.headers)
        assert resp.status_code == 200, resp.json
    resp = client.post(
        "/api/v1/credentials",
        json={
            "user_id": officer.id,
            "number": "31010020260001310100202600013101",
            "issuing_authority": "上海市浦东新区人民政府",
            "categories": ["市场监管", "食品安全", "知识产权", "价格监督检查"],
            "area": "浦东新区",
            "valid_from": (TODAY - timedelta(days=30)).isoformat(),
            "valid_to": (TODAY + timedelta(days=700)).isoformat(),
        },
        headers=admin.headers,
    )
    assert resp.status_code == 201, resp.json
    published = prepare(app)
    taken_down = prepare(app, number="沪市监罚〔2026〕99号")
    with app.app_context():
        service.publish_due(db.session, TODAY)
        db.session.commit()
    resp = client.post(
        f"/api/v1/disclosure/decisions/{taken_down}/take-down",
        json={"notice": "该决定已被依法撤销，现予撤下。"},
        headers=admin.headers,
    )
    assert resp.status_code == 200, resp.json
    return {"published": published, "taken_down": taken_down}


def test_public_pages_fit_a_360px_phone(phone_page, seeded, tmp_path):
    paths = [
        "/public/",
        "/public/units/PD/",
        "/public/units/PD/officers",
        "/public/units/PD/powers",
        "/public/units/PD/random-inspections",
        "/public/units/PD/procedures",
        "/public/units/PD/remedies",
        "/public/units/PD/decisions",
        f"/public/decisions/{seeded['published']}",
        f"/public/decisions/{seeded['taken_down']}",
        "/public/units/NOPE/",
    ]
    page = phone_page()
    for n, path in enumerate(paths):
        response = page.goto(path)
        assert response is not None
        assert response.status == (404 if "NOPE" in path else 200), path
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        assert page.evaluate("window.innerWidth") == 360
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= 360, f"{path} scrolls sideways: {scroll_width}px"
        assert page.evaluate(CONTRAST_JS) == [], path
        shot = tmp_path / f"page-{n}.png"
        page.screenshot(path=str(shot), full_page=True)
        with Image.open(shot) as image:
            assert image.width == 360, path


def test_procedure_chart_loads_as_an_image(phone_page, seeded):
    page = phone_page()
    page.goto("/public/units/PD/procedures")
    images = page.locator("figure img")
    assert images.count() == 2
    for i in range(2):
        img = images.nth(i)
        assert img.get_attribute("alt").endswith(("送达执行", "当场作出决定"))
        # loading="lazy" images do not hold the load event, so wait for this one.
        img.scroll_into_view_if_needed()
        page.wait_for_function(
            "el => el.complete && el.naturalWidth > 0",
            arg=img.element_handle(),
            timeout=10_000,
        )
        assert img.evaluate("el => el.getBoundingClientRect().right") <= 360


def test_officers_page_shows_no_username(phone_page, seeded):
    page = phone_page()
    page.goto("/public/units/PD/officers")
    text = page.inner_text("body")
    assert "王小明" in text and "31010020260001310100202600013101" in text
    assert "市场监管" in text and "浦东新区" in text
    assert OFFICER_USERNAME not in text.lower()
    assert OFFICER_USERNAME not in page.content().lower()
    assert "pd_admin" not in page.content()
