"""Browser tests run the built PWA (pwa/dist), which the app serves on the API's origin."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

DIST = Path(__file__).resolve().parents[2] / "pwa" / "dist"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def require_browser() -> object:
    """Playwright's sync API, or skip the module when Chromium or the build is missing."""
    api = pytest.importorskip("playwright.sync_api", reason="Python Playwright missing")
    if not CHROMIUM.exists() or not shutil.which(str(CHROMIUM)):
        pytest.skip("Debian chromium (/usr/bin/chromium) is not installed", allow_module_level=True)
    if not (DIST / "index.html").exists():
        pytest.skip(
            "pwa/dist is missing: run `npm ci && npm run build` in pwa/", allow_module_level=True
        )
    return api


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Chromium whose own language is Chinese, as on the phones of the unit's officers: its
    controls (the date field's 年/月/日, a file input's 选择文件) read in Chinese. On Linux that
    comes from LANGUAGE (not --lang, nor the context's locale, which sets navigator.language
    and Accept-Language), given Debian's chromium-l10n."""
    api = require_browser()
    with api.sync_playwright() as p:  # type: ignore[attr-defined]
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            env={**os.environ, "LANGUAGE": "zh_CN:zh"},
        )
        yield browser
        browser.close()


@pytest.fixture
def open_page(chromium, live_server) -> Iterator[Callable[..., object]]:
    """open_page(**context options) → a page on the live server; fails on JavaScript errors."""
    contexts: list[object] = []
    errors: list[str] = []

    def _open(**options: object):
        context = chromium.new_context(base_url=live_server, locale="zh-CN", **options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield _open
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def expect(target: object, message: str | None = None) -> object:
    """Playwright's `expect`: an assertion on the page that retries until it holds or times
    out, given as long as Playwright's actions get (30 s, not its 5 s) for a loaded CI
    machine. Imported on first use, so a module still skips cleanly without Playwright."""
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=30_000)
    return playwright_expect(target, message)


def sign_in(page, username: str, password: str) -> None:
    page.goto("/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def to_english(page) -> None:
    """Switch the app to English and wait for the redraw in English. `lang` changes at once,
    but the screen is redrawn only after the choice is stored (pwa/src/ui.ts), so until the
    button offers 中文 the old screen, its texts and its taps are still there."""
    page.click("[data-testid=lang]")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("[data-testid=lang]")).to_have_text("中文")
