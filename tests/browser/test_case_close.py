"""The end of a 一般程序 case in the console (Chromium, 1366×900): the supervisor records the
payment at 执行 on screen, archives the case and exports the signed case file."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from server.services.legal_review import CHECKLIST_CODES
from tests.conftest import PASSWORD, open_case
from tests.workflow_helpers import API, Flow, move_case_to, signature_png

from .conftest import expect, require_browser, sign_in

pytestmark = pytest.mark.browser
require_browser()

CONSOLE = {"viewport": {"width": 1366, "height": 900}}


def shot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"))
    Path("/tmp/shots").mkdir(exist_ok=True)
    page.screenshot(path=f"/tmp/shots/{name}.png")


def test_execution_recorded_archived_and_exported_on_screen(open_page, client, users, tmp_path):
    officer = users.create("cc_officer")
    sup = users.create("cc_sup", role="supervisor")
    leader = users.create("cc_leader", role="leader")
    legal = users.create("cc_legal", role="legal")
    cid = open_case(client, officer, title="销售过期食品案")["id"]
    # setup: earlier stages are other tests' subject (with written override reasons)
    move_case_to(client, sup, cid, "review")
    review = client.post(
        f"{API}/cases/{cid}/legal-reviews",
        json={"report": "审查报告", "decision_draft": {"penalties": [{"kind": "warning"}]}},
        headers=officer.headers,
    ).json
    agreed = client.post(
        f"{API}/legal-reviews/{review['id']}/opinion",
        json={
            "outcome": "agree",
            "checklist": [{"item": code, "passed": True} for code in CHECKLIST_CODES],
            "opinion": "同意。",
            "signature": signature_png(),
        },
        headers=legal.headers,
    )
    assert agreed.status_code == 200, agreed.json
    resp = client.post(
        f"{API}/cases/{cid}/stage",
        json={
            "to_stage": "decision",
            "reason": "测试准备",
            "override_reason": "测试准备：越过缺项",
        },
        headers=leader.headers,
    )
    assert resp.status_code == 200, resp.json
    move_case_to(client, sup, cid, "execution")
    Flow(client).full_doc(cid, "closing_report", {"officer": officer, "leader": leader}, officer)

    page = open_page(**CONSOLE)
    sign_in(page, "cc_sup", PASSWORD)
    expect(page.locator("[data-testid=console-nav-cases]")).to_be_visible()
    page.goto(f"/#/console/case/{cid}")
    section = page.locator("[data-testid=wf-execution]")
    expect(section).to_contain_text("尚未登记执行情况")
    section.locator("[data-testid=execution-amount]").fill("五千")
    section.locator("[data-testid=btn-add-execution]").click()
    expect(section.locator("[data-testid=execution-error]")).to_have_text(
        "金额须为数字，最多两位小数。"
    )
    section.locator("[data-testid=execution-kind]").select_option("payment")
    section.locator("[data-testid=execution-amount]").fill("5000")
    section.locator("[data-testid=execution-reference]").fill("缴款书No.0001")
    section.scroll_into_view_if_needed()
    shot(page, tmp_path, "case-close-execution-form")
    section.locator("[data-testid=btn-add-execution]").click()
    record = page.locator("[data-testid=execution-record]")
    expect(record).to_contain_text("已缴纳罚款 5000 元")
    expect(record).to_contain_text("缴款书No.0001")
    records = client.get(f"{API}/cases/{cid}", headers=sup.headers).json["execution_records"]
    assert [(r["kind"], r["amount"], r["reference"]) for r in records] == [
        ("payment", 5000.0, "缴款书No.0001")
    ]

    # archive: the case file is sealed; then export it
    page.click("[data-testid=btn-wf-advance][data-to=archive]")
    expect(page.locator("[data-testid=wf-stage]")).to_have_attribute("data-stage", "archive")
    export = page.locator("[data-testid=btn-export-archive]")
    expect(export).to_be_visible()
    expect(page.locator("[data-testid=btn-add-execution]")).to_have_count(0)
    with page.expect_download() as download:
        export.click()
    expect(page.locator("[data-testid=export-done]")).to_be_visible()
    page.locator("[data-testid=wf-export]").scroll_into_view_if_needed()
    shot(page, tmp_path, "case-close-exported")
    path = download.value.path()
    assert download.value.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(Path(path).read_bytes())) as archive:
        names = archive.namelist()
    assert "manifest.json" in names and any(n.endswith(".pdf") for n in names)
