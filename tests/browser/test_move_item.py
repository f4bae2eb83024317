"""Moving an item from the case timeline (console, Chromium 1366×900): a supervisor moves a
photo the officer filed under 立案 to 取证 with a reason; the move is in its chain of custody;
an archived case shows no move."""

from __future__ import annotations

from pathlib import Path

import pytest

from server import clock
from server.extensions import db
from server.models import Case
from tests import tus_helpers as tus
from tests.conftest import PASSWORD, open_case, sample_jpeg
from tests.workflow_helpers import API, move_case_to

from .conftest import expect, require_browser, sign_in

pytestmark = pytest.mark.browser
require_browser()

CONSOLE = {"viewport": {"width": 1366, "height": 900}}


def test_a_supervisor_moves_an_item_to_another_stage(open_page, app, client, users, tmp_path):
    officer = users.create("mv_officer")
    sup = users.create("mv_sup", role="supervisor")
    cid = open_case(client, officer, title="油烟扰民")["id"]
    move_case_to(client, sup, cid, "evidence")
    item = tus.upload(
        client, officer, cid, sample_jpeg(), stage="filing", activity="evidence_collection"
    )

    page = open_page(**CONSOLE)
    sign_in(page, "mv_sup", PASSWORD)
    expect(page.locator("[data-testid=console-nav-cases]")).to_be_visible()
    page.goto(f"/#/console/case/{cid}")
    card = page.locator(f"[data-testid=movable-item][data-media-id='{item}']")
    expect(page.locator("[data-testid=timeline-stage][data-stage=filing]")).to_contain_text("照片")
    card.locator("[data-testid=btn-move-item]").click()
    form = card.locator("[data-testid=move-item-form]")
    # only the stages the case reached, not where the item already is
    options = form.locator("[data-testid=move-item-stage] option").all_inner_texts()
    assert options == ["调查", "取证"]
    form.locator("[data-testid=move-item-save]").click()
    expect(form.locator("[data-testid=move-item-error]")).to_have_text("请写明改归理由。")
    form.locator("[data-testid=move-item-stage]").select_option("evidence")
    form.locator("[data-testid=move-item-reason]").fill("拍摄于调查取证时，阶段选错")
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "move-item-form.png"))
    Path("/tmp/shots").mkdir(exist_ok=True)
    page.screenshot(path="/tmp/shots/move-item-form.png")
    form.locator("[data-testid=move-item-save]").click()

    moved = page.locator(
        f"[data-testid=timeline-stage][data-stage=evidence] [data-media-id='{item}']"
    ).first
    expect(moved).to_be_visible()
    assert client.get(f"{API}/media/{item}", headers=sup.headers).json["attached_stage"] == (
        "evidence"
    )
    custody = client.get(f"{API}/media/{item}/custody", headers=sup.headers).json["entries"]
    last = [e for e in custody if e["action"] == "media.moved"][-1]
    assert last["details"]["reason"] == "拍摄于调查取证时，阶段选错"
    assert last["details"]["from"] == "filing" and last["details"]["to"] == "evidence"

    # archived: read-only, no move offered
    with app.app_context():
        db.session.get(Case, cid).archived_at = clock.now()
        db.session.commit()
    page.reload()
    expect(page.locator(f"[data-testid=media-card][data-media-id='{item}']")).to_be_visible()
    expect(page.locator("[data-testid=btn-move-item]")).to_have_count(0)
