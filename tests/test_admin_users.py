"""Administration in the app: accounts, the unit's name and document prefix, credential
renewal, devices and the first-run setup; and the same from the ``fieldtrace`` command."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest

from server import clock
from server.cli import main as cli_main
from server.extensions import db
from server.models import ApiToken, AuditEntry, Unit
from server.services import setup as setup_service
from tests.conftest import PASSWORD, sample_jpeg

API = "/api/v1"
NEW_PASSWORD = "a brand new password"


def login(client, username: str, password: str = PASSWORD):
    return client.post(f"{API}/auth/login", json={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def actions(app, object_type: str, object_id: int | str) -> list[AuditEntry]:
    with app.app_context():
        rows = (
            db.session.query(AuditEntry)
            .filter_by(object_type=object_type, object_id=str(object_id))
            .order_by(AuditEntry.seq)
            .all()
        )
        db.session.expunge_all()
        return rows


@pytest.fixture
def admin(users):
    return users.create("ja_admin", role="admin", unit="SH-JA")


def create(client, admin, username: str, role: str = "officer", **extra):
    body = {"username": username, "name": "李明", "role": role, "password": PASSWORD, **extra}
    return client.post(f"{API}/users", json=body, headers=admin.headers)


# --- accounts -----------------------------------------------------------------------------------


def test_admin_creates_lists_and_changes_role_in_their_unit(app, client, admin, users):
    made = create(client, admin, "li")
    assert made.status_code == 201, made.json
    li = made.json
    assert li["role"] == "officer" and li["active"] is True and li["unit"]["code"] == "SH-JA"
    assert create(client, admin, "li").json["error"]["code"] == "user_exists"
    weak = create(client, admin, "zhao", password="short")
    assert weak.status_code == 422
    assert create(client, admin, "zhao", role="king").status_code == 422

    listed = client.get(f"{API}/users", headers=admin.headers).json["items"]
    assert {u["username"] for u in listed} == {"ja_admin", "li"}

    changed = client.patch(
        f"{API}/users/{li['id']}",
        json={"role": "supervisor", "name": "李明明"},
        headers=admin.headers,
    )
    assert changed.status_code == 200
    assert changed.json["role"] == "supervisor" and changed.json["name"] == "李明明"
    entry = actions(app, "user", li["id"])[-1]
    assert entry.action == "user.updated" and entry.details["role"] == {
        "from": "officer",
        "to": "supervisor",
    }

    # an admin moves nobody to another unit (only the operator's CLI does)
    moved = client.patch(
        f"{API}/users/{li['id']}", json={"unit_code": "OTHER"}, headers=admin.headers
    )
    assert moved.status_code == 403 and moved.json["error"]["code"] == "unit_change_forbidden"


def test_other_units_and_other_roles_see_nothing(client, admin, users):
    other_admin = users.create("pd_admin", role="admin", unit="PD")
    outsider = users.create("pd_officer", role="officer", unit="PD")
    officer = users.create("ja_officer", role="officer", unit="SH-JA")
    # another unit's user is invisible: 404, never 403
    for method, path, body in (
        ("get", f"{API}/users/{outsider.id}", None),
        ("patch", f"{API}/users/{outsider.id}", {"role": "admin"}),
        ("post", f"{API}/users/{outsider.id}/password", {"password": NEW_PASSWORD}),
        ("post", f"{API}/users/{outsider.id}/status", {"active": False}),
    ):
        resp = getattr(client, method)(path, json=body, headers=admin.headers)
        assert resp.status_code == 404, (path, resp.json)
    assert {
        u["username"] for u in client.get(f"{API}/users", headers=other_admin.headers).json["items"]
    } == {"pd_admin", "pd_officer"}
    # officers manage nothing
    assert client.get(f"{API}/users", headers=officer.headers).status_code == 403
    assert create(client, officer, "sneaky").status_code == 403
    assert client.put(f"{API}/unit", json={"name": "x"}, headers=officer.headers).status_code == 403
    assert client.get(f"{API}/devices", headers=officer.headers).status_code == 403
    assert client.get(f"{API}/users").status_code == 401


def test_deactivated_users_token_is_refused_at_once(app, client, admin, users):
    officer = users.create("wang", role="officer", unit="SH-JA")
    assert client.get(f"{API}/auth/me", headers=officer.headers).status_code == 200
    second = login(client, "wang").json["token"]  # a second phone

    off = client.post(
        f"{API}/users/{officer.id}/status",
        json={"active": False, "reason": "调离"},
        headers=admin.headers,
    )
    assert off.status_code == 200 and off.json["active"] is False
    for token in (officer.token, second):
        refused = client.get(f"{API}/auth/me", headers=bearer(token))
        assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthorized"
    assert login(client, "wang").status_code == 401
    with app.app_context():
        live = db.session.query(ApiToken).filter_by(user_id=officer.id, revoked_at=None).count()
    assert live == 0  # the tokens are revoked, not merely refused while inactive
    again = client.post(
        f"{API}/users/{officer.id}/status", json={"active": False}, headers=admin.headers
    )
    assert again.status_code == 409

    on = client.post(
        f"{API}/users/{officer.id}/status", json={"active": True}, headers=admin.headers
    )
    assert on.status_code == 200 and on.json["active"] is True
    # reactivation does not bring the old sessions back; a new sign-in works
    assert client.get(f"{API}/auth/me", headers=officer.headers).status_code == 401
    assert login(client, "wang").status_code == 200
    kinds = [e.action for e in actions(app, "user", officer.id)]
    assert "user.deactivated" in kinds and "user.reactivated" in kinds


def test_reset_password_ends_sessions(app, client, admin, users):
    officer = users.create("zhou", role="officer", unit="SH-JA")
    reset = client.post(
        f"{API}/users/{officer.id}/password", json={"password": NEW_PASSWORD}, headers=admin.headers
    )
    assert reset.status_code == 200
    assert client.get(f"{API}/auth/me", headers=officer.headers).status_code == 401
    assert login(client, "zhou").status_code == 401
    assert login(client, "zhou", NEW_PASSWORD).status_code == 200
    weak = client.post(
        f"{API}/users/{officer.id}/password", json={"password": "short"}, headers=admin.headers
    )
    assert weak.status_code == 422
    entry = next(e for e in actions(app, "user", officer.id) if e.action == "user.password_reset")
    assert entry.details["sessions_ended"] == 1
    assert NEW_PASSWORD not in str(entry.details)


def test_the_last_active_admin_cannot_lock_the_unit_out(client, admin, users):
    me = admin.id
    for path, body in (
        (f"{API}/users/{me}/status", {"active": False}),
        (f"{API}/users/{me}", {"role": "officer"}),
    ):
        method = client.patch if body.get("role") else client.post
        resp = method(path, json=body, headers=admin.headers)
        assert resp.status_code == 409 and resp.json["error"]["code"] == "last_admin", resp.json
    assert client.get(f"{API}/auth/me", headers=admin.headers).status_code == 200

    second = users.create("ja_admin2", role="admin", unit="SH-JA")
    # with another active admin, the first may step down
    stepped = client.patch(f"{API}/users/{me}", json={"role": "leader"}, headers=admin.headers)
    assert stepped.status_code == 200 and stepped.json["role"] == "leader"
    assert client.get(f"{API}/auth/me", headers=admin.headers).status_code == 401  # new role
    # and now the second is the last one
    last = client.post(
        f"{API}/users/{second.id}/status", json={"active": False}, headers=second.headers
    )
    assert last.status_code == 409 and last.json["error"]["code"] == "last_admin"


# --- the unit: name and document prefix everywhere ---------------------------------------------


def test_unit_name_and_prefix(app, client, admin):
    unit = client.get(f"{API}/unit", headers=admin.headers).json
    # made on the fly by `user create --unit SH-JA`: nameless, and the admin is told so
    assert unit["missing"] == ["name", "short_name"]
    me = client.get(f"{API}/auth/me", headers=admin.headers).json
    assert me["unit"]["missing"] == ["name", "short_name"]

    body = {
        "name": "上海市静安区市场监督管理局",
        "short_name": "沪静市监",
        "address": "上海市静安区江场三路 1 号",
        "contact_phone": "021-12345",
    }
    saved = client.put(f"{API}/unit", json=body, headers=admin.headers)
    assert saved.status_code == 200
    assert saved.json["display_name"] == body["name"] and saved.json["number_prefix"] == "沪静市监"
    assert saved.json["missing"] == [] and saved.json["address"] == body["address"]
    assert client.put(f"{API}/unit", json={"name": ""}, headers=admin.headers).status_code == 422
    entry = actions(app, "unit", saved.json["id"])[-1]
    assert entry.action == "unit.updated" and entry.details["to"]["short_name"] == "沪静市监"

    # without a prefix, document numbers start with the full name (never the code)
    only_name = client.put(f"{API}/unit", json={"short_name": ""}, headers=admin.headers).json
    assert only_name["number_prefix"] == body["name"] and only_name["missing"] == ["short_name"]


def test_documents_pdf_credential_and_public_pages_show_the_units_name(app, client, users):
    """A document's number carries the prefix, the 亮证 screen and its public check the name."""
    from tests.test_credentials import _credential_body as cred_body

    admin = users.create("jd_admin", role="admin", unit="SH-JD")
    officer = users.create("jd_officer", role="officer", unit="SH-JD")
    client.put(
        f"{API}/unit",
        json={"name": "上海市嘉定区市场监督管理局", "short_name": "沪嘉市监"},
        headers=admin.headers,
    )
    issued = client.post(
        f"{API}/credentials", json=cred_body(officer.id, "JD-1"), headers=admin.headers
    )
    assert issued.status_code == 201, issued.json
    shown = client.get(f"{API}/me/credential", headers=officer.headers).json
    assert shown["unit_name"] == "上海市嘉定区市场监督管理局"
    page = client.get(shown["verify_url"].removeprefix("http://localhost")).get_data(as_text=True)
    assert "上海市嘉定区市场监督管理局" in page and "SH-JD" not in page

    from server.services.documents import format_number

    with app.app_context():
        unit = db.session.query(Unit).filter_by(code="SH-JD").one()
        assert format_number(unit, "立", 2026, 1) == "沪嘉市监立〔2026〕1号"
        unit.short_name = ""
        assert format_number(unit, "立", 2026, 1) == "上海市嘉定区市场监督管理局立〔2026〕1号"
        db.session.rollback()

    public = client.get("/public/units/SH-JD/").get_data(as_text=True)
    assert "上海市嘉定区市场监督管理局" in public


def test_a_nameless_unit_falls_back_to_its_published_name_never_its_code(app, client, users):
    """A unit made by `user create --unit SH-MH` before anyone named it: 亮证 and document
    numbers take the name on its 公示 page until the admin sets name and prefix."""
    from tests.test_credentials import _credential_body as cred_body
    from tests.test_disclosure import UNIT_INFO

    admin = users.create("mh_admin", role="admin", unit="SH-MH")
    officer = users.create("mh_officer", role="officer", unit="SH-MH")
    client.post(f"{API}/credentials", json=cred_body(officer.id, "MH-1"), headers=admin.headers)
    saved = client.put(f"{API}/disclosure/unit_info", json=UNIT_INFO, headers=admin.headers)
    assert saved.status_code == 200, saved.json
    shown = client.get(f"{API}/me/credential", headers=officer.headers).json
    assert shown["unit_name"] == UNIT_INFO["name"]
    page = client.get(shown["verify_url"].removeprefix("http://localhost")).get_data(as_text=True)
    assert UNIT_INFO["name"] in page and "SH-MH" not in page

    from server.services.documents import format_number

    with app.app_context():
        unit = db.session.query(Unit).filter_by(code="SH-MH").one()
        assert format_number(unit, "罚", 2026, 3) == f"{UNIT_INFO['name']}罚〔2026〕3号"
    # the admin is still told to set the name and the prefix
    assert client.get(f"{API}/unit", headers=admin.headers).json["missing"] == [
        "name",
        "short_name",
    ]


def test_an_issued_document_is_numbered_with_the_prefix_and_its_pdf_names_the_unit(
    app, client, users
):
    from pypdf import PdfReader

    from tests.conftest import open_case
    from tests.workflow_helpers import Flow

    admin = users.create("ft_admin", role="admin", unit="SH-FT")
    officer = users.create("ft_officer", role="officer", unit="SH-FT")
    supervisor = users.create("ft_sup", role="supervisor", unit="SH-FT")
    client.put(
        f"{API}/unit",
        json={"name": "上海市奉贤区市场监督管理局", "short_name": "沪奉市监"},
        headers=admin.headers,
    )
    case = open_case(client, officer)
    doc = Flow(client).full_doc(
        case["id"], "filing_approval", {"officer": officer, "approver": supervisor}, officer
    )
    assert re.fullmatch(r"沪奉市监.+〔\d{4}〕1号", doc["number"]), doc["number"]
    pdf = client.get(f"{API}/documents/{doc['id']}/pdf", headers=officer.headers)
    assert pdf.status_code == 200
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "上海市奉贤区市场监督管理局" in text and "SH-FT" not in text


# --- credentials: renewal; devices ---------------------------------------------------------------


def test_renew_gives_a_successor_with_the_same_photo(app, client, admin, users):
    from tests.test_credentials import _credential_body as cred_body

    officer = users.create("qian", role="officer", unit="SH-JA")
    old = client.post(
        f"{API}/credentials", json=cred_body(officer.id, "JA-1"), headers=admin.headers
    ).json
    photo = client.put(
        f"{API}/credentials/{old['id']}/photo",
        data=sample_jpeg(300, 400),
        content_type="image/jpeg",
        headers=admin.headers,
    )
    assert photo.status_code == 200
    today = clock.today()
    body = {
        "number": "JA-2",
        "valid_from": (today + timedelta(days=10)).isoformat(),
        "valid_to": (today + timedelta(days=1500)).isoformat(),
    }
    renewed = client.post(f"{API}/credentials/{old['id']}/renew", json=body, headers=admin.headers)
    assert renewed.status_code == 201, renewed.json
    new = renewed.json
    assert new["renewed_from"] == old["id"] and new["number"] == "JA-2"
    assert new["valid_to"] == body["valid_to"] and new["categories"] == old["categories"]
    assert new["photo_sha256"] == photo.json["photo_sha256"]
    assert (
        client.get(f"{API}/credentials/{new['id']}/photo", headers=admin.headers).status_code == 200
    )
    # the old one is left as it was
    listed = client.get(f"{API}/credentials?user_id={officer.id}", headers=admin.headers).json
    assert {c["number"]: c["status"] for c in listed["items"]} == {
        "JA-1": "active",
        "JA-2": "active",
    }
    again = client.post(f"{API}/credentials/{old['id']}/renew", json=body, headers=admin.headers)
    assert again.status_code == 409 and again.json["error"]["code"] == "credential_exists"
    backwards = {**body, "number": "JA-3", "valid_to": today.isoformat()}
    assert (
        client.post(
            f"{API}/credentials/{old['id']}/renew", json=backwards, headers=admin.headers
        ).status_code
        == 422
    )
    kinds = [e.action for e in actions(app, "credential", new["id"])]
    assert kinds[:2] == ["credential.issued", "credential.renewed"]


def test_devices_list_and_revoke(app, client, admin, users):
    from tests.test_offline_credential import Phone, register

    officer = users.create("sun", role="officer", unit="SH-JA")
    key = register(client, officer, Phone("phone-sun")).json
    devices = client.get(f"{API}/devices", headers=admin.headers).json["items"]
    assert [d["id"] for d in devices] == ["phone-sun"]
    assert devices[0]["holder"]["username"] == "sun" and devices[0]["revoked"] is False
    assert devices[0]["keys"][0]["id"] == key["id"]

    no_reason = client.post(
        f"{API}/devices/phone-sun/revoke", json={"reason": ""}, headers=admin.headers
    )
    assert no_reason.status_code == 422
    revoked = client.post(
        f"{API}/devices/phone-sun/revoke", json={"reason": "手机遗失"}, headers=admin.headers
    )
    assert revoked.status_code == 200 and revoked.json["revoked"] is True
    assert revoked.json["keys"][0]["revoked_reason"] == "手机遗失"
    twice = client.post(
        f"{API}/devices/phone-sun/revoke", json={"reason": "x"}, headers=admin.headers
    )
    assert twice.status_code == 409
    other_admin = users.create("pd_admin2", role="admin", unit="PD")
    assert client.get(f"{API}/devices", headers=other_admin.headers).json["items"] == []
    hidden = client.post(
        f"{API}/devices/phone-sun/revoke", json={"reason": "x"}, headers=other_admin.headers
    )
    assert hidden.status_code == 404


# --- first-run setup ----------------------------------------------------------------------------

SETUP = {
    "unit": {
        "code": "SH-JA",
        "name": "上海市静安区市场监督管理局",
        "short_name": "沪静市监",
        "address": "上海市静安区",
        "contact_phone": "021-1",
    },
    "admin": {"username": "first", "name": "管理员", "password": PASSWORD},
}


def test_first_run_setup_only_with_no_account_and_only_locally_or_with_the_code(app, client):
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    state = client.get(f"{API}/setup", environ_base=remote).json
    assert state == {"needed": True, "code_required": True}
    assert client.get(f"{API}/setup").json == {"needed": True, "code_required": False}  # 127.0.0.1

    refused = client.post(f"{API}/setup", json=SETUP, environ_base=remote)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "setup_code_required"
    wrong = client.post(
        f"{API}/setup", json={**SETUP, "setup_code": "AAAA-BBBB-CCCC"}, environ_base=remote
    )
    assert wrong.status_code == 403
    # through a proxy on the machine, the request is not local
    proxied = client.post(f"{API}/setup", json=SETUP, headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403

    code = setup_service.setup_code(app.config["SECRET_KEY"])
    done = client.post(
        f"{API}/setup", json={**SETUP, "setup_code": code.lower()}, environ_base=remote
    )
    assert done.status_code == 201, done.json
    assert done.json["role"] == "admin" and done.json["unit"]["number_prefix"] == "沪静市监"
    assert login(client, "first").status_code == 200

    # once an account exists, setup is closed for good, even locally with the code
    assert client.get(f"{API}/setup").json["needed"] is False
    again = client.post(
        f"{API}/setup",
        json={**SETUP, "admin": {**SETUP["admin"], "username": "second"}, "setup_code": code},
    )
    assert again.status_code == 409 and again.json["error"]["code"] == "setup_done"
    entries = actions(app, "unit", done.json["unit"]["id"])
    assert entries[0].action == "unit.created" and entries[0].actor_id is None


# --- the fieldtrace command ---------------------------------------------------------------------


@pytest.fixture
def cli_env(app_config, monkeypatch):
    monkeypatch.setenv("FIELDTRACE_DATABASE_URL", app_config["SQLALCHEMY_DATABASE_URI"])
    monkeypatch.setenv("FIELDTRACE_DATA_DIR", str(app_config["DATA_DIR"]))
    monkeypatch.setenv("FIELDTRACE_SECRET_KEY", app_config["SECRET_KEY"])
    monkeypatch.setenv("FIELDTRACE_S3_ENDPOINT_URL", app_config["S3_ENDPOINT_URL"])
    monkeypatch.setenv("FIELDTRACE_SIGNING_KEY_FILE", str(app_config["SIGNING_KEY_FILE"]))


def test_cli_units_and_users(app, client, cli_env, users, monkeypatch, capsys):
    unit = ["unit", "create", "--code", "SH-PT", "--name", "上海市普陀区市场监督管理局"]
    assert cli_main([*unit, "--prefix", "沪普市监", "--phone", "021-2"]) == 0
    assert "created unit SH-PT" in capsys.readouterr().out
    assert cli_main([*unit, "--prefix", "沪普市监"]) == 1
    assert "unit_exists" in capsys.readouterr().err
    assert cli_main(["unit", "update", "--code", "SH-PT", "--address", "上海市普陀区"]) == 0
    assert cli_main(["unit", "list"]) == 0
    out = capsys.readouterr().out
    assert "SH-PT\t上海市普陀区市场监督管理局\tprefix 沪普市监\t上海市普陀区\t021-2" in out

    admin = users.create("pt_admin", role="admin", unit="SH-PT")
    officer = users.create("pt_li", role="officer", unit="SH-PT")
    assert cli_main(["user", "list", "--unit", "SH-PT"]) == 0
    listing = capsys.readouterr().out
    assert "pt_admin\tadmin\tSH-PT\tactive" in listing and "pt_li\tofficer" in listing

    assert cli_main(["user", "update", "--username", "pt_li", "--role", "supervisor"]) == 0
    assert "pt_li: supervisor in unit SH-PT" in capsys.readouterr().out
    assert client.get(f"{API}/auth/me", headers=officer.headers).status_code == 401  # new role

    monkeypatch.setattr("sys.stdin", io.StringIO(NEW_PASSWORD + "\n"))
    assert cli_main(["user", "reset-password", "--username", "pt_li", "--password-stdin"]) == 0
    assert login(client, "pt_li", NEW_PASSWORD).status_code == 200
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli_main(["user", "reset-password", "--username", "pt_li", "--password-stdin"]) == 1
    assert "weak_password" in capsys.readouterr().err

    token = login(client, "pt_li", NEW_PASSWORD).json["token"]
    assert cli_main(["user", "deactivate", "--username", "pt_li", "--reason", "调离"]) == 0
    assert client.get(f"{API}/auth/me", headers=bearer(token)).status_code == 401
    assert cli_main(["user", "reactivate", "--username", "pt_li"]) == 0
    assert login(client, "pt_li", NEW_PASSWORD).status_code == 200

    # the operator alone moves users between units; never the last admin out of one
    assert cli_main(["user", "update", "--username", "pt_li", "--unit", "SH-PT2"]) == 1
    assert "unit_not_found" in capsys.readouterr().err
    assert cli_main(["user", "update", "--username", "pt_admin", "--unit", "U1"]) == 1
    users.create("u1_someone", role="officer", unit="U1")
    assert cli_main(["user", "update", "--username", "pt_admin", "--unit", "U1"]) == 1
    assert "last_admin" in capsys.readouterr().err
    assert cli_main(["user", "deactivate", "--username", "pt_admin"]) == 1
    assert cli_main(["user", "update", "--username", "pt_li", "--unit", "U1"]) == 0
    assert "in unit U1" in capsys.readouterr().out
    assert cli_main(["user", "deactivate", "--username", "nobody"]) == 1

    # renewal: a successor credential for a new period
    from tests.test_credentials import _credential_body as cred_body

    officer2 = users.create("pt_zhao", role="officer", unit="SH-PT")
    issued = client.post(
        f"{API}/credentials", json=cred_body(officer2.id, "PT-1"), headers=admin.headers
    )
    assert issued.status_code == 201, issued.json
    renew = ["credential", "renew", "--number", "PT-1", "--new-number", "PT-2"]
    assert cli_main([*renew, "--valid-from", "2027-01-01", "--valid-to", "2029-12-31"]) == 0
    assert "renewed credential PT-1 as PT-2" in capsys.readouterr().out
    assert cli_main([*renew, "--valid-from", "2027-01-01", "--valid-to", "2029-12-31"]) == 1
    assert "credential_exists" in capsys.readouterr().err

    # a unit made on the fly by `user create` is nameless: the operator is told what to set
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    create = ["user", "create", "--username", "new_one", "--role", "officer", "--name", "新人"]
    assert cli_main([*create, "--unit", "SH-NEW", "--password-stdin"]) == 0
    out = capsys.readouterr().out
    assert "note: unit SH-NEW has no name or short_name yet" in out and "unit update" in out
    assert admin.id  # still the unit's admin
