"""执法证: issuing enforcement credentials, their status, and the short-lived QR token of 亮证.

The display token is stateless: ``base64url(version ‖ credential id ‖ expiry ‖ HMAC-SHA256)``
with a key derived from the app's secret key under a domain-separation label, so no database
row is needed, nobody without the secret can forge one, and a screenshot stops working after
``DISPLAY_TOKEN_TTL`` (60 s, as the issue requires). Whether the credential is valid *now* is
decided at verification time from its current status, validity period and holder, never from
the token alone.

Offline, the phone makes the code itself (see "offline 亮证" below): a device certificate the
server issued while the phone was online (HMAC, like the token) names the credential and the
phone's registered ECDSA P-256 key; the phone appends the time and its signature over both.

持证上岗: an upload is refused unless its capture was made while the uploader held a valid
credential (:func:`require_valid_at`); the officer's photo is kept here too (:func:`set_photo`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import clock
from ..domain import CredentialStatus, Role
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..models import AuditEntry, Case, Credential, Device, DeviceKey, User
from ..storage.keys import credential_photo_key
from . import audit

if TYPE_CHECKING:
    from ..storage import Storage

DISPLAY_TOKEN_TTL = timedelta(seconds=60)
# Offline 亮证: a phone makes codes for this long after it was last online, and a code is good
# for this long either side of our clock (the phone corrects its clock by the offset it saw).
DEVICE_CERT_TTL = timedelta(hours=24)
OFFLINE_CODE_WINDOW = timedelta(seconds=60)
OFFLINE_CODE_ROTATE = timedelta(seconds=30)  # the phone makes a new code this often
HOLDER_ROLES = frozenset({Role.OFFICER.value, Role.SUPERVISOR.value})

_TOKEN_VERSION = 1
_TOKEN_HEAD = struct.Struct(">BQQ")  # version, credential id, expiry (unix seconds)
_MAC_LEN = hashlib.sha256().digest_size
_KEY_LABEL = b"fieldtrace/credential-display-token/v1"


class TokenProblem(StrEnum):
    """Why a display token was not accepted."""

    FORGED = "forged"  # not made by this server (bad encoding, bad MAC, unknown version)
    EXPIRED = "expired"  # genuine, but past its expiry: an old screenshot
    UNKNOWN = "unknown"  # genuine and fresh, but the credential no longer exists


class InvalidReason(StrEnum):
    """Why a public check says ✗: a token problem or the credential's state right now."""

    FORGED = "forged"
    EXPIRED_TOKEN = "expired_token"
    UNKNOWN = "unknown"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    OUT_OF_PERIOD = "out_of_period"
    HOLDER_INACTIVE = "holder_inactive"
    EXPIRED_CERT = "expired_cert"  # offline code from a phone not online in DEVICE_CERT_TTL
    DEVICE_REVOKED = "device_revoked"  # offline code from a phone whose key was revoked


_TOKEN_TO_REASON = {
    TokenProblem.FORGED: InvalidReason.FORGED,
    TokenProblem.EXPIRED: InvalidReason.EXPIRED_TOKEN,
    TokenProblem.UNKNOWN: InvalidReason.UNKNOWN,
}


# --- dates ---------------------------------------------------------------------------------


def in_period(credential: Credential, now: datetime) -> bool:
    """Today (Asia/Shanghai) within valid_from..valid_to, both days included."""
    return (
        clock.local_date(credential.valid_from)
        <= clock.local_date(now)
        <= clock.local_date(credential.valid_to)
    )


def state_problem(credential: Credential, now: datetime) -> InvalidReason | None:
    """Why this credential is not valid at ``now``, or None when it is."""
    if credential.status == CredentialStatus.REVOKED:
        return InvalidReason.REVOKED
    if credential.status == CredentialStatus.SUSPENDED:
        return InvalidReason.SUSPENDED
    if credential.status != CredentialStatus.ACTIVE:
        return InvalidReason.UNKNOWN
    if not in_period(credential, now):
        return InvalidReason.OUT_OF_PERIOD
    if not credential.user.active:
        return InvalidReason.HOLDER_INACTIVE
    return None


# --- issuing and status --------------------------------------------------------------------


def _require_admin(actor: User | None) -> None:
    if actor is not None and actor.role != Role.ADMIN:
        raise Forbidden("only an admin manages credentials", code="role_forbidden")


def _holder_for(session: Session, actor: User | None, user_id: int) -> User:
    """The user the credential is for; another unit's user is invisible (404) to an admin."""
    user = session.get(User, user_id)
    if user is None or (actor is not None and user.unit_id != actor.unit_id):
        raise NotFound(f"user {user_id} not found in your unit", code="user_not_found")
    if user.role not in HOLDER_ROLES:
        raise Invalid(
            f"credentials are issued to officers and supervisors, not to role {user.role!r}",
            code="not_a_holder",
        )
    if not user.active:
        raise Invalid(f"user {user_id} is not active", code="user_inactive")
    return user


def issue(
    session: Session, actor: User | None, data: dict[str, Any], *, client_addr: str = ""
) -> Credential:
    """Issue a credential. ``actor`` None is the operator's CLI (system); else it is an admin
    of the holder's unit. ``data``: user_id, number, issuing_authority, categories, area,
    valid_from and valid_to (dates, Asia/Shanghai)."""
    _require_admin(actor)
    holder = _holder_for(session, actor, int(data["user_id"]))
    number = str(data["number"]).strip()
    categories = [c.strip() for c in data["categories"] if c and c.strip()]
    if not number:
        raise Invalid("the credential number is empty", code="invalid_number")
    if not categories:
        raise Invalid("name at least one enforcement category", code="invalid_categories")
    valid_from: date = data["valid_from"]
    valid_to: date = data["valid_to"]
    if valid_to < valid_from:
        raise Invalid("valid_to is before valid_from", code="invalid_period")
    if session.execute(sa.select(Credential.id).where(Credential.number == number)).first():
        raise Conflict(f"credential number {number} already exists", code="credential_exists")
    credential = Credential(
        user_id=holder.id,
        number=number,
        issuing_authority=data["issuing_authority"].strip(),
        categories=categories,
        area=data["area"].strip(),
        valid_from=clock.day_start(valid_from),
        valid_to=clock.day_start(valid_to),
        status=CredentialStatus.ACTIVE.value,
    )
    try:
        with session.begin_nested():  # a concurrent issue of the same number loses cleanly
            session.add(credential)
            session.flush()
    except IntegrityError:
        raise Conflict(
            f"credential number {number} already exists", code="credential_exists"
        ) from None
    audit.record(
        session,
        actor=actor,
        action="credential.issued",
        object_type="credential",
        object_id=credential.id,
        client_addr=client_addr,
        details={
            "number": number,
            "user_id": holder.id,
            "issuing_authority": credential.issuing_authority,
            "categories": categories,
            "area": credential.area,
            "valid_from": valid_from.isoformat(),
            "valid_to": valid_to.isoformat(),
        },
    )
    return credential


def get_managed(session: Session, actor: User | None, credential_id: int) -> Credential:
    """A credential the admin may manage (same unit as its holder); else 404."""
    _require_admin(actor)
    credential = session.get(Credential, credential_id)
    if credential is None or (actor is not None and credential.user.unit_id != actor.unit_id):
        raise NotFound(f"credential {credential_id} not found", code="credential_not_found")
    return credential


def by_number(session: Session, number: str) -> Credential:
    credential = session.execute(
        sa.select(Credential).where(Credential.number == number)
    ).scalar_one_or_none()
    if credential is None:
        raise NotFound(f"credential {number} not found", code="credential_not_found")
    return credential


def change_status(
    session: Session,
    actor: User | None,
    credential: Credential,
    status: str,
    reason: str,
    *,
    client_addr: str = "",
) -> Credential:
    """Suspend, revoke or reactivate. Revocation (注销) is final: a new credential is issued."""
    _require_admin(actor)
    try:
        target = CredentialStatus(status)
    except ValueError:
        raise Invalid(f"unknown status {status!r}", code="invalid_status") from None
    reason = reason.strip()
    if not reason:
        raise Invalid("give a reason for the change", code="reason_required")
    current = credential.status
    if current == CredentialStatus.REVOKED:
        raise Conflict(
            "a revoked credential cannot change; issue a new one", code="credential_revoked"
        )
    if current == target:
        raise Conflict(f"the credential is already {current}", code="status_unchanged")
    credential.status = target.value
    credential.status_changed_at = clock.now()
    audit.record(
        session,
        actor=actor,
        action="credential.status_changed",
        object_type="credential",
        object_id=credential.id,
        client_addr=client_addr,
        details={
            "number": credential.number,
            "from": current,
            "to": target.value,
            "reason": reason,
        },
    )
    session.flush()
    return credential


def _visible_to(
    session: Session, viewer: User, query: sa.Select, owner: Any, user_id: int | None
) -> sa.Select:
    """``query`` narrowed to the rows (owned through ``owner``) ``viewer`` may see: an admin
    their unit's users' (or one of them, by ``user_id``), anyone else only their own. Asking
    for a user one may not see is 404, so other units' people stay invisible."""
    query = query.join(User, owner == User.id)
    if viewer.role == Role.ADMIN:
        query = query.where(User.unit_id == viewer.unit_id)
        if user_id is not None:
            target = session.get(User, user_id)
            if target is None or target.unit_id != viewer.unit_id:
                raise NotFound(f"user {user_id} not found in your unit", code="user_not_found")
            query = query.where(owner == user_id)
    else:
        if user_id is not None and user_id != viewer.id:
            raise NotFound(f"user {user_id} not found", code="user_not_found")
        query = query.where(owner == viewer.id)
    return query


def visible(session: Session, viewer: User, user_id: int | None = None) -> list[Credential]:
    """An admin sees the credentials of their unit's users; anyone else only their own.

    Asking for a user one may not see is 404, so other units' people stay invisible.
    """
    query = _visible_to(session, viewer, sa.select(Credential), Credential.user_id, user_id)
    return list(
        session.execute(query.order_by(Credential.valid_to.desc(), Credential.id.desc())).scalars()
    )


def current_for(session: Session, user: User, now: datetime) -> Credential:
    """The holder's credential to show now: active and within its period, latest-ending first.

    None valid: 404 ``no_active_credential``, with ``details.reason`` saying why (see Lacking).
    """
    found = valid_credential_at(session, user, now)
    if isinstance(found, Lacking):
        zh, en = LACKING_TEXT[found]
        raise NotFound(
            f"您没有有效的执法证（{zh}），请联系管理员 / you hold no valid credential today "
            f"({en}); ask your admin",
            code="no_active_credential",
            details={"reason": found.value},
        )
    return found


# --- 持证上岗: was the credential valid when the evidence was recorded? ------------------------


class Lacking(StrEnum):
    """Why a holder had no valid credential at some moment."""

    NONE = "no_credential"  # none issued, or none valid yet
    EXPIRED = "expired"  # the latest one had ended
    SUSPENDED = "suspended"
    REVOKED = "revoked"


LACKING_TEXT: dict[Lacking, tuple[str, str]] = {
    Lacking.NONE: ("未持有执法证", "no credential held"),
    Lacking.EXPIRED: ("执法证已过期", "the credential had expired"),
    Lacking.SUSPENDED: ("执法证已暂停", "the credential was suspended"),
    Lacking.REVOKED: ("执法证已注销", "the credential was revoked"),
}


def status_at(session: Session, credential: Credential, at: datetime) -> str:
    """The credential's status at ``at``: its status now, unless it changed since.

    Then the first change after ``at`` (in the audit trail, written in the same transaction
    as every change) says what it was: suspended-then-reactivated stays suspended for a
    capture made in between, and a suspension after the capture does not reach back.
    """
    changed = credential.status_changed_at
    if changed is None or changed <= at:
        return credential.status
    before = session.execute(
        sa.select(AuditEntry.details)
        .where(
            AuditEntry.object_type == "credential",
            AuditEntry.object_id == str(credential.id),
            AuditEntry.action == "credential.status_changed",
            AuditEntry.at > at,
        )
        .order_by(AuditEntry.seq)
        .limit(1)
    ).scalar_one_or_none()
    if before and before.get("from") in {s.value for s in CredentialStatus}:
        return str(before["from"])
    return CredentialStatus.ACTIVE.value  # changed after ``at``: it was good then


def valid_credential_at(session: Session, user: User, at: datetime) -> Credential | Lacking:
    """The user's credential valid at ``at`` (its period covers the day, active then), or why
    there was none. Several: the latest-ending one."""
    credentials = list(
        session.execute(
            sa.select(Credential)
            .where(Credential.user_id == user.id)
            .order_by(Credential.valid_to.desc(), Credential.id.desc())
        ).scalars()
    )
    covering = [c for c in credentials if in_period(c, at)]
    for credential in covering:
        if status_at(session, credential, at) == CredentialStatus.ACTIVE:
            return credential
    if covering:
        then = status_at(session, covering[0], at)
        return Lacking.REVOKED if then == CredentialStatus.REVOKED else Lacking.SUSPENDED
    if any(clock.local_date(c.valid_to) < clock.local_date(at) for c in credentials):
        return Lacking.EXPIRED
    return Lacking.NONE


def require_valid_at(session: Session, user: User, captured_at: datetime) -> Credential:
    """持证上岗: refuse (403 ``credential_not_valid``) evidence recorded without a valid
    credential. A suspension or revocation after the capture does not reach back."""
    found = valid_credential_at(session, user, captured_at)
    if isinstance(found, Credential):
        return found
    zh, en = LACKING_TEXT[found]
    local = captured_at.astimezone(clock.ZONE).strftime("%Y-%m-%d %H:%M:%S")
    raise Forbidden(
        f"持证上岗：拍摄时（{local} 北京时间）{zh}，服务器不接收此文件 / "
        f"no valid credential when this was recorded ({captured_at.isoformat()}): {en}; "
        "the server refuses the upload",
        code="credential_not_valid",
        details={"reason": found.value, "captured_at": captured_at.isoformat()},
    )


# --- the officer's photo ---------------------------------------------------------------------


def get_viewable(session: Session, viewer: User, credential_id: int) -> Credential:
    """A credential its holder or an admin of the holder's unit may look at; else 404."""
    credential = session.get(Credential, credential_id)
    allowed = credential is not None and (
        credential.user_id == viewer.id
        or (viewer.role == Role.ADMIN and credential.user.unit_id == viewer.unit_id)
    )
    if not allowed:
        raise NotFound(f"credential {credential_id} not found", code="credential_not_found")
    return credential  # type: ignore[return-value]


def set_photo(
    session: Session,
    storage: Storage,
    bucket: str,
    actor: User | None,
    credential: Credential,
    data: bytes,
    *,
    client_addr: str = "",
) -> Credential:
    """Check and re-encode the upload (see ``server.credential_photo``), store it as a new
    object named by its SHA-256 (earlier photos stay), and show it from now on (audited)."""
    _require_admin(actor)
    from ..credential_photo import PhotoRejected, normalise_photo

    try:
        jpeg, width, height = normalise_photo(data)
    except PhotoRejected as exc:
        raise Invalid(str(exc), code="invalid_photo") from None
    sha256 = hashlib.sha256(jpeg).hexdigest()
    key = credential_photo_key(credential.id, sha256)
    version = storage.put(bucket, key, jpeg, content_type="image/jpeg")
    previous = credential.photo_sha256
    credential.photo_bucket = bucket
    credential.photo_key = key
    credential.photo_version = version
    credential.photo_sha256 = sha256
    audit.record(
        session,
        actor=actor,
        action="credential.photo_set",
        object_type="credential",
        object_id=credential.id,
        client_addr=client_addr,
        details={
            "number": credential.number,
            "sha256": sha256,
            "previous_sha256": previous,
            "object_key": key,
            "object_version": version,
            "width": width,
            "height": height,
            "bytes": len(jpeg),
            "uploaded_bytes": len(data),
        },
    )
    session.flush()
    return credential


def photo_bytes(storage: Storage, credential: Credential) -> bytes:
    """The credential's current photo; 404 ``photo_not_found`` when it has none."""
    if not (credential.photo_bucket and credential.photo_key):
        raise NotFound("this credential has no photo", code="photo_not_found")
    return storage.get_bytes(
        credential.photo_bucket, credential.photo_key, version_id=credential.photo_version
    )


# --- the display token ---------------------------------------------------------------------


def _key(secret_key: str | bytes, label: bytes = _KEY_LABEL) -> bytes:
    secret = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return hmac.new(secret, label, hashlib.sha256).digest()


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    """Strict base64url: the only spelling of the bytes is accepted (no junk, no padding)."""
    if not text or len(text) > 200 or not text.isascii():
        raise ValueError("not a token")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64e(raw) != text:
        raise ValueError("not canonical base64url")
    return raw


def display_token(
    credential: Credential,
    now: datetime,
    *,
    secret_key: str | bytes,
    ttl: timedelta = DISPLAY_TOKEN_TTL,
) -> tuple[str, datetime]:
    """A token for the QR code, valid until ``now + ttl``; returns (token, expires_at)."""
    expires = int((now + ttl).timestamp())
    head = _TOKEN_HEAD.pack(_TOKEN_VERSION, credential.id, expires)
    mac = hmac.new(_key(secret_key), head, hashlib.sha256).digest()
    return _b64e(head + mac), datetime.fromtimestamp(expires, UTC)


def open_display_token(token: str, *, secret_key: str | bytes) -> tuple[int, datetime] | None:
    """(credential id, expiry) of a token this server made, expired or not; None if forged.

    The MAC is checked before anything in the token is trusted.
    """
    try:
        raw = _b64d(token)
    except (ValueError, binascii.Error):
        return None
    if len(raw) != _TOKEN_HEAD.size + _MAC_LEN:
        return None
    head, mac = raw[: _TOKEN_HEAD.size], raw[_TOKEN_HEAD.size :]
    if not hmac.compare_digest(mac, hmac.new(_key(secret_key), head, hashlib.sha256).digest()):
        return None
    version, credential_id, expires = _TOKEN_HEAD.unpack(head)
    if version != _TOKEN_VERSION:
        return None
    return credential_id, datetime.fromtimestamp(expires, UTC)


def verify_display_token(
    session: Session, token: str, now: datetime, *, secret_key: str | bytes
) -> Credential | TokenProblem:
    """The credential a genuine, unexpired token names, or why the token is refused."""
    opened = open_display_token(token, secret_key=secret_key)
    if opened is None:
        return TokenProblem.FORGED
    credential_id, expires_at = opened
    if now >= expires_at:
        return TokenProblem.EXPIRED
    credential = session.get(Credential, credential_id)
    if credential is None:
        return TokenProblem.UNKNOWN
    return credential


@dataclass
class Display:
    credential: Credential
    token: str
    expires_at: datetime
    device_cert: DeviceCert | None = None  # for offline codes, when the phone named its key
    device_key_problem: DeviceKeyProblem | None = None  # why it got none


def display(
    session: Session,
    user: User,
    now: datetime,
    *,
    secret_key: str | bytes,
    client_addr: str = "",
    case: Case | None = None,
    device_key_id: int | None = None,
    cert_ttl: timedelta = DEVICE_CERT_TTL,
    position: dict[str, float] | None = None,
) -> Display:
    """亮证: the holder's current credential and a fresh token for its QR code (audited).

    Shown while working on a case, it is also written to that case's custody trail, so the
    case file (and its legal review) carries the 亮证 of its officers: who, when, and where
    (``position``: latitude, longitude, accuracy_m, when the phone knew it). With ``device_key_id``
    (the phone's registered key) it also carries a device certificate, with which the phone
    makes codes of its own while it has no network.
    """
    credential = current_for(session, user, now)
    token, expires_at = display_token(credential, now, secret_key=secret_key)
    details: dict[str, Any] = {"number": credential.number, "expires_at": expires_at.isoformat()}
    device_cert: DeviceCert | None = None
    problem: DeviceKeyProblem | None = None
    if device_key_id is not None:
        certified = certify_device(
            session, user, credential, device_key_id, now, secret_key=secret_key, ttl=cert_ttl
        )
        if isinstance(certified, DeviceCert):
            device_cert = certified
            details |= {
                "device_key_id": certified.key.id,
                "device_id": certified.key.device_id,
                "device_cert_expires_at": certified.expires_at.isoformat(),
            }
        else:
            problem = certified
    where = {"position": dict(position)} if position else {}
    if case is not None:
        details |= {"case_id": case.id, "case_number": case.number}
    details |= where
    audit.record(
        session,
        actor=user,
        action="credential.displayed",
        object_type="credential",
        object_id=credential.id,
        client_addr=client_addr,
        details=details,
    )
    if case is not None:
        audit.record(
            session,
            actor=user,
            action="case.credential_displayed",
            object_type="case",
            object_id=case.id,
            client_addr=client_addr,
            details={"credential_id": credential.id, "number": credential.number, **where},
        )
    return Display(
        credential=credential,
        token=token,
        expires_at=expires_at,
        device_cert=device_cert,
        device_key_problem=problem,
    )


@dataclass
class PublicCheck:
    """The outcome of a citizen's scan: valid now, or the reason it is not."""

    checked_at: datetime
    reason: InvalidReason | None
    credential: Credential | None  # set only when valid: nothing is shown about others
    offline: bool = False  # a code the officer's phone made without network

    @property
    def valid(self) -> bool:
        return self.reason is None


def check_publicly(
    session: Session,
    token: str,
    now: datetime,
    *,
    secret_key: str | bytes,
    client_addr: str = "",
    channel: str = "html",
) -> PublicCheck:
    """Verify a scanned token for the public page; every check is audited with the address."""
    found = verify_display_token(session, token, now, secret_key=secret_key)
    credential: Credential | None = None
    object_id: int | str = "-"  # a forged token names nothing we can trust
    if isinstance(found, TokenProblem):
        reason: InvalidReason | None = _TOKEN_TO_REASON[found]
        if found == TokenProblem.EXPIRED:  # genuine: an old screenshot of this credential
            opened = open_display_token(token, secret_key=secret_key)
            object_id = opened[0] if opened else "-"
    else:
        credential = found
        object_id = credential.id
        reason = state_problem(credential, now)
    audit.record(
        session,
        actor=None,
        action="credential.verified_publicly",
        object_type="credential",
        object_id=object_id,
        client_addr=client_addr,
        details={
            "result": "valid" if reason is None else reason.value,
            "number": credential.number if credential is not None else None,
            "channel": channel,
        },
    )
    return PublicCheck(
        checked_at=now, reason=reason, credential=credential if reason is None else None
    )


# --- offline 亮证: device keys, device certificates, offline codes ---------------------------
#
# An offline code is base64url(cert ‖ ts ‖ signature), 97 bytes, 130 characters:
#   cert       version (1) ‖ credential id (4) ‖ device key id (4) ‖ not after (4, unix s)
#              ‖ HMAC-SHA256, first 16 bytes, under a key of its own: issued by the server
#              while the phone was online, opaque to the phone
#   ts         the phone's clock (4, unix s), corrected by the offset it saw when last online
#   signature  ECDSA P-256 / SHA-256 over DEVICE_SIGNING_LABEL ‖ cert ‖ ts, raw r ‖ s (64
#              bytes): exactly what WebCrypto's sign() returns
# The cert names the key by id, not by fingerprint: the binding is the server's own MAC and
# the key is looked up live anyway, and each byte makes the QR code denser to scan.

DEVICE_KEY_ALGORITHM = "ES256"
DEVICE_SIGNING_LABEL = b"fieldtrace/offline-credential-code/v1"

_CERT_VERSION = 1
_CERT_HEAD = struct.Struct(">BIII")  # version, credential id, device key id, not after
_CERT_MAC_LEN = 16  # 128 bits: a forger gets one guess per scan
_CERT_LEN = _CERT_HEAD.size + _CERT_MAC_LEN
_CODE_TS = struct.Struct(">I")
_SIGNATURE_LEN = 64
_CODE_LEN = _CERT_LEN + _CODE_TS.size + _SIGNATURE_LEN
_CERT_KEY_LABEL = b"fieldtrace/credential-device-cert/v1"
_P256 = ec.SECP256R1()


class DeviceKeyProblem(StrEnum):
    """Why ``GET /me/credential`` gave the phone no device certificate."""

    UNKNOWN = "device_key_unknown"  # no such key, or another officer's
    REVOKED = "device_key_revoked"


def parse_device_public_key(text: str) -> bytes:
    """The 65-byte uncompressed point of a P-256 public key sent as base64url, either the raw
    point (WebCrypto ``exportKey("raw")``) or SubjectPublicKeyInfo (``exportKey("spki")``)."""
    try:
        raw = _b64d(text)
        if len(raw) == 65 and raw[0] == 4:
            key: Any = ec.EllipticCurvePublicKey.from_encoded_point(_P256, raw)
        else:
            key = serialization.load_der_public_key(raw)
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != _P256.name:
        raise Invalid(
            "public_key: send an ECDSA P-256 public key, raw point or SPKI, as base64url",
            code="invalid_public_key",
        )
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def device_signature_ok(public_key: str, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (raw r ‖ s) is the key's ECDSA P-256 / SHA-256 over ``message``."""
    if len(signature) != _SIGNATURE_LEN:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    key = ec.EllipticCurvePublicKey.from_encoded_point(_P256, _b64d(public_key))
    try:
        key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def own_device(session: Session, user: User, device_id: str, client_addr: str) -> Device:
    """The phone, registered to ``user`` on first sight; another officer's phone is refused.

    Safe when a new phone's first uploads arrive at once (on any number of nodes): the first
    registers it, the others find it. The audit chain's lock is taken before the insert, so a
    second request waits for the first to commit instead of failing on the primary key (and
    the two never wait on each other in the opposite order)."""
    device = session.get(Device, device_id)
    if device is None:
        audit.lock_chain(session)
        now = clock.now()
        values = {"id": device_id, "user_id": user.id, "registered_at": now, "last_seen_at": now}
        insert = (
            pg_insert(Device)
            if session.get_bind().dialect.name == "postgresql"
            else sqlite_insert(Device)
        )
        inserted = session.execute(
            insert.values(**values).on_conflict_do_nothing().returning(Device.id)
        ).first()
        device = session.get(Device, device_id, populate_existing=True)
        if device is None:  # cannot happen: inserted, or there since another request's commit
            raise RuntimeError(f"device {device_id} neither inserted nor found")
        if inserted is not None:
            audit.record(
                session,
                actor=user,
                action="device.registered",
                object_type="device",
                object_id=device_id,
                client_addr=client_addr,
            )
    if device.user_id != user.id:
        raise Conflict("this device is registered to another officer", code="device_not_yours")
    device.last_seen_at = clock.now()
    return device


def register_device_key(
    session: Session,
    user: User,
    *,
    device_id: str,
    public_key: str,
    now: datetime,
    client_addr: str = "",
) -> tuple[DeviceKey, bool]:
    """Register the phone's key for offline codes; (key, created). Sending the same key again
    is a no-op, so a phone that lost the answer simply asks again. A new key of a phone
    replaces (revokes) its old one: one live key per phone."""
    if user.role not in HOLDER_ROLES:
        raise Forbidden("only credential holders register device keys", code="role_forbidden")
    raw = parse_device_public_key(public_key)
    fingerprint = hashlib.sha256(raw).hexdigest()
    existing = session.execute(
        sa.select(DeviceKey).where(DeviceKey.fingerprint == fingerprint)
    ).scalar_one_or_none()
    if existing is not None:
        if existing.user_id != user.id or existing.device_id != device_id:
            raise Conflict("this key belongs to another device", code="device_key_taken")
        if existing.revoked_at is not None:
            raise Conflict("this device key was revoked; make a new one", code="device_key_revoked")
        return existing, False
    device = own_device(session, user, device_id, client_addr)
    replaced = session.execute(
        sa.select(DeviceKey).where(DeviceKey.device_id == device.id, DeviceKey.revoked_at.is_(None))
    ).scalars()
    replaced_ids = []
    for old in replaced:
        old.revoked_at = now
        old.revoked_reason = "replaced by a new key of the same device"
        replaced_ids.append(old.id)
    key = DeviceKey(
        device_id=device.id,
        user_id=user.id,
        algorithm=DEVICE_KEY_ALGORITHM,
        public_key=_b64e(raw),
        fingerprint=fingerprint,
        created_at=now,
    )
    try:
        with session.begin_nested():  # the same key sent twice at once: one row wins
            session.add(key)
            session.flush()
    except IntegrityError:
        raise Conflict(
            "this key is already registered; ask again", code="device_key_taken"
        ) from None
    audit.record(
        session,
        actor=user,
        action="device_key.registered",
        object_type="device_key",
        object_id=key.id,
        client_addr=client_addr,
        details={
            "device_id": device.id,
            "fingerprint": fingerprint,
            "algorithm": DEVICE_KEY_ALGORITHM,
            "replaced": replaced_ids,
        },
    )
    return key, True


def visible_device_keys(
    session: Session, viewer: User, user_id: int | None = None
) -> list[DeviceKey]:
    """Like credentials: an admin sees their unit's device keys, anyone else only their own."""
    query = _visible_to(session, viewer, sa.select(DeviceKey), DeviceKey.user_id, user_id)
    return list(session.execute(query.order_by(DeviceKey.id.desc())).scalars())


def get_device_key(session: Session, actor: User, key_id: int) -> DeviceKey:
    """A key its owner or an admin of the owner's unit may see and revoke; else 404."""
    key = session.get(DeviceKey, key_id)
    allowed = key is not None and (
        key.user_id == actor.id or (actor.role == Role.ADMIN and key.user.unit_id == actor.unit_id)
    )
    if not allowed:
        raise NotFound(f"device key {key_id} not found", code="device_key_not_found")
    return key  # type: ignore[return-value]


def revoke_device_key(
    session: Session,
    actor: User,
    key: DeviceKey,
    reason: str,
    *,
    now: datetime,
    client_addr: str = "",
) -> DeviceKey:
    """Stop the phone's offline codes (a lost phone): every later scan of one says ✗."""
    reason = reason.strip()
    if not reason:
        raise Invalid("give a reason for the revocation", code="reason_required")
    if key.revoked_at is not None:
        raise Conflict("the device key is already revoked", code="device_key_revoked")
    key.revoked_at = now
    key.revoked_reason = reason
    audit.record(
        session,
        actor=actor,
        action="device_key.revoked",
        object_type="device_key",
        object_id=key.id,
        client_addr=client_addr,
        details={"device_id": key.device_id, "user_id": key.user_id, "reason": reason},
    )
    session.flush()
    return key


@dataclass
class DeviceCert:
    key: DeviceKey
    cert: str  # base64url, for the phone to put in front of its codes
    expires_at: datetime


def _cert_mac(secret_key: str | bytes, head: bytes) -> bytes:
    return hmac.new(_key(secret_key, _CERT_KEY_LABEL), head, hashlib.sha256).digest()[
        :_CERT_MAC_LEN
    ]


def device_certificate(
    credential: Credential,
    key: DeviceKey,
    now: datetime,
    *,
    secret_key: str | bytes,
    ttl: timedelta,
) -> tuple[str, datetime]:
    """The server's statement "this key's codes stand for this credential until not-after":
    ``ttl`` from ``now``, never past the credential's last valid day (Asia/Shanghai)."""
    last_moment = clock.day_start(clock.local_date(credential.valid_to) + timedelta(days=1))
    not_after = int(min(now + ttl, last_moment).timestamp())
    head = _CERT_HEAD.pack(_CERT_VERSION, credential.id, key.id, not_after)
    return _b64e(head + _cert_mac(secret_key, head)), datetime.fromtimestamp(not_after, UTC)


def certify_device(
    session: Session,
    user: User,
    credential: Credential,
    key_id: int,
    now: datetime,
    *,
    secret_key: str | bytes,
    ttl: timedelta = DEVICE_CERT_TTL,
) -> DeviceCert | DeviceKeyProblem:
    """A device certificate for the holder's own live key, or why there is none."""
    key = session.get(DeviceKey, key_id)
    if key is None or key.user_id != user.id:
        return DeviceKeyProblem.UNKNOWN
    if key.revoked_at is not None:
        return DeviceKeyProblem.REVOKED
    cert, expires_at = device_certificate(credential, key, now, secret_key=secret_key, ttl=ttl)
    key.last_certified_at = now
    return DeviceCert(key=key, cert=cert, expires_at=expires_at)


def offline_code(cert: str, made_at: int, signature: bytes) -> str:
    """The code a phone shows (what pwa/src/device-key.ts builds): cert ‖ ts ‖ signature."""
    return _b64e(_b64d(cert) + _CODE_TS.pack(made_at) + signature)


def offline_signed_message(cert: bytes, made_at: int) -> bytes:
    """What the phone's key signs for a code made at ``made_at`` (unix seconds)."""
    return DEVICE_SIGNING_LABEL + cert + _CODE_TS.pack(made_at)


@dataclass(frozen=True)
class OfflineCode:
    credential_id: int
    device_key_id: int
    cert_expires_at: datetime
    made_at: datetime  # the phone's (corrected) clock
    message: bytes  # what the phone signed
    signature: bytes


def open_offline_code(code: str, *, secret_key: str | bytes) -> OfflineCode | None:
    """The parts of a code whose certificate this server issued; None if it did not.

    Only the certificate is checked here; the phone's signature needs its key (the caller's).
    """
    try:
        raw = _b64d(code)
    except (ValueError, binascii.Error):
        return None
    if len(raw) != _CODE_LEN:
        return None
    cert, made, signature = (
        raw[:_CERT_LEN],
        raw[_CERT_LEN : _CERT_LEN + _CODE_TS.size],
        raw[_CERT_LEN + _CODE_TS.size :],
    )
    head, mac = cert[: _CERT_HEAD.size], cert[_CERT_HEAD.size :]
    if not hmac.compare_digest(mac, _cert_mac(secret_key, head)):
        return None
    version, credential_id, key_id, not_after = _CERT_HEAD.unpack(head)
    if version != _CERT_VERSION:
        return None
    (made_at,) = _CODE_TS.unpack(made)
    return OfflineCode(
        credential_id=credential_id,
        device_key_id=key_id,
        cert_expires_at=datetime.fromtimestamp(not_after, UTC),
        made_at=datetime.fromtimestamp(made_at, UTC),
        message=DEVICE_SIGNING_LABEL + cert + made,
        signature=signature,
    )


@dataclass
class OfflineVerdict:
    reason: InvalidReason | None
    opened: OfflineCode | None = None
    key: DeviceKey | None = None
    credential: Credential | None = None


def verify_offline_code(
    session: Session,
    code: str,
    now: datetime,
    *,
    secret_key: str | bytes,
    window: timedelta = OFFLINE_CODE_WINDOW,
) -> OfflineVerdict:
    """Check a phone-made code: the server's certificate, the phone's signature with its
    registered key, the key still live, the certificate unexpired, the phone's time within
    ``window`` of ours (what a screenshot is good for), then the credential as it is now."""
    opened = open_offline_code(code, secret_key=secret_key)
    if opened is None:
        return OfflineVerdict(InvalidReason.FORGED)
    key = session.get(DeviceKey, opened.device_key_id)
    if key is None:
        return OfflineVerdict(InvalidReason.UNKNOWN, opened)
    if not device_signature_ok(key.public_key, opened.message, opened.signature):
        return OfflineVerdict(InvalidReason.FORGED, opened, key)
    if key.revoked_at is not None:
        return OfflineVerdict(InvalidReason.DEVICE_REVOKED, opened, key)
    if now >= opened.cert_expires_at:
        return OfflineVerdict(InvalidReason.EXPIRED_CERT, opened, key)
    if abs(now - opened.made_at) > window:
        return OfflineVerdict(InvalidReason.EXPIRED_TOKEN, opened, key)
    credential = session.get(Credential, opened.credential_id)
    if credential is None:
        return OfflineVerdict(InvalidReason.UNKNOWN, opened, key)
    if credential.user_id != key.user_id:  # cannot be issued so; refuse rather than trust
        return OfflineVerdict(InvalidReason.FORGED, opened, key)
    return OfflineVerdict(state_problem(credential, now), opened, key, credential)


def check_offline_publicly(
    session: Session,
    code: str,
    now: datetime,
    *,
    secret_key: str | bytes,
    window: timedelta = OFFLINE_CODE_WINDOW,
    client_addr: str = "",
    channel: str = "html",
) -> PublicCheck:
    """The public page's check of an offline code, audited like an online one, with the
    device that made it (so a code can be traced to a phone and that phone revoked)."""
    verdict = verify_offline_code(session, code, now, secret_key=secret_key, window=window)
    opened, key, credential = verdict.opened, verdict.key, verdict.credential
    audit.record(
        session,
        actor=None,
        action="credential.verified_publicly",
        object_type="credential",
        object_id=opened.credential_id if opened else "-",
        client_addr=client_addr,
        details={
            "result": "valid" if verdict.reason is None else verdict.reason.value,
            "number": credential.number if credential is not None else None,
            "channel": channel,
            "mode": "offline",
            "device_key_id": key.id if key is not None else None,
            "device_id": key.device_id if key is not None else None,
            "made_at": opened.made_at.isoformat() if opened else None,
        },
    )
    return PublicCheck(
        checked_at=now,
        reason=verdict.reason,
        credential=credential if verdict.reason is None else None,
        offline=True,
    )


# --- the photo on the public page ----------------------------------------------------------


def valid_by_token(
    session: Session, token: str, now: datetime, *, secret_key: str | bytes
) -> Credential | None:
    """The credential a scanned token shows as ✓ right now, else None. Not audited: it serves
    the photo of a page whose check was (the page is the check; the photo is part of it)."""
    found = verify_display_token(session, token, now, secret_key=secret_key)
    if isinstance(found, TokenProblem) or state_problem(found, now) is not None:
        return None
    return found


def valid_by_offline_code(
    session: Session,
    code: str,
    now: datetime,
    *,
    secret_key: str | bytes,
    window: timedelta = OFFLINE_CODE_WINDOW,
) -> Credential | None:
    """As :func:`valid_by_token`, for a code the phone made offline."""
    verdict = verify_offline_code(session, code, now, secret_key=secret_key, window=window)
    return verdict.credential if verdict.reason is None else None


# --- renewal (换证) -------------------------------------------------------------------------


def renew(
    session: Session,
    actor: User | None,
    old: Credential,
    *,
    number: str,
    valid_from: date,
    valid_to: date,
    client_addr: str = "",
) -> Credential:
    """A successor credential for a new validity period: same holder, authority, categories,
    area and photo, a new number. The old one is left as it was, so what 持证上岗 says about
    evidence recorded under it never changes after the fact."""
    _require_admin(actor)
    if old.status == CredentialStatus.REVOKED:
        raise Conflict(
            "a revoked credential cannot be renewed; issue a new one", code="credential_revoked"
        )
    new = issue(
        session,
        actor,
        {
            "user_id": old.user_id,
            "number": number,
            "issuing_authority": old.issuing_authority,
            "categories": list(old.categories),
            "area": old.area,
            "valid_from": valid_from,
            "valid_to": valid_to,
        },
        client_addr=client_addr,
    )
    new.photo_bucket, new.photo_key = old.photo_bucket, old.photo_key
    new.photo_version, new.photo_sha256 = old.photo_version, old.photo_sha256
    audit.record(
        session,
        actor=actor,
        action="credential.renewed",
        object_type="credential",
        object_id=new.id,
        client_addr=client_addr,
        details={
            "from_id": old.id,
            "from_number": old.number,
            "number": new.number,
            "valid_from": valid_from.isoformat(),
            "valid_to": valid_to.isoformat(),
            "photo_sha256": new.photo_sha256,
        },
    )
    session.flush()
    return new
