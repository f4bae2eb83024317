"""Background Sync in Debian's Chromium: items recorded offline upload from the service worker
after the app was closed, when the network returns, with no page of the app open.

What fires the sync: Chromium's Background Sync waits while the service worker is offline and
fires when it is online again. Playwright's `context.set_offline()` emulates the network on the
service worker's DevTools target too, and Chromium feeds that emulation into Background Sync
(`BackgroundSyncManager::EmulateServiceWorkerOffline`): the registration stays pending while
"offline" and fires when the emulation ends. So the browser's own trigger is used, no CDP
`ServiceWorker.dispatchSyncEvent`, and the worker's code path (`sw.ts` → `background-upload.ts`
→ `tus-lite.ts`) is the real one. Playwright denies every permission a context does not name,
so `background-sync` (allowed by default in Chrome) is granted here; without it the
registration is kept but never fires.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import open_case

from .conftest import require_browser
from .test_pwa_capture import (
    SHANGHAI,
    record,
    server_media,
    sign_in_and_open_case,
    take_photo,
)

pytestmark = pytest.mark.browser

require_browser()

SYNC_TAG = "fieldtrace-upload"  # pwa/src/upload-rules.ts SYNC_TAG
# The worker waits ~5 s to be sure no page of the app is in front, then uploads and asks the
# server for "verified" (the test app verifies inline).
UPLOAD_TIMEOUT_S = 60
# Read the phone's queue from a same-origin page that is not the app (no app code runs there).
READ_QUEUE_JS = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("fieldtrace");
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const tx = open.result.transaction(["queue", "slices"]);
    const entries = tx.objectStore("queue").getAll();
    const slices = tx.objectStore("slices").count();
    tx.oncomplete = () => resolve({ entries: entries.result, slices: slices.result });
  };
})"""


@pytest.fixture
def context(chromium, live_server):
    context = chromium.new_context(
        base_url=live_server,
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        geolocation=SHANGHAI,
        # Playwright grants exactly these and denies the rest; Chrome allows background sync
        # by default, so it is granted here alongside geolocation.
        permissions=["geolocation", "background-sync"],
    )
    yield context
    context.close()


def wait_verified_on_server(client, officer, case_id: int, count: int) -> list[dict]:
    deadline = time.monotonic() + UPLOAD_TIMEOUT_S
    while True:
        items = server_media(client, officer, case_id)
        if len(items) == count and all(i["status"] == "verified" for i in items):
            return items
        assert time.monotonic() < deadline, f"not uploaded by the service worker: {items}"
        time.sleep(0.5)


def test_items_recorded_offline_upload_after_the_app_was_closed(context, client, users):
    officer = users.create("qian")
    case = open_case(client, officer)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in_and_open_case(page, "qian", case["id"])
    assert page.evaluate("navigator.serviceWorker.ready.then(r => !!r.active)")

    context.set_offline(True)
    record(page, "video", 2)
    take_photo(page)
    page.click("[data-testid=tab-queue]")
    page.wait_for_function(
        "() => { const items = document.querySelectorAll('[data-testid=queue-item]');"
        " return items.length === 2 && [...items].every(e =>"
        " e.dataset.state === 'on_phone' && e.dataset.sha256.length === 64); }"
    )
    on_phone = page.eval_on_selector_all(
        "[data-testid=queue-item]",
        "els => els.map(e => ({kind: e.dataset.kind, sha256: e.dataset.sha256}))",
    )
    # the page has handed the waiting items to Background Sync
    page.wait_for_function(
        "tag => navigator.serviceWorker.ready.then(r => r.sync.getTags())"
        ".then(tags => tags.includes(tag))",
        arg=SYNC_TAG,
    )
    page.close()  # the app is closed; the context keeps the service worker and IndexedDB
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert context.pages == []
    assert server_media(client, officer, case["id"]) == []  # nothing went out while offline

    context.set_offline(False)  # the network returns; no page of the app is open
    items = wait_verified_on_server(client, officer, case["id"], 2)
    assert context.pages == []  # so the service worker sent them

    by_sha = {i["device_sha256"]: i for i in items}
    assert set(by_sha) == {i["sha256"] for i in on_phone}  # the device's SHA-256, verified
    for shown in on_phone:
        item = by_sha[shown["sha256"]]
        assert item["server_sha256"] == shown["sha256"]
        assert item["kind"] == shown["kind"]
        # the same Upload-Metadata as the page sends
        assert item["stage"] == case["current_stage"]
        assert item["activity"] == "onsite_inspection"
        assert item["device_id"].startswith("pwa-")
        assert item["latitude"] == pytest.approx(SHANGHAI["latitude"])
        assert item["accuracy_m"] == pytest.approx(SHANGHAI["accuracy"])

    # The worker settles the queue (it writes an entry after the server's answer): both
    # entries verified, and only then the phone copy gone.
    probe = context.new_page()
    probe.goto("/healthz")  # same origin, not the app
    deadline = time.monotonic() + 10
    while True:
        queue = probe.evaluate(READ_QUEUE_JS)
        states = sorted(e["state"] for e in queue["entries"])
        if states == ["verified", "verified"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert states == ["verified", "verified"]
    assert {e["mediaId"] for e in queue["entries"]} == {i["id"] for i in items}
    assert queue["slices"] == 0


def test_a_page_in_front_uploads_itself_while_background_sync_is_allowed(context, client, users):
    """Background Sync allowed and the app open (Chrome's usual case): page and worker are
    both live on reconnect; the page sends the item once with tus-js-client, nothing twice."""
    officer = users.create("zheng")
    case = open_case(client, officer)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page_posts: list[str] = []
    page.on(
        "request",
        lambda r: r.method == "POST" and "/api/v1/uploads/" in r.url and page_posts.append(r.url),
    )
    sign_in_and_open_case(page, "zheng", case["id"])
    assert page.evaluate("navigator.serviceWorker.ready.then(r => !!r.active)")

    context.set_offline(True)
    take_photo(page)
    page.click("[data-testid=tab-queue]")
    page.wait_for_selector("[data-testid=queue-item][data-state=on_phone]")
    page.wait_for_function(
        "tag => navigator.serviceWorker.ready.then(r => r.sync.getTags())"
        ".then(tags => tags.includes(tag))",
        arg=SYNC_TAG,
    )
    context.set_offline(False)
    page.wait_for_selector("[data-testid=queue-item][data-state=verified]", timeout=30_000)
    # The sync fired on reconnect: the worker looks twice for a page in front (sw.ts, 5 s),
    # sees this one and leaves the upload to it. The registration is gone once that event
    # has ended (a failed event keeps it, for a retry after a back-off of minutes).
    page.wait_for_function(
        "tag => navigator.serviceWorker.ready.then(r => r.sync.getTags())"
        ".then(tags => !tags.includes(tag))",
        arg=SYNC_TAG,
        timeout=UPLOAD_TIMEOUT_S * 1000,
    )

    (stored,) = server_media(client, officer, case["id"])
    assert stored["status"] == "verified"
    assert stored["device_sha256"] == page.get_attribute("[data-testid=queue-item]", "data-sha256")
    assert len(page_posts) == 1  # the page's own upload
    assert not errors, f"JavaScript errors on the page: {errors}"
