"""The officer PWA in Debian's Chromium: capture video, photo and audio through the UI, watch
the on-device queue upload them, and check the server holds each with the device's SHA-256."""

from __future__ import annotations

import hashlib
import os

import pytest

from tests.conftest import PASSWORD, open_case

from .conftest import expect, require_browser

pytestmark = pytest.mark.browser

require_browser()

SHANGHAI = {"latitude": 31.2304, "longitude": 121.4737, "accuracy": 12}
VERIFY_TIMEOUT_MS = 30_000
CHUNK_BYTES = 8 * 1024 * 1024  # pwa/src/queue.ts CHUNK_BYTES


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(
        base_url=live_server,
        viewport={"width": 360, "height": 740},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        geolocation=SHANGHAI,
        permissions=["geolocation"],
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def sign_in_and_open_case(page, username: str, case_id: int) -> None:
    page.goto("/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.click(f"[data-testid=case-row][data-case-id='{case_id}']")
    page.wait_for_selector("[data-testid=btn-photo]")


def take_photo(page) -> None:
    page.click("[data-testid=btn-photo]")
    page.click("[data-testid=btn-shutter]:not([disabled])")
    page.wait_for_selector("[data-testid=capture-overlay]", state="detached")


def record(page, kind: str, seconds: float) -> None:
    page.click(f"[data-testid=btn-{kind}]")
    indicator = page.wait_for_selector("[data-testid=rec-indicator]")
    assert indicator.is_visible()
    page.wait_for_timeout(seconds * 1000)  # the length of the recording
    # elapsed time and size are shown while recording (the size once a slice is stored, which
    # a loaded machine may not have done yet after a second and a half)
    expect(page.locator("[data-testid=rec-elapsed]")).not_to_have_text("00:00")
    expect(page.locator("[data-testid=rec-size]")).not_to_have_text("0 B")
    page.click("[data-testid=btn-stop]")
    page.wait_for_selector("[data-testid=capture-overlay]", state="detached")


def queue_items(page) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        "[data-testid=queue-item]",
        "els => els.map(e => ({kind: e.dataset.kind, state: e.dataset.state,"
        " sha256: e.dataset.sha256, media: e.dataset.mediaId}))",
    )


def wait_all_verified(page, count: int) -> None:
    page.wait_for_function(
        "n => { const items = document.querySelectorAll('[data-testid=queue-item]');"
        " return items.length === n &&"
        " [...items].every(e => e.dataset.state === 'verified'); }",
        arg=count,
        timeout=VERIFY_TIMEOUT_MS,
    )


def server_media(client, actor, case_id: int) -> list[dict]:
    resp = client.get(f"/api/v1/cases/{case_id}/media", headers=actor.headers)
    assert resp.status_code == 200, resp.json
    return resp.json["items"]


def test_capture_video_photo_audio_upload_and_verify(page, client, users):
    officer = users.create("li")
    case = open_case(client, officer)
    sign_in_and_open_case(page, "li", case["id"])

    record(page, "video", 3)
    take_photo(page)
    record(page, "audio", 1.5)

    page.click("[data-testid=tab-queue]")
    wait_all_verified(page, 3)
    on_page = queue_items(page)
    assert sorted(i["kind"] for i in on_page) == ["audio", "photo", "video"]
    assert page.get_attribute("[data-testid=overall-progress]", "value") == "100"

    items = server_media(client, officer, case["id"])
    assert len(items) == 3
    by_sha = {i["device_sha256"]: i for i in items}
    for shown in on_page:
        item = by_sha[shown["sha256"]]  # the server holds what the page hashed
        assert item["id"] == shown["media"]
        assert item["status"] == "verified"
        assert item["server_sha256"] == shown["sha256"]
        assert item["kind"] == shown["kind"]
        assert item["stage"] == case["current_stage"]
        assert item["activity"] == "onsite_inspection"
        assert item["device_id"].startswith("pwa-")
        assert item["latitude"] == pytest.approx(SHANGHAI["latitude"])
        assert item["accuracy_m"] == pytest.approx(SHANGHAI["accuracy"])


def test_offline_app_shell_and_photo_wait_on_phone_then_upload(page, client, users):
    officer = users.create("wang")
    case = open_case(client, officer)
    sign_in_and_open_case(page, "wang", case["id"])
    # the service worker has precached the app shell, and Chromium finds the app installable
    assert page.evaluate("navigator.serviceWorker.ready.then(r => !!r.active)")
    cdp = page.context.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # Playwright contexts are incognito; everything else must be in order
    assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == []
    manifest = cdp.send("Page.getAppManifest")
    assert not manifest.get("errors"), manifest

    page.context.set_offline(True)
    page.reload()  # the app shell comes from the service worker, cases from IndexedDB
    page.click(f"[data-testid=case-row][data-case-id='{case['id']}']")
    take_photo(page)
    page.click("[data-testid=tab-queue]")
    page.wait_for_selector("[data-testid=queue-item][data-state=on_phone]")
    item = page.locator("[data-testid=queue-item]")
    assert item.count() == 1
    assert "仅在手机上" in item.inner_text()  # shown as "only on the phone"
    page.wait_for_function(
        "document.querySelector('[data-testid=queue-item]').dataset.sha256.length === 64"
    )
    sha = item.get_attribute("data-sha256")
    assert server_media(client, officer, case["id"]) == []

    page.context.set_offline(False)
    wait_all_verified(page, 1)
    (stored,) = server_media(client, officer, case["id"])
    assert stored["status"] == "verified"
    assert stored["device_sha256"] == stored["server_sha256"] == sha


def noise_jpeg(path, width: int = 2400, height: int = 2000) -> None:
    """About 19 MiB of JPEG that no encoder can shrink: three tus chunks of 8 MiB."""
    from PIL import Image

    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(
        path, "JPEG", quality=100, subsampling=0
    )


def test_reload_during_upload_resumes_from_server_offset(page, client, users, tmp_path):
    officer = users.create("zhao")
    case = open_case(client, officer)
    big = tmp_path / "scene.jpg"
    noise_jpeg(big)
    size = big.stat().st_size
    assert size > 2 * CHUNK_BYTES
    calls: list[tuple[str, int | None]] = []  # (method, Upload-Offset) of every tus request

    def watch(request) -> None:
        if "/api/v1/uploads/" in request.url and request.method in ("POST", "HEAD", "PATCH"):
            offset = request.headers.get("upload-offset")
            calls.append((request.method, int(offset) if offset else None))

    # Every chunk after the first waits until the reloaded page has asked the server where it
    # stands (HEAD): otherwise a fast server may take all three chunks before the reload
    # reaches the page, and nothing would be left to resume. A held chunk is never answered;
    # the reload cancels it.
    def hold_later_chunks(route) -> None:
        request = route.request
        offset = request.headers.get("upload-offset")
        if request.method == "PATCH" and offset != "0" and "HEAD" not in [m for m, _ in calls]:
            return
        route.continue_()

    page.on("request", watch)
    page.route("**/api/v1/uploads/*", hold_later_chunks)
    sign_in_and_open_case(page, "zhao", case["id"])
    with page.expect_response(
        lambda r: r.request.method == "PATCH" and r.status == 204, timeout=VERIFY_TIMEOUT_MS
    ):
        page.set_input_files("[data-testid=file-input]", str(big))
    page.reload()  # mid-upload: the first 8 MiB are on the server, the rest is not

    page.click("[data-testid=tab-queue]")
    wait_all_verified(page, 1)
    methods = [method for method, _ in calls]
    assert methods.count("POST") == 1, f"the upload restarted instead of resuming: {calls}"
    assert calls[1] == ("PATCH", 0)
    # after the reload: ask the server where it stands (HEAD), then continue from there
    assert "HEAD" in methods, calls
    resumed = [offset for method, offset in calls[methods.index("HEAD") :] if method == "PATCH"]
    assert resumed and resumed[0] >= CHUNK_BYTES, calls
    (stored,) = server_media(client, officer, case["id"])
    assert stored["status"] == "verified"
    assert stored["size"] == size
    assert stored["device_sha256"] == hashlib.sha256(big.read_bytes()).hexdigest()


def test_interrupted_recording_is_recovered_and_offered_for_upload(page, client, users):
    officer = users.create("zhou")
    case = open_case(client, officer)
    sign_in_and_open_case(page, "zhou", case["id"])
    page.click("[data-testid=btn-video]")
    page.wait_for_selector("[data-testid=rec-indicator]")
    page.wait_for_function(
        "parseFloat(document.querySelector('[data-testid=rec-size]').textContent) > 0"
    )
    # the size counts stored slices: once it grows again, a second slice is on the phone
    size = page.inner_text("[data-testid=rec-size]")
    page.wait_for_function(
        "size => document.querySelector('[data-testid=rec-size]').textContent !== size", arg=size
    )
    page.reload()  # the tab dies mid-recording; the slices written so far are on the phone

    page.click("[data-testid=tab-queue]")
    page.wait_for_selector("[data-testid=queue-item][data-state=interrupted]")
    assert server_media(client, officer, case["id"]) == []
    page.click("[data-testid=btn-upload-recovered]")
    wait_all_verified(page, 1)
    (stored,) = server_media(client, officer, case["id"])
    assert stored["kind"] == "video"
    assert stored["size"] > 0
    assert stored["device_sha256"] == page.get_attribute("[data-testid=queue-item]", "data-sha256")


def test_hash_mismatch_is_sent_again_once(page, client, users):
    officer = users.create("sun")
    case = open_case(client, officer)
    corrupted: list[str] = []

    def corrupt_first_upload(route) -> None:
        body = route.request.post_data_buffer
        if route.request.method == "PATCH" and body and not corrupted:
            corrupted.append(route.request.url)
            body = bytes([body[0] ^ 0xFF]) + body[1:]  # one bit flip on the wire
            route.continue_(post_data=body)
            return
        route.continue_()

    page.route("**/api/v1/uploads/*", corrupt_first_upload)
    sign_in_and_open_case(page, "sun", case["id"])
    take_photo(page)
    page.click("[data-testid=tab-queue]")
    wait_all_verified(page, 1)
    assert len(corrupted) == 1
    sha = page.get_attribute("[data-testid=queue-item]", "data-sha256")
    items = server_media(client, officer, case["id"])
    assert sorted(i["status"] for i in items) == ["hash_mismatch", "verified"]
    assert all(i["device_sha256"] == sha for i in items)


def test_a_photo_is_taken_at_the_cameras_full_resolution(page, client, users):
    """The preview opens at 640x480; the photo is taken at the largest size the camera gives
    (Chromium's fake camera: 3840x2160), and how it was taken goes with the upload."""
    officer = users.create("li")
    case = open_case(client, officer)
    sign_in_and_open_case(page, "li", case["id"])
    take_photo(page)
    page.click("[data-testid=tab-queue]")
    wait_all_verified(page, 1)

    (item,) = server_media(client, officer, case["id"])
    detail = client.get(f"/api/v1/media/{item['id']}", headers=officer.headers).json
    assert (detail["width"], detail["height"]) == (3840, 2160), detail["steps"]
    # Kept on the item as the app sent it (server/services/capture_info.py), nothing dropped.
    capture = detail["capture"]
    assert capture["width"] == 3840 and capture["height"] == 2160
    assert capture["method"] in ("image_capture", "video_frame")
    assert capture["stream_max"] == {"width": 3840, "height": 2160}
    assert capture["camera"]
    assert "capture_info_invalid" not in {f["code"] for f in detail["flags"]}
