"""Database models (first cut of the domain; later issues extend it)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


case_officers = sa.Table(
    "case_officers",
    db.metadata,
    sa.Column("case_id", sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), primary_key=True),
)


class Unit(db.Model):
    """执法单位: an enforcement unit; the boundary of what supervisors see."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    role: Mapped[str] = mapped_column(sa.String(16))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    unit: Mapped[Unit] = relationship()
    credentials: Mapped[list[Credential]] = relationship(back_populates="user")


class Credential(db.Model):
    """执法证: an officer's enforcement credential."""

    __tablename__ = "credentials"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(64), unique=True)
    issuing_authority: Mapped[str] = mapped_column(sa.String(200))
    categories: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    area: Mapped[str] = mapped_column(sa.String(200), default="")
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(sa.String(16), default="active")

    user: Mapped[User] = relationship(back_populates="credentials")


class Device(db.Model):
    """A phone registered to an officer."""

    __tablename__ = "devices"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    label: Mapped[str] = mapped_column(sa.String(200), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(400), default="")
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(db.Model):
    """A revocable bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class LoginThrottle(db.Model):
    """Failed-login counter per username; drives the growing delay before the next try."""

    __tablename__ = "login_throttle"
    username: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    next_allowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Case(db.Model):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(64))
    title: Mapped[str] = mapped_column(sa.String(300))
    case_type: Mapped[str] = mapped_column(sa.String(100), default="")
    parties: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    location: Mapped[str] = mapped_column(sa.String(300), default="")
    major_property: Mapped[bool] = mapped_column(default=False)
    current_stage: Mapped[str] = mapped_column(sa.String(32), default="filing")
    # Recording gaps found by the rules check (执法全过程记录), kept for fast list filters.
    recording_gaps: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    gap_count: Mapped[int] = mapped_column(default=0, index=True)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    officers: Mapped[list[User]] = relationship(secondary=case_officers)
    stages: Mapped[list[CaseStage]] = relationship(
        back_populates="case", order_by="CaseStage.started_at"
    )

    __table_args__ = (sa.UniqueConstraint("unit_id", "number", name="uq_cases_unit_number"),)


class CaseStage(db.Model):
    """One stage of a case with the time window it was open."""

    __tablename__ = "case_stages"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(sa.String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(back_populates="stages")

    __table_args__ = (sa.UniqueConstraint("case_id", "stage", name="uq_case_stages_case_stage"),)


class MediaItem(db.Model):
    """One original recording and the facts about it (hashes, times, place, device, officer)."""

    __tablename__ = "media_items"
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    # The stage the officer chose at capture (None: let the pipeline place it by time).
    stage: Mapped[str | None] = mapped_column(sa.String(32))
    activity: Mapped[str] = mapped_column(sa.String(32))
    kind: Mapped[str] = mapped_column(sa.String(16))
    filename: Mapped[str] = mapped_column(sa.String(255), default="")
    claimed_content_type: Mapped[str] = mapped_column(sa.String(100))
    detected_content_type: Mapped[str | None] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    bucket: Mapped[str] = mapped_column(sa.String(100))
    object_key: Mapped[str] = mapped_column(sa.String(400))
    object_version: Mapped[str | None] = mapped_column(sa.String(200))
    quarantine_key: Mapped[str | None] = mapped_column(sa.String(400))
    device_sha256: Mapped[str] = mapped_column(sa.String(64))
    server_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default="received", index=True)
    status_message: Mapped[str] = mapped_column(sa.Text, default="")
    verify_attempts: Mapped[int] = mapped_column(default=0)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    captured_at_offset_min: Mapped[int | None] = mapped_column()
    captured_end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    device_clock_offset_s: Mapped[float | None] = mapped_column(sa.Float)
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    accuracy_m: Mapped[float | None] = mapped_column(sa.Float)
    # "ok" (position recorded), "refused" by the officer or "unavailable" on the device.
    location_status: Mapped[str | None] = mapped_column(sa.String(16))
    device_id: Mapped[str] = mapped_column(sa.String(64))
    uploader_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))

    # Media pipeline (probe, derive, attach). ``stage`` above stays the officer's choice;
    # ``attached_stage`` is where the item ends up, with its history in MediaAttachment.
    processing: Mapped[str] = mapped_column(sa.String(16), default="pending", index=True)
    steps: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    probe: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    flags: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    duration_s: Mapped[float | None] = mapped_column(sa.Float)
    width: Mapped[int | None] = mapped_column()
    height: Mapped[int | None] = mapped_column()
    file_captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attached_stage: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    processing_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship()
    uploader: Mapped[User] = relationship()
    derivatives: Mapped[list[Derivative]] = relationship(back_populates="item")

    __table_args__ = (sa.Index("ix_media_items_case_sha256", "case_id", "device_sha256"),)

    def flag_codes(self) -> set[str]:
        return {f["code"] for f in self.flags or []}


class Derivative(db.Model):
    """A file made from an original (thumbnail, proxy, ...), never the original itself."""

    __tablename__ = "derivatives"
    id: Mapped[int] = mapped_column(primary_key=True)
    media_item_id: Mapped[str] = mapped_column(sa.ForeignKey("media_items.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(32))
    bucket: Mapped[str] = mapped_column(sa.String(100))
    object_key: Mapped[str] = mapped_column(sa.String(400))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    source_sha256: Mapped[str] = mapped_column(sa.String(64))
    info: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    item: Mapped[MediaItem] = relationship(back_populates="derivatives")

    __table_args__ = (
        sa.UniqueConstraint("media_item_id", "name", name="uq_derivatives_item_name"),
    )


class MediaAttachment(db.Model):
    """Every placement of an item on a case stage, oldest first; the newest is current."""

    __tablename__ = "media_attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    media_item_id: Mapped[str] = mapped_column(sa.ForeignKey("media_items.id"), index=True)
    stage: Mapped[str | None] = mapped_column(sa.String(32))
    source: Mapped[str] = mapped_column(
        sa.String(16)
    )  # chosen | time_window | unattached | supervisor
    by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UploadSession(db.Model):
    """State of one tus upload; all of it lives here so any web process can take a PATCH."""

    __tablename__ = "upload_sessions"
    id: Mapped[str] = mapped_column(sa.String(43), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    length: Mapped[int] = mapped_column(sa.BigInteger)
    offset: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    meta: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    bucket: Mapped[str] = mapped_column(sa.String(100))
    object_key: Mapped[str] = mapped_column(sa.String(400))
    multipart_id: Mapped[str | None] = mapped_column(sa.String(400))
    parts: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    tail_size: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    duplicate_of_id: Mapped[str | None] = mapped_column(sa.ForeignKey("media_items.id"))
    media_item_id: Mapped[str | None] = mapped_column(sa.ForeignKey("media_items.id"))
    lock_token: Mapped[str | None] = mapped_column(sa.String(32))
    lock_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    device_clock_offset_s: Mapped[float | None] = mapped_column(sa.Float)
    client_addr: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AuditEntry(db.Model):
    """Append-only, hash-chained audit log: each entry holds the hash of the one before."""

    __tablename__ = "audit_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column()
    actor: Mapped[str] = mapped_column(sa.String(100))
    action: Mapped[str] = mapped_column(sa.String(64))
    object_type: Mapped[str] = mapped_column(sa.String(32))
    object_id: Mapped[str] = mapped_column(sa.String(64))
    client_addr: Mapped[str] = mapped_column(sa.String(64), default="")
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    entry_hash: Mapped[str] = mapped_column(sa.String(64))

    __table_args__ = (sa.Index("ix_audit_entries_object", "object_type", "object_id"),)


class AuditHead(db.Model):
    """A signed statement of the chain's head at some moment (Ed25519, server key)."""

    __tablename__ = "audit_heads"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    entry_hash: Mapped[str] = mapped_column(sa.String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    public_key: Mapped[str] = mapped_column(sa.String(64))
    signature: Mapped[str] = mapped_column(sa.String(128))
