"""执法证: issuing enforcement credentials, their status, and the short-lived QR token of 亮证.

The display token is stateless: ``base64url(version ‖ credential id ‖ expiry ‖ HMAC-SHA256)``
with a key derived from the app's secret key under a domain-separation label, so no database
row is needed, nobody without the secret can forge one, and a screenshot stops working after
``DISPLAY_TOKEN_TTL``. Whether the credential is valid *now* is decided at verification time
from its current status, validity period and holder, never from the token alone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain import CredentialStatus, Role
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..models import Case, Credential, User
from . import audit

# Mainland China has kept UTC+8 without daylight saving since 1991; a fixed offset needs no
# tz database on the machine.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
DISPLAY_TOKEN_TTL = timedelta(seconds=120)
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


_TOKEN_TO_REASON = {
    TokenProblem.FORGED: InvalidReason.FORGED,
    TokenProblem.EXPIRED: InvalidReason.EXPIRED_TOKEN,
    TokenProblem.UNKNOWN: InvalidReason.UNKNOWN,
}


# --- dates ---------------------------------------------------------------------------------


def day_start(day: date) -> datetime:
    """Midnight in Asia/Shanghai of ``day``, as stored in ``valid_from`` / ``valid_to``."""
    return datetime.combine(day, time(0, 0), SHANGHAI).astimezone(UTC)


def local_day(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


def in_period(credential: Credential, now: datetime) -> bool:
    """Today (Asia/Shanghai) within valid_from..valid_to, both days included."""
    return local_day(credential.valid_from) <= local_day(now) <= local_day(credential.valid_to)


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
        valid_from=day_start(valid_from),
        valid_to=day_start(valid_to),
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


def visible(session: Session, viewer: User, user_id: int | None = None) -> list[Credential]:
    """An admin sees the credentials of their unit's users; anyone else only their own.

    Asking for a user one may not see is 404, so other units' people stay invisible.
    """
    query = sa.select(Credential).join(User, Credential.user_id == User.id)
    if viewer.role == Role.ADMIN:
        query = query.where(User.unit_id == viewer.unit_id)
        if user_id is not None:
            target = session.get(User, user_id)
            if target is None or target.unit_id != viewer.unit_id:
                raise NotFound(f"user {user_id} not found in your unit", code="user_not_found")
            query = query.where(Credential.user_id == user_id)
    else:
        if user_id is not None and user_id != viewer.id:
            raise NotFound(f"user {user_id} not found", code="user_not_found")
        query = query.where(Credential.user_id == viewer.id)
    return list(
        session.execute(query.order_by(Credential.valid_to.desc(), Credential.id.desc())).scalars()
    )


def current_for(session: Session, user: User, now: datetime) -> Credential:
    """The holder's credential to show now: active and within its period, latest-ending first."""
    rows = session.execute(
        sa.select(Credential)
        .where(Credential.user_id == user.id, Credential.status == CredentialStatus.ACTIVE.value)
        .order_by(Credential.valid_to.desc(), Credential.id.desc())
    ).scalars()
    for credential in rows:
        if in_period(credential, now):
            return credential
    raise NotFound(
        "you hold no active credential valid today; ask your admin", code="no_active_credential"
    )


# --- the display token ---------------------------------------------------------------------


def _key(secret_key: str | bytes) -> bytes:
    secret = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()


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


def display(
    session: Session,
    user: User,
    now: datetime,
    *,
    secret_key: str | bytes,
    client_addr: str = "",
    case: Case | None = None,
) -> Display:
    """亮证: the holder's current credential and a fresh token for its QR code (audited).

    Shown while working on a case, it is also written to that case's custody trail, so the
    case file (and its legal review) carries the 亮证 of its officers.
    """
    credential = current_for(session, user, now)
    token, expires_at = display_token(credential, now, secret_key=secret_key)
    details: dict[str, Any] = {"number": credential.number, "expires_at": expires_at.isoformat()}
    if case is not None:
        details |= {"case_id": case.id, "case_number": case.number}
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
            details={"credential_id": credential.id, "number": credential.number},
        )
    return Display(credential=credential, token=token, expires_at=expires_at)


@dataclass
class PublicCheck:
    """The outcome of a citizen's scan: valid now, or the reason it is not."""

    checked_at: datetime
    reason: InvalidReason | None
    credential: Credential | None  # set only when valid: nothing is shown about others

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
