"""亮证 in the PWA: the officer opens the credential from any screen, a citizen's plain HTTP
client follows the QR's URL and reads 有效; the token rotates; offline shows a warning."""

from __future__ import annotations

import io
import json
import re
import urllib.request
from datetime import timedelta

import pytest

from server import clock
from tests.conftest import PASSWORD, open_case

from .conftest import PHONE, require_browser, sign_in

pytestmark = pytest.mark.browser
require_browser()

TODAY = clock.today()


def issue_credential(client, admin, officer_id: int) -> dict:
    resp = client.post(
        "/api/v1/credentials",
        json={
            "user_id": officer_id,
            "number": "31010020260001",
            "issuing_authority": "上海市浦东新区人民政府",
            "categories": ["市场监管", "食品安全"],
            "area": "浦东新区",
            "valid_from": (TODAY - timedelta(days=30)).isoformat(),
            "valid_to": (TODAY + timedelta(days=700)).isoformat(),
        },
        headers=admin.headers,
    )
    assert resp.status_code == 201, resp.json
    return resp.json


def verdict(html: str) -> str:
    match = re.search(r'<h1 class="verdict[^"]*" id="verdict">(.*?)</h1>', html, re.S)
    assert match, html
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:  # no Authorization: a citizen's phone
        assert resp.status == 200
        return resp.read().decode()


def test_credential_screen_verifies_publicly_and_rotates(open_page, client, users, tmp_path):
    admin = users.create("adm", role="admin")
    officer = users.create("wangxiaoming")
    issue_credential(client, admin, officer.id)
    case = open_case(client, officer)
    page = open_page(**PHONE)
    sign_in(page, "wangxiaoming", PASSWORD)

    # one tap from every screen: case list, case, queue
    page.wait_for_selector("[data-testid=case-row]")  # officers land on their cases
    assert page.locator("[data-testid=switch-console], [data-testid=console]").count() == 0
    assert page.is_visible("[data-testid=btn-credential]")
    page.click(f"[data-testid=case-row][data-case-id='{case['id']}']")
    assert page.is_visible("[data-testid=btn-credential]")
    page.click("[data-testid=tab-queue]")
    page.click("[data-testid=btn-credential]")

    qr = page.wait_for_selector("[data-testid=cred-qr]")
    page.wait_for_function("document.querySelector('[data-testid=cred-qr]').naturalWidth > 0")
    assert qr.is_visible()
    assert page.inner_text("[data-testid=cred-name]") == "Wangxiaoming"
    assert page.inner_text("[data-testid=cred-number]") == "31010020260001"
    assert page.inner_text("[data-testid=cred-status]") == "有效"
    body = page.inner_text("[data-testid=credential-screen]")
    assert "市场监管、食品安全" in body and "浦东新区" in body
    assert "秒后失效" in page.inner_text("[data-testid=cred-countdown]")
    # portrait at 360 px: nothing sticks out sideways, the QR fits the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.eval_on_selector("[data-testid=credential-screen]", "e => e.scrollWidth") <= 360
    box = qr.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["width"] >= 200
    # at 360×740 the whole QR and the validity dates are on screen without scrolling, and a
    # date never breaks over two lines ("2028-12 / -31")
    assert page.eval_on_selector("[data-testid=credential-screen]", "e => e.scrollTop") == 0
    for part in ("cred-qr", "cred-validity"):
        shown = page.locator(f"[data-testid={part}]").bounding_box()
        assert shown and shown["y"] >= 0 and shown["y"] + shown["height"] <= 740, (part, shown)
        assert shown["x"] >= 0 and shown["x"] + shown["width"] <= 360, (part, shown)
    dates = page.eval_on_selector_all(
        "[data-testid=cred-validity] .nowrap", "els => els.map(e => e.getClientRects().length)"
    )
    assert dates == [1, 1], dates
    assert page.inner_text("[data-testid=cred-validity]") == (
        f"{TODAY - timedelta(days=30)} — {TODAY + timedelta(days=700)}"
    )
    page.screenshot(path=str(tmp_path / "credential-360x740.png"))

    verify_url = qr.get_attribute("data-verify-url")
    first_token = qr.get_attribute("data-token")
    assert verify_url and first_token and first_token in verify_url
    html = fetch(verify_url)
    assert verdict(html) == "✓ 有效" and "Wangxiaoming" in html and "31010020260001" in html
    facts = json.loads(fetch(verify_url + ".json"))
    assert facts["valid"] is True and facts["credential"]["name"] == "Wangxiaoming"

    # a refresh brings a new token (tokens carry their expiry second)
    page.wait_for_timeout(1100)
    page.click("[data-testid=cred-refresh]")
    page.wait_for_function(
        "t => document.querySelector('[data-testid=cred-qr]').dataset.token !== t",
        arg=first_token,
    )
    second_url = page.get_attribute("[data-testid=cred-qr]", "data-verify-url")
    assert second_url != verify_url and verdict(fetch(second_url)) == "✓ 有效"

    # offline: the credential stays on screen, the QR switches to the phone's own code, and
    # the screen says so plainly (test_offline_code_verifies checks that code)
    page.context.set_offline(True)
    page.click("[data-testid=cred-refresh]")
    page.wait_for_selector("[data-testid=cred-qr][data-mode=offline]")
    assert "离线码" in page.inner_text("[data-testid=cred-offline]")
    assert page.is_visible("[data-testid=cred-qr]")
    page.context.set_offline(False)
    page.wait_for_selector("[data-testid=cred-offline]", state="detached")
    page.wait_for_selector("[data-testid=cred-qr][data-mode=online]")
    page.click("[data-testid=cred-close]")
    page.wait_for_selector("[data-testid=credential-screen]", state="detached")


def test_officer_without_credential_is_told_so(open_page, users):
    users.create("nobody")
    page = open_page(**PHONE)
    sign_in(page, "nobody", PASSWORD)
    page.click("[data-testid=btn-credential]")
    page.wait_for_selector("text=您没有有效的执法证")
    assert page.locator("[data-testid=cred-qr]").count() == 0


def test_offline_code_verifies(open_page, client, users):
    """No network on the phone: it makes its own code, which an online phone verifies."""
    admin = users.create("adm", role="admin")
    officer = users.create("wangxiaoming")
    issue_credential(client, admin, officer.id)
    page = open_page(**PHONE)
    sign_in(page, "wangxiaoming", PASSWORD)

    # once online: the phone registers its key and caches a device certificate
    page.click("[data-testid=btn-credential]")
    page.wait_for_selector("[data-testid=cred-qr][data-mode=online]")
    keys = client.get("/api/v1/device-keys", headers=officer.headers).json["items"]
    assert len(keys) == 1 and keys[0]["last_certified_at"] and not keys[0]["revoked_at"]
    page.click("[data-testid=cred-close]")

    page.context.set_offline(True)
    page.click("[data-testid=btn-credential]")
    page.wait_for_selector("[data-testid=cred-qr][data-mode=offline]")
    qr = page.locator("[data-testid=cred-qr]")  # a locator: the screen redraws the image
    page.wait_for_function("document.querySelector('[data-testid=cred-qr]').naturalWidth > 0")
    assert page.inner_text("[data-testid=cred-offline-badge]") == "离线码"
    assert page.is_visible("[data-testid=cred-offline-badge]")
    assert "离线码" in page.inner_text("[data-testid=cred-offline]")
    assert re.search(r"离线码 \d+ 秒后更新", page.inner_text("[data-testid=cred-countdown]"))
    assert page.inner_text("[data-testid=cred-name]") == "Wangxiaoming"
    box = qr.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["width"] >= 200

    # the citizen's phone is online: it opens the URL in the QR code. Both read at once: the
    # phone makes a new code every 30 s and redraws the image with it.
    url, token = qr.evaluate("img => [img.dataset.verifyUrl, img.dataset.token]")
    assert url and "/public/credentials/offline/" in url
    assert token and token in url
    html = fetch(url)
    assert verdict(html) == "✓ 有效" and "离线出示" in html
    assert "Wangxiaoming" in html and "31010020260001" in html
    facts = json.loads(fetch(url + ".json"))
    assert facts["valid"] is True and facts["offline"] is True

    # revoking the phone's key (a lost phone) stops its offline codes at the next scan
    resp = client.post(
        f"/api/v1/device-keys/{keys[0]['id']}/revoke",
        json={"reason": "手机遗失"},
        headers=admin.headers,
    )
    assert resp.status_code == 200
    html = fetch(url)
    assert verdict(html) == "✗ 无效" and "出示设备已停用" in html

    # back online, the screen shows the server's token again
    page.context.set_offline(False)
    page.wait_for_selector("[data-testid=cred-qr][data-mode=online]")
    page.wait_for_selector("[data-testid=cred-offline]", state="detached")


def test_offline_without_a_certificate_says_what_to_do(open_page, client, users):
    admin = users.create("adm", role="admin")
    officer = users.create("wangxiaoming")
    issue_credential(client, admin, officer.id)
    page = open_page(**PHONE)
    sign_in(page, "wangxiaoming", PASSWORD)
    page.wait_for_selector("[data-testid=btn-credential]")
    page.context.set_offline(True)
    page.click("[data-testid=btn-credential]")
    page.wait_for_selector("text=离线码不可用")
    assert "联网时打开一次" in page.inner_text("[data-testid=cred-offline]")
    assert page.locator("[data-testid=cred-qr]").count() == 0


def test_going_offline_with_the_screen_open_switches_to_offline_codes(open_page, client, users):
    """The network goes while 亮证 is on screen: without a tap, the phone's own code shows."""
    admin = users.create("adm", role="admin")
    officer = users.create("wangxiaoming")
    issue_credential(client, admin, officer.id)
    page = open_page(**PHONE)
    sign_in(page, "wangxiaoming", PASSWORD)
    page.click("[data-testid=btn-credential]")
    page.wait_for_selector("[data-testid=cred-qr][data-mode=online]")

    page.context.set_offline(True)  # no refresh tapped
    page.wait_for_selector("[data-testid=cred-qr][data-mode=offline]", timeout=5000)
    assert "离线码" in page.inner_text("[data-testid=cred-offline]")
    assert page.inner_text("[data-testid=cred-status]") == "有效"

    page.context.set_offline(False)
    page.wait_for_selector("[data-testid=cred-qr][data-mode=online]")
    page.wait_for_selector("[data-testid=cred-offline]", state="detached")


def test_offline_after_the_last_valid_day_shows_expired_and_no_code(open_page, client, users):
    """Offline, the phone judges the credential's last valid day itself (Asia/Shanghai)."""
    admin = users.create("adm", role="admin")
    officer = users.create("wangxiaoming")
    resp = client.post(
        "/api/v1/credentials",
        json={
            "user_id": officer.id,
            "number": "31010020260002",
            "issuing_authority": "上海市浦东新区人民政府",
            "categories": ["市场监管"],
            "area": "浦东新区",
            "valid_from": (TODAY - timedelta(days=30)).isoformat(),
            "valid_to": (TODAY + timedelta(days=1)).isoformat(),
        },
        headers=admin.headers,
    )
    assert resp.status_code == 201, resp.json
    page = open_page(**PHONE)
    sign_in(page, "wangxiaoming", PASSWORD)
    page.click("[data-testid=btn-credential]")  # online once: cached, with a certificate
    page.wait_for_selector("[data-testid=cred-qr][data-mode=online]")
    page.click("[data-testid=cred-close]")

    page.context.set_offline(True)
    page.clock.install()  # the phone's clock, three days on: past valid_to
    page.clock.set_system_time(page.evaluate("Date.now()") / 1000 + 3 * 24 * 3600)  # seconds
    page.click("[data-testid=btn-credential]")
    page.wait_for_selector("[data-testid=cred-offline]")
    page.wait_for_function(
        "document.querySelector('[data-testid=cred-status]')?.textContent === '已过期'"
    )
    assert "已过期" in page.inner_text("[data-testid=cred-offline]")
    assert page.locator("[data-testid=cred-qr]").count() == 0


def put_photo(client, admin, credential_id: int) -> str:
    from PIL import Image

    buf = io.BytesIO()
    img = Image.new("RGB", (300, 400), (40, 80, 160))
    img.paste((240, 200, 160), (90, 80, 210, 240))  # a face, roughly
    img.save(buf, "JPEG")
    resp = client.put(
        f"/api/v1/credentials/{credential_id}/photo",
        data=buf.getvalue(),
        headers={**admin.headers, "Content-Type": "image/jpeg"},
    )
    assert resp.status_code == 200, resp.json
    return resp.json["photo_sha256"]


def test_photo_on_the_screen_offline_too_and_on_the_public_page(open_page, client, users):
    admin = users.create("adm", role="admin")
    officer = users.create("wangxiaoming")
    credential = issue_credential(client, admin, officer.id)
    put_photo(client, admin, credential["id"])
    page = open_page(**PHONE)
    sign_in(page, "wangxiaoming", PASSWORD)

    page.click("[data-testid=btn-credential]")
    page.wait_for_selector("[data-testid=cred-qr][data-mode=online]")
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=cred-photo]');"
        " return i && i.complete && i.naturalHeight === 600; }"
    )
    photo = page.locator("[data-testid=cred-photo]")
    assert photo.get_attribute("alt") == "执法人员照片"
    assert photo.get_attribute("src").startswith("blob:")  # kept on the phone, not re-fetched
    box = photo.bounding_box()
    assert box and box["height"] >= 100 and box["x"] >= 0 and box["x"] + box["width"] <= 360
    verify_url = page.get_attribute("[data-testid=cred-qr]", "data-verify-url")
    assert "/public/verify/" in verify_url  # the short path
    page.click("[data-testid=cred-close]")

    # no network: the photo comes from IndexedDB
    page.context.set_offline(True)
    page.click("[data-testid=btn-credential]")
    page.wait_for_selector("[data-testid=cred-offline]")
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=cred-photo]');"
        " return i && i.complete && i.naturalHeight === 600; }"
    )
    page.context.set_offline(False)
    page.click("[data-testid=cred-close]")

    # the citizen's phone: a fresh browser, no login, opens the QR's URL
    citizen = open_page(**PHONE)
    citizen.goto(verify_url)
    assert verdict(citizen.content()) == "✓ 有效"
    citizen.wait_for_function(
        "() => { const i = document.querySelector('img[alt=执法人员照片]');"
        " return i && i.complete && i.naturalHeight === 600; }"
    )
    img = citizen.locator("img[alt=执法人员照片]")
    assert img.is_visible()
    box = img.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360
    assert citizen.evaluate("document.documentElement.scrollWidth") <= 360


def test_no_photo_no_frame(open_page, client, users):
    admin = users.create("adm", role="admin")
    officer = users.create("wangxiaoming")
    issue_credential(client, admin, officer.id)
    page = open_page(**PHONE)
    sign_in(page, "wangxiaoming", PASSWORD)
    page.click("[data-testid=btn-credential]")
    page.wait_for_selector("[data-testid=cred-qr][data-mode=online]")
    assert page.locator("[data-testid=cred-photo]").count() == 0
    citizen = open_page(**PHONE)
    citizen.goto(page.get_attribute("[data-testid=cred-qr]", "data-verify-url"))
    assert verdict(citizen.content()) == "✓ 有效"
    assert citizen.locator("img").count() == 0


def test_a_suspended_officer_is_told_why_and_may_still_record(open_page, client, users):
    admin = users.create("adm", role="admin")
    officer = users.create("wangxiaoming")
    credential = issue_credential(client, admin, officer.id)
    case = open_case(client, officer)
    resp = client.post(
        f"/api/v1/credentials/{credential['id']}/status",
        json={"status": "suspended", "reason": "暂停执法资格"},
        headers=admin.headers,
    )
    assert resp.status_code == 200
    page = open_page(**PHONE)
    sign_in(page, "wangxiaoming", PASSWORD)
    page.click(f"[data-testid=case-row][data-case-id='{case['id']}']")
    page.click("[data-testid=btn-credential]")
    banner = page.wait_for_selector("[data-testid=cred-standing]")
    text = banner.inner_text()
    assert "您没有有效的执法证" in text and "已暂停" in text and "仍可拍摄" in text
    assert page.locator("[data-testid=cred-qr]").count() == 0
    page.click("[data-testid=cred-close]")
    # the phone does not block recording: the server decides (and the queue keeps the item)
    assert page.locator("[data-testid=credential-screen]").count() == 0
    standing = page.evaluate(
        """async (key) => {
            const db = await new Promise((ok, err) => {
                const r = indexedDB.open("fieldtrace");
                r.onsuccess = () => ok(r.result);
                r.onerror = () => err(r.error);
            });
            const row = await new Promise((ok) => {
                const r = db.transaction("settings").objectStore("settings").get(key);
                r.onsuccess = () => ok(r.result);
            });
            return row && row.value;
        }""",
        f"credential_standing:{officer.id}",
    )
    assert standing["valid"] is False and standing["reason"] == "suspended"


def test_display_on_a_case_records_where_when_allowed(app, open_page, client, users):
    import sqlalchemy as sa

    from server.extensions import db
    from server.models import AuditEntry

    admin = users.create("adm", role="admin")
    officer = users.create("wangxiaoming")
    issue_credential(client, admin, officer.id)
    case = open_case(client, officer)
    page = open_page(
        **PHONE,
        permissions=["geolocation"],
        geolocation={"latitude": 31.2304, "longitude": 121.4737, "accuracy": 15},
    )
    sign_in(page, "wangxiaoming", PASSWORD)
    page.click(f"[data-testid=case-row][data-case-id='{case['id']}']")
    page.click("[data-testid=btn-credential]")
    page.wait_for_selector("[data-testid=cred-qr][data-mode=online]")
    with app.app_context():
        details = (
            db.session.execute(
                sa.select(AuditEntry.details)
                .where(
                    AuditEntry.action == "case.credential_displayed",
                    AuditEntry.object_id == str(case["id"]),
                )
                .order_by(AuditEntry.seq)
            )
            .scalars()
            .first()
        )
    assert details["position"] == {"latitude": 31.2304, "longitude": 121.4737, "accuracy_m": 15}


def test_capture_without_valid_credential_stays_on_the_phone(app, open_page, client, users):
    """持证上岗 end to end: the phone records, the server refuses, the item stays and says why."""
    import dataclasses

    rt = app.extensions["fieldtrace"]
    rt.uploads = dataclasses.replace(rt.uploads, require_credential=True)
    officer = users.create("wangxiaoming")  # never issued a credential
    case = open_case(client, officer)
    page = open_page(
        **PHONE, permissions=["geolocation"], geolocation={"latitude": 31.2, "longitude": 121.5}
    )
    sign_in(page, "wangxiaoming", PASSWORD)
    page.click(f"[data-testid=case-row][data-case-id='{case['id']}']")
    page.click("[data-testid=btn-photo]")
    page.click("[data-testid=btn-shutter]:not([disabled])")
    page.wait_for_selector("[data-testid=capture-overlay]", state="detached")
    page.click("[data-testid=tab-queue]")
    item = page.wait_for_selector("[data-testid=queue-item][data-state=error]", timeout=30_000)
    text = item.inner_text()
    assert "持证上岗" in text and "未持有执法证" in text
    resp = client.get(f"/api/v1/cases/{case['id']}/media", headers=officer.headers)
    assert resp.json["items"] == []
