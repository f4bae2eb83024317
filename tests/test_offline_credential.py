"""亮证 without network: the phone's own key signs codes under a certificate the server issued
while the phone was online; the public page checks both, the time, and the credential now.

The phone is played by the ``cryptography`` library signing exactly as WebCrypto does:
ECDSA P-256 over SHA-256, the signature as raw r ‖ s (64 bytes), keys sent as base64url.
"""

from __future__ import annotations

import base64
import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import segno
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from server import clock
from server.extensions import db
from server.models import AuditEntry, Credential, DeviceKey
from server.services import audit
from server.services import credentials as credential_service

TODAY = clock.today()
OFFLINE_PREFIX = "http://localhost/public/credentials/offline/"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Phone:
    """A phone's non-extractable key, as WebCrypto holds and uses it."""

    def __init__(self, device_id: str) -> None:
        self.device_id = device_id
        self.key = ec.generate_private_key(ec.SECP256R1())

    def public_raw(self) -> str:  # exportKey("raw")
        return b64url(
            self.key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def public_spki(self) -> str:  # exportKey("spki")
        return b64url(
            self.key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def sign(self, message: bytes) -> bytes:  # sign({name: "ECDSA", hash: "SHA-256"}, …)
        r, s = decode_dss_signature(self.key.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def code(self, cert: str, ts: int) -> str:
        """What pwa/src/device-key.ts puts in the QR code: cert ‖ ts ‖ signature."""
        message = b"fieldtrace/offline-credential-code/v1" + unb64url(cert) + ts.to_bytes(4, "big")
        return b64url(unb64url(cert) + ts.to_bytes(4, "big") + self.sign(message))


def now_s() -> int:
    return int(clock.now().timestamp())


def verdict(html: str) -> str:
    match = re.search(r'<h1 class="verdict[^"]*" id="verdict">(.*?)</h1>', html, re.S)
    assert match, html
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def reason(html: str) -> str:
    match = re.search(r'<p class="reason" id="reason">(.*?)</p>', html, re.S)
    assert match, html
    return re.sub(r"<[^>]+>", "", match.group(1)).removeprefix("原因：")


def page(client, code: str, suffix: str = "") -> str:
    resp = client.get(f"/public/credentials/offline/{code}{suffix}")
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    return resp.get_data(as_text=True)


def register(client, actor, phone: Phone, *, spki: bool = False):
    return client.post(
        "/api/v1/me/device-key",
        json={
            "device_id": phone.device_id,
            "public_key": phone.public_spki() if spki else phone.public_raw(),
        },
        headers=actor.headers,
    )


def offline_block(client, actor, key_id: int) -> dict[str, Any]:
    resp = client.get(f"/api/v1/me/credential?device_key_id={key_id}", headers=actor.headers)
    assert resp.status_code == 200, resp.json
    assert resp.json["offline"], resp.json
    return resp.json["offline"]


def offline_actions(app) -> list[AuditEntry]:
    with app.app_context():
        rows = list(
            db.session.execute(
                sa.select(AuditEntry)
                .where(AuditEntry.action == "credential.verified_publicly")
                .order_by(AuditEntry.seq)
            ).scalars()
        )
        for row in rows:
            db.session.expunge(row)
        return rows


def online_credential(app) -> int:
    with app.app_context():
        return db.session.execute(
            sa.select(Credential.id).where(Credential.number == "31010020260001")
        ).scalar_one()


@pytest.fixture
def people(users):
    return {
        "admin": users.create("admin1", role="admin", unit="PD"),
        "officer": users.create("wang_officer", role="officer", unit="PD"),
        "colleague": users.create("zhao_officer", role="officer", unit="PD"),
        "other_admin": users.create("admin2", role="admin", unit="XH"),
    }


def issue(client, admin, user_id: int, number: str) -> dict[str, Any]:
    resp = client.post(
        "/api/v1/credentials",
        json={
            "user_id": user_id,
            "number": number,
            "issuing_authority": "上海市浦东新区人民政府",
            "categories": ["市场监管"],
            "area": "浦东新区",
            "valid_from": (TODAY - timedelta(days=30)).isoformat(),
            "valid_to": (TODAY + timedelta(days=700)).isoformat(),
        },
        headers=admin.headers,
    )
    assert resp.status_code == 201, resp.json
    return resp.json


@pytest.fixture
def issued(client, people) -> dict[str, Any]:
    issue(client, people["admin"], people["colleague"].id, "31010020260002")
    return issue(client, people["admin"], people["officer"].id, "31010020260001")


@pytest.fixture
def phone() -> Phone:
    return Phone("pwa-officer-phone")


@pytest.fixture
def online(client, people, issued, phone) -> dict[str, Any]:
    """The officer opened 亮证 once with network: key registered, certificate cached."""
    resp = register(client, people["officer"], phone)
    assert resp.status_code == 201, resp.json
    return {"key": resp.json, **offline_block(client, people["officer"], resp.json["id"])}


def test_registration_and_certificate(app, client, people, issued, phone):
    officer = people["officer"]
    resp = register(client, officer, phone)
    assert resp.status_code == 201, resp.json
    key = resp.json
    assert key["device_id"] == phone.device_id and key["user_id"] == officer.id
    assert key["algorithm"] == "ES256" and key["revoked_at"] is None
    assert re.fullmatch(r"[0-9a-f]{64}", key["fingerprint"])
    # the phone did not hear the answer and asks again: the same key, nothing new
    again = register(client, officer, phone)
    assert again.status_code == 200 and again.json["id"] == key["id"]
    # SPKI is accepted too, and names the same key
    assert register(client, officer, phone, spki=True).json["id"] == key["id"]

    plain = client.get("/api/v1/me/credential", headers=officer.headers).json
    assert plain["offline"] is None and plain["offline_problem"] is None
    assert plain["server_time"]

    shown = client.get(f"/api/v1/me/credential?device_key_id={key['id']}", headers=officer.headers)
    offline = shown.json["offline"]
    assert shown.json["offline_problem"] is None
    assert offline["device_key_id"] == key["id"]
    assert offline["verify_prefix"] == OFFLINE_PREFIX
    assert offline["window_seconds"] == 60 and offline["rotate_seconds"] == 30
    assert re.fullmatch(r"[A-Za-z0-9_-]{39}", offline["cert"])  # 29 bytes
    with app.app_context():
        expires = credential_service.open_offline_code(
            offline["cert"] + b64url(bytes(68)), secret_key=app.config["SECRET_KEY"]
        )
        assert expires is not None
        left = expires.cert_expires_at - clock.now()
        assert timedelta(hours=23, minutes=59) < left <= timedelta(hours=24)
        row = db.session.get(DeviceKey, key["id"])
        assert row.last_certified_at is not None

    # someone else's key id gives no certificate, and says why
    colleague_phone = Phone("pwa-colleague-phone")
    theirs = register(client, people["colleague"], colleague_phone).json["id"]
    other = client.get(f"/api/v1/me/credential?device_key_id={theirs}", headers=officer.headers)
    assert other.json["offline"] is None and other.json["offline_problem"] == "device_key_unknown"

    with app.app_context():
        rows = db.session.execute(
            sa.select(AuditEntry.action, AuditEntry.object_id, AuditEntry.details)
            .where(AuditEntry.action.in_(["device.registered", "device_key.registered"]))
            .order_by(AuditEntry.seq)
        ).all()
        assert [(r.action, r.object_id) for r in rows][:2] == [
            ("device.registered", phone.device_id),
            ("device_key.registered", str(key["id"])),
        ]
        assert rows[1].details["fingerprint"] == key["fingerprint"]
        displayed = db.session.execute(
            sa.select(AuditEntry.details)
            .where(AuditEntry.action == "credential.displayed")
            .order_by(AuditEntry.seq.desc())
            .limit(2)
        ).scalars()
        assert [d.get("device_key_id") for d in displayed] == [None, key["id"]]


def test_registration_is_refused_when_wrong(client, people, issued, phone):
    officer = people["officer"]
    bad = client.post(
        "/api/v1/me/device-key",
        json={"device_id": phone.device_id, "public_key": b64url(b"\x04" + bytes(64))},
        headers=officer.headers,
    )
    assert bad.status_code == 422 and bad.json["error"]["code"] == "invalid_public_key"
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    spki = p384.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    resp = client.post(
        "/api/v1/me/device-key",
        json={"device_id": phone.device_id, "public_key": b64url(spki)},
        headers=officer.headers,
    )
    assert resp.status_code == 422 and resp.json["error"]["code"] == "invalid_public_key"
    assert register(client, people["admin"], phone).status_code == 403
    assert register(client, officer, phone).status_code == 201
    # the officer's phone is theirs: a colleague cannot put a key on it
    clash = register(client, people["colleague"], Phone(phone.device_id))
    assert clash.status_code == 409 and clash.json["error"]["code"] == "device_not_yours"


def test_offline_code_verifies(app, client, people, online, phone):
    code = phone.code(online["cert"], now_s())
    url = online["verify_prefix"] + code
    assert url.startswith(OFFLINE_PREFIX)
    html = page(client, code)
    assert verdict(html) == "✓ 有效"
    assert "离线出示" in html and "60 秒" in html
    for fact in (
        "Wang_Officer",
        "31010020260001",
        "上海市浦东新区人民政府",
        "市场监管",
        "浦东新区",
    ):
        assert fact in html, fact
    for private in ("wang_officer", "user_id", "device_key", phone.device_id):
        assert private not in html, private
    english = page(client, code, "?lang=en")
    assert verdict(english) == "✓ Valid" and "offline" in english

    body = client.get(f"/public/credentials/offline/{code}.json").json
    assert body["valid"] is True and body["offline"] is True and body["reason"] is None
    assert body["credential"]["number"] == "31010020260001"

    # each check is logged like an online one, with the phone that made the code
    entries = offline_actions(app)
    assert len(entries) == 3 and entries[0].actor_id is None
    assert entries[0].object_id == str(online_credential(app))
    details = entries[0].details
    assert details["result"] == "valid" and details["mode"] == "offline"
    assert details["device_key_id"] == online["key"]["id"]
    assert details["device_id"] == phone.device_id
    assert [e.details["channel"] for e in entries] == ["html", "html", "json"]
    with app.app_context():
        assert audit.verify_chain(db.session).ok


def _flip(code: str, index: int) -> str:
    raw = bytearray(unb64url(code))
    raw[index] ^= 0x01
    return b64url(bytes(raw))


def test_tampered_codes_are_refused(app, client, people, online, phone):
    code = phone.code(online["cert"], now_s())
    assert verdict(page(client, code)) == "✓ 有效"
    for index, what in ((2, "credential id"), (5, "key id"), (20, "cert MAC"), (31, "ts")):
        html = page(client, _flip(code, index))
        assert verdict(html) == "✗ 无效" and reason(html) == "无法识别", what
        assert "Wang_Officer" not in html
    for index in (33, 60, 96):  # the signature
        assert reason(page(client, _flip(code, index))) == "无法识别"
    for broken in (code[:-2], code + "AA", code + "=", "x", "!" * 130):
        assert reason(page(client, broken)) == "无法识别", broken
    # a later time with the old signature
    raw = unb64url(code)
    later = b64url(raw[:29] + (now_s() + 5).to_bytes(4, "big") + raw[33:])
    assert reason(page(client, later)) == "无法识别"
    results = [e.details["result"] for e in offline_actions(app)]
    assert results[0] == "valid" and set(results[1:]) == {"forged"}


def test_code_time_must_be_near_server_time(client, online, phone):
    cert = online["cert"]
    now = now_s()
    assert verdict(page(client, phone.code(cert, now - 50))) == "✓ 有效"
    assert verdict(page(client, phone.code(cert, now + 50))) == "✓ 有效"
    for ts in (now - 75, now + 75, now - 3600, 0):
        html = page(client, phone.code(cert, ts))
        assert reason(html) == "已过期的二维码", ts
        assert "60 秒" in html and "手机时间" in html


def test_expired_certificate_is_refused(app, client, people, online, phone):
    credential_id = online_credential(app)
    with app.app_context():
        credential = db.session.get(Credential, credential_id)
        key = db.session.get(DeviceKey, online["key"]["id"])
        stale, _ = credential_service.device_certificate(
            credential,
            key,
            clock.now() - timedelta(hours=25),
            secret_key=app.config["SECRET_KEY"],
            ttl=credential_service.DEVICE_CERT_TTL,
        )
    html = page(client, phone.code(stale, now_s()))
    assert verdict(html) == "✗ 无效" and reason(html) == "离线凭证已过期"
    assert "24 小时" in html
    # a certificate made with another server's secret is not ours at all
    with app.app_context():
        foreign, _ = credential_service.device_certificate(
            credential, key, clock.now(), secret_key="another-secret", ttl=timedelta(hours=1)
        )
    assert reason(page(client, phone.code(foreign, now_s()))) == "无法识别"


def test_status_is_checked_live(client, people, issued, online, phone):
    """Suspended after the certificate was issued: the phone cannot know, the page does."""
    admin = people["admin"]
    status_url = f"/api/v1/credentials/{issued['id']}/status"
    resp = client.post(
        status_url, json={"status": "suspended", "reason": "涉嫌违纪"}, headers=admin.headers
    )
    assert resp.status_code == 200
    html = page(client, phone.code(online["cert"], now_s()))
    assert verdict(html) == "✗ 无效" and reason(html) == "证件已暂停"
    assert "Wang_Officer" not in html and "31010020260001" not in html
    client.post(status_url, json={"status": "active", "reason": "恢复"}, headers=admin.headers)
    assert verdict(page(client, phone.code(online["cert"], now_s()))) == "✓ 有效"
    client.post(status_url, json={"status": "revoked", "reason": "调离"}, headers=admin.headers)
    assert reason(page(client, phone.code(online["cert"], now_s()))) == "证件已注销"


def test_another_devices_key_cannot_sign(client, people, online, phone):
    # a colleague's phone, and a second phone of the same officer: neither holds this key
    colleague = Phone("pwa-colleague-phone")
    registered = register(client, people["colleague"], colleague)
    assert registered.status_code == 201
    second = Phone("pwa-officer-tablet")
    assert register(client, people["officer"], second).status_code == 201
    for other in (colleague, second):
        html = page(client, other.code(online["cert"], now_s()))
        assert verdict(html) == "✗ 无效" and reason(html) == "无法识别"
    # the colleague's own certificate names the colleague's credential, never the officer's
    theirs = offline_block(client, people["colleague"], registered.json["id"])
    html = page(client, colleague.code(theirs["cert"], now_s()))
    assert verdict(html) == "✓ 有效" and "31010020260002" in html


def test_revoking_a_device_key(app, client, people, online, phone):
    admin, officer = people["admin"], people["officer"]
    key_id = online["key"]["id"]
    code = phone.code(online["cert"], now_s())
    assert verdict(page(client, code)) == "✓ 有效"

    listed = client.get(f"/api/v1/device-keys?user_id={officer.id}", headers=admin.headers)
    assert [k["id"] for k in listed.json["items"]] == [key_id]
    assert listed.json["items"][0]["last_certified_at"]
    assert client.get("/api/v1/device-keys", headers=officer.headers).json["items"][0]["id"] == (
        key_id
    )
    assert client.get("/api/v1/device-keys", headers=people["colleague"].headers).json == {
        "items": []
    }
    hidden = client.get(
        f"/api/v1/device-keys?user_id={officer.id}", headers=people["other_admin"].headers
    )
    assert hidden.status_code == 404
    for stranger in (people["colleague"], people["other_admin"]):
        resp = client.post(
            f"/api/v1/device-keys/{key_id}/revoke", json={"reason": "x"}, headers=stranger.headers
        )
        assert resp.status_code == 404
    no_reason = client.post(
        f"/api/v1/device-keys/{key_id}/revoke", json={"reason": " "}, headers=admin.headers
    )
    assert no_reason.status_code == 422

    resp = client.post(
        f"/api/v1/device-keys/{key_id}/revoke", json={"reason": "手机遗失"}, headers=admin.headers
    )
    assert resp.status_code == 200 and resp.json["revoked_at"]
    assert resp.json["revoked_reason"] == "手机遗失"
    html = page(client, code)
    assert verdict(html) == "✗ 无效" and reason(html) == "出示设备已停用"
    shown = client.get(f"/api/v1/me/credential?device_key_id={key_id}", headers=officer.headers)
    assert shown.json["offline"] is None and shown.json["offline_problem"] == "device_key_revoked"
    again = register(client, officer, phone)
    assert again.status_code == 409 and again.json["error"]["code"] == "device_key_revoked"
    twice = client.post(
        f"/api/v1/device-keys/{key_id}/revoke", json={"reason": "x"}, headers=officer.headers
    )
    assert twice.status_code == 409

    # the phone makes a new key, which works again
    phone.key = ec.generate_private_key(ec.SECP256R1())
    fresh = register(client, officer, phone)
    assert fresh.status_code == 201
    cert = offline_block(client, officer, fresh.json["id"])["cert"]
    assert verdict(page(client, phone.code(cert, now_s()))) == "✓ 有效"
    with app.app_context():
        revoked = db.session.execute(
            sa.select(AuditEntry).where(AuditEntry.action == "device_key.revoked")
        ).scalar_one()
        assert revoked.actor == "admin1" and revoked.details["reason"] == "手机遗失"


def test_a_new_key_replaces_the_phones_old_one(client, people, online, phone):
    officer = people["officer"]
    old_code = phone.code(online["cert"], now_s())
    phone.key = ec.generate_private_key(ec.SECP256R1())  # storage cleared, a new key made
    new = register(client, officer, phone)
    assert new.status_code == 201 and new.json["id"] != online["key"]["id"]
    assert reason(page(client, old_code)) == "出示设备已停用"
    keys = client.get("/api/v1/device-keys", headers=officer.headers).json["items"]
    assert [(k["id"], bool(k["revoked_at"])) for k in keys] == [
        (new.json["id"], False),
        (online["key"]["id"], True),
    ]


@pytest.mark.parametrize(
    "prefix",
    [
        OFFLINE_PREFIX,
        "https://zhifa.scjgj.pudong.shanghai.gov.cn/public/credentials/offline/",
    ],
)
def test_the_code_fits_a_scannable_qr(online, phone, prefix):
    url = prefix + phone.code(online["cert"], now_s())
    assert len(url) < 220
    assert segno.make(url, error="m", micro=False).version <= 15


def test_offline_code_shows_the_photo_only_while_valid(app, client, people, online, phone):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (300, 400), (40, 80, 160)).save(buf, "JPEG")
    cid = online_credential(app)
    put = client.put(
        f"/api/v1/credentials/{cid}/photo",
        data=buf.getvalue(),
        headers={**people["admin"].headers, "Content-Type": "image/jpeg"},
    )
    assert put.status_code == 200, put.json

    code = phone.code(online["cert"], now_s())
    photo_path = f"/public/credentials/offline/{code}/photo"
    html = page(client, code)
    assert f'<img src="{photo_path}" alt="执法人员照片"' in html
    photo = client.get(photo_path)
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert photo.headers["Cache-Control"] == "no-store"
    with Image.open(io.BytesIO(photo.data)) as img:
        assert img.size == (450, 600)
    body = client.get(f"/public/credentials/offline/{code}.json").json
    assert body["credential"]["photo_url"] == "http://localhost" + photo_path

    # a code from too long ago, a forged one, a revoked phone: no photo
    stale = phone.code(online["cert"], now_s() - 300)
    assert client.get(f"/public/credentials/offline/{stale}/photo").status_code == 404
    assert "<img" not in page(client, stale)
    forged = Phone("pwa-thief").code(online["cert"], now_s())
    assert client.get(f"/public/credentials/offline/{forged}/photo").status_code == 404
    revoke = client.post(
        f"/api/v1/device-keys/{online['key']['id']}/revoke",
        json={"reason": "手机遗失"},
        headers=people["admin"].headers,
    )
    assert revoke.status_code == 200
    assert client.get(photo_path).status_code == 404
    # photo fetches are not checks of their own: only the pages and JSON were logged
    assert len(offline_actions(app)) == 3


def test_certificate_never_outlives_the_credential():
    from types import SimpleNamespace

    last_day = date(2026, 12, 31)
    credential = SimpleNamespace(id=7, valid_to=clock.day_start(last_day))
    key = SimpleNamespace(id=3)
    evening = datetime(2026, 12, 31, 20, 0, tzinfo=clock.ZONE)
    _, expires = credential_service.device_certificate(
        credential, key, evening, secret_key="k", ttl=timedelta(hours=24)
    )
    # midnight after the last valid day (Beijing time), not 20:00 the next evening
    assert expires == clock.day_start(date(2027, 1, 1))
    morning = datetime(2026, 12, 20, 8, 0, tzinfo=clock.ZONE)
    _, expires = credential_service.device_certificate(
        credential, key, morning, secret_key="k", ttl=timedelta(hours=24)
    )
    assert expires == morning + timedelta(hours=24)
