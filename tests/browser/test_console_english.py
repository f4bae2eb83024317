"""The console in English (Chromium, desktop): a supervisor walks case list → case timeline
(with its position plot: two positioned photos, one without a position) → item page, and a
legal reviewer, a leader and an admin open their own landing pages. The visible text of every
view holds no Chinese: the data seeded here is ASCII, so any CJK character on the page is a
label the English dictionary lacks or a server sentence shown untranslated."""

from __future__ import annotations

import re

import pytest

from tests import tus_helpers as tus
from tests.conftest import PASSWORD, open_case, sample_jpeg

from .conftest import DESKTOP, require_browser, sign_in, to_english

pytestmark = pytest.mark.browser
require_browser()

API = "/api/v1"
CJK = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uf900-\ufaff\uff00-\uffef]")
# The one CJK text an English page is meant to show: the button back to Chinese (i18n `language`).
ALLOWED = ("中文",)
DOC_NUMBER = re.compile(r"\S*〔\d{4}〕\d+号")

# Two photos about 90 m apart near People's Square, Shanghai; the plot spans its 200 m minimum.
FIRST = {"latitude": "31.2304", "longitude": "121.4737", "accuracy_m": "8"}
SECOND = {"latitude": "31.2309", "longitude": "121.4744", "accuracy_m": "15"}


def visible_cjk(page) -> list[str]:
    """Lines of the page's visible text that contain CJK characters (minus ALLOWED)."""
    text = page.inner_text("body")
    for allowed in ALLOWED:
        text = text.replace(allowed, "")
    text = DOC_NUMBER.sub("", text)  # a document number is a name: U1罚〔2026〕1号
    return [line for line in text.splitlines() if CJK.search(line)]


def move_on(client, actor, case_id: int, stage: str) -> None:
    """Advance with written (ASCII) reasons, passing gaps: test set-up only."""
    resp = client.post(
        f"{API}/cases/{case_id}/stage",
        json={
            "to_stage": stage,
            "reason": "test setup",
            "override_reason": "test setup: passing gaps",
        },
        headers=actor.headers,
    )
    assert resp.status_code == 200, resp.json


def test_supervisor_walks_the_console_in_english(open_page, client, users):
    officer = users.create("en_officer")
    users.create("en_boss", role="supervisor")
    case = open_case(
        client, officer, title="Street vending check", case_type="market", location="Nanjing Road"
    )
    first = tus.upload(
        client, officer, case["id"], sample_jpeg(64, 48), filename="first.jpg", **FIRST
    )
    second = tus.upload(
        client, officer, case["id"], sample_jpeg(48, 64), filename="second.jpg", **SECOND
    )
    # the officer refused location for this one: no position, counted under the plot
    tus.upload(
        client,
        officer,
        case["id"],
        sample_jpeg(32, 32),
        filename="third.jpg",
        latitude=None,
        longitude=None,
        accuracy_m=None,
        location_status="refused",
    )

    page = open_page(**DESKTOP)
    sign_in(page, "en_boss", PASSWORD)
    page.wait_for_selector("[data-testid=console-cases]")
    to_english(page)

    # case list
    row = page.wait_for_selector(f"[data-testid=console-case][data-number='{case['number']}']")
    assert "Street vending check" in row.inner_text()
    assert page.inner_text("[data-testid=pager]").startswith("Page 1 of 1")
    assert visible_cjk(page) == []

    # case timeline, with the position plot
    row.click()
    page.wait_for_selector("[data-testid=wf-summary]")  # the workflow panel has loaded
    plot = page.wait_for_selector("[data-testid=timeline-positions] [data-testid=plot-svg]")
    points = plot.query_selector_all("[data-testid=plot-point]")
    assert len(points) == 2
    assert {p.get_attribute("data-media-id") for p in points} == {first, second}
    assert len(plot.query_selector_all("[data-testid=plot-accuracy]")) == 2
    assert plot.query_selector("[data-testid=plot-scale]").text_content() == "100 m"
    assert plot.query_selector("[data-testid=plot-north]").text_content() == "N"
    labels = [t.text_content() for t in plot.query_selector_all(".plot-label")]
    assert all(re.fullmatch(r"\d\d:\d\d Photo", label) for label in labels), labels
    missing = page.inner_text("[data-testid=timeline-positions] [data-testid=plot-missing]")
    assert missing == "1 item(s) not on the map: location refused (1)", missing
    # photos of an on-site inspection without video: a recording gap, said in English
    gap = page.wait_for_selector("[data-testid=gap][data-code=activity_not_filmed]")
    assert "must be filmed" in gap.inner_text()
    assert visible_cjk(page) == []

    # a point on the plot opens its item
    page.click(f"[data-testid=plot-point][data-media-id='{second}'] .plot-dot")
    page.wait_for_selector("[data-testid=item-head]")
    assert page.url.endswith(f"#/console/media/{second}")
    page.wait_for_selector("[data-testid=photo][src]")
    position = page.inner_text("[data-testid=item-position-text]")
    assert position == "31.23090, 121.47440 ±15 m", position
    single = page.wait_for_selector("[data-testid=item-position] [data-testid=plot-svg]")
    assert len(single.query_selector_all("[data-testid=plot-point]")) == 1
    assert single.query_selector("a") is None  # the item's own plot links nowhere
    page.click("[data-testid=custody-show]")
    page.wait_for_selector("[data-testid=custody-entry]")
    assert visible_cjk(page) == []

    # back on the timeline, the third card says why it has no position
    page.click("[data-testid=console-back]")
    page.wait_for_selector("[data-testid=wf-summary]")
    cards = page.inner_text("[data-testid=timeline-stage][data-stage=filing]")
    assert "31.23040, 121.47370 ±8 m" in cards
    assert visible_cjk(page) == []


def test_reviewer_leader_and_admin_pages_in_english(open_page, client, users):
    officer = users.create("en_off2")
    sup = users.create("en_sup2", role="supervisor")
    users.create("en_legal", role="legal")
    users.create("en_leader", role="leader")
    users.create("en_admin", role="admin")
    case = open_case(client, officer, title="Expired food on sale", case_type="food")
    for stage in ("investigation", "evidence", "review"):
        move_on(client, sup, case["id"], stage)
    resp = client.post(
        f"{API}/cases/{case['id']}/legal-reviews",
        json={
            "report": "The shop sold expired milk.",
            "decision_draft": {
                "penalties": [{"kind": "fine", "amount": 5000}],
                "summary": "Fine of 5000 yuan",
                "legal_basis": "Food Safety Law, art. 124",
            },
        },
        headers=officer.headers,
    )
    assert resp.status_code == 201, resp.json
    review_id = resp.json["id"]

    # the legal reviewer: the queue, then the round with its frozen package
    page = open_page(**DESKTOP)
    sign_in(page, "en_legal", PASSWORD)
    page.wait_for_selector("[data-testid=review-queue]")
    to_english(page)
    row = page.wait_for_selector(f"[data-testid=review-row][data-review-id='{review_id}']")
    assert "Expired food on sale" in row.inner_text()
    assert "Waiting for review" in row.inner_text()
    assert visible_cjk(page) == []
    row.click()
    page.wait_for_selector("[data-testid=review-package]")
    page.wait_for_selector("[data-testid=opinion-form]")
    assert visible_cjk(page) == []

    # the leader: the inbox
    page = open_page(**DESKTOP)
    sign_in(page, "en_leader", PASSWORD)
    page.wait_for_selector("[data-testid=inbox-ready]")
    to_english(page)
    page.wait_for_selector("[data-testid=inbox-disagreements] >> text=Nothing waiting.")
    page.wait_for_function(
        "!document.querySelector('[data-testid=inbox-ready]').innerText.includes('Loading')"
    )
    assert visible_cjk(page) == []

    # the admin: the overview of the public pages
    page = open_page(**DESKTOP)
    sign_in(page, "en_admin", PASSWORD)
    page.wait_for_selector("[data-testid=admin-kinds]")
    to_english(page)
    page.wait_for_selector("[data-testid=admin-decision-counts] [data-testid=count-pending]")
    page.wait_for_selector("[data-testid=admin-kind] >> text=Powers and duties")
    assert visible_cjk(page) == []
