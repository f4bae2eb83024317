"""Hand-made hostile input (issue 15): each gets a 4xx in the JSON error form, never a 500."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from server.extensions import db
from server.models import MediaItem
from tests import tus_helpers as tus
from tests.conftest import open_case, sample_jpeg

SURROGATE = '"\\ud800"'  # a lone UTF-16 surrogate, as JSON text (json= would refuse to encode it)


def post_raw(client, path: str, body: str, headers: dict[str, str] | None = None):
    return client.post(
        path, data=body.encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )


def test_a_lone_surrogate_is_refused_at_the_unauthenticated_login(client, users):
    users.create("li")
    resp = post_raw(client, "/api/v1/auth/login", f'{{"username": {SURROGATE}, "password": "x"}}')
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "invalid_character"
    assert "代理" in resp.json["error"]["message"]


def test_a_lone_surrogate_in_a_case_title_is_refused_and_nothing_is_stored(client, users):
    officer = users.create("li")
    body = f'{{"title": "无照经营{SURROGATE[1:-1]}案", "procedure": "general"}}'
    resp = post_raw(client, "/api/v1/cases", body, officer.headers)
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "invalid_character"
    assert client.get("/api/v1/cases", headers=officer.headers).json["total"] == 0


def test_a_lone_surrogate_in_a_key_or_a_stage_reason_is_refused(client, users):
    officer = users.create("li")
    case = open_case(client, officer)
    body = f'{{"to": "investigation", "reason": {SURROGATE}, {SURROGATE}: 1}}'
    resp = post_raw(client, f"/api/v1/cases/{case['id']}/stage", body, officer.headers)
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "invalid_character"


def test_a_surrogate_pair_is_ordinary_text(client, users):
    officer = users.create("li")
    body = '{"title": "\\ud83d\\udcf7 现场照片", "procedure": "general"}'  # 📷, as a pair
    resp = post_raw(client, "/api/v1/cases", body, officer.headers)
    assert resp.status_code == 201, resp.json
    assert resp.json["title"] == "📷 现场照片"


@pytest.mark.parametrize("depth", [40, 400, 5000, 200_000])
def test_deeply_nested_json_is_refused_before_login_too(client, depth):
    body = "[" * depth + "]" * depth
    resp = post_raw(client, "/api/v1/auth/login", body)
    assert resp.status_code == 422, resp.data[:200]
    assert resp.json["error"]["code"] == "json_too_deep"


def test_deeply_nested_json_is_refused_after_login(client, users):
    officer = users.create("li")
    body = '{"title": "t", "procedure": "general", "x": ' + "{" + '"a":{' * 450 + "}" * 451 + "}"
    resp = post_raw(client, "/api/v1/cases", body, officer.headers)
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "json_too_deep"


@pytest.mark.parametrize("value", ["²", "٣", "1²", "-1", "1e3", " 12", "9" * 30])
def test_tus_integer_headers_take_ascii_digits_only(client, users, value):
    officer = users.create("li")
    case = open_case(client, officer)
    data = sample_jpeg()
    resp = client.post(
        "/api/v1/uploads/",
        headers={
            **tus.TUS,
            **officer.headers,
            "Upload-Length": value,
            "Upload-Metadata": tus.encode(tus.metadata(case["id"], data)),
        },
    )
    assert resp.status_code == 400, (value, resp.status_code)
    assert resp.json["error"]["code"] == "invalid_header"


def test_a_superscript_upload_offset_is_refused(client, users):
    officer = users.create("li")
    case = open_case(client, officer)
    data = sample_jpeg()
    created = tus.create(client, officer, len(data), tus.metadata(case["id"], data))
    resp = tus.patch(
        client, officer, created.headers["Location"], 0, data, **{"Upload-Offset": "⁰"}
    )
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "invalid_header"


@pytest.mark.parametrize("query", ["year=²", "year=١"])
def test_superscript_query_numbers_are_refused(client, users, query):
    supervisor = users.create("wang", role="supervisor")
    resp = client.get(f"/api/v1/remedy-outcomes?{query}", headers=supervisor.headers)
    assert 400 <= resp.status_code < 500


def test_control_characters_in_a_tus_filename_are_replaced(app, client, users):
    officer = users.create("li")
    case = open_case(client, officer)
    data = sample_jpeg()
    item_id = tus.upload(client, officer, case["id"], data, filename="IMG\x00_1\x1b[31m.jpg")
    with app.app_context():
        assert db.session.get(MediaItem, item_id).filename == "IMG__1_[31m.jpg"


def test_a_control_character_in_other_tus_metadata_is_refused(client, users):
    officer = users.create("li")
    case = open_case(client, officer)
    data = sample_jpeg()
    resp = tus.create(
        client, officer, len(data), tus.metadata(case["id"], data, stage="filing\x00")
    )
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "invalid_metadata"


def _chunked_post(base_url: str, path: str, chunks, headers: dict[str, str]):
    """POST with Transfer-Encoding: chunked (no Content-Length): the size is known only at the end."""
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request("POST", path, body=chunks, headers=headers, encode_chunked=True)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read()
    finally:
        conn.close()


def test_a_chunked_json_body_over_the_limit_is_413_in_the_json_form(live_server):
    piece = b'"' + b"x" * (64 * 1024 - 2) + b'",'
    chunks = iter([b'{"username": [', *([piece] * 32), b'"x"], "password": "y"}'])  # ~2 MB
    status, content_type, body = _chunked_post(
        live_server, "/api/v1/auth/login", chunks, {"Content-Type": "application/json"}
    )
    assert status == 413
    assert content_type == "application/json"
    assert json.loads(body)["error"]["code"] == "request_entity_too_large"


def test_huge_request_headers_are_431_in_the_json_form(client):
    resp = client.get("/healthz", headers={f"X-Pad-{i}": "x" * 4000 for i in range(12)})
    assert resp.status_code == 431
    assert resp.json["error"]["code"] == "request_header_fields_too_large"


# --- custody: bounded, and views counted as views ----------------------------------------


@pytest.fixture
def viewed_item(app, client, users):
    """An officer's photo and a supervisor of the unit who looks at it."""
    officer = users.create("li")
    supervisor = users.create("wang", role="supervisor")
    case = open_case(client, officer)
    item_id = tus.upload(client, officer, case["id"], sample_jpeg())
    return item_id, officer, supervisor


def _add_reads(app, item_id: str, username: str, n: int) -> None:
    from server.models import User
    from server.services import audit

    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one()
        for i in range(n):
            audit.record(
                db.session,
                actor=user,
                action="media.played",
                object_type="media",
                object_id=item_id,
                client_addr="10.0.0.9",
                details={"what": "original", "range": f"{i}-{i}", "size": 100},
            )
        db.session.commit()


def test_repeated_range_reads_of_one_file_are_one_view(client, viewed_item):
    item_id, _officer, sup = viewed_item
    for _ in range(30):
        resp = client.get(
            f"/api/v1/media/{item_id}/original", headers={**sup.headers, "Range": "bytes=0-0"}
        )
        assert resp.status_code == 206
    trail = client.get(f"/api/v1/media/{item_id}/custody", headers=sup.headers).json["entries"]
    played = [e for e in trail if e["action"] == "media.played"]
    assert len(played) == 1 and played[0]["details"]["range"] == "0-0"
    # Another file of the item, or the whole file, is another entry.
    assert client.get(f"/api/v1/media/{item_id}/thumbnail", headers={**sup.headers, "Range": "bytes=0-0"}).status_code == 206  # fmt: skip
    assert client.get(f"/api/v1/media/{item_id}/original", headers=sup.headers).status_code == 200
    trail = client.get(f"/api/v1/media/{item_id}/custody", headers=sup.headers).json["entries"]
    assert len([e for e in trail if e["action"] == "media.played"]) == 3


def test_custody_json_is_paged(app, client, viewed_item):
    item_id, _officer, sup = viewed_item
    _add_reads(app, item_id, "wang", 1200)
    first = client.get(f"/api/v1/media/{item_id}/custody", headers=sup.headers).json
    assert len(first["entries"]) == 500 and first["total"] > 1200
    seqs = [e["seq"] for e in first["entries"]]
    after = first["next_after"]
    while after is not None:
        page = client.get(
            f"/api/v1/media/{item_id}/custody?after={after}&limit=1000", headers=sup.headers
        ).json
        seqs += [e["seq"] for e in page["entries"]]
        after = page["next_after"]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)) >= first["total"]
    bad = client.get(f"/api/v1/media/{item_id}/custody?after=²", headers=sup.headers)
    assert bad.status_code == 422


def test_custody_pdf_summarises_repeated_views(app, client, viewed_item):
    import time

    from pypdf import PdfReader

    item_id, _officer, sup = viewed_item
    _add_reads(app, item_id, "wang", 4500)
    started = time.monotonic()
    resp = client.get(f"/api/v1/media/{item_id}/custody.pdf", headers=sup.headers)
    elapsed = time.monotonic() - started
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    reader = PdfReader(__import__("io").BytesIO(resp.data))
    text = "".join(page.extract_text() for page in reader.pages)
    assert len(reader.pages) <= 3, len(reader.pages)
    assert "共 4500 次" in text
    print(f"custody.pdf with 4,500 reads: {elapsed:.2f} s, {len(reader.pages)} pages")
    assert elapsed < 3
    csv_lines = client.get(f"/api/v1/media/{item_id}/custody.csv", headers=sup.headers).data
    assert csv_lines.count(b"\r\n") > 4500  # the CSV keeps every entry


def test_a_playback_url_stops_working_at_logout(client, viewed_item):
    item_id, _officer, sup = viewed_item
    url = client.post(
        f"/api/v1/media/{item_id}/playback-url", json={"what": "original"}, headers=sup.headers
    ).json["url"]
    assert client.get(url).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=sup.headers).status_code == 204
    resp = client.get(url)
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "playback_token_revoked"
