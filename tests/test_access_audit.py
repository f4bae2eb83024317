"""Every read of personal data or evidence is in the audit log: lists name the ids they
returned, and a playback link records who got it and each distinct use of it."""

from __future__ import annotations

import io
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image

from server import clock
from server.extensions import db
from server.models import AuditEntry, MediaItem, User
from server.services import audit, playback
from tests import tus_helpers as tus
from tests.conftest import Actor, open_case, sample_jpeg

API = "/api/v1"
PARTY = {"name": "张三", "kind": "person", "id_number": "310101199001011234"}


def entries(app, action: str) -> list[dict[str, Any]]:
    """The log's entries of one action, oldest first, as plain dicts."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        ).scalars()
        return [
            {
                "actor": e.actor,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "client_addr": e.client_addr,
                "details": e.details,
            }
            for e in rows
        ]


def chain_ok(app) -> bool:
    with app.app_context():
        return audit.verify_chain(db.session).ok


@pytest.fixture
def team(users) -> dict[str, Actor]:
    return {
        "li": users.create("li"),
        "sup": users.create("boss", role="supervisor"),
        "admin": users.create("admin", role="admin"),
    }


@pytest.fixture
def photo(client, team) -> tuple[dict[str, Any], str]:
    """A case with a party's ID number, and one photo in it."""
    case = open_case(client, team["li"], parties=[PARTY])
    item = tus.upload(
        client, team["li"], case["id"], sample_jpeg(), device_id="phone-li", filename="p.jpg"
    )
    return case, item


def unit_of(app, actor: Actor) -> str:
    with app.app_context():
        return str(db.session.get(User, actor.id).unit_id)


# --- B1: reads of lists and details ------------------------------------------------------------


def test_case_list_with_parties_is_audited_with_the_ids_returned(app, client, team):
    li = team["li"]
    first = open_case(client, li, parties=[PARTY])
    second = open_case(client, li, title="第二案")
    resp = client.get(f"{API}/cases", query_string={"per_page": 1, "page": 2}, headers=li.headers)
    assert resp.status_code == 200
    assert [c["id"] for c in resp.json["items"]] == [first["id"]]  # newest first
    assert resp.json["items"][0]["parties"][0]["id_number"] == PARTY["id_number"]
    resp = client.get(f"{API}/cases", query_string={"has_gaps": "1"}, headers=li.headers)
    assert resp.status_code == 200

    listed = entries(app, "case.listed")
    assert [(e["actor"], e["object_type"], e["object_id"]) for e in listed] == [
        ("li", "unit", unit_of(app, li)),
        ("li", "unit", unit_of(app, li)),
    ]
    assert listed[0]["client_addr"] == "127.0.0.1"
    assert listed[0]["details"] == {
        "ids": [first["id"]],
        "filters": {},
        "page": 2,
        "per_page": 1,
        "total": 2,
    }
    assert listed[1]["details"]["filters"] == {"has_gaps": True}
    assert listed[1]["details"]["ids"] == []
    assert second["id"] not in listed[0]["details"]["ids"]
    assert chain_ok(app)


def test_console_lists_are_audited_with_ids_filters_and_page(app, client, team, photo):
    sup = team["sup"]
    case, item = photo
    resp = client.get(f"{API}/console/cases", query_string={"q": "无证"}, headers=sup.headers)
    assert resp.status_code == 200 and [c["id"] for c in resp.json["items"]] == [case["id"]]
    resp = client.get(
        f"{API}/console/media", query_string={"case_id": case["id"]}, headers=sup.headers
    )
    assert resp.status_code == 200 and [m["id"] for m in resp.json["items"]] == [item]
    assert resp.json["items"][0]["uploader"]["id"] == team["li"].id  # who, and where (GPS)

    [cases] = entries(app, "case.listed")
    assert (cases["actor"], cases["object_type"], cases["object_id"]) == (
        "boss",
        "unit",
        unit_of(app, sup),
    )
    assert cases["details"] == {
        "view": "console",
        "ids": [case["id"]],
        "filters": {"q": "无证"},
        "page": 1,
        "per_page": 50,
        "total": 1,
    }
    [media] = entries(app, "media.listed")
    assert (media["actor"], media["object_type"]) == ("boss", "unit")
    assert media["details"] == {
        "view": "console",
        "ids": [item],
        "filters": {"case_id": case["id"]},
        "page": 1,
        "per_page": 50,
        "total": 1,
    }
    # A refused list (another role) writes nothing.
    assert client.get(f"{API}/console/media", headers=team["li"].headers).status_code == 403
    assert len(entries(app, "media.listed")) == 1
    assert chain_ok(app)


def test_bookmark_list_is_in_the_items_custody_trail(app, client, team, photo):
    sup, li = team["sup"], team["li"]
    _case, item = photo
    with app.app_context():  # bookmarks are for recordings; the list works for any item
        db.session.get(MediaItem, item).kind = "video"
        db.session.commit()
    made = client.post(
        f"{API}/media/{item}/bookmarks", json={"at_s": 0, "note": "出示执法证"}, headers=sup.headers
    )
    assert made.status_code == 201, made.json
    resp = client.get(f"{API}/media/{item}/bookmarks", headers=li.headers)
    assert resp.status_code == 200 and len(resp.json["items"]) == 1

    [viewed] = entries(app, "media.bookmarks_listed")
    assert (viewed["actor"], viewed["object_type"], viewed["object_id"]) == ("li", "media", item)
    assert viewed["details"] == {"ids": [made.json["id"]]}
    trail = client.get(f"{API}/media/{item}/custody", headers=sup.headers).json["entries"]
    assert "media.bookmarks_listed" in [e["action"] for e in trail]


def _photo_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (450, 600), (90, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


def test_credential_list_and_photo_are_audited(app, client, team):
    admin, li = team["admin"], team["li"]
    issued = client.post(
        f"{API}/credentials",
        json={
            "user_id": li.id,
            "number": "31010020260001",
            "issuing_authority": "上海市浦东新区人民政府",
            "categories": ["市场监管"],
            "area": "浦东新区",
            "valid_from": "2020-01-01",
            "valid_to": "2099-12-31",
        },
        headers=admin.headers,
    )
    assert issued.status_code == 201, issued.json
    cid = issued.json["id"]
    put = client.put(
        f"{API}/credentials/{cid}/photo",
        data=_photo_jpeg(),
        headers={**admin.headers, "Content-Type": "image/jpeg"},
    )
    assert put.status_code == 200, put.json

    assert client.get(f"{API}/credentials/{cid}/photo", headers=li.headers).status_code == 200
    got = client.get(
        f"{API}/credentials/{cid}/photo",
        headers=admin.headers,
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert got.status_code == 200
    assert client.get(f"{API}/credentials/999/photo", headers=admin.headers).status_code == 404
    viewed = entries(app, "credential.photo_viewed")
    assert [(e["actor"], e["object_type"], e["object_id"], e["client_addr"]) for e in viewed] == [
        ("li", "credential", str(cid), "127.0.0.1"),
        ("admin", "credential", str(cid), "10.0.0.9"),
    ]
    assert viewed[0]["details"] == {"holder_id": li.id, "sha256": put.json["photo_sha256"]}

    listed = client.get(
        f"{API}/credentials", query_string={"user_id": li.id}, headers=admin.headers
    )
    assert listed.status_code == 200 and [c["id"] for c in listed.json["items"]] == [cid]
    assert client.get(f"{API}/credentials", headers=li.headers).status_code == 200
    rows = entries(app, "credential.listed")
    assert [(e["actor"], e["object_type"], e["object_id"]) for e in rows] == [
        ("admin", "unit", unit_of(app, admin)),
        ("li", "unit", unit_of(app, li)),
    ]
    assert rows[0]["details"] == {"ids": [cid], "user_id": li.id}
    assert rows[1]["details"] == {"ids": [cid], "user_id": None}
    assert chain_ok(app)


# --- B2: playback links ------------------------------------------------------------------------


def _link(client, actor: Actor, item: str, what: str = "original", addr: str = "10.1.1.1") -> str:
    resp = client.post(
        f"{API}/media/{item}/playback-url",
        json={"what": what},
        headers=actor.headers,
        environ_base={"REMOTE_ADDR": addr},
    )
    assert resp.status_code == 200, resp.json
    return resp.json["url"]


def _get(client, url: str, addr: str, **headers: str):
    return client.get(url, headers=headers, environ_base={"REMOTE_ADDR": addr})


def test_issuing_a_playback_link_is_audited(app, client, team, photo):
    sup = team["sup"]
    _case, item = photo
    url = _link(client, sup, item, "thumbnail")
    [issued] = entries(app, "playback_url.issued")
    assert (issued["actor"], issued["object_type"], issued["object_id"]) == ("boss", "media", item)
    assert issued["client_addr"] == "10.1.1.1"
    token = url.split("pt=")[1]
    claims = playback.open_token(token, secret_key=app.config["SECRET_KEY"])
    assert claims is not None
    assert issued["details"] == {
        "grant": claims.grant_id,
        "what": "thumbnail",
        "expires_at": claims.expires_at.isoformat(),
    }
    # A refused issue (nothing to play) writes nothing.
    resp = client.post(
        f"{API}/media/{item}/playback-url", json={"what": "proxy"}, headers=sup.headers
    )
    assert resp.status_code == 404
    assert len(entries(app, "playback_url.issued")) == 1


def test_a_link_is_bound_to_the_address_it_was_issued_to(app, client, team, photo):
    sup = team["sup"]
    _case, item = photo
    url = _link(client, sup, item, addr="10.1.1.1")
    assert _get(client, url, "10.1.1.1", Range="bytes=0-9").status_code == 206
    for addr, suffix in (("10.2.2.2", "&download=1"), ("10.3.3.3", "")):
        resp = _get(client, url + suffix, addr)
        assert resp.status_code == 403, addr
        assert resp.json["error"]["code"] == "playback_token_other_address"
    played = entries(app, "media.played")
    assert [(e["client_addr"], e["details"]["first_range"]) for e in played] == [
        ("10.1.1.1", "0-9")
    ]
    assert not entries(app, "media.downloaded")


def test_each_distinct_use_of_a_link_is_recorded_once(app, client, team, photo):
    """A player's range requests are one use; downloading, or another file, is another."""
    sup = team["sup"]
    _case, item = photo
    url = _link(client, sup, item)
    grant = playback.open_token(url.split("pt=")[1], secret_key="test-secret").grant_id
    for span in ("bytes=0-9", "bytes=10-19", "bytes=0-9"):
        assert _get(client, url, "10.1.1.1", Range=span).status_code == 206
    assert _get(client, url, "10.1.1.1").status_code == 200
    for _ in range(2):
        assert _get(client, url + "&download=1", "10.1.1.1").status_code == 200
    thumb = _link(client, sup, item, "thumbnail")
    assert _get(client, thumb, "10.1.1.1").status_code == 200

    played = entries(app, "media.played")
    assert [(e["details"]["what"], e["details"]["first_range"]) for e in played] == [
        ("original", "0-9"),
        ("thumbnail", None),
    ]
    assert played[0]["details"]["grant"] == grant
    assert played[0]["details"]["via"] == "playback_url"
    [downloaded] = entries(app, "media.downloaded")
    assert downloaded["details"]["grant"] == grant and downloaded["client_addr"] == "10.1.1.1"
    assert chain_ok(app)


def test_an_unbound_link_records_every_address_that_used_it(app, client, team, photo):
    """Issued without an address (by a service, not through the API): each address that uses
    it, and each download, is its own entry."""
    sup = team["sup"]
    _case, item = photo
    with app.app_context():
        issued = playback.issue(
            db.session,
            db.session.get(User, sup.id),
            db.session.get(MediaItem, item),
            "original",
            clock.now(),
            secret_key=app.config["SECRET_KEY"],
        )
        db.session.commit()
    url = f"{API}/media/{item}/original?pt={issued.token}"
    assert _get(client, url, "10.1.1.1", Range="bytes=0-9").status_code == 206
    assert _get(client, url, "10.1.1.1", Range="bytes=10-19").status_code == 206
    assert _get(client, url + "&download=1", "10.2.2.2").status_code == 200
    assert _get(client, url, "10.3.3.3").status_code == 200
    assert _get(client, url, "10.3.3.3").status_code == 200
    uses = [(e["client_addr"], e["details"]["first_range"]) for e in entries(app, "media.played")]
    assert uses == [("10.1.1.1", "0-9"), ("10.3.3.3", None)]
    [downloaded] = entries(app, "media.downloaded")
    assert downloaded["client_addr"] == "10.2.2.2"


def test_custody_export_link_records_view_and_download_apart(app, client, team, photo):
    sup = team["sup"]
    _case, item = photo
    url = _link(client, sup, item, "custody.csv")
    for suffix in ("", "", "&download=1", "&download=1"):
        assert _get(client, url + suffix, "10.1.1.1").status_code == 200
    exported = entries(app, "custody.exported")
    assert [e["details"]["download"] for e in exported] == [False, True]
    assert {e["details"]["via"] for e in exported} == {"playback_url"}


def test_document_and_legal_review_reads_are_audited(app, client, users):
    """Documents and review packages hold the parties' data: lists and views leave entries."""
    from tests.workflow_helpers import Flow, move_case_to

    officer = users.create("wu")
    sup = users.create("zhou", role="supervisor")
    legal = users.create("sun", role="legal")
    cid = open_case(client, officer, parties=[PARTY])["id"]
    doc_id = Flow(client).doc(officer, cid, "prior_notice")
    assert client.get(f"{API}/cases/{cid}/documents", headers=sup.headers).status_code == 200
    assert client.get(f"{API}/documents/{doc_id}", headers=sup.headers).status_code == 200
    [listed] = entries(app, "document.listed")
    assert (listed["actor"], listed["object_type"], listed["object_id"]) == (
        "zhou",
        "case",
        str(cid),
    )
    assert listed["details"]["ids"] == [doc_id]
    [viewed] = entries(app, "document.viewed")
    assert viewed["details"] == {"document": doc_id} and viewed["actor"] == "zhou"

    move_case_to(client, sup, cid, "review")
    submitted = client.post(
        f"{API}/cases/{cid}/legal-reviews",
        json={"report": "r", "decision_draft": {"penalties": [{"kind": "warning"}]}},
        headers=officer.headers,
    )
    assert submitted.status_code == 201, submitted.json
    rid = submitted.json["id"]
    assert (
        client.get(f"{API}/legal-reviews?status=submitted", headers=legal.headers).status_code
        == 200
    )
    assert client.get(f"{API}/legal-reviews/{rid}", headers=legal.headers).status_code == 200
    assert client.get(f"{API}/cases/{cid}/legal-reviews", headers=sup.headers).status_code == 200
    queue, per_case = entries(app, "legal_review.listed")
    assert queue["actor"] == "sun" and queue["object_type"] == "unit"
    assert queue["details"] == {"ids": [rid], "filters": {"status": "submitted"}}
    assert (per_case["actor"], per_case["object_id"], per_case["details"]) == (
        "zhou",
        str(cid),
        {"ids": [rid]},
    )
    [shown] = entries(app, "legal_review.viewed")
    assert shown["actor"] == "sun" and shown["details"] == {"review": rid}
    assert chain_ok(app)
