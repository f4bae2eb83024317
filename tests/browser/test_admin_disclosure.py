"""行政执法公示 from the admin's screens (Chromium, desktop): add a row to the 权责清单 and
see the public page show it with its update time; find where a planted phone number blocks a
decision, fix the text, publish it and read it on the public page; take it down with a notice."""

from __future__ import annotations

from datetime import datetime

import pytest

from server import clock
from tests.conftest import PASSWORD
from tests.test_disclosure import PLANTED_PHONE, POWER_LIST, prepare

from .conftest import DESKTOP, require_browser, sign_in

pytestmark = pytest.mark.browser
require_browser()

API = "/api/v1"


def local(at_iso: str) -> str:
    return datetime.fromisoformat(at_iso).astimezone(clock.ZONE).strftime("%Y-%m-%d %H:%M")


def test_admin_edits_the_power_list_and_publishes_a_fixed_decision(open_page, app, client, users):
    admin = users.create("pd_admin", role="admin", unit="PD")
    saved = client.put(f"{API}/disclosure/power_list", json=POWER_LIST, headers=admin.headers)
    assert saved.status_code == 200 and saved.json["version"] == 1
    facts = f"当事人张三（联系电话{PLANTED_PHONE}）在未取得营业执照的情况下从事经营活动。"
    decision_id = prepare(app, facts=facts)
    blocked = client.get(f"{API}/disclosure/decisions/{decision_id}", headers=admin.headers).json
    assert blocked["status"] == "blocked"

    page = open_page(**DESKTOP)
    sign_in(page, "pd_admin", PASSWORD)
    # admins land on their own pages (no evidence, no case list)
    kinds = page.wait_for_selector("[data-testid=admin-kinds]")
    assert "权责清单" in kinds.inner_text()
    assert page.locator("[data-testid=console]").count() == 0
    assert page.get_attribute("[data-testid=admin-public-link]", "href") == "/public/units/PD/"
    assert "已拦截 1" in page.inner_text("[data-testid=count-blocked]")

    # 权责清单: add a third row and save it as version 2
    page.click("[data-testid=admin-kind][data-kind=power_list] a")
    page.wait_for_selector("[data-testid=content-form][data-kind=power_list]")
    assert page.locator("[data-testid=list-row]").count() == 2
    assert page.input_value("[name='items.0.item']") == "对无照经营的处罚"
    page.click("[data-testid=row-add][data-path=items]")
    page.fill("[name='items.2.item']", "对销售过期食品的处罚")
    page.fill("[name='items.2.legal_basis']", "《食品安全法》第一百二十四条")
    page.click("[data-testid=content-save]")  # the category is still empty: said next to it
    error = page.locator("[data-error-for='items.2.category']")
    error.wait_for(state="visible")
    assert "必填" in error.inner_text()
    page.fill("[name='items.2.category']", "行政处罚")
    page.click("[data-testid=content-save]")
    page.wait_for_selector("[data-testid=content-saved][data-version='2']")
    assert page.locator("[data-testid=content-version]").count() == 2

    latest = client.get(f"{API}/disclosure/power_list", headers=admin.headers).json
    assert latest["version"] == 2
    assert latest["content"]["items"][2] == {
        "item": "对销售过期食品的处罚",
        "legal_basis": "《食品安全法》第一百二十四条",
        "category": "行政处罚",
    }
    assert "第2版" in page.inner_text("[data-testid=content-updated]")
    assert (
        page.get_attribute("[data-testid=content-public-link]", "href") == "/public/units/PD/powers"
    )

    public = open_page(**DESKTOP)
    public.goto("/public/units/PD/powers")
    text = public.inner_text("main")
    assert "对销售过期食品的处罚" in text and "《食品安全法》第一百二十四条" in text
    assert f"最后更新：{local(latest['created_at'])}" in text

    # the blocked decision: where the phone number is, masked
    page.click("[data-testid=admin-nav-decisions]")
    page.click("[data-testid=pd-filter-blocked]")
    page.click(f"[data-testid=pd-row][data-decision-id='{decision_id}'][data-status=blocked]")
    hit = page.wait_for_selector("[data-testid=hit][data-field=body][data-kind=phone]")
    sentence = hit.inner_text()
    assert "正文第2行" in sentence and "疑似电话号码" in sentence and "5678" in sentence
    assert PLANTED_PHONE not in sentence
    hit.query_selector("[data-testid=hit-locate]").click()
    selected = page.evaluate(
        "() => { const t = document.querySelector('[data-testid=edit-body]');"
        " return t.value.slice(t.selectionStart, t.selectionEnd); }"
    )
    assert selected == PLANTED_PHONE

    # publishing as it is: refused, and the place is shown again
    page.click("[data-testid=btn-publish]")
    page.wait_for_selector("[data-testid=decision-status] >> text=未发布")
    assert page.locator("[data-testid=hit][data-kind=phone]").count() == 1

    # fixed and published
    body = page.input_value("[data-testid=edit-body]")
    page.fill("[data-testid=edit-body]", body.replace(PLANTED_PHONE, "（已隐去）"))
    page.click("[data-testid=btn-publish]")  # saves the text first, then publishes
    page.wait_for_selector("[data-testid=pd-status][data-status=published]")
    link = page.get_attribute("[data-testid=public-decision-link]", "href")
    assert link == f"/public/decisions/{decision_id}"
    published = client.get(f"{API}/disclosure/decisions/{decision_id}", headers=admin.headers).json
    assert published["status"] == "published" and published["block_hits"] == []
    assert "（已隐去）" in published["body"]

    public.goto(link)
    html = public.content()
    assert "张某无证经营案" in html and "（已隐去）" in html
    assert PLANTED_PHONE not in html and "张三" not in html

    # taken down with a public notice
    page.on("dialog", lambda dialog: dialog.accept())
    page.fill("[data-testid=takedown-notice-text]", "该决定已被依法撤销。")
    page.click("[data-testid=btn-take-down]")
    page.wait_for_selector("[data-testid=pd-status][data-status=taken_down]")
    later = open_page(**DESKTOP)  # the public pages are cacheable for 5 minutes: a new visitor
    later.goto(link)
    assert "该决定已被依法撤销。" in later.inner_text("main")
