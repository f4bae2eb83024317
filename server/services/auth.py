"""Users, passwords (Argon2), revocable bearer tokens and login throttling."""

from __future__ import annotations

import functools
import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from .. import clock
from ..domain import Role
from ..errors import Conflict, DomainError, Invalid, Unauthorized
from ..models import ApiToken, LoginThrottle, Unit, User
from . import audit, playback

# Argon2id at argon2-cffi's defaults (RFC 9106's second recommendation: t=3, 64 MiB, p=4).
_STANDARD = PasswordHasher()
# The same algorithm at its smallest cost, for test apps only (``PASSWORD_HASH_COST="test"``
# given to create_app, never read from the environment), as Django's test settings do: the
# suite creates and signs in thousands of users.
_TEST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
MIN_PASSWORD_LENGTH = 10


def _hasher() -> PasswordHasher:
    if has_app_context() and current_app.config.get("PASSWORD_HASH_COST") == "test":
        return _TEST
    return _STANDARD


def hash_password(password: str) -> str:
    """The Argon2id hash stored for ``password`` (its parameters travel inside it)."""
    return _hasher().hash(password)


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against when the username is unknown, so timing does not reveal which users
    exist: one per hasher, at its cost."""
    return hasher.hash("fieldtrace-dummy-password")


class LoginThrottled(DomainError):
    status = 429
    code = "login_throttled"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def get_or_create_unit(session: Session, code: str, name: str | None = None) -> Unit:
    unit = session.execute(sa.select(Unit).where(Unit.code == code)).scalar_one_or_none()
    if unit is None:
        unit = Unit(code=code, name=name or code)
        session.add(unit)
        session.flush()
    return unit


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    name: str,
    unit_code: str,
    actor: User | None = None,
) -> User:
    if role not in {r.value for r in Role}:
        raise Invalid(f"unknown role {role!r}", code="invalid_role")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            f"password must have at least {MIN_PASSWORD_LENGTH} characters", code="weak_password"
        )
    if session.execute(sa.select(User.id).where(User.username == username)).first():
        raise Conflict(f"user {username!r} already exists", code="user_exists")
    unit = get_or_create_unit(session, unit_code)
    user = User(
        username=username,
        name=name,
        role=role,
        unit_id=unit.id,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.created",
        object_type="user",
        object_id=user.id,
        details={"username": username, "role": role, "unit": unit.code},
    )
    return user


@dataclass
class LoginResult:
    token: str
    expires_at: datetime
    user: User


def _delay_after(failures: int, free: int, max_delay: int) -> int:
    if failures <= free:
        return 0
    return min(max_delay, 2 ** (failures - free))


def login(
    session: Session,
    *,
    username: str,
    password: str,
    client_addr: str,
    token_ttl: timedelta,
    free_failures: int,
    max_delay_s: int,
) -> LoginResult:
    """Check the password and issue a token; failures grow a per-username delay (HTTP 429)."""
    now = clock.now()
    throttle = session.get(LoginThrottle, username)
    if throttle and throttle.next_allowed_at and throttle.next_allowed_at > now:
        wait = math.ceil((throttle.next_allowed_at - now).total_seconds())
        raise LoginThrottled(
            f"too many failed logins; try again in {wait} s",
            headers={"Retry-After": str(wait)},
            details={"retry_after_s": wait},
        )
    user = session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
    try:
        hasher = _hasher()
        hasher.verify(user.password_hash if user else _dummy_hash(hasher), password)
        ok = user is not None and user.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        throttle = throttle or LoginThrottle(username=username, failures=0)
        throttle.failures += 1
        delay = _delay_after(throttle.failures, free_failures, max_delay_s)
        throttle.next_allowed_at = now + timedelta(seconds=delay) if delay else None
        session.add(throttle)
        audit.record(
            session,
            actor=user,
            action="auth.login_failed",
            object_type="user",
            object_id=user.id if user else username,
            client_addr=client_addr,
            details={"username": username, "failures": throttle.failures},
        )
        raise Unauthorized("wrong username or password", code="invalid_credentials")
    assert user is not None
    if throttle:
        session.delete(throttle)
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token = secrets.token_urlsafe(32)
    expires_at = now + token_ttl
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), expires_at=expires_at))
    audit.record(
        session,
        actor=user,
        action="auth.login",
        object_type="user",
        object_id=user.id,
        client_addr=client_addr,
    )
    return LoginResult(token=token, expires_at=expires_at, user=user)


def user_for_token(session: Session, token: str) -> User | None:
    row = session.execute(
        sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= clock.now():
        return None
    if not row.user.active:
        return None
    return row.user


def logout(session: Session, *, token: str, user: User, client_addr: str) -> None:
    row = session.execute(
        sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token))
    ).scalar_one_or_none()
    if row is not None and row.revoked_at is None:
        row.revoked_at = clock.now()
        # The media links this user was given stop working too (they outlive no session).
        playback.revoke_user_grants(session, user, row.revoked_at)
        audit.record(
            session,
            actor=user,
            action="auth.logout",
            object_type="user",
            object_id=user.id,
            client_addr=client_addr,
        )
