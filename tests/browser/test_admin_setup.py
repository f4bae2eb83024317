"""A new bureau sets itself up in the app, in Chinese, from an empty database (Chromium).

Through the screens only: the first-run form makes the unit (full name, document prefix) and
its first admin; the admin adds the address and phone, creates two officers, issues each a
执法证 with a photo, renews one; an officer opens 亮证 on a phone (its key registers the
device), and the admin revokes that phone. Every step is photographed (1366×900) into the
test's output folder; a console error or English text on a Chinese screen fails the test.
Then the admin screens at 360×740: no sideways scrolling, touch targets at least 44 px.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from .conftest import PHONE, expect, require_browser, sign_in, to_english

pytestmark = pytest.mark.browser
require_browser()

CONSOLE = {"viewport": {"width": 1366, "height": 900}}
ADMIN_PASSWORD = "admin-password-2026"
OFFICER_PASSWORD = "officer-password-2026"
UNIT = "上海市静安区市场监督管理局"
# Latin letters that may stand on a Chinese screen: names of things, not words.
ALLOWED_LATIN = re.compile(
    r"SH-JA|ja_admin|li_ming|wang_fang|JA\d{6}|JPEG|PNG|MB|[0-9a-f]{16,}|https?://\S+"
)


def jpeg_file(tmp_path: Path, name: str, colour: tuple[int, int, int]) -> Path:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (300, 400), colour).save(buf, "JPEG")
    path = tmp_path / name
    path.write_bytes(buf.getvalue())
    return path


class Walk:
    """The page, its console errors, and a numbered screenshot per step."""

    def __init__(self, page, out: Path) -> None:
        self.page = page
        self.out = out
        self.step = 0
        self.console_errors: list[str] = []
        page.on(
            "console",
            lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("dialog", lambda dialog: dialog.accept())

    def shot(self, name: str) -> None:
        """Photograph the step; the screen must be in Chinese and the console clean."""
        self.step += 1
        self.page.screenshot(path=str(self.out / f"{self.step:02d}-{name}.png"), full_page=True)
        assert not self.console_errors, f"console errors at {name}: {self.console_errors}"
        text = self.page.inner_text("body")
        switch = self.page.locator("[data-testid=lang]")
        if switch.count():  # the language switch offers "English" by name
            text = text.replace(switch.first.inner_text(), "", 1)
        latin = re.findall(r"[A-Za-z]{2,}", ALLOWED_LATIN.sub("", text))
        assert not latin, f"English on the Chinese screen at {name}: {latin}"


def test_a_new_unit_sets_itself_up_in_the_app(open_page, tmp_path):
    out = tmp_path / "screens"
    out.mkdir()
    page = open_page(**CONSOLE)
    walk = Walk(page, out)

    # an empty database: the first-run form instead of the sign-in
    page.goto("/")
    page.wait_for_selector("[data-testid=setup-form]")
    assert page.locator("[data-testid=setup-code]").count() == 0  # on the machine itself
    walk.shot("first-run")
    page.fill("[data-testid=setup-unit_name]", UNIT)
    page.fill("[data-testid=setup-short_name]", "沪静市监")
    page.fill("[data-testid=setup-unit_code]", "SH-JA")
    page.fill("[data-testid=setup-username]", "ja_admin")
    page.fill("[data-testid=setup-name]", "张管理")
    page.fill("[data-testid=setup-password]", "short")
    page.click("[data-testid=setup-submit]")
    expect(page.locator("[data-testid=setup-status]")).to_contain_text("至少 10 个字符")
    page.fill("[data-testid=setup-password]", ADMIN_PASSWORD)
    page.click("[data-testid=setup-submit]")
    page.wait_for_selector("[data-testid=admin-kinds]")  # signed in as the unit's admin
    assert page.locator("[data-testid=unit-warning]").count() == 0  # name and prefix are set
    walk.shot("admin-overview")

    # the unit: address and phone; the number preview uses the prefix
    page.click("[data-testid=admin-nav-unit]")
    page.wait_for_selector("[data-testid=unit-form]")
    assert page.input_value("[data-testid=in-name]") == UNIT
    expect(page.locator("[data-testid=number-preview]")).to_contain_text("沪静市监罚〔")
    page.fill("[data-testid=in-address]", "上海市静安区江场三路 1 号")
    page.fill("[data-testid=in-contact_phone]", "021-52580000")
    page.click("[data-testid=unit-save]")
    page.wait_for_selector("[data-testid=unit-saved]")
    walk.shot("unit-saved")

    # two officers, each with a credential and a photo
    officers = [
        ("li_ming", "李明", "JA202601", (180, 40, 40)),
        ("wang_fang", "王芳", "JA202602", (40, 40, 180)),
    ]
    for username, name, number, colour in officers:
        page.click("[data-testid=admin-nav-people]")
        page.wait_for_selector("[data-testid=people-list]")
        page.click("[data-testid=new-person-open]")
        page.fill("[data-testid=new-person] [data-testid=in-username]", username)
        page.fill("[data-testid=new-person] [data-testid=in-name]", name)
        page.select_option("[data-testid=new-person] [data-testid=in-role]", "officer")
        page.fill("[data-testid=new-person] [data-testid=in-password]", OFFICER_PASSWORD)
        walk.shot(f"new-{username}")
        page.click("[data-testid=person-create]")
        page.wait_for_selector("[data-testid=person-head]")
        expect(page.locator("[data-testid=person-head]")).to_contain_text(name)
        assert page.locator("[data-testid=no-credentials]").count() == 1

        page.click("[data-testid=issue-open]")
        page.fill("[data-testid=in-cred_number]", number)
        page.fill("[data-testid=in-cred_authority]", "上海市静安区人民政府")
        page.fill("[data-testid=in-cred_categories]", "市场监管，食品安全")
        page.fill("[data-testid=in-cred_area]", "静安区")
        page.click("[data-testid=cred-issue]")
        card = page.locator(f"[data-testid=credential][data-number={number}]")
        expect(card).to_be_visible()
        expect(card.locator("[data-testid=credential-no-photo]")).to_be_visible()
        card.locator("[data-testid=photo-file]").set_input_files(
            str(jpeg_file(tmp_path, f"{username}.jpg", colour))
        )
        expect(
            page.locator(
                f"[data-testid=credential][data-number={number}] [data-testid=credential-photo]"
            )
        ).to_be_visible()
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=credential-photo]')]"
            ".every(img => img.complete && img.naturalWidth > 0)"
        )
        walk.shot(f"credential-{username}")

    # renew 王芳's credential for a new period: a successor with the same photo
    page.click("[data-testid=renew-open]")
    page.fill("[data-testid=in-renew_number]", "JA202612")
    page.click("[data-testid=cred-renew]")
    renewed = page.locator("[data-testid=credential][data-number=JA202612]")
    expect(renewed.locator("[data-testid=credential-photo]")).to_be_visible()
    assert page.locator("[data-testid=credential]").count() == 2
    walk.shot("credential-renewed")

    page.click("[data-testid=admin-nav-people]")
    page.wait_for_selector("[data-testid=people-list]")
    assert page.locator("[data-testid=person]").count() == 3
    walk.shot("people")

    # 李明 opens 亮证 on his phone: the unit's name, never its code; his phone registers
    phone = open_page(**PHONE)
    phone_errors: list[str] = []
    phone.on("console", lambda m: phone_errors.append(m.text) if m.type == "error" else None)
    sign_in(phone, "li_ming", OFFICER_PASSWORD)
    phone.click("[data-testid=btn-credential]")
    phone.wait_for_selector("[data-testid=cred-qr]")
    screen = phone.inner_text("[data-testid=credential-screen]")
    assert UNIT in screen and "SH-JA" not in screen
    expect(phone.locator("[data-testid=cred-photo]")).to_be_visible()
    phone.screenshot(path=str(out / "officer-credential-phone.png"), full_page=True)
    assert not phone_errors, phone_errors

    # the admin sees the phone and revokes it
    page.click("[data-testid=admin-nav-devices]")
    device = page.locator("[data-testid=device]")
    expect(device).to_have_count(1)
    expect(device.locator("[data-testid=device-state]")).to_have_attribute("data-state", "live")
    assert "李明" in device.inner_text()
    walk.shot("devices")
    device.locator("[data-testid=in-device_reason]").fill("手机遗失")
    device.locator("[data-testid=device-revoke]").click()
    expect(page.locator("[data-testid=device] [data-testid=device-state]")).to_have_attribute(
        "data-state", "revoked"
    )
    assert "手机遗失" in page.inner_text("[data-testid=device]")
    walk.shot("device-revoked")

    # in English: no Chinese on the screens but the names and data the unit entered
    to_english(page)
    data = [
        UNIT,
        "沪静市监",
        "上海市静安区江场三路 1 号",
        "上海市静安区人民政府",
        "市场监管",
        "食品安全",
    ]
    data += ["李明", "王芳", "张管理", "静安区", "手机遗失"]
    for name, go, ready in (
        ("unit", "[data-testid=admin-nav-unit]", "[data-testid=unit-form]"),
        ("people", "[data-testid=admin-nav-people]", "[data-testid=people-list]"),
        ("person", "[data-testid=person][data-username=wang_fang] a", "[data-testid=credential]"),
        ("devices", "[data-testid=admin-nav-devices]", "[data-testid=device]"),
    ):
        page.click(go)
        page.wait_for_selector(ready)
        page.screenshot(path=str(out / f"en-{name}.png"), full_page=True)
        text = re.sub(r"\S*〔\d{4}〕\d+号", "", page.inner_text("[data-testid=admin]"))
        for known in data:
            text = text.replace(known, "")
        chinese = re.findall(r"[\u3400-\u9fff]+", text)
        assert not chinese, f"Chinese on the English {name} screen: {chinese}"
    assert not walk.console_errors, walk.console_errors

    # the admin screens on a 360 px phone: no sideways scrolling, big enough to tap
    small = open_page(**PHONE)
    sign_in(small, "ja_admin", ADMIN_PASSWORD)
    small.wait_for_selector("[data-testid=admin-kinds]")
    for name, go, ready in (
        ("overview", None, "[data-testid=admin-kinds]"),
        ("unit", "[data-testid=admin-nav-unit]", "[data-testid=unit-form]"),
        ("people", "[data-testid=admin-nav-people]", "[data-testid=people-list]"),
        ("person", "[data-testid=person][data-username=wang_fang] a", "[data-testid=credential]"),
        ("devices", "[data-testid=admin-nav-devices]", "[data-testid=device]"),
    ):
        if go:
            small.click(go)
        small.wait_for_selector(ready)
        small.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        small.screenshot(path=str(out / f"phone-{name}.png"), full_page=True)
        overflow = small.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name}: {overflow} px of sideways scrolling at 360 px"
        small_targets = small.evaluate(
            """() => [...document.querySelectorAll(
                    '[data-testid=admin] :is(a, button, input, select, textarea, summary)')]
                .filter(el => el.offsetParent !== null && !el.classList.contains('visually-hidden'))
                .map(el => [el.dataset.testid || el.name || el.textContent.trim().slice(0, 20),
                            el.getBoundingClientRect()])
                .filter(([, r]) => r.height < 44 || r.width < 44)
                .map(([n, r]) => `${n} ${Math.round(r.width)}x${Math.round(r.height)}`)"""
        )
        assert not small_targets, f"{name}: touch targets under 44 px: {small_targets}"
