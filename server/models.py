"""Database models (first cut of the domain; later issues extend it)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from . import clock
from .extensions import db


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
    # Indexed on its own: the console filters a unit's cases by officer.
    sa.Column("user_id", sa.ForeignKey("users.id"), primary_key=True, index=True),
)


class Unit(db.Model):
    """执法单位: an enforcement unit; the boundary of what supervisors see."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # The unit's short name in document numbers, e.g. "某市监" in 某市监罚〔2026〕12号.
    short_name: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")
    # Where the unit sits and how to reach it: printed on documents and public pages.
    address: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    contact_phone: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    role: Mapped[str] = mapped_column(sa.String(16))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

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
    # When ``status`` last changed (None: never since issue). 持证上岗 compares it with a
    # capture's time: evidence recorded before a suspension or revocation still uploads.
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The officer's photo for 亮证: a 600 px-high JPEG in the originals bucket. A new photo is
    # a new object (its key carries its SHA-256), so earlier ones stay in storage.
    photo_bucket: Mapped[str | None] = mapped_column(sa.String(100))
    photo_key: Mapped[str | None] = mapped_column(sa.String(300))
    photo_version: Mapped[str | None] = mapped_column(sa.String(200))
    photo_sha256: Mapped[str | None] = mapped_column(sa.String(64))

    user: Mapped[User] = relationship(back_populates="credentials")


class Device(db.Model):
    """A phone registered to an officer."""

    __tablename__ = "devices"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    label: Mapped[str] = mapped_column(sa.String(200), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(400), default="")
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeviceKey(db.Model):
    """A phone's own ECDSA P-256 key (non-extractable on the phone), with which it makes 亮证
    codes while offline. Revoking it stops every code from that phone at the next scan."""

    __tablename__ = "device_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(sa.ForeignKey("devices.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    algorithm: Mapped[str] = mapped_column(sa.String(16), default="ES256")
    # base64url of the 65-byte uncompressed point; the fingerprint is its SHA-256 (hex)
    public_key: Mapped[str] = mapped_column(sa.String(100))
    fingerprint: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    # the last device certificate issued: the phone's offline codes stop 24 h after it
    last_certified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str] = mapped_column(sa.String(2000), default="", server_default="")

    device: Mapped[Device] = relationship()
    user: Mapped[User] = relationship()


class ApiToken(db.Model):
    """A revocable bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
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
    # Indexed by ix_cases_unit_created (unit first): the console's list order within a unit.
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
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
    # Per-case counts of items needing attention, kept by ``_summarise_cases`` below whenever
    # an item's status or flags change, so the console filters and shows them without
    # scanning media JSON per request.
    unverified_count: Mapped[int] = mapped_column(default=0, server_default="0")
    hash_mismatch_count: Mapped[int] = mapped_column(default=0, server_default="0")
    unattached_count: Mapped[int] = mapped_column(default=0, server_default="0")
    clock_skew_count: Mapped[int] = mapped_column(default=0, server_default="0")
    late_upload_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # Case workflow (issue #6): procedure, the decision being prepared, service and archive.
    procedure: Mapped[str] = mapped_column(
        sa.String(16), default="general", server_default="general"
    )
    decision_draft: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    is_major: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    legal_review_status: Mapped[str | None] = mapped_column(sa.String(16))
    review_overdue: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    override_count: Mapped[int] = mapped_column(default=0, server_default="0")
    service_date: Mapped[date | None] = mapped_column(sa.Date)
    execution_records: Mapped[list[dict[str, Any]]] = mapped_column(
        sa.JSON, default=list, server_default="[]"
    )
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    officers: Mapped[list[User]] = relationship(secondary=case_officers)
    stages: Mapped[list[CaseStage]] = relationship(
        back_populates="case", order_by="CaseStage.started_at"
    )

    __table_args__ = (
        sa.UniqueConstraint("unit_id", "number", name="uq_cases_unit_number"),
        sa.Index("ix_cases_unit_created", "unit_id", "created_at", "id"),
    )


class CaseStage(db.Model):
    """One stage of a case with the time window it was open."""

    __tablename__ = "case_stages"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(sa.String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who opened the stage and why; a supervisor's override of missing records says why too.
    opened_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    override_reason: Mapped[str | None] = mapped_column(sa.Text)
    overridden_missing: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)

    case: Mapped[Case] = relationship(back_populates="stages")

    __table_args__ = (sa.UniqueConstraint("case_id", "stage", name="uq_case_stages_case_stage"),)


def _unit_of_case(context: Any) -> int | None:
    """Column default of ``MediaItem.unit_id``: the unit of the item's case."""
    case_id = context.get_current_parameters()["case_id"]
    return context.connection.execute(
        sa.select(Case.unit_id).where(Case.id == case_id)
    ).scalar_one_or_none()


class MediaItem(db.Model):
    """One original recording and the facts about it (hashes, times, place, device, officer)."""

    __tablename__ = "media_items"
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    # Indexed by ix_media_items_case_kind and ix_media_items_case_sha256 (case first).
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"))
    # The case's unit, copied on insert (a case never changes unit): the console lists a
    # unit's media in capture order from one index.
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), default=_unit_of_case)
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
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    device_clock_offset_s: Mapped[float | None] = mapped_column(sa.Float)
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    accuracy_m: Mapped[float | None] = mapped_column(sa.Float)
    # "ok" (position recorded), "refused" by the officer or "unavailable" on the device.
    location_status: Mapped[str | None] = mapped_column(sa.String(16))
    # How the app took a photo, as the phone said (``server.services.capture_info``): method,
    # size, camera, facing, zoom. None when it said nothing (a picked file, an older app).
    capture: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
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
    # Who runs the pipeline on it: the run's hold (``server.liveness``) and the job's id, so
    # a dead worker's run is taken over at once and a job's retry may take over its own.
    processing_holder: Mapped[str | None] = mapped_column(sa.String(100))
    processing_run: Mapped[str | None] = mapped_column(sa.String(64))
    # The flag codes as ",code,code," (kept from ``flags`` on every flush) so SQL can filter
    # by flag with LIKE '%,code,%' on any database.
    flag_code_list: Mapped[str] = mapped_column(sa.String(400), default="", server_default="")

    # 重要 mark: a supervisor's key-evidence designation, with who, why and when.
    key_evidence: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    key_evidence_reason: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    key_evidence_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    key_evidence_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship()
    uploader: Mapped[User] = relationship(foreign_keys=[uploader_id])
    key_evidence_user: Mapped[User | None] = relationship(foreign_keys=[key_evidence_by])
    derivatives: Mapped[list[Derivative]] = relationship(back_populates="item")

    # The console's two access paths. On PostgreSQL both carry (INCLUDE) every column the
    # console filters or counts by, so a unit's list, its count and a page of cases' counts
    # are answered from the index alone (index-only scans) without visiting the wide rows.
    __table_args__ = (
        sa.Index("ix_media_items_case_sha256", "case_id", "device_sha256"),
        sa.Index(
            "ix_media_items_unit_captured",
            "unit_id",
            "captured_at",
            "id",
            postgresql_include=[
                "case_id",
                "uploader_id",
                "kind",
                "activity",
                "status",
                "stage",
                "attached_stage",
                "flag_code_list",
            ],
        ),
        sa.Index(
            "ix_media_items_case_kind",
            "case_id",
            "kind",
            "activity",
            postgresql_include=["status", "stage", "attached_stage", "flag_code_list"],
        ),
    )

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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

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
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class MediaBookmark(db.Model):
    """A time-coded note a supervisor or legal reviewer puts on a recording."""

    __tablename__ = "media_bookmarks"
    id: Mapped[int] = mapped_column(primary_key=True)
    media_item_id: Mapped[str] = mapped_column(sa.ForeignKey("media_items.id"), index=True)
    at_s: Mapped[float] = mapped_column(sa.Float)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    author: Mapped[User] = relationship()


class PlaybackGrant(db.Model):
    """One short-lived playback URL: whose, for which file, and its first use (for custody)."""

    __tablename__ = "playback_grants"
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    media_item_id: Mapped[str] = mapped_column(sa.ForeignKey("media_items.id"), index=True)
    what: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_range: Mapped[str | None] = mapped_column(sa.String(64))


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
    # The hold of the request holding the lease (``server.liveness``): once its beats stop,
    # the lease is free at once, whatever ``lock_expires_at`` says.
    lock_holder: Mapped[str | None] = mapped_column(sa.String(100))
    device_clock_offset_s: Mapped[float | None] = mapped_column(sa.Float)
    client_addr: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ProcessHeartbeat(db.Model):
    """One row per live claim a process holds, beaten every second (``server.liveness``)."""

    __tablename__ = "process_heartbeats"
    holder: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    # Database time (seconds since the epoch), so no node's clock decides who is alive.
    beat_at: Mapped[float] = mapped_column(sa.Float)


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

    __table_args__ = (
        sa.Index("ix_audit_entries_object", "object_type", "object_id"),
        # The case timeline's credential displays: one officer's entries of one action by time.
        sa.Index("ix_audit_entries_action_actor_at", "action", "actor_id", "at"),
    )


class AuditHead(db.Model):
    """A signed statement of the chain's head at some moment (Ed25519, server key)."""

    __tablename__ = "audit_heads"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    entry_hash: Mapped[str] = mapped_column(sa.String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    public_key: Mapped[str] = mapped_column(sa.String(64))
    signature: Mapped[str] = mapped_column(sa.String(128))


class MerkleNode(db.Model):
    """A stored hash of a complete subtree of the audit log's RFC 6962 Merkle tree.

    ``(level, idx)`` covers leaves ``[idx * 2**level, (idx + 1) * 2**level)``; level 0 (the
    leaves) is not stored: it is derived from ``audit_entries.entry_hash``. Written once, as
    the tree grows (``services.transparency``), so a root or a proof reads O(log n) rows.
    """

    __tablename__ = "merkle_nodes"
    level: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))


class TreeHead(db.Model):
    """A signed tree head (STH) of the audit log's Merkle tree: one per tree size, re-signed
    with a fresh time while the log does not grow."""

    __tablename__ = "tree_heads"
    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    root_hash: Mapped[str] = mapped_column(sa.String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    public_key: Mapped[str] = mapped_column(sa.String(64))
    signature: Mapped[str] = mapped_column(sa.String(128))
    # Trusted time: an RFC 3161 token over the signature's bytes (services/timestamping.py)
    # and the TSA's time in it; cleared when the head is re-signed, until stamped again.
    tsa_token: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    tsa_time: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MediaReceipt(db.Model):
    """The signed receipt (存证回执) issued to the officer when an item was verified: its
    canonical JSON and signature, kept as issued (a later move to another stage or a new
    signing key does not change a receipt already in the officer's hands)."""

    __tablename__ = "media_receipts"
    media_item_id: Mapped[str] = mapped_column(sa.ForeignKey("media_items.id"), primary_key=True)
    body: Mapped[str] = mapped_column(sa.Text)
    public_key: Mapped[str] = mapped_column(sa.String(64))
    signature: Mapped[str] = mapped_column(sa.String(128))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Document(db.Model):
    """One version of an enforcement document (执法文书); corrections are new versions.

    Versions of one document share ``series_id`` (the first version's id) and, once issued,
    its number. An issued version's PDF is stored WORM like media, with its SHA-256.
    """

    __tablename__ = "documents"
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    series_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    version: Mapped[int] = mapped_column(default=1)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    doc_type: Mapped[str] = mapped_column(sa.String(48))
    stage: Mapped[str] = mapped_column(sa.String(32))
    fields: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # draft → issued; an issued version replaced by a correction becomes superseded.
    status: Mapped[str] = mapped_column(sa.String(16), default="draft")
    year: Mapped[int | None] = mapped_column()
    seq: Mapped[int | None] = mapped_column()
    number: Mapped[str | None] = mapped_column(sa.String(80))
    bucket: Mapped[str | None] = mapped_column(sa.String(100))
    object_key: Mapped[str | None] = mapped_column(sa.String(400))
    object_version: Mapped[str | None] = mapped_column(sa.String(200))
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    issued_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    signatures: Mapped[list[DocumentSignature]] = relationship(
        back_populates="document", order_by="DocumentSignature.id"
    )

    __table_args__ = (
        sa.UniqueConstraint("series_id", "version", name="uq_documents_series_version"),
        sa.Index("ix_documents_case_type", "case_id", "doc_type"),
    )


class DocumentSignature(db.Model):
    """A handwritten signature captured on screen, stored WORM as PNG with its hash."""

    __tablename__ = "document_signatures"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[str] = mapped_column(sa.ForeignKey("documents.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    signer_name: Mapped[str] = mapped_column(sa.String(100))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    captured_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    bucket: Mapped[str] = mapped_column(sa.String(100))
    object_key: Mapped[str] = mapped_column(sa.String(400))
    object_version: Mapped[str | None] = mapped_column(sa.String(200))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    device_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    document: Mapped[Document] = relationship(back_populates="signatures")


class DocumentCounter(db.Model):
    """The last number given per unit, document type and year (gapless numbering)."""

    __tablename__ = "document_counters"
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), primary_key=True)
    doc_type: Mapped[str] = mapped_column(sa.String(48), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(default=0)


class DocumentHandover(db.Model):
    """A short-lived public link handing a document to the party (出具执法文书)."""

    __tablename__ = "document_handovers"
    id: Mapped[str] = mapped_column(sa.String(43), primary_key=True)
    document_id: Mapped[str] = mapped_column(sa.ForeignKey("documents.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    open_count: Mapped[int] = mapped_column(default=0)


class LegalReview(db.Model):
    """One round of the legal review (法制审核) of a case's decision."""

    __tablename__ = "legal_reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    round: Mapped[int] = mapped_column(default=1)
    # submitted → agreed | returned | transfer
    status: Mapped[str] = mapped_column(sa.String(16), default="submitted", index=True)
    reasons: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    report: Mapped[str] = mapped_column(sa.Text, default="")
    decision_draft: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    package: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    submitted_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    due_on: Mapped[date] = mapped_column(sa.Date)
    extension: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    materials_requests: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    reviewer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    checklist: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
    opinion: Mapped[str | None] = mapped_column(sa.Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opinion_document_id: Mapped[str | None] = mapped_column(sa.ForeignKey("documents.id"))
    disagreement: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    overdue_flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship()
    submitted_by: Mapped[User] = relationship(foreign_keys=[submitted_by_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])

    __table_args__ = (sa.UniqueConstraint("case_id", "round", name="uq_legal_reviews_round"),)


class MajorDecisionItem(db.Model):
    """An entry of the unit's list of major enforcement decisions (重大执法决定事项清单)."""

    __tablename__ = "major_decision_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    penalty_kinds: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    min_fine: Mapped[float | None] = mapped_column(sa.Float)
    case_types: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class CalendarDay(db.Model):
    """A unit's own day off or working day (a local closure, a local make-up day): it moves
    only that unit's deadlines. The national holidays are :class:`CalendarYear` notices."""

    __tablename__ = "unit_calendar_days"
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column()
    note: Mapped[str] = mapped_column(sa.String(100), default="")


class CalendarYear(db.Model):
    """A year's national holiday notice loaded after release (``fieldtrace calendar import``
    or the admin screen); the years known when the code was written ship as data."""

    __tablename__ = "calendar_years"
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(sa.String(200))
    holidays: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    imported_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


# --- denormalised console columns -----------------------------------------------------------
# Kept by session events rather than by each caller, so the upload service, the pipeline and
# the supervisor's moves all keep them right without knowing about the console.

CLOCK_SKEW_CODES = ("device_clock_skew", "capture_time_mismatch")
_CASES_TO_SUMMARISE = "fieldtrace.cases_to_summarise"
_SUMMARY_COLUMNS = (
    "unverified_count",
    "hash_mismatch_count",
    "unattached_count",
    "clock_skew_count",
    "late_upload_count",
)


def flag_code_list_of(flags: list[dict[str, Any]] | None) -> str:
    """``",a,b,"`` for flags with codes a and b; "" without flags."""
    codes = sorted({str(f["code"]) for f in flags or [] if f.get("code")})
    return f",{','.join(codes)}," if codes else ""


def has_flag(*codes: str) -> sa.ColumnElement[bool]:
    """SQL: the item carries any of ``codes``."""
    return sa.or_(*(MediaItem.flag_code_list.like(f"%,{code},%") for code in codes))


def _count_items(*where: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
    return (
        sa.select(sa.func.count())
        .select_from(MediaItem)
        .where(MediaItem.case_id == Case.id, *where)
        .scalar_subquery()
    )


def refresh_case_summaries(connection: sa.Connection, case_ids: list[int]) -> None:
    """Recount the attention counters of these cases from their items.

    On PostgreSQL the case rows are locked first, in id order; the recount is then a new
    statement whose snapshot includes every item change committed meanwhile, so two
    transactions touching items of one case never lose each other's count.
    """
    ids = sorted(set(case_ids))
    if not ids:
        return
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.select(Case.id)
            .where(Case.id.in_(ids))
            .order_by(Case.id)
            # NO KEY UPDATE: it does not wait for the KEY SHARE lock that inserting an item of
            # the case took (its foreign key), so two uploads completing at once queue here
            # instead of deadlocking.
            .with_for_update(key_share=True)
        )
    connection.execute(
        sa.update(Case)
        .where(Case.id.in_(ids))
        .values(
            unverified_count=_count_items(MediaItem.status == "received"),
            hash_mismatch_count=_count_items(MediaItem.status == "hash_mismatch"),
            unattached_count=_count_items(has_flag("unattached")),
            clock_skew_count=_count_items(has_flag(*CLOCK_SKEW_CODES)),
            late_upload_count=_count_items(has_flag("late_upload")),
        )
        .execution_options(synchronize_session=False)
    )


@sa.event.listens_for(Session, "before_flush")
def _track_media_changes(session: Session, _context: Any, _instances: Any) -> None:
    pending: set[int] = session.info.setdefault(_CASES_TO_SUMMARISE, set())
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, MediaItem):
            continue
        codes = flag_code_list_of(obj.flags)
        if obj.flag_code_list != codes:
            obj.flag_code_list = codes
        state = sa.inspect(obj)
        changed = state.pending or any(
            state.attrs[name].history.has_changes() for name in ("status", "flags", "case_id")
        )
        if changed:
            pending.add(obj.case_id)
            pending.update(state.attrs.case_id.history.deleted or ())


@sa.event.listens_for(Session, "after_flush_postexec")
def _summarise_cases(session: Session, _context: Any) -> None:
    case_ids = session.info.pop(_CASES_TO_SUMMARISE, None)
    if not case_ids:
        return
    refresh_case_summaries(session.connection(), list(case_ids))
    for case_id in case_ids:
        case = session.identity_map.get(sa.inspect(Case).identity_key_from_primary_key((case_id,)))
        if case is not None:
            session.expire(case, list(_SUMMARY_COLUMNS))
