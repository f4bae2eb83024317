"""工作日历 in the admin's screens: the reminder when next year's holiday notice is missing,
importing it from a file with a preview, and a day off of the unit's own; the legal
reviewer's queue shows the same reminder, and a deadline counted over a year with no notice
says it is an estimate."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from server import clock
from tests.conftest import PASSWORD
from tests.test_calendar import NOTICE_2027

from .conftest import DESKTOP, PHONE, expect, require_browser, sign_in

pytestmark = pytest.mark.browser
require_browser()

API = "/api/v1"
# 2 November 2026, 10:00 in Beijing: the 2027 notice is due and not loaded.
NOVEMBER = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


def test_admin_loads_next_years_notice_and_a_day_of_the_units_own(
    open_page, client, users, tmp_path
):
    with clock.travel(NOVEMBER):
        users.create("cal_admin", role="admin", unit="JA")
        users.create("cal_legal", role="legal", unit="JA")
        page = open_page(**DESKTOP)
        sign_in(page, "cal_admin", PASSWORD)
        reminder = page.wait_for_selector("[data-testid=calendar-reminder]")
        assert "2027年的节假日安排尚未导入" in reminder.inner_text()
        page.click("[data-testid=admin-nav-calendar]")
        page.wait_for_selector("[data-testid=national-years]")
        expect(page.locator("[data-testid=year-missing-2027]")).to_contain_text("尚未导入")
        page.screenshot(path=str(tmp_path / "calendar-missing.png"), full_page=True)

        # A file that is not a notice is said so, and nothing can be imported.
        page.fill("[data-testid=notice-json]", "not a notice")
        expect(page.locator("[data-testid=notice-error]")).to_contain_text("内容无法识别")
        assert page.is_disabled("[data-testid=notice-import]")
        notice = tmp_path / "2027.json"
        notice.write_text(json.dumps(NOTICE_2027, ensure_ascii=False), encoding="utf-8")
        page.set_input_files("[data-testid=notice-file]", str(notice))
        preview = page.wait_for_selector("[data-testid=notice-preview]")
        assert "春节" in preview.inner_text() and "2027-02-07 至 2027-02-15，共9天" in (
            preview.inner_text()
        )
        page.screenshot(path=str(tmp_path / "calendar-preview.png"), full_page=True)
        page.click("[data-testid=notice-import]")
        page.wait_for_selector("[data-testid=notice-imported]")
        page.wait_for_selector("[data-testid=year-2027]")
        assert page.locator("[data-testid=calendar-reminder]").count() == 0
        assert "导入" in page.inner_text("[data-testid=year-2027]")

        # A typhoon day of this unit's own.
        page.fill("[data-testid=unit-day]", "2026-11-20")
        page.select_option("[data-testid=unit-day-kind]", "rest")
        page.fill("[data-testid=unit-day-note]", "台风停工")
        page.click("[data-testid=unit-day-save]")
        row = page.wait_for_selector("[data-testid=unit-day-list] tbody tr")
        assert "2026-11-20" in row.inner_text() and "台风停工" in row.inner_text()
        page.screenshot(path=str(tmp_path / "calendar-done.png"), full_page=True)
        state = client.get(
            f"{API}/calendar", headers=users.create("cal_sup", role="supervisor", unit="JA").headers
        ).json
        assert state["items"] == [{"day": "2026-11-20", "is_workday": False, "note": "台风停工"}]

        # The phone-sized screen has no sideways scroll.
        phone = open_page(**PHONE)
        sign_in(phone, "cal_admin", PASSWORD)
        phone.wait_for_selector("[data-testid=admin-nav]")
        phone.goto("/#/admin/calendar")
        phone.wait_for_selector("[data-testid=unit-day-list]")
        phone.screenshot(path=str(tmp_path / "calendar-phone.png"), full_page=True)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360


def test_legal_reviewer_is_reminded_from_november(open_page, users, tmp_path):
    users.create("cal_legal2", role="legal", unit="JB")
    # In October nothing is due yet.
    with clock.travel(datetime(2026, 10, 20, 2, 0, tzinfo=UTC)):
        page = open_page(**DESKTOP)
        sign_in(page, "cal_legal2", PASSWORD)
        page.wait_for_selector("[data-testid=console]")
        page.goto("/#/console/reviews")
        page.wait_for_selector(
            "[data-testid=calendar-reminder-slot][data-loaded]", state="attached"
        )
        assert page.locator("[data-testid=calendar-reminder]").count() == 0
    with clock.travel(NOVEMBER):
        page = open_page(**DESKTOP)
        sign_in(page, "cal_legal2", PASSWORD)
        page.wait_for_selector("[data-testid=console]")
        page.goto("/#/console/reviews")
        reminder = page.wait_for_selector("[data-testid=calendar-reminder]")
        assert "2027年" in reminder.inner_text()
        page.screenshot(path=str(tmp_path / "legal-reminder.png"), full_page=True)
