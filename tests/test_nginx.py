"""The shipped nginx.conf in front of gunicorn: static PWA, headers, a streamed tus upload.

One stack per module (tests/stack.py): gunicorn (gthread) on a free port with a fresh SQLite
database and the session SeaweedFS, and nginx running the repo's nginx.conf with only its
``# SUBST`` points replaced (TLS with a throwaway certificate, ports, paths). nginx reaches
gunicorn from 127.0.0.2, so a client address of 127.0.0.1 in the audit log can only have come
from the X-Forwarded-For header nginx sets.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from server.storage.embedded import EmbeddedSeaweed
from tests.stack import (
    NGINX,
    STATIC_FILES,
    MiB,
    S3Endpoint,
    Stack,
    open_case,
    tus_upload,
    upload_metadata,
)

pytestmark = [
    pytest.mark.nginx,
    pytest.mark.skipif(not NGINX.exists(), reason=f"Debian nginx is not installed ({NGINX})"),
]

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture(scope="module")
def stack(seaweed: EmbeddedSeaweed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s3 = S3Endpoint(seaweed.endpoint_url, seaweed.access_key, seaweed.secret_key)
    with Stack(tmp_path_factory.mktemp("stack"), s3, upstream_source="127.0.0.2") as running:
        running.create_user("officer")
        yield running


@pytest.fixture
def http(stack: Stack) -> Iterator[requests.Session]:
    with stack.session() as session:
        yield session


def assert_security_headers(resp: requests.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert resp.headers.get(name) == value, name
    csp = resp.headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "media-src 'self' blob:", "worker-src 'self'",
                      "frame-ancestors 'none'", "object-src 'none'"):  # fmt: skip
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    policy = resp.headers["Permissions-Policy"]
    for feature in ("camera=(self)", "microphone=(self)", "geolocation=(self)"):
        assert feature in policy
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")


def test_static_pwa_headers_and_caching(stack: Stack, http: requests.Session) -> None:
    index = http.get(f"{stack.url}/")
    assert index.status_code == 200
    assert index.text == STATIC_FILES["index.html"]
    assert index.headers["Content-Type"] == "text/html; charset=utf-8"
    assert index.headers["Cache-Control"] == "no-cache"
    assert_security_headers(index)

    route = http.get(f"{stack.url}/cases/12/media")  # client-side route: SPA fallback
    assert route.status_code == 200 and route.text == index.text
    assert route.headers["Cache-Control"] == "no-cache"

    asset = http.get(f"{stack.url}/assets/app-3f2a1c9e.js")
    assert asset.status_code == 200 and asset.headers["Cache-Control"] == IMMUTABLE
    assert asset.headers["Content-Type"].startswith("application/javascript")
    missing = http.get(f"{stack.url}/assets/app-00000000.js")
    assert missing.status_code == 404  # a stale hashed name must not get index.html
    assert_security_headers(missing)

    for name, content_type in (("sw.js", "application/javascript"),
                               ("manifest.webmanifest", "application/manifest+json")):  # fmt: skip
        resp = http.get(f"{stack.url}/{name}")
        assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-cache"
        assert resp.headers["Content-Type"].startswith(content_type)

    health = http.get(f"{stack.url}/healthz")
    assert health.json() == {"status": "ok"}
    assert health.headers["Cache-Control"] == "no-store"  # the app's own, not the static one
    assert health.headers["X-Content-Type-Options"] == "nosniff"  # once, not twice
    assert_security_headers(health)

    plain = http.get(f"{stack.http_url}/cases/1?x=1", allow_redirects=False)
    assert plain.status_code == 301
    assert plain.headers["Location"] == "https://127.0.0.1/cases/1?x=1"


def test_tus_upload_streams_through_nginx(
    stack: Stack, http: requests.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = stack.login(http, "officer")
    case_id = open_case(http, stack.url)
    data = os.urandom(20 * MiB)
    source = tmp_path / "VID_0001.mp4"
    source.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()

    # tuspy builds its own requests; it finds the certificate through the environment. The
    # forged X-Forwarded-For must not become the recorded client address.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(stack.ca_file))
    headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": "203.0.113.9"}
    with source.open("rb") as stream:
        # 6 MiB requests against 8 MiB parts: every request but the last leaves a tail.
        result = tus_upload(stack.url, headers, stream, upload_metadata(case_id, sha), 6 * MiB)
    assert result.offset == len(data)
    assert result.media_item_id

    state = http.get(result.url).json()
    assert state["offset"] == state["length"] == len(data)
    assert state["status"] == "completed"
    assert state["media_item_id"] == result.media_item_id

    item_url = f"{stack.url}/api/v1/media/{result.media_item_id}"
    item = http.get(item_url).json()
    assert item["size"] == len(data) and item["device_sha256"] == sha

    start, end = 8 * MiB - 1000, 8 * MiB + 999  # across the first part boundary
    part = http.get(f"{item_url}/original", headers={"Range": f"bytes={start}-{end}"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes {start}-{end}/{len(data)}"
    assert part.content == data[start : end + 1]
    with http.get(f"{item_url}/original", stream=True) as whole:
        assert whole.status_code == 200
        digest = hashlib.sha256()
        for block in whole.iter_content(MiB):
            digest.update(block)
    assert digest.hexdigest() == sha

    entries = http.get(f"{item_url}/custody").json()["entries"]
    by_action = {e["action"]: e for e in entries}
    assert {"upload.created", "upload.completed"} <= by_action.keys()
    for action in ("upload.created", "upload.completed", "media.played"):
        assert by_action[action]["client_addr"] == "127.0.0.1", action

    # Streamed both ways: nginx spooled neither the upload nor the download to disk.
    errors = stack.nginx_error_log.read_text() if stack.nginx_error_log.exists() else ""
    assert "buffered to a temporary file" not in errors


def test_request_id_joins_nginx_and_app_and_metrics_stay_inside(
    stack: Stack, http: requests.Session
) -> None:
    """nginx's $request_id reaches the app (a client's own X-Request-Id is replaced), comes
    back in the header and the JSON error, and is in nginx's access line; /metrics is not
    served through nginx, only to the same machine directly."""
    resp = http.get(f"{stack.url}/api/v1/nope", headers={"X-Request-Id": "chosen-by-client-1"})
    assert resp.status_code == 404
    rid = resp.headers["X-Request-Id"]
    assert len(rid) == 32 and rid != "chosen-by-client-1"
    assert resp.json()["error"]["request_id"] == rid
    access_log = stack.nginx_prefix / "logs" / "fieldtrace-access.log"
    deadline = time.monotonic() + 5  # nginx writes the line once the response has gone
    while f"id={rid}" not in access_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"id={rid}" in access_log.read_text()

    through_nginx = http.get(f"{stack.url}/metrics")
    assert "fieldtrace_" not in through_nginx.text  # the PWA's index, not the metrics
    direct = requests.get(f"http://127.0.0.1:{stack.app_port}/metrics", timeout=10)
    assert direct.status_code == 200
    assert "fieldtrace_uploads_in_flight " in direct.text
