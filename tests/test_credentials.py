"""执法证 and 亮证: issuing, status, the holder's QR display and the public check of a scan."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
import segno
import sqlalchemy as sa

from server import clock
from server.cli import main as cli_main
from server.extensions import db
from server.models import AuditEntry, Credential, Unit, User
from server.services import audit
from server.services import credentials as credential_service
from server.services.credentials import TokenProblem

TODAY = clock.today()
VERIFY_PREFIX = "http://localhost/public/verify/"  # the short path new QR codes carry


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
    assert shown["token_ttl_seconds"] == 60  # a screenshot stops verifying within 60 s
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
        "photo_url": None,  # none uploaded yet
    }
    # the page and the JSON were answered moments apart: the same check time, to a few seconds
    shown_at = re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", html)
    assert shown_at, "the page shows when it checked"
    apart = datetime.fromisoformat(body["checked_at_local"]) - datetime.fromisoformat(
        shown_at.group(0)
    )
    assert abs(apart.total_seconds()) <= 5, (shown_at.group(0), body["checked_at_local"])
    assert "执法人员照片" not in html  # no photo, no empty picture frame
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
    old = _mint(app, issued["id"], clock.now() - timedelta(seconds=61))
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
    # Just inside its 60 seconds, the same kind of token still works.
    fresh = _mint(app, issued["id"], clock.now() - timedelta(seconds=45))
    assert client.get(f"/public/credentials/verify/{fresh}.json").json["valid"] is True
    results = [e.details["result"] for e in _actions(app, issued["id"])[1:]]
    assert results == ["expired_token", "expired_token", "expired_token", "valid"]


def test_forged_or_modified_tokens_are_refused(app, client, people, issued):
    good = _mint(app, issued["id"], clock.now())
    flipped = good[:10] + ("A" if good[10] != "A" else "B") + good[11:]
    other_key = _mint(app, issued["id"], clock.now(), secret="not-the-server-secret")
    junk = good[:20] + "!" + good[20:]  # would decode to the same bytes if not strict
    for bad in (flipped, other_key, junk, good[:-2], good + "AA", "abc", "!!!!", "x" * 300):
        body = client.get(f"/public/credentials/verify/{bad}.json").json
        assert body["valid"] is False and body["reason"] == "forged", bad
        assert body["credential"] is None
        html = client.get(f"/public/credentials/verify/{bad}").get_data(as_text=True)
        assert _verdict(html) == "✗ 无效" and "无法识别" in html

    # A forged token naming a real credential id with a later expiry is still refused.
    with app.app_context():
        now = clock.now()
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
    token = _mint(app, expired["id"], clock.now())
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


# --- token lifetime and the short path ---------------------------------------------------------


def test_a_token_lives_at_most_sixty_seconds(app, client, people, issued):
    assert timedelta(seconds=60) == credential_service.DISPLAY_TOKEN_TTL
    now = clock.now()
    almost = _mint(app, issued["id"], now - timedelta(seconds=58))
    gone = _mint(app, issued["id"], now - timedelta(seconds=60))
    assert client.get(f"/public/verify/{almost}.json").json["valid"] is True
    body = client.get(f"/public/verify/{gone}.json").json
    assert body["valid"] is False and body["reason"] == "expired_token"
    html = client.get(f"/public/verify/{gone}").get_data(as_text=True)
    assert "二维码生成后 60 秒内有效" in html
    english = client.get(f"/public/verify/{gone}?lang=en").get_data(as_text=True)
    assert "A code works for 60 seconds" in english


def test_short_path_is_the_same_check(app, client, people, issued):
    shown = client.get("/api/v1/me/credential", headers=people["officer"].headers).json
    token = shown["token"]
    assert shown["verify_url"] == f"http://localhost/public/verify/{token}"
    long_url = f"http://localhost/public/credentials/verify/{token}"
    assert len(shown["verify_url"]) < len(long_url)
    # fewer characters: a QR code no denser, here one version smaller
    assert segno.make(shown["verify_url"], error="m").version <= (
        segno.make(long_url, error="m").version
    )

    short = client.get(f"/public/verify/{token}")
    long = client.get(f"/public/credentials/verify/{token}")
    assert short.status_code == long.status_code == 200
    assert short.headers["Cache-Control"] == "no-store"
    assert _verdict(short.get_data(as_text=True)) == _verdict(long.get_data(as_text=True))
    assert "王小明" in short.get_data(as_text=True)
    body = client.get(f"/public/verify/{token}.json").json
    assert body["valid"] is True and body["credential"]["number"] == issued["number"]
    forged = client.get(f"/public/verify/{token[:-3]}xyz.json").json
    assert forged["reason"] == "forged"
    checks = [e for e in _actions(app, issued["id"]) if e.action == "credential.verified_publicly"]
    assert [e.details["channel"] for e in checks] == ["html", "html", "json"]


# --- where: the position of a display on a case ------------------------------------------------


def test_display_on_a_case_records_where(app, client, people, issued):
    from tests.conftest import open_case

    officer = people["officer"]
    case = open_case(client, officer)
    base = f"/api/v1/me/credential?case_id={case['id']}"
    here = client.get(
        f"{base}&latitude=31.2304&longitude=121.4737&accuracy_m=12.5", headers=officer.headers
    )
    assert here.status_code == 200, here.json
    assert client.get(base, headers=officer.headers).status_code == 200  # no fix: no position
    for bad in ("&latitude=31.2", "&latitude=95&longitude=121", "&accuracy_m=5", "&latitude=x"):
        resp = client.get(base + bad, headers=officer.headers)
        assert resp.status_code == 422, bad
    with app.app_context():
        entries = list(
            db.session.execute(
                sa.select(AuditEntry)
                .where(
                    AuditEntry.object_type == "case",
                    AuditEntry.object_id == str(case["id"]),
                    AuditEntry.action == "case.credential_displayed",
                )
                .order_by(AuditEntry.seq)
            ).scalars()
        )
        assert len(entries) == 2
        assert entries[0].details["position"] == {
            "latitude": 31.2304,
            "longitude": 121.4737,
            "accuracy_m": 12.5,
        }
        assert "position" not in entries[1].details
        assert audit.verify_chain(db.session).ok
    displayed = [e for e in _actions(app, issued["id"]) if e.action == "credential.displayed"]
    assert displayed[0].details["position"]["latitude"] == 31.2304


# --- the officer's photo -----------------------------------------------------------------------


def _photo(
    size: tuple[int, int] = (300, 400),
    fmt: str = "JPEG",
    *,
    orientation: int | None = None,
    mode: str = "RGB",
) -> bytes:
    """A test photo with what a phone puts in: EXIF (GPS, orientation), a comment, a profile."""
    from PIL import Image, ImageCms

    color = (30, 90, 200, 128) if mode == "RGBA" else (30, 90, 200)
    img = Image.new(mode, size, color)
    img.paste((250, 250, 20) if mode == "RGB" else (250, 250, 20, 255), (0, 0, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (31.0, 13.0, 49.0)}  # GPS IFD
    if orientation:
        exif[0x0112] = orientation
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    extra: dict[str, Any] = {"exif": exif.tobytes(), "icc_profile": icc}
    if fmt == "JPEG":
        extra["comment"] = b"secret-comment"
    img.save(buf, fmt, **extra)
    return buf.getvalue()


def _stored_photo(app, credential_id: int) -> tuple[bytes, Credential]:
    with app.app_context():
        credential = db.session.get(Credential, credential_id)
        db.session.expunge(credential)
    storage = app.extensions["fieldtrace"].storage
    data = storage.get_bytes(
        credential.photo_bucket, credential.photo_key, version_id=credential.photo_version
    )
    return data, credential


def _put_photo(client, actor, credential_id: int, data: bytes, content_type="image/jpeg"):
    return client.put(
        f"/api/v1/credentials/{credential_id}/photo",
        data=data,
        headers={**actor.headers, "Content-Type": content_type},
    )


def test_admin_sets_the_photo_reencoded_without_metadata(app, client, people, issued):
    from PIL import Image

    admin, cid = people["admin"], issued["id"]
    original = _photo((400, 300), orientation=6)  # landscape pixels, shown upright: portrait
    resp = _put_photo(client, admin, cid, original)
    assert resp.status_code == 200, resp.json
    sha = resp.json["photo_sha256"]
    assert re.fullmatch(r"[0-9a-f]{64}", sha)

    stored, credential = _stored_photo(app, cid)
    assert hashlib.sha256(stored).hexdigest() == sha == credential.photo_sha256
    assert credential.photo_bucket == app.config["S3_BUCKET_ORIGINALS"]
    assert credential.photo_key == f"credentials/{cid}/photo-{sha}.jpg"
    with Image.open(io.BytesIO(stored)) as img:
        assert img.format == "JPEG" and img.size == (450, 600)  # upright, 600 px high
        assert img.mode == "RGB"
        assert not img.getexif() and "icc_profile" not in img.info
        assert "comment" not in img.info and "exif" not in img.info
    for leak in (b"Exif", b"PhoneMaker", b"secret-comment", b"ICC_PROFILE"):
        assert leak not in stored, leak

    # the holder and the unit's admin get it; nobody else learns it exists
    officer = people["officer"]
    for actor in (officer, admin):
        got = client.get(f"/api/v1/credentials/{cid}/photo", headers=actor.headers)
        assert got.status_code == 200 and got.mimetype == "image/jpeg"
        assert got.data == stored and got.headers["Cache-Control"] == "no-store"
    for actor in (people["colleague"], people["outsider"], people["other_admin"]):
        got = client.get(f"/api/v1/credentials/{cid}/photo", headers=actor.headers)
        assert got.status_code == 404 and got.json["error"]["code"] == "credential_not_found"
    assert client.get(f"/api/v1/credentials/{cid}/photo").status_code == 401

    shown = client.get("/api/v1/me/credential", headers=officer.headers).json
    assert shown["photo_sha256"] == sha
    assert shown["photo_url"] == f"/api/v1/credentials/{cid}/photo"

    # a new photo (PNG with transparency, as a data: URL) is a new object; the old one stays
    png = _photo((500, 500), "PNG", mode="RGBA")
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    resp = client.put(
        f"/api/v1/credentials/{cid}/photo", json={"image": url}, headers=admin.headers
    )
    assert resp.status_code == 200, resp.json
    second = resp.json["photo_sha256"]
    assert second != sha
    stored2, _ = _stored_photo(app, cid)
    with Image.open(io.BytesIO(stored2)) as img:
        assert img.size == (600, 600) and img.mode == "RGB"
    first = app.extensions["fieldtrace"].storage.get_bytes(
        credential.photo_bucket, credential.photo_key, version_id=credential.photo_version
    )
    assert hashlib.sha256(first).hexdigest() == sha
    sets = [e.details for e in _actions(app, cid) if e.action == "credential.photo_set"]
    assert [(d["previous_sha256"], d["sha256"]) for d in sets] == [(None, sha), (sha, second)]
    assert sets[0]["width"] == 450 and sets[0]["height"] == 600
    assert _actions(app, cid)[-1].actor == "admin1"


def test_photo_is_checked_before_anything_is_kept(app, client, people, issued):
    admin, cid = people["admin"], issued["id"]
    good = _photo()

    def refused(data: bytes, content_type: str = "image/jpeg") -> dict:
        resp = _put_photo(client, admin, cid, data, content_type)
        assert resp.status_code in (413, 415, 422), resp.status_code
        return {"status": resp.status_code, **resp.json["error"]}

    assert refused(b"GIF89a not a photo")["code"] == "invalid_photo"
    assert refused(b"")["code"] == "invalid_photo"
    assert refused(good[: len(good) // 2])["code"] == "invalid_photo"  # truncated
    assert refused(b"\xff\xd8\xff\xe0" + b"\x00" * 100)["code"] == "invalid_photo"  # junk
    huge = refused(_photo((4001, 3000)))
    assert huge["code"] == "invalid_photo" and "4000" in huge["message"]
    assert "太小" in refused(_photo((80, 90)))["message"]
    assert "竖幅" in refused(_photo((2100, 1000)))["message"]  # a panorama is not a portrait
    over = refused(b"\xff\xd8\xff" + os.urandom(5 * 1024 * 1024))
    assert over["code"] == "invalid_photo" and "5 MB" in over["message"]
    much = refused(b"\xff\xd8\xff" + bytes(7 * 1024 * 1024))
    assert much["status"] == 413 and much["code"] == "photo_too_large"
    assert refused(good, "text/plain")["status"] == 415
    bad = client.put(
        f"/api/v1/credentials/{cid}/photo",
        json={"image": "data:image/png;base64,@@@"},
        headers=admin.headers,
    )
    assert bad.status_code == 422 and bad.json["error"]["code"] == "invalid_photo"
    gif = client.put(
        f"/api/v1/credentials/{cid}/photo",
        json={"image": "data:image/gif;base64,R0lGOD=="},
        headers=admin.headers,
    )
    assert gif.status_code == 422
    # a PNG sent as image/jpeg is still a PNG: the bytes decide
    assert _put_photo(client, admin, cid, _photo(fmt="PNG"), "image/jpeg").status_code == 200

    # only the unit's admin sets it
    for actor, status in (
        (people["officer"], 403),
        (people["other_admin"], 404),
    ):
        assert _put_photo(client, actor, cid, good).status_code == status
    assert _put_photo(client, admin, 999999, good).status_code == 404
    with app.app_context():
        assert (
            db.session.execute(
                sa.select(sa.func.count()).where(AuditEntry.action == "credential.photo_set")
            ).scalar_one()
            == 1
        )


def test_public_page_shows_the_photo_only_while_the_code_is_valid(app, client, people, issued):
    admin, officer, cid = people["admin"], people["officer"], issued["id"]
    assert _put_photo(client, admin, cid, _photo()).status_code == 200
    stored, _ = _stored_photo(app, cid)
    token = client.get("/api/v1/me/credential", headers=officer.headers).json["token"]

    for page_path, photo_path in (
        (f"/public/verify/{token}", f"/public/verify/{token}/photo"),
        (f"/public/credentials/verify/{token}", f"/public/credentials/verify/{token}/photo"),
    ):
        html = client.get(page_path).get_data(as_text=True)
        assert f'<img src="{photo_path}" alt="执法人员照片"' in html
        photo = client.get(photo_path)
        assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
        assert photo.data == stored
        assert photo.headers["Cache-Control"] == "no-store"
        assert photo.headers["Referrer-Policy"] == "no-referrer"
    page = client.get(f"/public/verify/{token}")
    assert "img-src 'self'" in page.headers["Content-Security-Policy"]
    assert 'alt="Photo of the officer"' in client.get(f"/public/verify/{token}?lang=en").get_data(
        as_text=True
    )
    body = client.get(f"/public/verify/{token}.json").json
    assert body["credential"]["photo_url"] == f"http://localhost/public/verify/{token}/photo"
    long_body = client.get(f"/public/credentials/verify/{token}.json").json
    assert long_body["credential"]["photo_url"].endswith(
        f"/public/credentials/verify/{token}/photo"
    )

    # an expired code, a forged one, or a credential no longer valid: no photo, no hint why
    old = _mint(app, cid, clock.now() - timedelta(seconds=61))
    assert client.get(f"/public/verify/{old}/photo").status_code == 404
    assert "<img" not in client.get(f"/public/verify/{old}").get_data(as_text=True)
    assert client.get(f"/public/verify/{token[:-2]}AA/photo").status_code == 404
    assert client.get("/public/verify/nonsense/photo").status_code == 404
    client.post(
        f"/api/v1/credentials/{cid}/status",
        json={"status": "suspended", "reason": "暂停"},
        headers=admin.headers,
    )
    assert client.get(f"/public/verify/{token}/photo").status_code == 404
    assert client.get(f"/public/credentials/verify/{token}/photo").status_code == 404
    assert "<img" not in client.get(f"/public/verify/{token}").get_data(as_text=True)


def test_status_changes_are_dated(app, client, people, issued):
    assert issued["status_changed_at"] is None
    before = clock.now()
    resp = client.post(
        f"/api/v1/credentials/{issued['id']}/status",
        json={"status": "suspended", "reason": "暂停"},
        headers=people["admin"].headers,
    )
    changed = datetime.fromisoformat(resp.json["status_changed_at"])
    assert before <= changed <= clock.now()
    with app.app_context():
        assert db.session.get(Credential, issued["id"]).status_changed_at == changed


def test_no_active_credential_says_why(app, client, people, issued):
    admin, officer = people["admin"], people["officer"]
    colleague = client.get("/api/v1/me/credential", headers=people["colleague"].headers)
    assert colleague.status_code == 404
    assert colleague.json["error"]["details"] == {"reason": "no_credential"}
    assert "未持有执法证" in colleague.json["error"]["message"]
    for status, reason, word in (
        ("suspended", "suspended", "已暂停"),
        ("revoked", "revoked", "已注销"),
    ):
        client.post(
            f"/api/v1/credentials/{issued['id']}/status",
            json={"status": status, "reason": "x"},
            headers=admin.headers,
        )
        resp = client.get("/api/v1/me/credential", headers=officer.headers)
        assert resp.status_code == 404 and resp.json["error"]["code"] == "no_active_credential"
        assert resp.json["error"]["details"] == {"reason": reason}
        assert word in resp.json["error"]["message"]
    old = client.post(
        "/api/v1/credentials",
        json=_credential_body(
            people["colleague"].id,
            number="OLD-2",
            valid_from=(TODAY - timedelta(days=800)).isoformat(),
            valid_to=(TODAY - timedelta(days=1)).isoformat(),
        ),
        headers=admin.headers,
    )
    assert old.status_code == 201
    expired = client.get("/api/v1/me/credential", headers=people["colleague"].headers)
    assert expired.json["error"]["details"] == {"reason": "expired"}
    assert "已过期" in expired.json["error"]["message"]
