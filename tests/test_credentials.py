"""执法证 and 亮证: issuing, status, the holder's QR display and the public check of a scan."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from server.cli import main as cli_main
from server.extensions import db
from server.models import AuditEntry, Credential, Unit, User, utcnow
from server.services import audit
from server.services import credentials as credential_service
from server.services.credentials import TokenProblem

TODAY = date.today()
VERIFY_PREFIX = "http://localhost/public/credentials/verify/"


def _credential_body(user_id: int, number: str = "31010020260001", **extra: Any) -> dict:
    return {
        "user_id": user_id,
        "number": number,
        "issuing_authority": "上海市浦东新区人民政府",
        "categories": ["市场监管", "食品安全"],
        "area": "浦东新区",
        "valid_from": (TODAY - timedelta(days=30)).isoformat(),
        "valid_to": (TODAY + timedelta(days=700)).isoformat(),
        **extra,
    }


def _rename(app, user_id: int, name: str, unit_name: str | None = None) -> None:
    with app.app_context():
        user = db.session.get(User, user_id)
        user.name = name
        if unit_name:
            db.session.get(Unit, user.unit_id).name = unit_name
        db.session.commit()


def _verdict(html: str) -> str:
    match = re.search(r'<h1 class="verdict[^"]*" id="verdict">(.*?)</h1>', html, re.S)
    assert match, html
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def _mint(app, credential_id: int, now, secret: str | None = None) -> str:
    with app.app_context():
        credential = db.session.get(Credential, credential_id)
        token, _ = credential_service.display_token(
            credential, now, secret_key=secret or app.config["SECRET_KEY"]
        )
        return token


def _actions(app, object_id: int | str) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEntry)
            .where(AuditEntry.object_type == "credential", AuditEntry.object_id == str(object_id))
            .order_by(AuditEntry.seq)
        ).scalars()
        out = list(rows)
        for row in out:
            db.session.expunge(row)
        return out


@pytest.fixture
def people(app, users):
    admin = users.create("admin1", role="admin", unit="PD")
    officer = users.create("wang_officer", role="officer", unit="PD")
    colleague = users.create("zhao_officer", role="officer", unit="PD")
    outsider = users.create("qian_officer", role="officer", unit="XH")
    other_admin = users.create("admin2", role="admin", unit="XH")
    _rename(app, officer.id, "王小明", "浦东新区市场监督管理局")
    return {
        "admin": admin,
        "officer": officer,
        "colleague": colleague,
        "outsider": outsider,
        "other_admin": other_admin,
    }


@pytest.fixture
def issued(client, people) -> dict:
    resp = client.post(
        "/api/v1/credentials",
        json=_credential_body(people["officer"].id),
        headers=people["admin"].headers,
    )
    assert resp.status_code == 201, resp.json
    return resp.json


def test_issue_display_and_public_page(app, client, people, issued):
    officer = people["officer"]
    assert issued["status"] == "active" and issued["user_id"] == officer.id
    assert issued["valid_from"] == (TODAY - timedelta(days=30)).isoformat()
    assert issued["categories"] == ["市场监管", "食品安全"]

    resp = client.get("/api/v1/me/credential", headers=officer.headers)
    assert resp.status_code == 200, resp.json
    shown = resp.json
    assert resp.headers["Cache-Control"] == "no-store"
    assert shown["name"] == "王小明" and shown["unit_name"] == "浦东新区市场监督管理局"
    assert shown["number"] == "31010020260001" and shown["status"] == "active"
    assert shown["categories"] == ["市场监管", "食品安全"] and shown["area"] == "浦东新区"
    assert shown["valid_from"] == issued["valid_from"] and shown["valid_to"] == issued["valid_to"]
    assert shown["token_ttl_seconds"] == 120
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", shown["token"])
    assert shown["verify_url"] == VERIFY_PREFIX + shown["token"]
    assert shown["qr_svg"].startswith("<svg") and shown["qr_svg"].rstrip().endswith("</svg>")
    assert 'viewBox="' in shown["qr_svg"] and "<path" in shown["qr_svg"]

    # A citizen's camera opens the URL: no login.
    page = client.get(shown["verify_url"].removeprefix("http://localhost"))
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert _verdict(html) == "✓ 有效"
    for fact in (
        "王小明",
        "31010020260001",
        "上海市浦东新区人民政府",
        "浦东新区市场监督管理局",
        "市场监管、食品安全",
        "浦东新区",
        issued["valid_from"],
        issued["valid_to"],
        "北京时间",
    ):
        assert fact in html, fact
    for private in ("wang_officer", "user_id", "username", "admin1", "officer", "<script"):
        assert private not in html, private
    assert "无效" not in html

    english = client.get(f"/public/credentials/verify/{shown['token']}?lang=en")
    text = english.get_data(as_text=True)
    assert '<html lang="en">' in text and _verdict(text) == "✓ Valid"
    assert "王小明" in text and "Beijing time" in text

    # The JSON variant states the same facts, and nothing more.
    machine = client.get(f"/public/credentials/verify/{shown['token']}.json")
    assert machine.status_code == 200 and machine.headers["Cache-Control"] == "no-store"
    body = machine.json
    assert body["valid"] is True and body["reason"] is None
    assert body["credential"] == {
        "name": "王小明",
        "number": "31010020260001",
        "issuing_authority": "上海市浦东新区人民政府",
        "unit_name": "浦东新区市场监督管理局",
        "categories": ["市场监管", "食品安全"],
        "area": "浦东新区",
        "valid_from": issued["valid_from"],
        "valid_to": issued["valid_to"],
    }
    assert body["checked_at_local"] in html
    assert "wang_officer" not in machine.get_data(as_text=True)

    entries = _actions(app, issued["id"])
    assert [e.action for e in entries] == [
        "credential.issued",
        "credential.displayed",
        "credential.verified_publicly",
        "credential.verified_publicly",
        "credential.verified_publicly",
    ]
    assert entries[0].actor == "admin1" and entries[0].details["number"] == "31010020260001"
    assert entries[1].actor == "wang_officer"
    public = entries[2]
    assert public.actor_id is None and public.client_addr == "127.0.0.1"
    assert public.details == {"result": "valid", "number": "31010020260001", "channel": "html"}
    assert entries[4].details["channel"] == "json"
    with app.app_context():
        assert audit.verify_chain(db.session).ok


def test_expired_token_is_refused(app, client, people, issued):
    old = _mint(app, issued["id"], utcnow() - timedelta(seconds=121))
    html = client.get(f"/public/credentials/verify/{old}").get_data(as_text=True)
    assert _verdict(html) == "✗ 无效"
    assert "已过期的二维码" in html and "王小明" not in html and "31010020260001" not in html
    body = client.get(f"/public/credentials/verify/{old}.json").json
    assert body == {
        "valid": False,
        "reason": "expired_token",
        "reason_text": "已过期的二维码",
        "checked_at": body["checked_at"],
        "checked_at_local": body["checked_at_local"],
        "credential": None,
    }
    assert client.get(f"/public/credentials/verify/{old}.json?lang=en").json["reason_text"] == (
        "Expired QR code"
    )
    # Just inside its two minutes, the same kind of token still works.
    fresh = _mint(app, issued["id"], utcnow() - timedelta(seconds=100))
    assert client.get(f"/public/credentials/verify/{fresh}.json").json["valid"] is True
    results = [e.details["result"] for e in _actions(app, issued["id"])[1:]]
    assert results == ["expired_token", "expired_token", "expired_token", "valid"]


def test_forged_or_modified_tokens_are_refused(app, client, people, issued):
    good = _mint(app, issued["id"], utcnow())
    flipped = good[:10] + ("A" if good[10] != "A" else "B") + good[11:]
    other_key = _mint(app, issued["id"], utcnow(), secret="not-the-server-secret")
    junk = good[:20] + "!" + good[20:]  # would decode to the same bytes if not strict
    for bad in (flipped, other_key, junk, good[:-2], good + "AA", "abc", "!!!!", "x" * 300):
        body = client.get(f"/public/credentials/verify/{bad}.json").json
        assert body["valid"] is False and body["reason"] == "forged", bad
        assert body["credential"] is None
        html = client.get(f"/public/credentials/verify/{bad}").get_data(as_text=True)
        assert _verdict(html) == "✗ 无效" and "无法识别" in html

    # A forged token naming a real credential id with a later expiry is still refused.
    with app.app_context():
        now = utcnow()
        assert (
            credential_service.verify_display_token(
                db.session, flipped, now, secret_key="test-secret"
            )
            is TokenProblem.FORGED
        )
        ghost = Credential(id=987654)
        token, _ = credential_service.display_token(ghost, now, secret_key="test-secret")
        assert (
            credential_service.verify_display_token(
                db.session, token, now, secret_key="test-secret"
            )
            is TokenProblem.UNKNOWN
        )
    body = client.get(f"/public/credentials/verify/{token}.json").json
    assert body["reason"] == "unknown" and body["reason_text"] == "无法识别"
    with app.app_context():
        unattributed = db.session.execute(
            sa.select(sa.func.count()).where(
                AuditEntry.action == "credential.verified_publicly", AuditEntry.object_id == "-"
            )
        ).scalar_one()
    assert unattributed == 17  # every refused scan is audited, none tied to a credential


def test_suspend_reactivate_and_revoke(app, client, people, issued):
    admin, officer = people["admin"], people["officer"]
    token = client.get("/api/v1/me/credential", headers=officer.headers).json["token"]
    url = f"/public/credentials/verify/{token}"

    resp = client.post(
        f"/api/v1/credentials/{issued['id']}/status",
        json={"status": "suspended", "reason": "涉嫌违纪，暂停执法资格"},
        headers=admin.headers,
    )
    assert resp.status_code == 200 and resp.json["status"] == "suspended"
    html = client.get(url).get_data(as_text=True)
    assert _verdict(html) == "✗ 无效" and "证件已暂停" in html and "王小明" not in html
    assert client.get(f"{url}.json").json["reason"] == "suspended"
    assert "Credential suspended" in client.get(f"{url}?lang=en").get_data(as_text=True)
    missing = client.get("/api/v1/me/credential", headers=officer.headers)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "no_active_credential"

    again = client.post(
        f"/api/v1/credentials/{issued['id']}/status",
        json={"status": "suspended", "reason": "x"},
        headers=admin.headers,
    )
    assert again.status_code == 409 and again.json["error"]["code"] == "status_unchanged"

    back = client.post(
        f"/api/v1/credentials/{issued['id']}/status",
        json={"status": "active", "reason": "调查结束，恢复"},
        headers=admin.headers,
    )
    assert back.status_code == 200 and back.json["status"] == "active"
    assert client.get(f"{url}.json").json["valid"] is True

    revoked = client.post(
        f"/api/v1/credentials/{issued['id']}/status",
        json={"status": "revoked", "reason": "调离执法岗位"},
        headers=admin.headers,
    )
    assert revoked.status_code == 200
    assert "证件已注销" in client.get(url).get_data(as_text=True)
    final = client.post(
        f"/api/v1/credentials/{issued['id']}/status",
        json={"status": "active", "reason": "误操作"},
        headers=admin.headers,
    )
    assert final.status_code == 409 and final.json["error"]["code"] == "credential_revoked"

    changes = [
        e.details for e in _actions(app, issued["id"]) if e.action == "credential.status_changed"
    ]
    assert [(c["from"], c["to"]) for c in changes] == [
        ("active", "suspended"),
        ("suspended", "active"),
        ("active", "revoked"),
    ]
    assert changes[0]["reason"] == "涉嫌违纪，暂停执法资格"


def test_outside_validity_period_and_inactive_holder(app, client, people):
    admin, officer = people["admin"], people["officer"]
    expired = client.post(
        "/api/v1/credentials",
        json=_credential_body(
            officer.id,
            number="OLD-1",
            valid_from=(TODAY - timedelta(days=800)).isoformat(),
            valid_to=(TODAY - timedelta(days=2)).isoformat(),
        ),
        headers=admin.headers,
    ).json
    assert client.get("/api/v1/me/credential", headers=officer.headers).status_code == 404
    token = _mint(app, expired["id"], utcnow())
    html = client.get(f"/public/credentials/verify/{token}").get_data(as_text=True)
    assert _verdict(html) == "✗ 无效" and "证件不在有效期" in html

    current = client.post(
        "/api/v1/credentials", json=_credential_body(officer.id), headers=admin.headers
    ).json
    shown = client.get("/api/v1/me/credential", headers=officer.headers).json
    assert shown["credential_id"] == current["id"]  # the one valid today is shown
    with app.app_context():
        db.session.get(User, officer.id).active = False
        db.session.commit()
    body = client.get(f"/public/credentials/verify/{shown['token']}.json").json
    assert body["valid"] is False and body["reason"] == "holder_inactive"


def test_who_may_see_and_change_credentials(app, client, people, issued):
    admin, officer, colleague = people["admin"], people["officer"], people["colleague"]
    outsider, other_admin = people["outsider"], people["other_admin"]
    cid = issued["id"]

    # Officers manage nothing.
    body = _credential_body(colleague.id, number="X-1")
    resp = client.post("/api/v1/credentials", json=body, headers=officer.headers)
    assert resp.status_code == 403 and resp.json["error"]["code"] == "role_forbidden"
    resp = client.post(
        f"/api/v1/credentials/{cid}/status",
        json={"status": "suspended", "reason": "x"},
        headers=colleague.headers,
    )
    assert resp.status_code == 403

    # An officer sees only their own; asking for anyone else's is 404.
    own = client.get("/api/v1/credentials", headers=officer.headers).json["items"]
    assert [c["id"] for c in own] == [cid]
    assert client.get("/api/v1/credentials", headers=colleague.headers).json["items"] == []
    resp = client.get(f"/api/v1/credentials?user_id={officer.id}", headers=colleague.headers)
    assert resp.status_code == 404
    resp = client.get(f"/api/v1/credentials?user_id={officer.id}", headers=outsider.headers)
    assert resp.status_code == 404
    assert client.get("/api/v1/me/credential", headers=colleague.headers).status_code == 404

    # The unit's admin sees the unit; another unit's admin sees and changes nothing.
    mine = client.get(f"/api/v1/credentials?user_id={officer.id}", headers=admin.headers).json
    assert [c["id"] for c in mine["items"]] == [cid]
    assert mine["items"][0]["holder"]["name"] == "王小明"
    assert client.get("/api/v1/credentials", headers=other_admin.headers).json["items"] == []
    resp = client.get(f"/api/v1/credentials?user_id={officer.id}", headers=other_admin.headers)
    assert resp.status_code == 404
    resp = client.post(
        f"/api/v1/credentials/{cid}/status",
        json={"status": "revoked", "reason": "x"},
        headers=other_admin.headers,
    )
    assert resp.status_code == 404 and resp.json["error"]["code"] == "credential_not_found"
    resp = client.post("/api/v1/credentials", json=body, headers=other_admin.headers)
    assert resp.status_code == 404 and resp.json["error"]["code"] == "user_not_found"
    resp = client.post(
        "/api/v1/credentials",
        json=_credential_body(outsider.id, number="X-2"),
        headers=admin.headers,
    )
    assert resp.status_code == 404

    # Admins hold no credential to show; nobody unauthenticated gets the display.
    assert client.get("/api/v1/me/credential", headers=admin.headers).status_code == 403
    assert client.get("/api/v1/me/credential").status_code == 401
    assert client.get("/api/v1/credentials").status_code == 401
    with app.app_context():
        status = db.session.get(Credential, cid).status
    assert status == "active"


def test_issue_validation(client, people, issued):
    admin, officer = people["admin"], people["officer"]
    post = lambda body: client.post("/api/v1/credentials", json=body, headers=admin.headers)  # noqa: E731

    dup = post(_credential_body(people["colleague"].id))
    assert dup.status_code == 409 and dup.json["error"]["code"] == "credential_exists"
    backwards = post(
        _credential_body(officer.id, number="B-1", valid_from="2027-01-01", valid_to="2026-01-01")
    )
    assert (
        backwards.status_code == 422 and "valid_to" in backwards.json["error"]["details"]["fields"]
    )
    assert post(_credential_body(officer.id, number="B-2", categories=[])).status_code == 422
    assert (
        post(_credential_body(officer.id, number="B-3", valid_to="31/12/2028")).status_code == 422
    )
    assert post(_credential_body(officer.id, number="")).status_code == 422
    to_admin = post(_credential_body(admin.id, number="B-4"))
    assert to_admin.status_code == 422 and to_admin.json["error"]["code"] == "not_a_holder"
    assert post(_credential_body(999999, number="B-5")).status_code == 404

    bad_status = client.post(
        f"/api/v1/credentials/{issued['id']}/status",
        json={"status": "lost", "reason": "x"},
        headers=admin.headers,
    )
    assert bad_status.status_code == 422
    no_reason = client.post(
        f"/api/v1/credentials/{issued['id']}/status",
        json={"status": "suspended"},
        headers=admin.headers,
    )
    assert no_reason.status_code == 422
    assert client.get("/api/v1/credentials?user_id=abc", headers=admin.headers).status_code == 422


def test_cli_issue_and_status(app, app_config, client, people, monkeypatch, capsys):
    monkeypatch.setenv("FIELDTRACE_DATABASE_URL", app_config["SQLALCHEMY_DATABASE_URI"])
    monkeypatch.setenv("FIELDTRACE_DATA_DIR", str(app_config["DATA_DIR"]))
    monkeypatch.setenv("FIELDTRACE_SECRET_KEY", app_config["SECRET_KEY"])
    monkeypatch.setenv("FIELDTRACE_S3_ENDPOINT_URL", app_config["S3_ENDPOINT_URL"])
    monkeypatch.setenv("FIELDTRACE_SIGNING_KEY_FILE", str(app_config["SIGNING_KEY_FILE"]))
    args = [
        "credential",
        "issue",
        "--username",
        "wang_officer",
        "--number",
        "PD-2026-7",
        "--authority",
        "上海市浦东新区人民政府",
        "--categories",
        "市场监管，食品安全",
        "--area",
        "浦东新区",
        "--valid-from",
        (TODAY - timedelta(days=1)).isoformat(),
        "--valid-to",
        "2099-12-31",
    ]
    assert cli_main(args) == 0
    assert "issued credential PD-2026-7" in capsys.readouterr().out
    assert cli_main(args) == 1
    assert "credential_exists" in capsys.readouterr().err
    assert cli_main([*args[:3], "nobody", *args[4:]]) == 1

    shown = client.get("/api/v1/me/credential", headers=people["officer"].headers).json
    assert shown["number"] == "PD-2026-7" and shown["categories"] == ["市场监管", "食品安全"]
    assert shown["valid_to"] == "2099-12-31"

    status = ["credential", "status", "--number", "PD-2026-7", "--status", "suspended"]
    assert cli_main([*status, "--reason", "证件遗失"]) == 0
    assert "active -> suspended" in capsys.readouterr().out
    assert (
        cli_main(
            ["credential", "status", "--number", "NOPE", "--status", "revoked", "--reason", "x"]
        )
        == 1
    )
    page = client.get(f"/public/credentials/verify/{shown['token']}").get_data(as_text=True)
    assert "证件已暂停" in page
    entries = _actions(app, shown["credential_id"])
    assert entries[0].action == "credential.issued" and entries[0].actor == "system"
    assert entries[-2].action == "credential.status_changed"
    assert entries[-2].details["reason"] == "证件遗失"


def test_display_while_working_on_a_case_enters_its_custody_trail(app, client, people, issued):
    from tests.conftest import open_case

    officer = people["officer"]
    case = open_case(client, officer)
    shown = client.get(f"/api/v1/me/credential?case_id={case['id']}", headers=officer.headers)
    assert shown.status_code == 200 and shown.json["number"] == issued["number"]
    with app.app_context():
        [entry] = db.session.execute(
            sa.select(AuditEntry).where(
                AuditEntry.object_type == "case",
                AuditEntry.object_id == str(case["id"]),
                AuditEntry.action == "case.credential_displayed",
            )
        ).scalars()
        assert entry.actor_id == officer.id and entry.details["number"] == issued["number"]
    assert _actions(app, issued["id"])[-1].details["case_id"] == case["id"]
    # A case the officer cannot see is not revealed, and nothing is displayed.
    foreign = open_case(client, people["outsider"])
    hidden = client.get(f"/api/v1/me/credential?case_id={foreign['id']}", headers=officer.headers)
    assert hidden.status_code == 404
