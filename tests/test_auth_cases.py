"""Login, tokens, throttling, roles and who sees which case."""

import sqlalchemy as sa
from argon2 import PasswordHasher

from server.extensions import db
from server.models import User
from server.services.auth import create_user
from tests import tus_helpers as tus
from tests.conftest import PASSWORD, make_app, open_case, sample_jpeg


def test_login_gives_token_and_me(client, users):
    officer = users.create("wang")
    me = client.get("/api/v1/auth/me", headers=officer.headers)
    assert me.status_code == 200 and me.json["username"] == "wang"


def test_every_api_endpoint_needs_a_token(client):
    for path in ("/api/v1/cases", "/api/v1/auth/me", "/api/v1/media/abc"):
        resp = client.get(path)
        assert resp.status_code == 401
        assert resp.json["error"]["code"] == "unauthorized"


def test_wrong_password_is_refused_then_slowed(client, users):
    users.create("zhao")
    codes = [
        client.post("/api/v1/auth/login", json={"username": "zhao", "password": "nope"}).status_code
        for _ in range(4)
    ]
    assert codes == [401, 401, 401, 401]
    blocked = client.post("/api/v1/auth/login", json={"username": "zhao", "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json["error"]["code"] == "login_throttled"
    assert int(blocked.headers["Retry-After"]) >= 1


def test_logout_revokes_the_token(client, users):
    officer = users.create("qian")
    assert client.post("/api/v1/auth/logout", headers=officer.headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=officer.headers).status_code == 401


def test_bad_json_gets_a_clear_error(client, users):
    officer = users.create("sun")
    resp = client.post("/api/v1/cases", data="nope", headers=officer.headers)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_json"
    resp = client.post("/api/v1/cases", json={"title": ""}, headers=officer.headers)
    assert resp.status_code == 422 and "title" in resp.json["error"]["details"]["fields"]


def test_case_visibility_across_officers_and_units(client, users):
    a = users.create("a1", unit="U1")
    b = users.create("b1", unit="U1")
    other_unit = users.create("c1", unit="U2")
    sup1 = users.create("sup1", role="supervisor", unit="U1")
    sup2 = users.create("sup2", role="supervisor", unit="U2")
    admin = users.create("adm", role="admin", unit="U1")
    case = open_case(client, a)
    item_id = tus.upload(client, a, case["id"], sample_jpeg())

    for outsider in (b, other_unit, sup2, admin):
        assert (
            client.get(f"/api/v1/cases/{case['id']}", headers=outsider.headers).status_code == 404
        )
        assert client.get(f"/api/v1/media/{item_id}", headers=outsider.headers).status_code == 404
        original = client.get(f"/api/v1/media/{item_id}/original", headers=outsider.headers)
        assert original.status_code == 404
        listed = client.get("/api/v1/cases", headers=outsider.headers).json
        assert case["id"] not in [c["id"] for c in listed["items"]]

    for insider in (a, sup1):
        assert client.get(f"/api/v1/cases/{case['id']}", headers=insider.headers).status_code == 200
        assert client.get(f"/api/v1/media/{item_id}", headers=insider.headers).status_code == 200

    # An officer of another unit cannot upload into the case either: it does not exist for them.
    data = sample_jpeg(32, 32)
    resp = tus.create(client, b, len(data), tus.metadata(case["id"], data, device_id="phone-b"))
    assert resp.status_code == 404 and resp.json["error"]["code"] == "case_not_found"


def test_supervisor_assigns_officers_and_counts_media(client, users):
    sup = users.create("sup", role="supervisor")
    officer = users.create("zhou")
    case = open_case(client, sup, officer_ids=[officer.id], major_property=True)
    assert [o["username"] for o in case["officers"]] == ["zhou"]
    tus.upload(client, officer, case["id"], sample_jpeg())
    listed = client.get("/api/v1/cases", headers=sup.headers).json
    assert listed["total"] == 1 and listed["items"][0]["media_counts"] == {"photo": 1}


def test_officer_of_another_unit_cannot_be_assigned(client, users):
    sup = users.create("sup", role="supervisor", unit="U1")
    stranger = users.create("wu", unit="U2")
    resp = client.post(
        "/api/v1/cases", json={"title": "x", "officer_ids": [stranger.id]}, headers=sup.headers
    )
    assert resp.status_code == 422 and resp.json["error"]["code"] == "invalid_officers"


def test_stages_move_forward_only(client, users):
    officer = users.create("zheng")
    sup = users.create("boss", role="supervisor")
    case = open_case(client, officer)
    url = f"/api/v1/cases/{case['id']}/stage"
    skip = client.post(
        url, json={"to_stage": "evidence", "reason": "现场取证"}, headers=officer.headers
    )
    assert skip.status_code == 409 and skip.json["error"]["code"] == "transition_not_allowed"
    assert skip.json["error"]["details"]["next_stage"] == "investigation"
    moved = client.post(
        url,
        json={
            "to_stage": "investigation",
            "reason": "批准立案",
            "override_reason": "先行调查，补办审批",
        },
        headers=sup.headers,
    )
    assert moved.status_code == 200 and moved.json["current_stage"] == "investigation"
    back = client.post(url, json={"to_stage": "filing", "reason": "x"}, headers=officer.headers)
    assert back.status_code == 409 and back.json["error"]["code"] == "stage_not_forward"
    stages = client.get(f"/api/v1/cases/{case['id']}", headers=officer.headers).json["stages"]
    assert [s["stage"] for s in stages] == ["filing", "investigation"]
    assert stages[0]["ended_at"] is not None and stages[1]["ended_at"] is None


def test_legal_reviewer_cannot_open_cases(client, users):
    legal = users.create("fa", role="legal")
    resp = client.post("/api/v1/cases", json={"title": "x"}, headers=legal.headers)
    assert resp.status_code == 403 and resp.json["error"]["code"] == "role_forbidden"


def test_passwords_are_argon2id_at_the_standard_cost(app_config):
    """Tests hash at Argon2's least cost for speed; a real app never does, and a password
    hashed at another cost is upgraded to the standard one when its user signs in."""
    production = make_app({k: v for k, v in app_config.items() if k != "PASSWORD_HASH_COST"})
    with production.app_context():
        user = create_user(
            db.session, username="li", password=PASSWORD, role="officer", name="Li", unit_code="U1"
        )
        assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        user.password_hash = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(
            PASSWORD
        )
        db.session.commit()
    resp = production.test_client().post(
        "/api/v1/auth/login", json={"username": "li", "password": PASSWORD}
    )
    assert resp.status_code == 200, resp.json
    with production.app_context():
        stored = db.session.execute(sa.select(User.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    with production.app_context():
        db.session.remove()
        db.engine.dispose()
