"""The officer PWA on a phone in Debian's Chromium: a second tab of the app leaves a recording
running in the first alone (its Web Lock), and the case screen fits 360 px in English."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, open_case

from .conftest import PHONE, require_browser, sign_in, to_english

pytestmark = pytest.mark.browser
require_browser()

SHANGHAI = {"latitude": 31.2304, "longitude": 121.4737, "accuracy": 12}
VERIFY_TIMEOUT_MS = 30_000


def open_the_case(page, case_id: int) -> None:
    page.click(f"[data-testid=case-row][data-case-id='{case_id}']")
    page.wait_for_selector("[data-testid=btn-photo]")


def queue_states(page) -> list[str]:
    return page.eval_on_selector_all(
        "[data-testid=queue-item]", "els => els.map(e => e.dataset.state)"
    )


def test_a_second_tab_leaves_a_running_recording_alone(open_page, client, users):
    officer = users.create("zhou")
    case = open_case(client, officer)
    tab_a = open_page(**PHONE, geolocation=SHANGHAI, permissions=["geolocation"])
    sign_in(tab_a, "zhou", PASSWORD)
    open_the_case(tab_a, case["id"])
    tab_a.click("[data-testid=btn-video]")
    tab_a.wait_for_selector("[data-testid=rec-indicator]")
    tab_a.wait_for_function(
        "parseFloat(document.querySelector('[data-testid=rec-size]').textContent) > 0"
    )

    # the officer opens the app again in another tab while tab A still records
    tab_b = tab_a.context.new_page()
    errors: list[str] = []
    tab_b.on("pageerror", lambda exc: errors.append(str(exc)))
    tab_b.goto("/")
    tab_b.click("[data-testid=tab-queue]")
    # main() awaits start-up recovery (recoverInterrupted) before it draws anything, so once
    # the item is drawn, recovery has run and left it alone
    tab_b.wait_for_selector("[data-testid=queue-item]")
    assert queue_states(tab_b) == ["recording"]  # not "interrupted", nothing to upload
    assert tab_b.locator("[data-testid=btn-upload-recovered]").count() == 0

    # tab A goes on recording with tab B open: one more slice stored, then stop
    size = tab_a.inner_text("[data-testid=rec-size]")
    tab_a.wait_for_function(
        "size => document.querySelector('[data-testid=rec-size]').textContent !== size", arg=size
    )
    tab_a.click("[data-testid=btn-stop]")
    tab_a.wait_for_selector("[data-testid=capture-overlay]", state="detached")
    tab_a.click("[data-testid=tab-queue]")
    tab_a.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=queue-item]')]"
        ".map(e => e.dataset.state).join() === 'verified'",
        timeout=VERIFY_TIMEOUT_MS,
    )
    shown = tab_a.get_attribute("[data-testid=queue-item]", "data-sha256")
    resp = client.get(f"/api/v1/cases/{case['id']}/media", headers=officer.headers)
    (stored,) = resp.json["items"]
    assert stored["status"] == "verified"
    assert stored["device_sha256"] == shown  # the whole recording, hashed once it ended
    assert not errors, f"JavaScript errors in the second tab: {errors}"


def test_case_screen_fits_a_360_px_phone_in_english(open_page, client, users):
    officer = users.create("li")
    case = open_case(client, officer)
    page = open_page(**PHONE)
    sign_in(page, "li", PASSWORD)
    page.wait_for_selector(f"[data-testid=case-row][data-case-id='{case['id']}']")
    to_english(page)  # the longest activity names
    open_the_case(page, case["id"])
    page.select_option("[data-testid=activity]", "evidence_preservation")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    for picker in ("stage", "activity"):
        box = page.locator(f"[data-testid={picker}]").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360, (picker, box)
