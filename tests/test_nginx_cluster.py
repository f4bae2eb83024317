"""The shipped nginx.conf with several web nodes (issue 15): one node down costs nobody an
error, refused uploads do not take a healthy node out, and nginx's own refusals speak the
API's JSON error form.

The stack (tests/stack.py) is the repo's nginx.conf in front of one gunicorn, with a second
upstream node listed first that is down (nothing listens on its port).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import pytest
import requests

from server.storage.embedded import EmbeddedSeaweed, free_ports
from tests.stack import NGINX, MiB, S3Endpoint, Stack, open_case, upload_metadata

pytestmark = [
    pytest.mark.nginx,
    pytest.mark.skipif(not NGINX.exists(), reason=f"Debian nginx is not installed ({NGINX})"),
]


@pytest.fixture(scope="module")
def stack(seaweed: EmbeddedSeaweed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s3 = S3Endpoint(seaweed.endpoint_url, seaweed.access_key, seaweed.secret_key)
    down = f"127.0.0.1:{free_ports(1)[0]}"
    with Stack(tmp_path_factory.mktemp("cluster"), s3, more_upstreams=(down,)) as running:
        running.create_user("officer")
        yield running


@pytest.fixture
def http(stack: Stack) -> Iterator[requests.Session]:
    with stack.session() as session:
        yield session


def _all_answered(http: requests.Session, stack: Stack, n: int = 20) -> list[int]:
    return [http.get(f"{stack.url}/healthz").status_code for _ in range(n)]


def test_a_node_that_is_down_costs_no_request_an_error(stack: Stack, http: requests.Session):
    assert _all_answered(http, stack) == [200] * 20
    login = http.post(
        f"{stack.url}/api/v1/auth/login", json={"username": "officer", "password": "wrong"}
    )
    assert login.status_code == 401  # a POST reaches the live node too


def test_refused_patches_do_not_take_the_healthy_node_out(stack: Stack, http: requests.Session):
    stack.login(http, "officer")
    case_id = open_case(http, stack.url)
    data = os.urandom(8 * MiB)
    meta = upload_metadata(case_id, "ab" * 32)
    created = http.post(
        f"{stack.url}/api/v1/uploads/",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(data)),
            "Upload-Metadata": ",".join(
                f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items()
            ),
        },
    )
    assert created.status_code == 201, created.text
    location = stack.url + created.headers["Location"]
    for _ in range(5):  # each refused at once (wrong offset) while its 8 MiB body comes
        # nginx closes the phone's connection after answering before the body was read (its
        # lingering close), possibly after this client already reused it: a new one each time.
        refused = http.patch(
            location,
            data=data,
            headers={
                "Connection": "close",
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": "4096",
                "Content-Type": "application/offset+octet-stream",
            },
        )
        assert refused.status_code == 409, refused.text[:300]
        assert refused.json()["error"]["code"] == "offset_mismatch"
    assert _all_answered(http, stack) == [200] * 20


def test_nginx_refuses_an_oversized_body_in_the_json_form(stack: Stack, http: requests.Session):
    resp = http.post(
        f"{stack.url}/api/v1/auth/login",
        data=b"{" + b" " * (2 * MiB) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 413
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json()["error"]["code"] == "request_entity_too_large"


def test_nginx_refuses_huge_headers_in_the_json_form(stack: Stack, http: requests.Session):
    resp = http.get(f"{stack.url}/api/v1/auth/me", headers={"X-Pad": "x" * 20_000})
    assert resp.status_code == 431
    assert resp.json()["error"]["code"] == "request_header_fields_too_large"
