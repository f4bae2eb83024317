"""The published yearly report on a 360 px phone in Chromium: no sideways scroll, every chart
image loads, readable contrast."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from PIL import Image

from server.disclosure import report
from server.extensions import db
from server.models import Case, Unit
from tests.conftest import open_case

from .conftest import CHROMIUM, CHROMIUM_ARGS, PHONE
from .test_public_pages import CONTRAST_JS

pytestmark = pytest.mark.browser

YEAR = 2025


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Chromium alone: the report pages need neither the PWA build nor JavaScript."""
    api = pytest.importorskip("playwright.sync_api", reason="Python Playwright missing")
    if not CHROMIUM.exists() or not shutil.which(str(CHROMIUM)):
        pytest.skip("Debian chromium (/usr/bin/chromium) is not installed")
    with api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def published(app, client, users) -> str:
    """A unit with a long name and a long case type, its 2025 report published."""
    officer = users.create("rp_officer", unit="RPB")
    opened = []
    for n, case_type in enumerate(
        ["食品安全"] * 3 + ["特种设备安全监督管理与检验检测" * 2, "价格"]
    ):
        opened.append((open_case(client, officer, case_type=case_type)["id"], n))
    with app.app_context():
        for case_id, n in opened:  # spread over 2025 (Asia/Shanghai)
            db.session.get(Case, case_id).created_at = datetime(2025, 1 + 2 * n, 10, 2, tzinfo=UTC)
        unit = db.session.query(Unit).filter_by(code="RPB").one()
        unit.name = "某某省某某市某某区市场监督管理局综合行政执法大队"
        r = report.draft_report(db.session, unit.id, YEAR)
        report.freeze(db.session, r, None)
        report.publish(db.session, r, None)
        db.session.commit()
    return "RPB"


def test_report_fits_a_360px_phone_and_charts_load(chromium, live_server, published, tmp_path):
    context = chromium.new_context(base_url=live_server, locale="zh-CN", **PHONE)
    try:
        page = context.new_page()
        response = page.goto(f"/public/reports/{YEAR}?unit={published}")
        assert response is not None and response.status == 200
        assert page.evaluate("window.innerWidth") == 360
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= 360, f"the report scrolls sideways: {scroll_width}px"
        images = page.locator("figure img")
        assert images.count() == len(report.CHART_NAMES)
        for i in range(images.count()):
            img = images.nth(i)
            img.scroll_into_view_if_needed()
            img.evaluate("el => el.decode ? el.decode().catch(() => null) : null")
            assert img.evaluate("el => el.complete && el.naturalWidth > 0"), i
            assert img.evaluate("el => el.getBoundingClientRect().right") <= 360
            assert img.get_attribute("alt")
        assert page.evaluate(CONTRAST_JS) == []
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        with Image.open(shot) as image:
            assert image.width == 360
    finally:
        context.close()
