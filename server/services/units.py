"""执法单位: the unit's real name, the prefix of its document numbers, address and contact.

A unit is known to the system by its ``code`` (a key for URLs and the CLI, e.g. ``SH-JA``),
but people read its name (上海市静安区市场监督管理局) and its document prefix (沪静市监, as in
沪静市监罚〔2026〕12号). The code is never shown as a name: a unit created before it was named
(``fieldtrace user create --unit X`` makes one) falls back to the name published in its
disclosure pages, and its document numbers to its full name, while its admin is told what is
missing (:func:`missing_settings`).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..domain import Role
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..models import Unit, User
from . import audit

EDITABLE = ("name", "short_name", "address", "contact_phone")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_LIMITS = {"name": 200, "short_name": 40, "address": 300, "contact_phone": 40}


def has_real_name(unit: Unit) -> bool:
    """Whether the unit was given a name (a unit made on the fly is named after its code)."""
    name = (unit.name or "").strip()
    return bool(name) and name != unit.code


def display_name(unit: Unit, session: Session | None = None) -> str:
    """The unit's name for people: its own, else the one on its 公示 page, else its code."""
    if has_real_name(unit):
        return unit.name.strip()
    if session is not None:
        from ..disclosure.service import latest_content

        info = latest_content(session, unit.id, "unit_info")
        if info and str(info.content.get("name") or "").strip():
            return str(info.content["name"]).strip()
    return unit.name or unit.code


def number_prefix(unit: Unit, session: Session | None = None) -> str:
    """What document numbers start with: the short prefix (沪静市监), else the full name."""
    return (unit.short_name or "").strip() or display_name(unit, session)


def missing_settings(unit: Unit) -> list[str]:
    """What the admin still has to fill in: ``name`` and ``short_name`` (document numbers)."""
    missing = []
    if not has_real_name(unit):
        missing.append("name")
    if not (unit.short_name or "").strip():
        missing.append("short_name")
    return missing


def get_by_code(session: Session, code: str) -> Unit:
    unit = session.execute(sa.select(Unit).where(Unit.code == code)).scalar_one_or_none()
    if unit is None:
        raise NotFound(f"unit {code!r} not found", code="unit_not_found")
    return unit


def _clean(changes: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in EDITABLE:
        if key in changes and changes[key] is not None:
            value = str(changes[key]).strip()
            if len(value) > _LIMITS[key]:
                raise Invalid(
                    f"{key} must have at most {_LIMITS[key]} characters", code="invalid_unit"
                )
            out[key] = value
    if "name" in out and not out["name"]:
        raise Invalid("单位名称不能为空 / the unit's name must not be empty", code="invalid_unit")
    return out


def create_unit(
    session: Session,
    *,
    code: str,
    name: str,
    short_name: str = "",
    address: str = "",
    contact_phone: str = "",
    actor: User | None = None,
    client_addr: str = "",
) -> Unit:
    """A new unit (the operator's CLI or the first-run setup); its code is its key."""
    code = code.strip()
    if not _CODE.match(code):
        raise Invalid(
            "the unit code is 1-64 letters, digits, '-' or '_' (e.g. SH-JA)",
            code="invalid_unit_code",
        )
    if session.execute(sa.select(Unit.id).where(Unit.code == code)).first():
        raise Conflict(f"unit {code!r} already exists", code="unit_exists")
    values = _clean(
        {"name": name, "short_name": short_name, "address": address, "contact_phone": contact_phone}
    )
    unit = Unit(code=code, **values)
    session.add(unit)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="unit.created",
        object_type="unit",
        object_id=unit.id,
        client_addr=client_addr,
        details={"code": code, **values},
    )
    return unit


def update_unit(
    session: Session,
    unit: Unit,
    changes: dict[str, Any],
    *,
    actor: User | None = None,
    client_addr: str = "",
) -> Unit:
    """Change the name, document prefix, address or phone. An admin changes only their own
    unit; ``actor`` None is the operator's CLI. Numbers already issued keep their prefix."""
    if actor is not None:
        if actor.role != Role.ADMIN:
            raise Forbidden("only an admin edits the unit", code="role_forbidden")
        if actor.unit_id != unit.id:
            raise NotFound("unit not found", code="unit_not_found")
    values = _clean(changes)
    before = {k: getattr(unit, k) for k in values}
    changed = {k: v for k, v in values.items() if before[k] != v}
    for key, value in changed.items():
        setattr(unit, key, value)
    if changed:
        audit.record(
            session,
            actor=actor,
            action="unit.updated",
            object_type="unit",
            object_id=unit.id,
            client_addr=client_addr,
            details={"code": unit.code, "from": {k: before[k] for k in changed}, "to": changed},
        )
        session.flush()
    return unit
