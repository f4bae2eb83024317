"""The officer's receipt on the phone (存证回执): after a photo is verified the queue shows
「已存证」 with the receipt's fingerprint, the same one verify.py prints for the file the
server serves; the public check page says that file is valid. Screenshots at 360×740."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from server.archive import verify as offline
from tests.conftest import open_case

from .conftest import PHONE, expect, require_browser
from .test_pwa_capture import sign_in_and_open_case, take_photo, wait_all_verified

pytestmark = pytest.mark.browser

require_browser()

SHOTS = Path(os.environ.get("FIELDTRACE_SHOTS", "/tmp/fieldtrace-shots"))


def test_the_phone_keeps_the_receipt_and_the_public_page_accepts_it(
    open_page, client, users, tmp_path
):
    officer = users.create("zhao")
    case = open_case(client, officer)
    page = open_page(**PHONE)
    sign_in_and_open_case(page, "zhao", case["id"])
    take_photo(page)
    page.click("[data-testid=tab-queue]")
    wait_all_verified(page, 1)
    line = page.locator("[data-testid=queue-item] [data-testid=receipt]")
    expect(line).to_contain_text("已存证")
    media_id = page.get_attribute("[data-testid=queue-item]", "data-media-id")
    resp = client.get(f"/api/v1/media/{media_id}/receipt", headers=officer.headers)
    assert resp.status_code == 200
    document = json.loads(resp.data)
    fingerprint = offline.receipt_fingerprint(document["receipt"])
    expect(line).to_contain_text(fingerprint)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "receipt-queue-360x740.png"))

    kept = page.evaluate(
        """id => new Promise((resolve, reject) => {
             const open = indexedDB.open("fieldtrace");
             open.onerror = () => reject(open.error);
             open.onsuccess = () => {
               const get = open.result.transaction("queue").objectStore("queue").getAll();
               get.onsuccess = () => resolve(get.result.find((e) => e.mediaId === id).receipt);
             };
           })""",
        media_id,
    )
    assert json.loads(kept)["receipt"] == document["receipt"]

    saved = tmp_path / "receipt.json"
    saved.write_text(kept)
    public = open_page(**PHONE)
    public.goto("/public/receipt")
    public.set_input_files("input[name=file]", str(saved))
    public.click("button[type=submit]")
    expect(public.locator("[data-testid=verdict]")).to_contain_text("有效")
    expect(public.locator("body")).to_contain_text(fingerprint)
    public.screenshot(path=str(SHOTS / "receipt-public-360x740.png"), full_page=True)
