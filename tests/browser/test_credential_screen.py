"""亮证 in the PWA: the officer opens the credential from any screen, a citizen's plain HTTP
client follows the QR's URL and reads 有效; the token rotates; offline shows a warning."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import date, timedelta

import pytest

from tests.conftest import PASSWORD, open_case

from .conftest import PHONE, require_browser, sign_in

pytestmark = pytest.mark.browser
require_browser()

TODAY = date.today()


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


def test_credential_screen_verifies_publicly_and_rotates(open_page, client, users):
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

    # offline: the last credential stays on screen, with a plain warning
    page.context.set_offline(True)
    page.click("[data-testid=cred-refresh]")
    page.wait_for_selector("[data-testid=cred-offline]")
    assert "离线，二维码可能已过期" in page.inner_text("[data-testid=cred-offline]")
    assert page.is_visible("[data-testid=cred-qr]")
    page.context.set_offline(False)
    page.wait_for_selector("[data-testid=cred-offline]", state="detached")
    page.click("[data-testid=cred-close]")
    page.wait_for_selector("[data-testid=credential-screen]", state="detached")


def test_officer_without_credential_is_told_so(open_page, users):
    users.create("nobody")
    page = open_page(**PHONE)
    sign_in(page, "nobody", PASSWORD)
    page.click("[data-testid=btn-credential]")
    page.wait_for_selector("text=您没有有效的执法证")
    assert page.locator("[data-testid=cred-qr]").count() == 0
