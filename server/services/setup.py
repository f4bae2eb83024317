"""First-run setup: the very first unit and admin, made in the app instead of the CLI.

Open only while no account exists at all, and only to a request from the machine itself
(127.0.0.1 / ::1, not through a proxy) or one that carries the setup code ``fieldtrace serve``
prints. The code is derived from the secret key, so every web process of the deployment
knows it without storing it, and it stops mattering the moment the first account exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..errors import Conflict, DomainError
from ..models import Unit, User
from . import units as unit_service
from . import users as user_service

_LABEL = b"fieldtrace/first-run-setup/v1"


def setup_code(secret_key: str | bytes) -> str:
    """The deployment's setup code, e.g. ``K7QX-M2TR-9HBD`` (60 bits)."""
    key = secret_key.encode() if isinstance(secret_key, str) else secret_key
    digest = hmac.new(key, _LABEL, hashlib.sha256).digest()
    text = base64.b32encode(digest).decode()[:12]
    return "-".join(text[i : i + 4] for i in range(0, 12, 4))


def code_matches(secret_key: str | bytes, given: str) -> bool:
    normalised = given.strip().upper().replace(" ", "").replace("-", "")
    expected = setup_code(secret_key).replace("-", "")
    return hmac.compare_digest(normalised.encode(), expected.encode())


def is_local(remote_addr: str, forwarded: bool) -> bool:
    """A request from this machine itself, not relayed by a proxy on it."""
    if forwarded:
        return False
    try:
        return ipaddress.ip_address(remote_addr).is_loopback
    except ValueError:
        return False


def needed(session: Session) -> bool:
    return session.execute(sa.select(User.id).limit(1)).first() is None


def run(
    session: Session,
    *,
    unit: dict[str, Any],
    admin: dict[str, Any],
    allowed: bool,
    client_addr: str = "",
) -> User:
    """Create the unit (or name the one a CLI already made) and its first admin."""
    if session.get_bind().dialect.name == "postgresql":
        # Two first-run forms sent at once: the second waits, then finds an account.
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(0x5E7C0DE)))
    if not needed(session):
        raise Conflict(
            "系统已完成初始设置，请登录 / this installation is already set up; sign in",
            code="setup_done",
        )
    if not allowed:
        raise DomainError(
            "请输入启动服务时显示的设置码，或在服务器本机打开（http://127.0.0.1） / give the setup "
            "code printed by `fieldtrace serve`, or open the app on the server itself",
            code="setup_code_required",
            status=403,
        )
    fields = {k: unit.get(k, "") for k in ("name", "short_name", "address", "contact_phone")}
    existing = session.execute(
        sa.select(Unit).where(Unit.code == unit["code"])
    ).scalar_one_or_none()
    if existing is None:
        made = unit_service.create_unit(
            session, code=unit["code"], client_addr=client_addr, **fields
        )
    else:
        made = unit_service.update_unit(session, existing, fields, client_addr=client_addr)
    return user_service.create(
        session,
        None,
        username=admin["username"],
        password=admin["password"],
        role="admin",
        name=admin["name"],
        unit_code=made.code,
        client_addr=client_addr,
    )
