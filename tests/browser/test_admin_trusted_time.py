"""The admin's overview says whether the audit log has trusted time (RFC 3161), in words:
here with a real authority (openssl ts behind HTTP, tests/tsa.py) that has stamped the head."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from server.extensions import db
from server.services import audit
from tests.conftest import PASSWORD, make_app
from tests.tsa import LocalTsa

from .conftest import DESKTOP, PHONE, expect, require_browser, sign_in, to_english

pytestmark = pytest.mark.browser
require_browser()


@pytest.fixture
def app(app_config, tsa: LocalTsa) -> Iterator:
    app = make_app({**app_config, "TSA_URL": tsa.url, "TSA_CA_FILE": str(tsa.ca_file)})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_overview_says_trusted_time_is_on(app, open_page, users, tmp_path):
    users.create("tt_admin", role="admin", unit="JA")
    with app.app_context():
        audit.record(db.session, actor=None, action="test.event", object_type="t", object_id=1)
        db.session.commit()
    app.extensions["fieldtrace"].jobs.sweep()  # signs the head, then has it time-stamped
    for size, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page = open_page(**size)
        sign_in(page, "tt_admin", PASSWORD)
        status = page.locator("[data-testid=trusted-time]")
        expect(status).to_have_attribute("data-state", "on")
        expect(status).to_contain_text("可信时间已开启")
        page.screenshot(path=str(tmp_path / f"trusted-time-{name}.png"), full_page=True)
    to_english(page)
    expect(page.locator("[data-testid=trusted-time]")).to_contain_text("Trusted time is on")
