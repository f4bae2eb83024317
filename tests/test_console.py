"""Supervisor console (issue #5, docs/console-api.md): lists, timeline, playback URLs,
bookmarks, key evidence and custody exports — through the API, on real storage and media."""

from __future__ import annotations

import csv
import io
import subprocess
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from server import clock
from server.extensions import db
from server.models import Case, MediaItem, User
from server.services import playback
from server.services.auth import create_user
from tests import tus_helpers as tus
from tests.conftest import PASSWORD, Actor, open_case, sample_jpeg
from tests.workflow_helpers import move_case_to

API = "/api/v1"
TODAY = clock.today()  # list dates are days in Asia/Shanghai


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("console") / "v.mp4"
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=3",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(out),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return Path(out).read_bytes()


def named(app, client, username: str, name: str, role: str = "officer", unit: str = "U1") -> Actor:
    """A user with a real (Chinese) name, signed in."""
    with app.app_context():
        user = create_user(
            db.session, username=username, password=PASSWORD, role=role, name=name, unit_code=unit
        )
        db.session.commit()
        user_id = user.id
    resp = client.post(f"{API}/auth/login", json={"username": username, "password": PASSWORD})
    assert resp.status_code == 200, resp.json
    return Actor(user_id, username, role, unit, resp.json["token"])


@pytest.fixture
def team(app, client, users):
    """A unit U1 with two officers, a supervisor and a legal reviewer; an outsider unit U2."""
    return {
        "li": named(app, client, "li", "李明"),
        "wang": named(app, client, "wang", "王芳"),
        "sup": named(app, client, "boss", "张主任", role="supervisor"),
        "legal": named(app, client, "fa", "赵法制", role="legal"),
        "admin": users.create("admin", role="admin"),
        "other_sup": users.create("boss2", role="supervisor", unit="U2"),
        "other_officer": users.create("zhou", unit="U2"),
    }


def upload(client, actor: Actor, case_id: int, data: bytes, **meta) -> str:
    """tus upload from the actor's own phone."""
    return tus.upload(
        client, actor, case_id, data, **{"device_id": f"phone-{actor.username}", **meta}
    )


def actions(client, actor: Actor, item_id: str) -> list[dict]:
    resp = client.get(f"{API}/media/{item_id}/custody", headers=actor.headers)
    assert resp.status_code == 200, resp.json
    return resp.json["entries"]


def console_cases(client, actor: Actor, **params) -> dict:
    resp = client.get(f"{API}/console/cases", query_string=params, headers=actor.headers)
    assert resp.status_code == 200, resp.json
    return resp.json


def numbers(listing: dict) -> list[str]:
    return [c["number"] for c in listing["items"]]


def advance(client, actor: Actor, case_id: int, stage: str) -> None:
    """Set-up only: a supervisor moves the case on, overriding missing records."""
    move_case_to(client, actor, case_id, stage)


# --- roles ------------------------------------------------------------------------------------


def test_officers_and_admins_never_see_the_console(client, team):
    for who in ("li", "admin"):
        for path in ("/console/cases", "/console/media"):
            resp = client.get(f"{API}{path}", headers=team[who].headers)
            assert resp.status_code == 403 and resp.json["error"]["code"] == "role_forbidden"
    assert client.get(f"{API}/console/cases").status_code == 401
    assert client.get(f"{API}/console/cases", headers=team["legal"].headers).status_code == 200


def test_another_units_case_and_media_are_404(client, team):
    theirs = open_case(client, team["other_officer"], number="X-1")
    item_id = upload(client, team["other_officer"], theirs["id"], sample_jpeg())
    sup = team["sup"]
    assert (
        client.get(f"{API}/cases/{theirs['id']}/timeline", headers=sup.headers).status_code == 404
    )
    resp = client.get(f"{API}/console/media?case_id={theirs['id']}", headers=sup.headers)
    assert resp.status_code == 404
    assert console_cases(client, sup)["total"] == 0
    assert client.get(f"{API}/console/media", headers=sup.headers).json["total"] == 0
    for method, path, body in (
        ("post", f"/media/{item_id}/playback-url", {"what": "original"}),
        ("post", f"/media/{item_id}/bookmarks", {"at_s": 1, "note": "x"}),
        ("post", f"/media/{item_id}/key-evidence", {"key": True, "reason": "x"}),
        ("get", f"/media/{item_id}/bookmarks", None),
        ("get", f"/media/{item_id}/custody.csv", None),
        ("get", f"/media/{item_id}/custody.pdf", None),
    ):
        resp = getattr(client, method)(f"{API}{path}", json=body, headers=sup.headers)
        assert resp.status_code == 404, (path, resp.json)
    # Their own supervisor sees it.
    listing = console_cases(client, team["other_sup"])
    assert numbers(listing) == ["X-1"] and listing["items"][0]["counts"]["filing"]["photo"] == 1


# --- lists ------------------------------------------------------------------------------------


def test_case_list_filters_flags_and_pagination(app, client, team, video):
    li, wang, sup = team["li"], team["wang"], team["sup"]
    a = open_case(client, li, number="2026-A-001", title="无证经营检查", major_property=True)
    # b: two officers on site (执法人员不得少于两人), so its video leaves no gap.
    b = open_case(client, wang, number="2026-A-002", title="食品安全抽查", officer_ids=[li.id])
    c = open_case(client, sup, number="2026-B-001", title="噪声扰民", officer_ids=[li.id, wang.id])
    # a: only a photo of a must-film activity → recording gaps.
    upload(client, li, a["id"], sample_jpeg(), activity="evidence_collection")
    # b: a video, and a photo captured 3 days before the case with no stage → unattached, late.
    upload(client, wang, b["id"], video, content_type="video/mp4", filename="v.mp4")
    early = (clock.now() - timedelta(days=3)).isoformat()
    lost = upload(client, wang, b["id"], sample_jpeg(30, 20), stage=None, captured_at=early)
    # c: moved on to investigation; a photo from a phone whose clock is 2 h behind.
    advance(client, sup, c["id"], "investigation")
    skewed = (clock.now() - timedelta(hours=2)).isoformat()
    upload(
        client,
        li,
        c["id"],
        sample_jpeg(20, 20),
        stage="investigation",
        activity="other",
        sent_at=skewed,
    )
    # c: an upload whose bytes do not match the device's hash.
    upload(client, li, c["id"], sample_jpeg(22, 22), sha256="0" * 64)
    # b was opened ten days ago.
    with app.app_context():
        db.session.get(Case, b["id"]).created_at = clock.now() - timedelta(days=10)
        db.session.commit()

    everything = console_cases(client, sup)
    assert everything["total"] == 3 and (everything["page"], everything["per_page"]) == (1, 50)
    assert numbers(everything) == ["2026-B-001", "2026-A-001", "2026-A-002"]  # newest first
    by_number = {x["number"]: x for x in everything["items"]}
    first = by_number["2026-A-001"]
    assert first["officers"] == [{"id": li.id, "name": "李明"}] and first["major_property"]
    assert first["current_stage"] == "filing"
    assert first["counts"] == {"filing": {"photo": 1, "video": 0, "audio": 0, "document": 0}}
    # gaps: the photo of a must-film activity, no video in a major-property case, and li alone
    # on site (执法人员不得少于两人).
    assert first["flags"] == {
        "gap": 3, "unverified": 0, "hash_mismatch": 0, "unattached": 0, "clock_skew": 0,
        "late_upload": 0, "review_overdue": 0, "override": 0,
    }  # fmt: skip
    second = by_number["2026-A-002"]
    assert second["counts"]["filing"]["video"] == 1 and second["counts"]["unattached"]["photo"] == 1
    assert second["flags"]["unattached"] == 1 and second["flags"]["late_upload"] == 1
    third = by_number["2026-B-001"]
    assert [o["name"] for o in third["officers"]] == ["李明", "王芳"]
    assert third["current_stage"] == "investigation"
    assert third["counts"]["investigation"]["photo"] == 1  # the mismatched upload is not counted
    assert third["flags"]["clock_skew"] == 1 and third["flags"]["hash_mismatch"] == 1
    # Moved on over missing records (the set-up overrides): flagged for the supervisor.
    assert third["flags"]["override"] == 1
    assert numbers(console_cases(client, sup, flag="override")) == ["2026-B-001"]
    assert numbers(console_cases(client, sup, flag="review_overdue")) == []

    assert numbers(console_cases(client, sup, number="2026-A")) == ["2026-A-001", "2026-A-002"]
    assert numbers(console_cases(client, sup, number="2026-A-002")) == ["2026-A-002"]
    assert numbers(console_cases(client, sup, officer_id=wang.id)) == ["2026-B-001", "2026-A-002"]
    assert numbers(console_cases(client, sup, stage="investigation")) == ["2026-B-001"]
    assert numbers(console_cases(client, sup, kind="video")) == ["2026-A-002"]
    assert numbers(console_cases(client, sup, activity="evidence_collection")) == ["2026-A-001"]
    assert numbers(console_cases(client, sup, q="食品")) == ["2026-A-002"]
    for flag, expected in (
        ("gap", ["2026-A-001"]),
        ("unattached", ["2026-A-002"]),
        ("late_upload", ["2026-A-002"]),
        ("clock_skew", ["2026-B-001"]),
        ("hash_mismatch", ["2026-B-001"]),
        ("unverified", []),
    ):
        assert numbers(console_cases(client, sup, flag=flag)) == expected, flag
    since = (TODAY - timedelta(days=1)).isoformat()
    assert numbers(console_cases(client, sup, **{"from": since})) == ["2026-B-001", "2026-A-001"]
    old = (TODAY - timedelta(days=10)).isoformat()
    assert numbers(console_cases(client, sup, **{"from": old, "to": old})) == ["2026-A-002"]
    assert numbers(console_cases(client, sup, officer_id=li.id, flag="gap", stage="filing")) == [
        "2026-A-001"
    ]
    # Empty parameters are ignored; bad ones are 422.
    assert console_cases(client, sup, stage="", flag="")["total"] == 3
    for bad in (
        {"flag": "nope"},
        {"per_page": 201},
        {"from": "yesterday"},
        {"from": TODAY.isoformat(), "to": old},
    ):
        resp = client.get(f"{API}/console/cases", query_string=bad, headers=sup.headers)
        assert resp.status_code == 422, bad

    pages = [console_cases(client, sup, per_page=2, page=p) for p in (1, 2, 3)]
    assert [numbers(p) for p in pages] == [["2026-B-001", "2026-A-001"], ["2026-A-002"], []]
    assert {p["total"] for p in pages} == {3}

    # The counters follow the items: an item back to "received" is unverified; a supervisor's
    # move clears "unattached".
    with app.app_context():
        db.session.get(MediaItem, lost).status = "received"
        db.session.commit()
    assert numbers(console_cases(client, sup, flag="unverified")) == ["2026-A-002"]
    resp = client.post(
        f"{API}/media/{lost}/attachment",
        json={"stage": "filing", "reason": "现场前拍摄"},
        headers=sup.headers,
    )
    assert resp.status_code == 200
    assert numbers(console_cases(client, sup, flag="unattached")) == []
    moved = console_cases(client, sup, number="2026-A-002")["items"][0]
    assert moved["counts"]["filing"]["photo"] == 1 and "unattached" not in moved["counts"]


def test_media_list_filters(client, team, video):
    li, wang, sup = team["li"], team["wang"], team["sup"]
    a = open_case(client, li, number="M-1", title="油烟扰民")
    b = open_case(client, wang, number="M-2")
    now = clock.now().replace(microsecond=0)
    photo = upload(
        client, li, a["id"], sample_jpeg(), captured_at=(now - timedelta(minutes=2)).isoformat()
    )
    clip = upload(
        client, wang, b["id"], video, content_type="video/mp4", filename="v.mp4", activity="hearing",
        captured_at=(now - timedelta(minutes=1)).isoformat(),
    )  # fmt: skip
    early = (clock.now() - timedelta(days=3)).isoformat()
    late = upload(client, wang, b["id"], sample_jpeg(10, 10), stage=None, captured_at=early)

    def ids(**params) -> list[str]:
        resp = client.get(f"{API}/console/media", query_string=params, headers=sup.headers)
        assert resp.status_code == 200, resp.json
        return [m["id"] for m in resp.json["items"]]

    listing = client.get(f"{API}/console/media", headers=sup.headers).json
    assert listing["total"] == 3 and [m["id"] for m in listing["items"]] == [clip, photo, late]
    summary = next(m for m in listing["items"] if m["id"] == clip)
    assert summary["case_number"] == "M-2" and summary["uploader"] == {
        "id": wang.id,
        "name": "王芳",
    }
    assert summary["kind"] == "video" and 2.5 < summary["duration_s"] < 3.5
    assert summary["key_evidence"] is False and "proxy" in summary["derivatives"]
    assert summary["latitude"] == pytest.approx(31.2304) and summary["status"] == "verified"
    assert ids(case_id=b["id"]) == [clip, late]
    assert ids(kind="video") == [clip]
    assert ids(activity="onsite_inspection") == [photo, late]
    assert ids(officer_id=li.id) == [photo]
    assert ids(number="M-1") == [photo]
    assert ids(q="油烟") == [photo]
    assert ids(flag="late_upload") == [late] and ids(flag="unattached") == [late]
    assert ids(stage="filing") == [clip, photo]
    assert ids(
        **{
            "from": (TODAY - timedelta(days=5)).isoformat(),
            "to": (TODAY - timedelta(days=2)).isoformat(),
        }
    ) == [late]
    assert ids(per_page=1, page=2) == [photo]


# --- timeline ---------------------------------------------------------------------------------


def test_timeline_stages_media_credentials_and_gaps(app, client, team, video):
    li, sup = team["li"], team["sup"]
    case = open_case(client, li, number="T-1", major_property=True)
    with app.app_context():  # 亮证 needs an issued credential
        from server.services import credentials

        credentials.issue(
            db.session,
            None,
            {
                "user_id": li.id,
                "number": "31010020260001",
                "issuing_authority": "上海市浦东新区人民政府",
                "categories": ["市场监管"],
                "area": "浦东新区",
                "valid_from": TODAY - timedelta(days=1),
                "valid_to": TODAY + timedelta(days=365),
            },
        )
        db.session.commit()
    assert client.get(f"{API}/me/credential", headers=li.headers).status_code == 200
    photo = upload(client, li, case["id"], sample_jpeg(), activity="evidence_collection")
    advance(client, sup, case["id"], "evidence")
    clip = upload(
        client, li, case["id"], video, stage="evidence", content_type="video/mp4", filename="v.mp4"
    )
    early = (clock.now() - timedelta(days=3)).isoformat()
    lost = upload(client, li, case["id"], sample_jpeg(12, 12), stage=None, captured_at=early)

    resp = client.get(f"{API}/cases/{case['id']}/timeline", headers=sup.headers)
    assert resp.status_code == 200, resp.json
    tl = resp.json
    assert tl["case"]["number"] == "T-1" and tl["case"]["media_counts"] == {"photo": 2, "video": 1}
    assert [s["stage"] for s in tl["stages"]] == ["filing", "investigation", "evidence"]
    filing, _investigation, evidence = tl["stages"]
    assert filing["ended_at"] is not None and evidence["ended_at"] is None
    assert [i["id"] for i in filing["items"]] == [photo]
    assert [i["id"] for i in evidence["items"]] == [clip]
    assert [i["id"] for i in tl["unattached"]] == [lost]
    item = evidence["items"][0]
    assert item["uploader"] == {"id": li.id, "name": "李明"} and item["kind"] == "video"
    assert {"proxy", "poster", "strip", "thumbnail"} <= set(item["derivatives"])
    assert item["longitude"] == pytest.approx(121.4737) and item["accuracy_m"] == 8.5
    [event] = tl["credential_events"]
    assert event["officer"] == "李明" and event["action"] == "credential.displayed"
    assert event["number"] == "31010020260001"
    assert {(g["code"], g["stage"]) for g in tl["gaps"]} == {
        ("activity_not_filmed", "filing"),
        ("major_property_no_video", "filing"),
        ("major_property_no_video", "investigation"),
        # li alone on site, collecting evidence (执法人员不得少于两人)
        ("too_few_officers", "filing"),
        ("too_few_officers", "evidence"),
    }
    assert tl["flags"]["gap"] == 5 and tl["flags"]["unattached"] == 1
    assert tl["counts"]["evidence"]["video"] == 1
    # The assigned officer sees it too; another unit's supervisor does not; viewing is audited.
    assert client.get(f"{API}/cases/{case['id']}/timeline", headers=li.headers).status_code == 200
    other = client.get(f"{API}/cases/{case['id']}/timeline", headers=team["other_sup"].headers)
    assert other.status_code == 404
    with app.app_context():
        from server.models import AuditEntry

        views = db.session.execute(
            sa.select(AuditEntry.actor, AuditEntry.details)
            .where(AuditEntry.action == "case.viewed", AuditEntry.object_id == str(case["id"]))
            .order_by(AuditEntry.seq)
        ).all()
        assert [(a, d) for a, d in views] == [
            ("boss", {"view": "timeline"}),
            ("li", {"view": "timeline"}),
        ]


# --- playback URLs ----------------------------------------------------------------------------


def _playback_url(client, actor: Actor, item_id: str, what: str) -> str:
    resp = client.post(
        f"{API}/media/{item_id}/playback-url", json={"what": what}, headers=actor.headers
    )
    assert resp.status_code == 200, resp.json
    expires = datetime.fromisoformat(resp.json["expires_at"])
    assert timedelta(minutes=9) < expires - clock.now() <= timedelta(minutes=10)
    return resp.json["url"]


def test_playback_url_works_without_bearer_and_audits_first_use_once(app, client, team, video):
    li, sup = team["li"], team["sup"]
    case = open_case(client, li)
    clip = upload(client, li, case["id"], video, content_type="video/mp4", filename="v.mp4")
    url = _playback_url(client, sup, clip, "proxy")
    assert url.startswith(f"{API}/media/{clip}/proxy?pt=")

    first = client.get(url, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206 and first.data[4:8] == b"ftyp"
    again = client.get(url, headers={"Range": "bytes=100-199"})
    assert again.status_code == 206 and len(again.data) == 100
    assert client.get(url).status_code == 200
    played = [e for e in actions(client, sup, clip) if e["action"] == "media.played"]
    assert len(played) == 1
    assert played[0]["actor"] == "boss"
    assert played[0]["details"]["what"] == "proxy"
    assert played[0]["details"]["first_range"] == "0-99"
    assert played[0]["details"]["via"] == "playback_url"

    # A second URL is a second entry; a bearer's Range reads of one file are one view.
    second = _playback_url(client, sup, clip, "proxy")
    assert client.get(second, headers={"Range": "bytes=5-9"}).status_code == 206
    for _ in range(2):
        resp = client.get(
            f"{API}/media/{clip}/proxy", headers={**sup.headers, "Range": "bytes=0-9"}
        )
        assert resp.status_code == 206
    played = [e["details"] for e in actions(client, sup, clip) if e["action"] == "media.played"]
    assert [d.get("via") for d in played] == ["playback_url", "playback_url", None]
    assert played[1]["first_range"] == "5-9" and played[2]["range"] == "0-9"

    # The original, downloaded through a token, is a download.
    original = _playback_url(client, sup, clip, "original")
    assert client.get(original + "&download=1").data == video
    assert actions(client, sup, clip)[-2]["action"] == "media.downloaded"


def test_playback_url_refused_when_expired_forged_or_for_another_file(app, client, team, video):
    li, sup = team["li"], team["sup"]
    case = open_case(client, li)
    clip = upload(client, li, case["id"], video, content_type="video/mp4", filename="v.mp4")
    photo = upload(client, li, case["id"], sample_jpeg())
    url = _playback_url(client, sup, clip, "proxy")
    token = url.split("pt=")[1]

    def get(path: str, pt: str):
        return client.get(f"{API}/media/{path}", query_string={"pt": pt})

    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    resp = get(f"{clip}/proxy", forged)
    assert resp.status_code == 401 and resp.json["error"]["code"] == "playback_token_invalid"
    assert get(f"{clip}/proxy", "garbage").status_code == 401
    other_secret = playback.make_token(
        playback.open_token(token, secret_key="test-secret"), secret_key="x"
    )
    assert get(f"{clip}/proxy", other_secret).status_code == 401
    resp = get(f"{photo}/original", token)  # another item
    assert resp.status_code == 403 and resp.json["error"]["code"] == "playback_token_mismatch"
    assert get(f"{clip}/original", token).status_code == 403  # another file of the item
    assert get(f"{clip}/custody.pdf", token).status_code == 403
    with app.app_context():
        issued = playback.issue(
            db.session,
            db.session.get(User, sup.id),
            db.session.get(MediaItem, clip),
            "proxy",
            clock.now(),
            secret_key=app.config["SECRET_KEY"],
            ttl=timedelta(seconds=-1),
        )
        db.session.commit()
    resp = get(f"{clip}/proxy", issued.token)
    assert resp.status_code == 401 and resp.json["error"]["code"] == "playback_token_expired"
    assert not [e for e in actions(client, sup, clip) if e["action"] == "media.played"]
    # Asking for a file the item does not have, or for another unit's item, fails up front.
    resp = client.post(
        f"{API}/media/{photo}/playback-url", json={"what": "proxy"}, headers=sup.headers
    )
    assert resp.status_code == 404 and resp.json["error"]["code"] == "derivative_not_found"
    resp = client.post(f"{API}/media/{photo}/playback-url", json={"what": "x"}, headers=sup.headers)
    assert resp.status_code == 422
    # A disabled account's links stop working.
    url = _playback_url(client, sup, photo, "thumbnail")
    assert client.get(url).status_code == 200
    with app.app_context():
        db.session.get(User, sup.id).active = False
        db.session.commit()
    assert client.get(url).status_code == 401


# --- annotations ------------------------------------------------------------------------------


def test_bookmarks_supervisor_and_legal_add_officer_reads(client, team, video):
    li, sup, legal = team["li"], team["sup"], team["legal"]
    case = open_case(client, li)
    clip = upload(client, li, case["id"], video, content_type="video/mp4", filename="v.mp4")
    photo = upload(client, li, case["id"], sample_jpeg())
    resp = client.post(
        f"{API}/media/{clip}/bookmarks",
        json={"at_s": 2.5, "note": "当事人拒绝签字"},
        headers=sup.headers,
    )
    assert resp.status_code == 201, resp.json
    assert resp.json["author"] == {"id": sup.id, "name": "张主任"} and resp.json["at_s"] == 2.5
    resp = client.post(
        f"{API}/media/{clip}/bookmarks",
        json={"at_s": 0.5, "note": "出示执法证"},
        headers=legal.headers,
    )
    assert resp.status_code == 201
    refused = client.post(
        f"{API}/media/{clip}/bookmarks", json={"at_s": 1, "note": "x"}, headers=li.headers
    )
    assert refused.status_code == 403
    for body in ({"at_s": -1}, {"note": "no time"}, {"at_s": 99, "note": "after the end"}):
        resp = client.post(f"{API}/media/{clip}/bookmarks", json=body, headers=sup.headers)
        assert resp.status_code == 422, body
    resp = client.post(
        f"{API}/media/{photo}/bookmarks", json={"at_s": 0, "note": "x"}, headers=sup.headers
    )
    assert resp.status_code == 422 and resp.json["error"]["code"] == "not_a_recording"

    listed = client.get(f"{API}/media/{clip}/bookmarks", headers=li.headers).json["items"]
    assert [(b["at_s"], b["note"], b["author"]["name"]) for b in listed] == [
        (0.5, "出示执法证", "赵法制"),
        (2.5, "当事人拒绝签字", "张主任"),
    ]
    marks = [e for e in actions(client, sup, clip) if e["action"] == "media.bookmarked"]
    assert [(e["actor"], e["details"]["at_s"], e["details"]["note"]) for e in marks] == [
        ("boss", 2.5, "当事人拒绝签字"),
        ("fa", 0.5, "出示执法证"),
    ]


def test_key_evidence_supervisor_only_with_reason_audited(client, team):
    li, sup, legal = team["li"], team["sup"], team["legal"]
    case = open_case(client, li)
    photo = upload(client, li, case["id"], sample_jpeg())
    body = {"key": True, "reason": "现场违法行为的直接证据"}
    for who in (li, legal):
        assert (
            client.post(
                f"{API}/media/{photo}/key-evidence", json=body, headers=who.headers
            ).status_code
            == 403
        )
    assert (
        client.post(
            f"{API}/media/{photo}/key-evidence", json={"key": True}, headers=sup.headers
        ).status_code
        == 422
    )
    resp = client.post(f"{API}/media/{photo}/key-evidence", json=body, headers=sup.headers)
    assert resp.status_code == 200, resp.json
    assert resp.json["key_evidence"] is True and resp.json["key_evidence_reason"] == body["reason"]
    assert resp.json["key_evidence_by"] == {"id": sup.id, "username": "boss", "name": "张主任"}
    assert resp.json["key_evidence_at"]
    again = client.post(f"{API}/media/{photo}/key-evidence", json=body, headers=sup.headers)
    assert again.status_code == 409
    listed = client.get(f"{API}/console/media", headers=sup.headers).json["items"]
    assert listed[0]["key_evidence"] is True
    off = client.post(
        f"{API}/media/{photo}/key-evidence",
        json={"key": False, "reason": "重复"},
        headers=sup.headers,
    )
    assert off.status_code == 200 and off.json["key_evidence"] is False
    trail = [
        (e["action"], e["actor"], e["details"])
        for e in actions(client, sup, photo)
        if "key_evidence" in e["action"]
    ]
    assert trail == [
        ("media.key_evidence_marked", "boss", {"key": True, "reason": "现场违法行为的直接证据"}),
        ("media.key_evidence_unmarked", "boss", {"key": False, "reason": "重复"}),
    ]


# --- custody exports --------------------------------------------------------------------------


def test_custody_csv_has_bom_parses_and_lists_the_view_just_made(client, team):
    li, sup = team["li"], team["sup"]
    case = open_case(client, li)
    photo = upload(client, li, case["id"], sample_jpeg())
    viewed = client.get(
        f"{API}/media/{photo}/original", headers={**sup.headers, "Range": "bytes=0-9"}
    )
    assert viewed.status_code == 206
    resp = client.get(f"{API}/media/{photo}/custody.csv", headers=sup.headers)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    header, entries = rows[0], rows[1:]
    assert header[3] == "操作 action" and len(header) == 7
    by_action = {r[3]: r for r in entries}
    assert {"upload.completed", "media.verified", "media.played", "custody.exported"} <= set(
        by_action
    )
    played = by_action["media.played"]
    assert played[2] == "张主任 (boss)" and '"range": "0-9"' in played[4]
    assert by_action["upload.completed"][2] == "李明 (li)"
    assert [int(r[0]) for r in entries] == sorted(int(r[0]) for r in entries)
    assert all(len(r[5]) == 64 for r in entries)
    assert entries[-1][3] == "custody.exported" and '"format": "csv"' in entries[-1][4]


def test_custody_pdf_text_names_people_and_actions(client, team, video):
    li, sup = team["li"], team["sup"]
    case = open_case(client, li, number="P-1", title="占道经营")
    clip = upload(client, li, case["id"], video, content_type="video/mp4", filename="v.mp4")
    client.post(
        f"{API}/media/{clip}/bookmarks", json={"at_s": 1, "note": "拒绝签字"}, headers=sup.headers
    )
    url = _playback_url(client, sup, clip, "proxy")
    assert client.get(url, headers={"Range": "bytes=0-1023"}).status_code == 206
    pdf_url = _playback_url(client, sup, clip, "custody.pdf")
    resp = client.get(pdf_url)  # without a bearer, as a browser tab opens it
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.data.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(resp.data)).pages)
    squeezed = "".join(text.split())
    # actions and details in words, not codes (the CSV keeps the codes)
    for expected in (
        "李明", "张主任", "证据保管链", "P-1占道经营", "播放", "添加时间标记",
        "哈希校验通过", "上传完成", "导出保管链", "拒绝签字", "备注：拒绝签字",
    ):  # fmt: skip
        assert expected in squeezed, expected
    for code in ("media.played", "media.verified", "upload.completed", "playback_url", "system"):
        assert code not in squeezed, code
    with_hashes = client.get(f"{API}/media/{clip}", headers=sup.headers).json
    assert with_hashes["server_sha256"] in squeezed and "哈希比对一致" in squeezed
    english = client.get(f"{pdf_url}&lang=en")
    text_en = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(english.data)).pages)
    for expected in ("Chain of custody", "Hash verified", "Upload completed", "note: 拒绝签字"):
        assert expected in text_en, expected
    # One custody entry per token, however often the tab reloads it.
    assert client.get(pdf_url).status_code == 200
    exported = [e for e in actions(client, sup, clip) if e["action"] == "custody.exported"]
    assert len(exported) == 1 and exported[0]["details"]["via"] == "playback_url"


def test_case_counters_survive_concurrent_item_changes(app, client, team):
    """Two transactions change items of one case at once: neither change is lost."""
    li = team["li"]
    case = open_case(client, li)
    first_id = upload(client, li, case["id"], sample_jpeg(10, 10))
    second_id = upload(client, li, case["id"], sample_jpeg(11, 11))
    flushed = threading.Event()
    errors: list[BaseException] = []

    def change(item_id: str, *, hold: bool) -> None:
        try:
            with app.app_context():
                if not hold:
                    flushed.wait(10)
                db.session.get(MediaItem, item_id).status = "received"
                db.session.flush()
                if hold:  # keep the transaction open while the other one flushes
                    flushed.set()
                    time.sleep(0.5)
                db.session.commit()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [
        threading.Thread(target=change, args=(first_id,), kwargs={"hold": True}),
        threading.Thread(target=change, args=(second_id,), kwargs={"hold": False}),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    listed = console_cases(client, team["sup"])["items"][0]
    assert listed["flags"]["unverified"] == 2


# --- migration ---------------------------------------------------------------------------------


def test_migration_0003_fills_denormalised_columns_from_existing_rows(app_config):
    from flask_migrate import upgrade

    from server import create_app
    from server.cli import _migrations_dir_for_tests

    app = create_app(**app_config)
    with app.app_context():
        upgrade(directory=_migrations_dir_for_tests(), revision="0002")
        now = clock.now()
        with db.engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO units (id, code, name, created_at) VALUES (7, 'U7', 'u', :t)"),
                {"t": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, username, name, role, unit_id, password_hash, active,"
                    " created_at) VALUES (3, 'li', '李明', 'officer', 7, 'x', :yes, :t)"
                ),
                {"t": now, "yes": True},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO cases (id, unit_id, number, title, case_type, parties, location,"
                    " major_property, current_stage, created_by_id, created_at)"
                    " VALUES (5, 7, 'N-1', 't', '', '[]', '', :no, 'filing', 3, :t)"
                ),
                {"t": now, "no": False},
            )
            for item_id, status, flags in (
                (
                    "a" * 32,
                    "verified",
                    '[{"code": "late_upload", "message": "m"}, {"code": "unattached", "message": "m"}]',
                ),
                ("b" * 32, "received", '[{"code": "capture_time_mismatch", "message": "m"}]'),
                ("c" * 32, "hash_mismatch", "[]"),
            ):
                conn.execute(
                    sa.text(
                        "INSERT INTO media_items (id, case_id, stage, activity, kind, filename,"
                        " claimed_content_type, size, bucket, object_key, device_sha256, status,"
                        " status_message, verify_attempts, captured_at, received_at, device_id,"
                        " uploader_id, flags) VALUES (:id, 5, 'filing', 'other', 'photo', 'f',"
                        " 'image/jpeg', 1, 'b', 'k', :sha, :status, '', 0, :t, :t, 'p', 3, :flags)"
                    ),
                    {"id": item_id, "sha": "0" * 64, "status": status, "flags": flags, "t": now},
                )
        upgrade(directory=_migrations_dir_for_tests())
        with db.engine.connect() as conn:
            items = conn.execute(
                sa.text(
                    "SELECT id, unit_id, flag_code_list, key_evidence FROM media_items ORDER BY id"
                )
            ).all()
            counters = conn.execute(
                sa.text(
                    "SELECT unverified_count, hash_mismatch_count, unattached_count,"
                    " clock_skew_count, late_upload_count FROM cases WHERE id = 5"
                )
            ).one()
        assert [(i[1], i[2], bool(i[3])) for i in items] == [
            (7, ",late_upload,unattached,", False),
            (7, ",capture_time_mismatch,", False),
            (7, "", False),
        ]
        assert tuple(counters) == (1, 1, 1, 1, 1)
        db.engine.dispose()
