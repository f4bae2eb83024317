"""The console's item view says how the app took a photo (the upload's ``capture``
metadata), in Chinese and in English, at a 1366×900 desktop (screenshots to
FIELDTRACE_SHOTS)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests import tus_helpers as tus
from tests.conftest import PASSWORD, open_case, sample_jpeg

from .conftest import require_browser, sign_in, to_english

pytestmark = pytest.mark.browser
require_browser()

SHOTS = Path(os.environ.get("FIELDTRACE_SHOTS", "/tmp/fieldtrace-shots"))
STILL = {
    "method": "image_capture",
    "width": 4000,
    "height": 3000,
    "facing": "environment",
    "zoom": 1,
    "camera": "camera2 0, facing back",
}


def test_item_view_says_how_the_photo_was_taken(open_page, client, users):
    officer = users.create("cap_officer")
    users.create("cap_boss", role="supervisor")
    case = open_case(client, officer, title="Street vending check")
    item_id = tus.upload(
        client, officer, case["id"], sample_jpeg(64, 48), capture=json.dumps(STILL)
    )
    picked = tus.upload(client, officer, case["id"], sample_jpeg(48, 64))  # no capture

    page = open_page(viewport={"width": 1366, "height": 900})
    sign_in(page, "cap_boss", PASSWORD)
    page.wait_for_selector("[data-testid=console-cases]")
    page.evaluate(f"location.hash = '#/console/media/{item_id}'")
    said = page.wait_for_selector("[data-testid=capture-info]")
    page.wait_for_selector("[data-testid=photo][src]")
    assert said.inner_text() == "相机原图 4000×3000 · 后置摄像头 · “camera2 0, facing back”"
    SHOTS.mkdir(parents=True, exist_ok=True)
    said.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "console-capture-zh.png"))

    to_english(page)
    page.wait_for_function(
        "document.querySelector('[data-testid=capture-info]')?.textContent"
        ".startsWith('camera still')"
    )
    text = page.inner_text("[data-testid=capture-info]")
    assert text == "camera still 4000×3000 · rear camera · “camera2 0, facing back”", text
    page.locator("[data-testid=capture-info]").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "console-capture-en.png"))

    page.evaluate(f"location.hash = '#/console/media/{picked}'")
    page.wait_for_function(
        "document.querySelector('[data-testid=capture-info]')?.textContent === '—'"
    )
