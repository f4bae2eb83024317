"""Short-lived playback URLs: ``<video>`` and ``<img>`` cannot send a bearer header.

A token is ``base64url(payload) "." base64url(HMAC-SHA256(payload))`` where the payload names
the grant, the user, the item, the file (``what``) and the expiry; the key is derived from the
app's secret key under its own label, so these tokens and the credential QR tokens can never
stand in for each other.

Issuing a link is audited (``playback_url.issued``: who, which file, the grant, the expiry,
from which address). A link works only from the address it was issued to, when it was issued
with one: the console's ``<video>``, ``<img>`` and download links are fetched by the same
browser that asked for them. Each distinct use of a grant — client address, file, download or
not — is one custody entry with the byte range it first asked for, not one per range request
of a seeking player. The grant table has no column for the address, so both rules read the
grant's own entries in the audit log (appended under the chain lock, so two parallel first
requests still write one entry).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..domain import MediaStatus
from ..errors import Conflict, Forbidden, NotFound, Unauthorized
from ..models import AuditEntry, MediaItem, PlaybackGrant, User
from . import audit
from .media import get_media

PLAYBACK_TTL = timedelta(minutes=10)
ISSUED = "playback_url.issued"
DERIVATIVES = ("thumbnail", "preview", "poster", "strip", "proxy", "waveform")
EXPORTS = ("custody.pdf", "custody.csv")
WHATS = ("original", *DERIVATIVES, *EXPORTS)

_VERSION = "1"
_KEY_LABEL = b"fieldtrace/playback-token/v1"
_MAX_TOKEN_LEN = 400


@dataclass(frozen=True)
class TokenClaims:
    grant_id: str
    user_id: int
    item_id: str
    what: str
    expires_at: datetime


def _key(secret_key: str | bytes) -> bytes:
    secret = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64e(raw) != text:
        raise ValueError("not canonical base64url")
    return raw


def make_token(claims: TokenClaims, *, secret_key: str | bytes) -> str:
    payload = ".".join(
        (
            _VERSION,
            claims.grant_id,
            str(claims.user_id),
            claims.item_id,
            claims.what,
            str(int(claims.expires_at.timestamp())),
        )
    ).encode()
    mac = hmac.new(_key(secret_key), payload, hashlib.sha256).digest()
    return f"{_b64e(payload)}.{_b64e(mac)}"


def open_token(token: str, *, secret_key: str | bytes) -> TokenClaims | None:
    """The claims of a token this server made (expired or not); None when forged or garbled.

    The MAC is checked before anything in the token is believed.
    """
    if not token or len(token) > _MAX_TOKEN_LEN or not token.isascii():
        return None
    try:
        encoded_payload, encoded_mac = token.split(".")
        payload, mac = _b64d(encoded_payload), _b64d(encoded_mac)
    except (ValueError, binascii.Error):
        return None
    if not hmac.compare_digest(mac, hmac.new(_key(secret_key), payload, hashlib.sha256).digest()):
        return None
    try:
        head, expires = payload.decode().rsplit(".", 1)
        version, grant_id, user_id, item_id, what = head.split(".", 4)  # what may hold a dot
        if version != _VERSION or what not in WHATS:
            return None
        return TokenClaims(
            grant_id, int(user_id), item_id, what, datetime.fromtimestamp(int(expires), UTC)
        )
    except ValueError:
        return None


@dataclass(frozen=True)
class IssuedUrl:
    token: str
    expires_at: datetime
    what: str


def issue(
    session: Session,
    user: User,
    item: MediaItem,
    what: str,
    now: datetime,
    *,
    secret_key: str | bytes,
    ttl: timedelta = PLAYBACK_TTL,
    client_addr: str = "",
) -> IssuedUrl:
    """A token that lets this user fetch one file of one item without headers until expiry;
    audited. With ``client_addr`` the link works from that address only (see the module)."""
    if what not in WHATS:
        raise NotFound(f"nothing called {what!r} to play", code="unknown_file")
    if what == "original" and item.status == MediaStatus.HASH_MISMATCH:
        raise Conflict(
            "this upload failed verification and is quarantined; it is not evidence",
            code="hash_mismatch",
        )
    if what in DERIVATIVES and not any(d.name == what for d in item.derivatives):
        raise NotFound(
            f"no {what} for this item (yet): see its processing state",
            code="derivative_not_found",
        )
    expires_at = datetime.fromtimestamp(int((now + ttl).timestamp()), UTC)
    grant = PlaybackGrant(
        id=secrets.token_hex(16),
        user_id=user.id,
        media_item_id=item.id,
        what=what,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(grant)
    session.flush()
    audit.record(
        session,
        actor=user,
        action=ISSUED,
        object_type="media",
        object_id=item.id,
        client_addr=client_addr,
        details={"grant": grant.id, "what": what, "expires_at": expires_at.isoformat()},
    )
    claims = TokenClaims(grant.id, user.id, item.id, what, expires_at)
    return IssuedUrl(make_token(claims, secret_key=secret_key), expires_at, what)


def authorize(
    session: Session,
    token: str,
    *,
    item_id: str,
    what: str,
    now: datetime,
    secret_key: str | bytes,
) -> tuple[User, MediaItem, PlaybackGrant]:
    """The user, item and grant behind a token for exactly this item and file; else refused.

    Forged or expired: 401. Genuine but for another item or file: 403. The user must still
    be active and still see the item (404 otherwise, as with a bearer token).
    """
    claims = open_token(token, secret_key=secret_key)
    if claims is None:
        raise Unauthorized("this playback link is not valid", code="playback_token_invalid")
    if now >= claims.expires_at:
        raise Unauthorized(
            "this playback link has expired; ask for a new one", code="playback_token_expired"
        )
    if claims.item_id != item_id or claims.what != what:
        raise Forbidden("this playback link is for another file", code="playback_token_mismatch")
    grant = session.get(PlaybackGrant, claims.grant_id)
    user = session.get(User, claims.user_id)
    if grant is None or user is None or grant.user_id != user.id:
        raise Unauthorized("this playback link is not valid", code="playback_token_invalid")
    if not user.active:
        raise Unauthorized("the account of this link is disabled", code="account_inactive")
    if now >= grant.expires_at:  # ended early: its user signed out (revoke_user_grants)
        raise Unauthorized(
            "已退出登录，此播放链接已失效 / this playback link ended when its user signed out",
            code="playback_token_revoked",
        )
    return user, get_media(session, user, item_id), grant


def record_access(
    session: Session,
    *,
    user: User,
    item: MediaItem,
    grant: PlaybackGrant | None,
    action: str,
    details: dict[str, Any],
    first_range: str | None,
    client_addr: str,
    now: datetime,
) -> None:
    """The custody entry for serving a file: one per bearer request (``details`` as given).

    Through a playback token: refused (403) from another address than the one it was issued
    to; else one entry per distinct use (this address, ``action``, ``details["download"]``),
    with the byte range that use first asked for.
    """
    if grant is not None:
        use = _Use(action, client_addr, bool(details.get("download")))
        entries = _grant_entries(session, user, item, grant.id)
        _require_issuing_address(entries, client_addr)
        if _recorded(entries, use):
            return  # a player's next range request, a reload
        audit.lock_chain(session)  # nobody else records this use in the meantime
        if _recorded(_grant_entries(session, user, item, grant.id), use):
            return
        claim_first_use(session, grant, first_range, now)
        extra = {k: v for k, v in details.items() if k not in ("what", "range")}
        details = {
            "what": details.get("what"),
            "first_range": first_range,
            "via": "playback_url",
            "grant": grant.id,
            **extra,
        }
    elif first_range is not None:
        # A seeking player's (or a script's) Range reads with a bearer token: one view per
        # user, file and address within PLAYBACK_TTL, with the range it first asked for.
        if _range_view_recorded(session, user, item, action, details, client_addr, now):
            return
        audit.lock_chain(session)
        if _range_view_recorded(session, user, item, action, details, client_addr, now):
            return
    audit.record(
        session,
        actor=user,
        action=action,
        object_type="media",
        object_id=item.id,
        client_addr=client_addr,
        details=details,
    )


def _range_view_recorded(
    session: Session,
    user: User,
    item: MediaItem,
    action: str,
    details: dict[str, Any],
    client_addr: str,
    now: datetime,
) -> bool:
    found = session.execute(
        sa.select(AuditEntry.id)
        .where(
            AuditEntry.object_type == "media",
            AuditEntry.object_id == item.id,
            AuditEntry.actor_id == user.id,
            AuditEntry.action == action,
            AuditEntry.client_addr == client_addr,
            AuditEntry.at > now - PLAYBACK_TTL,
            AuditEntry.details["what"].as_string() == str(details.get("what")),
            AuditEntry.details["range"].as_string().is_not(None),
        )
        .limit(1)
    ).first()
    return found is not None


def revoke_user_grants(session: Session, user: User, now: datetime) -> int:
    """End every playback link of this user now (at logout): they answer 401 from then on."""
    result = session.execute(
        sa.update(PlaybackGrant)
        .where(PlaybackGrant.user_id == user.id, PlaybackGrant.expires_at > now)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


@dataclass(frozen=True)
class _Use:
    """One distinct use of a grant (its entries are already the grant's own)."""

    action: str
    client_addr: str
    download: bool


def _grant_entries(session: Session, user: User, item: MediaItem, grant_id: str) -> list[Any]:
    """The grant's entries (its issue and uses): in the item's trail (indexed), by its user."""
    return list(
        session.execute(
            sa.select(AuditEntry.action, AuditEntry.client_addr, AuditEntry.details).where(
                AuditEntry.object_type == "media",
                AuditEntry.object_id == item.id,
                AuditEntry.actor_id == user.id,
                AuditEntry.details["grant"].as_string() == grant_id,
            )
        ).all()
    )


def _require_issuing_address(entries: list[Any], client_addr: str) -> None:
    """403 unless the grant was issued to this address (or to none, or before issues were
    recorded)."""
    issued_to = next((e.client_addr for e in entries if e.action == ISSUED), "")
    if issued_to and issued_to != client_addr:
        raise Forbidden(
            "this playback link was issued to another network address; ask for a new one",
            code="playback_token_other_address",
        )


def _recorded(entries: list[Any], use: _Use) -> bool:
    return any(
        e.action == use.action
        and e.client_addr == use.client_addr
        and bool((e.details or {}).get("download")) == use.download
        for e in entries
    )


def claim_first_use(
    session: Session, grant: PlaybackGrant, first_range: str | None, now: datetime
) -> bool:
    """Stamp the grant's first use (the first request of its first use); True that once."""
    result = session.execute(
        sa.update(PlaybackGrant)
        .where(PlaybackGrant.id == grant.id, PlaybackGrant.first_used_at.is_(None))
        .values(first_used_at=now, first_range=first_range)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1
