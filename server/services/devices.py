"""The unit's phones, for its admin: those that registered a 亮证 key and those that uploaded
recordings, with their keys; revoking a phone revokes every live key it has (a lost phone's
offline 亮证 codes stop at the next scan)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import clock
from ..domain import Role
from ..errors import Conflict, Forbidden, NotFound
from ..models import Device, DeviceKey, MediaItem, User
from . import credentials as credential_service


@dataclass
class UnitDevice:
    id: str
    holder: User
    registered_at: datetime | None = None
    last_seen_at: datetime | None = None
    uploads: int = 0
    last_upload_at: datetime | None = None
    keys: list[DeviceKey] = field(default_factory=list)

    @property
    def revoked(self) -> bool:
        return bool(self.keys) and all(k.revoked_at is not None for k in self.keys)


def _require_admin(actor: User) -> None:
    if actor.role != Role.ADMIN:
        raise Forbidden("only an admin manages devices", code="role_forbidden")


def unit_devices(session: Session, admin: User) -> list[UnitDevice]:
    """Every phone of the admin's unit's users, most recently used first."""
    _require_admin(admin)
    found: dict[str, UnitDevice] = {}
    registered = session.execute(
        sa.select(Device, User)
        .join(User, Device.user_id == User.id)
        .where(User.unit_id == admin.unit_id)
    ).all()
    for device, holder in registered:
        found[device.id] = UnitDevice(
            id=device.id,
            holder=holder,
            registered_at=device.registered_at,
            last_seen_at=device.last_seen_at,
        )
    uploads = session.execute(
        sa.select(
            MediaItem.device_id,
            MediaItem.uploader_id,
            sa.func.count(MediaItem.id),
            sa.func.max(MediaItem.received_at),
        )
        .join(User, MediaItem.uploader_id == User.id)
        .where(User.unit_id == admin.unit_id)
        .group_by(MediaItem.device_id, MediaItem.uploader_id)
    ).all()
    for device_id, uploader_id, count, last in uploads:
        entry = found.get(device_id)
        if entry is None:
            holder = session.get(User, uploader_id)
            assert holder is not None
            entry = found[device_id] = UnitDevice(id=device_id, holder=holder)
        entry.uploads += int(count)
        last = clock.aware(last) if last is not None else None
        if last is not None and (entry.last_upload_at is None or last > entry.last_upload_at):
            entry.last_upload_at = last
    keys = session.execute(
        sa.select(DeviceKey)
        .join(User, DeviceKey.user_id == User.id)
        .where(User.unit_id == admin.unit_id)
        .order_by(DeviceKey.id.desc())
    ).scalars()
    for key in keys:
        if key.device_id in found:
            found[key.device_id].keys.append(key)

    def recency(d: UnitDevice) -> datetime:
        times = [t for t in (d.last_seen_at, d.last_upload_at, d.registered_at) if t]
        return max(times) if times else datetime.min.replace(tzinfo=clock.ZONE)

    return sorted(found.values(), key=recency, reverse=True)


def revoke_device(
    session: Session, admin: User, device_id: str, reason: str, *, client_addr: str = ""
) -> UnitDevice:
    """Revoke every live key of one of the unit's phones (409 when it has none)."""
    _require_admin(admin)
    device = next((d for d in unit_devices(session, admin) if d.id == device_id), None)
    if device is None:
        raise NotFound(f"device {device_id} not found in your unit", code="device_not_found")
    live = [k for k in device.keys if k.revoked_at is None]
    if not live:
        raise Conflict(
            "该手机没有可吊销的亮证密钥 / this phone has no live 亮证 key to revoke",
            code="device_key_revoked",
        )
    now = clock.now()
    for key in live:
        credential_service.revoke_device_key(
            session, admin, key, reason, now=now, client_addr=client_addr
        )
    return device
