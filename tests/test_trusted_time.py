"""Trusted time (issue 16): tree heads time-stamped by a real RFC 3161 authority.

The authority is ``openssl ts -reply`` behind HTTP (tests/tsa.py), with its own throw-away CA;
tokens are checked with rfc3161-client against that CA.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from server import clock
from server.archive import verify as offline
from server.extensions import db
from server.services import audit, transparency
from server.services.timestamping import TimestampError, check
from tests.conftest import make_app
from tests.tsa import LocalTsa


@pytest.fixture
def stamped_app(app_config, tsa: LocalTsa):
    app = make_app({**app_config, "TSA_URL": tsa.url, "TSA_CA_FILE": str(tsa.ca_file)})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _roots(tsa: LocalTsa) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(Path(tsa.ca_file).read_bytes())


def _log(app, n: int) -> None:
    with app.app_context():
        for i in range(n):
            audit.record(db.session, actor=None, action="test.event", object_type="t", object_id=i)
        db.session.commit()


def test_the_sweep_stamps_each_head_and_anyone_can_check_the_token(stamped_app, tsa, tmp_path):
    _log(stamped_app, 5)
    stamped_app.extensions["fieldtrace"].jobs.sweep()
    head = stamped_app.test_client().get("/public/log/head").get_json()
    assert head["tree_size"] >= 5 and head["timestamp_token"], head
    token = base64.b64decode(head["timestamp_token"])
    at = check(token, bytes.fromhex(head["signature"]), _roots(tsa))
    # the TSA's clock is the host's own (the app's may be moved by --clock)
    assert abs(at - datetime.now(UTC)) < timedelta(minutes=5)
    assert head["timestamp_time"] == at.isoformat(timespec="microseconds")

    # an independent RFC 3161 verifier agrees (the README's openssl command)
    digest = hashlib.sha256(bytes.fromhex(head["signature"])).hexdigest()
    (tmp_path / "token.tsr").write_bytes(token)
    openssl = subprocess.run(
        ["openssl", "ts", "-verify", "-digest", digest, "-in", str(tmp_path / "token.tsr"),
         "-CAfile", str(tsa.ca_file)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert "Verification: OK" in openssl.stdout, openssl.stderr

    # the token covers this head's signature and nothing else
    other = bytearray(bytes.fromhex(head["signature"]))
    other[0] ^= 1
    with pytest.raises(TimestampError, match="does not verify"):
        check(token, bytes(other), _roots(tsa))
    with pytest.raises(TimestampError, match="not an RFC 3161"):
        check(b"\x30\x03\x02\x01\x00junk", bytes.fromhex(head["signature"]), _roots(tsa))


def test_a_token_from_another_authority_is_refused(stamped_app, tsa, tmp_path):
    stranger = LocalTsa(tmp_path).start()
    try:
        _log(stamped_app, 2)
        stamped_app.extensions["fieldtrace"].jobs.sweep()
        head = stamped_app.test_client().get("/public/log/head").get_json()
        token = base64.b64decode(head["timestamp_token"])
        with pytest.raises(TimestampError, match="does not verify"):
            check(token, bytes.fromhex(head["signature"]), _roots(stranger))
    finally:
        stranger.stop()


def test_an_authority_that_is_down_leaves_the_head_signed_and_is_retried(
    stamped_app, tsa, client, users
):
    _log(stamped_app, 3)
    tsa.fail = True
    stamped_app.extensions["fieldtrace"].jobs.sweep()
    web = stamped_app.test_client()
    head = web.get("/public/log/head").get_json()
    assert head["signature"] and head["timestamp_token"] is None
    with stamped_app.app_context():
        status = transparency.trusted_time_status(
            db.session, stamped_app.extensions["fieldtrace"].tsa
        )
    assert status["state"] == "pending" and "重试" in status["message"]["zh"]

    tsa.fail = False
    stamped_app.extensions["fieldtrace"].jobs.sweep()  # re-signs (fresh time), then stamps
    head = web.get("/public/log/head").get_json()
    assert head["timestamp_token"], head
    check(base64.b64decode(head["timestamp_token"]), bytes.fromhex(head["signature"]), _roots(tsa))


def test_re_signing_a_head_drops_the_token_of_the_old_signature(stamped_app, tsa):
    _log(stamped_app, 2)
    runtime = stamped_app.extensions["fieldtrace"]
    with stamped_app.app_context():
        transparency.sign_tree_head(db.session, runtime.signer)
        db.session.commit()
        stamped = transparency.stamp_latest_head(db.session, runtime.tsa)
        db.session.commit()
        assert stamped is not None and stamped.tsa_token
        with clock.travel(clock.now() + timedelta(minutes=1)):
            again = transparency.sign_tree_head(db.session, runtime.signer)
            db.session.commit()
        assert again is not None and again.tsa_token is None and again.tsa_time is None


def test_the_admin_is_told_whether_trusted_time_is_on(app, client, users, stamped_app, tsa):
    admin = users.create("admin1", role="admin")
    off = client.get("/api/v1/trusted-time", headers=admin.headers)
    assert off.status_code == 200, off.json
    assert off.json["state"] == "off" and "可信时间未开启" in off.json["message"]["zh"]
    assert "Trusted time is off" in off.json["message"]["en"]
    officer = users.create("wang")
    assert client.get("/api/v1/trusted-time", headers=officer.headers).status_code == 403
    assert client.get("/api/v1/trusted-time").status_code == 401

    _log(stamped_app, 2)
    stamped_app.extensions["fieldtrace"].jobs.sweep()
    with stamped_app.app_context():
        on = transparency.trusted_time_status(db.session, stamped_app.extensions["fieldtrace"].tsa)
    assert on["state"] == "on" and on["latest"]["stamped_at"] is not None
    assert "可信时间已开启" in on["message"]["zh"]


def test_a_tsa_url_without_its_root_certificate_is_refused(app_config, tsa):
    with pytest.raises(RuntimeError, match="TSA_CA_FILE"):
        make_app({**app_config, "TSA_URL": tsa.url})


def test_each_tree_size_is_kept_in_worm_storage_once_and_again_when_stamped(stamped_app, tsa):
    rt = stamped_app.extensions["fieldtrace"]
    bucket = rt.uploads.originals_bucket
    prefix = transparency.tree_heads_prefix(stamped_app.config["AUDIT_HEADS_PREFIX"])
    assert prefix.endswith("-tree/")
    _log(stamped_app, 3)
    tsa.fail = True
    rt.jobs.sweep()
    kept = [key for key, _ in rt.storage.list_versions(bucket, prefix)]
    assert len(kept) == 1 and not kept[0].endswith("-tsa.json"), kept
    rt.jobs.sweep()  # same size, still no token: nothing new
    assert len(rt.storage.list_versions(bucket, prefix)) == 1
    tsa.fail = False
    rt.jobs.sweep()  # stamped now: kept once more, with its token
    rt.jobs.sweep()
    versions = rt.storage.list_versions(bucket, prefix)
    assert len(versions) == 2, versions
    key, version = next(v for v in versions if v[0].endswith("-tsa.json"))
    document = json.loads(rt.storage.get_bytes(bucket, key, version_id=version))
    public = stamped_app.test_client().get("/public/log/head").get_json()
    assert (document["tree_size"], document["root_hash"]) == (3, public["root_hash"])
    offline.verify_tree_head(document, rt.signer.public_key_hex)  # as signed then
    check(  # its token covers the signature kept with it
        base64.b64decode(document["timestamp_token"]),
        bytes.fromhex(document["signature"]),
        _roots(tsa),
    )
    assert rt.storage.stat(bucket, key, version_id=version).lock_mode == "COMPLIANCE"
    with pytest.raises(Exception):  # noqa: B017 (S3 refuses: the version is under retention)
        rt.storage.delete(bucket, key, version_id=version)
