"""Accounts, managed by an admin of the same unit (or by the operator's CLI, ``actor`` None).

An admin sees and manages only their own unit's users, as with credentials and devices. Moving
a user to another unit is the operator's (CLI) alone: an admin who could move accounts out
could plant an admin of their own making in another unit.

Deactivating a user or resetting their password ends every session at once (their tokens are
revoked; a deactivated user's token is refused even before that, see ``auth.user_for_token``).
No change may leave a unit without an active admin, so nobody locks the unit out.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import clock
from ..domain import Role
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..models import ApiToken, Unit, User
from . import audit
from . import auth as auth_service
from .units import get_by_code

ROLES = tuple(r.value for r in Role)


def _require_admin(actor: User | None) -> None:
    if actor is not None and actor.role != Role.ADMIN:
        raise Forbidden("only an admin manages accounts", code="role_forbidden")


def managed(session: Session, actor: User | None, user_id: int) -> User:
    """A user ``actor`` may manage: one of their unit's (any, for the CLI); else 404."""
    _require_admin(actor)
    user = session.get(User, user_id)
    if user is None or (actor is not None and user.unit_id != actor.unit_id):
        raise NotFound(f"user {user_id} not found in your unit", code="user_not_found")
    return user


def by_username(session: Session, username: str) -> User:
    user = session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user {username!r}", code="user_not_found")
    return user


def listed(session: Session, actor: User | None, unit: Unit | None = None) -> list[User]:
    """The admin's unit's users (the CLI: one unit's, or everyone), active ones first."""
    _require_admin(actor)
    query = sa.select(User).order_by(User.active.desc(), User.role, User.username)
    unit_id = actor.unit_id if actor is not None else (unit.id if unit else None)
    if unit_id is not None:
        query = query.where(User.unit_id == unit_id)
    return list(session.execute(query).scalars())


def create(
    session: Session,
    actor: User | None,
    *,
    username: str,
    password: str,
    role: str,
    name: str,
    unit_code: str | None = None,
    client_addr: str = "",
) -> User:
    """A new account in the admin's own unit (the CLI names the unit)."""
    _require_admin(actor)
    if actor is not None:
        unit_code = actor.unit.code
    if not unit_code:
        raise Invalid("name the user's unit", code="unit_required")
    username, name = username.strip(), name.strip()
    if not username or not name:
        raise Invalid(
            "账号和姓名不能为空 / username and name must not be empty", code="invalid_user"
        )
    return auth_service.create_user(
        session,
        username=username,
        password=password,
        role=role,
        name=name,
        unit_code=unit_code,
        actor=actor,
    )


def _active_admins(session: Session, unit_id: int) -> list[User]:
    """The unit's active admins, locked until the transaction ends (PostgreSQL), so two
    admins demoting each other at once cannot both pass the last-admin check."""
    query = sa.select(User).where(
        User.unit_id == unit_id, User.role == Role.ADMIN.value, User.active.is_(True)
    )
    return list(session.execute(query.with_for_update()).scalars())


def _keep_an_admin(session: Session, user: User, *, leaves: bool) -> None:
    """Refuse a change by which ``user`` stops being an active admin of their unit when they
    are its last one."""
    if not leaves or user.role != Role.ADMIN or not user.active:
        return
    others = [u for u in _active_admins(session, user.unit_id) if u.id != user.id]
    if not others:
        raise Conflict(
            "这是本单位最后一个在用的管理员，请先设置另一名管理员 / this is the unit's last "
            "active admin: make another admin first",
            code="last_admin",
        )


def end_sessions(session: Session, user: User) -> int:
    """Revoke every live token of ``user``; returns how many."""
    now = clock.now()
    tokens = session.execute(
        sa.select(ApiToken).where(
            ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now
        )
    ).scalars()
    count = 0
    for token in tokens:
        token.revoked_at = now
        count += 1
    return count


def update(
    session: Session,
    actor: User | None,
    user: User,
    changes: dict[str, Any],
    *,
    client_addr: str = "",
) -> User:
    """Change the name or the role (an admin, in their unit), or the unit (the CLI only)."""
    _require_admin(actor)
    done: dict[str, Any] = {}
    if (name := changes.get("name")) is not None:
        name = str(name).strip()
        if not name:
            raise Invalid("姓名不能为空 / the name must not be empty", code="invalid_user")
        if name != user.name:
            done["name"] = {"from": user.name, "to": name}
            user.name = name
    if (role := changes.get("role")) is not None:
        if role not in ROLES:
            raise Invalid(f"unknown role {role!r}", code="invalid_role")
        if role != user.role:
            _keep_an_admin(session, user, leaves=True)
            done["role"] = {"from": user.role, "to": role}
            user.role = role
    if (unit_code := changes.get("unit_code")) is not None:
        if actor is not None:
            raise Forbidden(
                "调整人员所属单位需由系统运维人员操作 / moving a user to another unit is "
                "done by the operator (fieldtrace user update)",
                code="unit_change_forbidden",
            )
        unit = get_by_code(session, unit_code)
        if unit.id != user.unit_id:
            _keep_an_admin(session, user, leaves=True)
            done["unit"] = {"from": user.unit.code, "to": unit.code}
            user.unit_id = unit.id
            user.unit = unit
    if done:
        # A new role or unit changes what the user may see: sign in again to take it up.
        if "role" in done or "unit" in done:
            end_sessions(session, user)
        audit.record(
            session,
            actor=actor,
            action="user.updated",
            object_type="user",
            object_id=user.id,
            client_addr=client_addr,
            details={"username": user.username, **done},
        )
        session.flush()
    return user


def reset_password(
    session: Session, actor: User | None, user: User, password: str, *, client_addr: str = ""
) -> User:
    """Set a new password and end the user's sessions (their phone asks them to sign in)."""
    _require_admin(actor)
    if len(password) < auth_service.MIN_PASSWORD_LENGTH:
        raise Invalid(
            f"密码至少 {auth_service.MIN_PASSWORD_LENGTH} 个字符 / password must have at least "
            f"{auth_service.MIN_PASSWORD_LENGTH} characters",
            code="weak_password",
        )
    # The same Argon2 parameters as every other password.
    user.password_hash = auth_service.hash_password(password)
    ended = end_sessions(session, user)
    audit.record(
        session,
        actor=actor,
        action="user.password_reset",
        object_type="user",
        object_id=user.id,
        client_addr=client_addr,
        details={"username": user.username, "sessions_ended": ended},
    )
    session.flush()
    return user


def set_active(
    session: Session,
    actor: User | None,
    user: User,
    active: bool,
    *,
    reason: str = "",
    client_addr: str = "",
) -> User:
    """Deactivate (every session ends at once) or reactivate an account."""
    _require_admin(actor)
    if user.active == active:
        raise Conflict(
            "该账号已是此状态 / the user is already " + ("active" if active else "deactivated"),
            code="status_unchanged",
        )
    if not active:
        _keep_an_admin(session, user, leaves=True)
    user.active = active
    ended = 0 if active else end_sessions(session, user)
    audit.record(
        session,
        actor=actor,
        action="user.reactivated" if active else "user.deactivated",
        object_type="user",
        object_id=user.id,
        client_addr=client_addr,
        details={"username": user.username, "reason": reason.strip(), "sessions_ended": ended},
    )
    session.flush()
    return user
