"""Who sees what in the console (Chromium, desktop), checked in the page and on the API: an
officer never gets the console's unit-wide views; a supervisor sees only the own unit's cases
(another unit's case or item by its id in the address is "not found"); a legal reviewer lands
on the review queue, a leader on the inbox, an admin on the admin pages and sees no evidence."""

from __future__ import annotations

import pytest

from tests import tus_helpers as tus
from tests.conftest import PASSWORD, open_case, sample_jpeg

from .conftest import DESKTOP, require_browser, sign_in

pytestmark = pytest.mark.browser
require_browser()

API = "/api/v1"


@pytest.fixture
def two_units(client, users):
    """A case with a photo in unit U1 and another in unit U2, each with its own officer."""
    officer1 = users.create("ro_officer1", unit="U1")
    officer2 = users.create("ro_officer2", unit="U2")
    case1 = open_case(client, officer1, title="一单位案件")
    # numbers run per unit; a number of its own makes the search below mean something
    case2 = open_case(client, officer2, title="二单位案件", number="U2-2026-00007")
    media1 = tus.upload(client, officer1, case1["id"], sample_jpeg(64, 48))
    media2 = tus.upload(client, officer2, case2["id"], sample_jpeg(48, 64), device_id="phone-2")
    return {
        "officer1": officer1,
        "case1": case1,
        "case2": case2,
        "media1": media1,
        "media2": media2,
    }


def no_console(page) -> None:
    assert page.locator("[data-testid=console]").count() == 0
    assert page.locator("[data-testid=console-nav]").count() == 0
    assert page.locator("[data-testid=console-cases]").count() == 0
    assert page.locator("[data-testid=switch-console]").count() == 0


def test_an_officer_never_gets_the_console(open_page, client, two_units):
    officer = two_units["officer1"]
    case = two_units["case1"]
    # the API refuses the unit-wide lists
    for path in ("/console/cases", "/console/media"):
        resp = client.get(f"{API}{path}", headers=officer.headers)
        assert resp.status_code == 403, (path, resp.json)
        assert resp.json["error"]["code"] == "role_forbidden"

    page = open_page(**DESKTOP)
    sign_in(page, "ro_officer1", PASSWORD)
    page.wait_for_selector(f"[data-testid=case-row][data-case-id='{case['id']}']")
    no_console(page)
    # typing a console address changes nothing: still the capture app
    for address in ("/#/console", f"/#/console/case/{case['id']}", "/#/console/reviews"):
        page.goto(address)  # a hash change in the running app
        page.wait_for_selector(f"[data-testid=case-row][data-case-id='{case['id']}']")
        no_console(page)
        page.reload()  # and the app starting at that address
        page.wait_for_selector(f"[data-testid=case-row][data-case-id='{case['id']}']")
        no_console(page)


def test_a_supervisor_sees_only_the_own_unit(open_page, client, users, two_units):
    boss = users.create("ro_boss", role="supervisor", unit="U1")
    case1, case2 = two_units["case1"], two_units["case2"]

    listed = client.get(f"{API}/console/cases", headers=boss.headers).json
    assert [c["number"] for c in listed["items"]] == [case1["number"]]
    resp = client.get(f"{API}/cases/{case2['id']}/timeline", headers=boss.headers)
    assert resp.status_code == 404 and resp.json["error"]["code"] == "case_not_found"
    resp = client.get(f"{API}/media/{two_units['media2']}", headers=boss.headers)
    assert resp.status_code == 404 and resp.json["error"]["code"] == "media_not_found"
    media = client.get(f"{API}/console/media", headers=boss.headers).json
    assert [m["id"] for m in media["items"]] == [two_units["media1"]]

    page = open_page(**DESKTOP)
    sign_in(page, "ro_boss", PASSWORD)
    page.wait_for_selector("[data-testid=console-case]")
    numbers = page.eval_on_selector_all(
        "[data-testid=console-case]", "rows => rows.map(r => r.dataset.number)"
    )
    assert numbers == [case1["number"]]
    assert "二单位案件" not in page.inner_text("[data-testid=console]")

    # searching for the other unit's number finds nothing
    page.fill("[data-testid=f-number]", case2["number"])
    page.click("[data-testid=f-search]")
    page.wait_for_selector("[data-testid=console] >> text=没有符合条件的案件。")

    # the other unit's case and item by id in the address: not found, nothing of them shown
    page.goto(f"/#/console/case/{case2['id']}")
    error = page.wait_for_selector("[data-testid=console-error]")
    assert "未找到" in error.inner_text() and "不属于本单位" in error.inner_text()
    assert page.locator("[data-testid=timeline-head]").count() == 0
    page.goto(f"/#/console/media/{two_units['media2']}")
    # the case's error stays until the console has handled the hash change (an event later)
    error.wait_for_element_state("hidden")
    error = page.wait_for_selector("[data-testid=console-error]")
    assert "未找到" in error.inner_text()
    assert page.locator("[data-testid=item-head]").count() == 0

    # the own unit's case opens
    page.goto(f"/#/console/case/{case1['id']}")
    head = page.wait_for_selector("[data-testid=timeline-head]")
    assert case1["number"] in head.inner_text()


def test_each_role_lands_on_its_own_view(open_page, client, users, two_units):
    users.create("ro_legal", role="legal", unit="U1")
    users.create("ro_leader", role="leader", unit="U1")
    admin = users.create("ro_admin", role="admin", unit="U1")

    page = open_page(**DESKTOP)
    sign_in(page, "ro_legal", PASSWORD)
    page.wait_for_selector("[data-testid=queue-empty], [data-testid=review-queue]")
    assert page.evaluate("location.hash") == "#/console/reviews"
    assert page.get_attribute("[data-testid=console-nav-reviews]", "aria-current") == "page"
    assert page.locator("[data-testid=console-nav-inbox]").count() == 0

    page = open_page(**DESKTOP)
    sign_in(page, "ro_leader", PASSWORD)
    page.wait_for_selector("[data-testid=inbox-ready]")
    assert page.evaluate("location.hash") == "#/console/inbox"
    assert page.get_attribute("[data-testid=console-nav-inbox]", "aria-current") == "page"

    # the admin: own pages, and no evidence — not in the page, not from the API
    case, item = two_units["case1"], two_units["media1"]
    for path in (f"/cases/{case['id']}", f"/cases/{case['id']}/timeline", f"/media/{item}"):
        resp = client.get(f"{API}{path}", headers=admin.headers)
        assert resp.status_code == 404, (path, resp.json)
        assert "sha256" not in resp.get_data(as_text=True)
    assert client.get(f"{API}/cases", headers=admin.headers).json["items"] == []
    for path in ("/console/cases", "/console/media"):
        assert client.get(f"{API}{path}", headers=admin.headers).status_code == 403
    resp = client.post(
        f"{API}/media/{item}/playback-url", json={"what": "original"}, headers=admin.headers
    )
    assert resp.status_code in (403, 404), resp.json

    page = open_page(**DESKTOP)
    sign_in(page, "ro_admin", PASSWORD)
    kinds = page.wait_for_selector("[data-testid=admin-kinds]")
    assert page.evaluate("location.hash") == "#/admin"
    no_console(page)
    page.goto(f"/#/console/case/{case['id']}")  # a hash change: the admin pages stay
    kinds.wait_for_element_state("hidden")  # redrawn for the new hash (an event later)
    page.wait_for_selector("[data-testid=admin-kinds]")
    no_console(page)
    page.reload()  # starting at a console address: back to the admin's own
    page.wait_for_selector("[data-testid=admin-kinds]")
    assert page.evaluate("location.hash") == "#/admin"
    no_console(page)
    assert page.locator("img, video, audio").count() == 0
