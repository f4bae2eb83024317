"""Tables of 行政执法公示: versioned public content and decisions published after the fact."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..extensions import db
from ..models import Unit, UTCDateTime


class PublicContent(db.Model):
    """One version of one kind of 事前公开 content of a unit; a change adds a version."""

    __tablename__ = "public_contents"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    # unit_info | power_list | random_inspection_list | procedures | remedies
    kind: Mapped[str] = mapped_column(sa.String(32))
    version: Mapped[int] = mapped_column()
    content: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    __table_args__ = (
        # Also the index behind "latest version of a kind for a unit".
        sa.UniqueConstraint(
            "unit_id", "kind", "version", name="uq_public_contents_unit_kind_version"
        ),
    )


class PublishedDecision(db.Model):
    """A decision prepared for (and possibly on) the public list, already redacted.

    ``status``: pending (waits for ``due_by``) → published → taken_down | expired; or blocked
    (the scanner found personal data, see ``block_hits``) or withheld (not to be published,
    see ``withheld_reason``).
    """

    __tablename__ = "published_decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    document_id: Mapped[str | None] = mapped_column(sa.ForeignKey("documents.id"))
    number: Mapped[str] = mapped_column(sa.String(80))
    title: Mapped[str] = mapped_column(sa.String(300))
    party_kind: Mapped[str] = mapped_column(sa.String(16))  # natural | legal
    party_display: Mapped[str] = mapped_column(sa.String(200))
    decided_at: Mapped[date] = mapped_column(sa.Date)
    penalty_summary: Mapped[str] = mapped_column(sa.Text, default="")
    # The penalty kinds as ",警告,罚款," so the public search can filter by type with LIKE.
    penalty_kinds: Mapped[str] = mapped_column(sa.String(200), default="")
    body: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    withheld_reason: Mapped[str] = mapped_column(sa.Text, default="")
    block_hits: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_by: Mapped[date] = mapped_column(sa.Date)
    offline_after: Mapped[date | None] = mapped_column(sa.Date)
    takedown_notice: Mapped[str] = mapped_column(sa.Text, default="")
    taken_down_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    corrected_from_id: Mapped[int | None] = mapped_column(sa.ForeignKey("published_decisions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)

    unit: Mapped[Unit] = relationship()

    __table_args__ = (
        # The public list and search: one unit's decisions of one status, newest first.
        sa.Index("ix_published_decisions_unit_status_decided", "unit_id", "status", "decided_at"),
        # The daily jobs: pending by due date, published by offline date.
        sa.Index("ix_published_decisions_status_due", "status", "due_by"),
    )


class RandomInspectionResult(db.Model):
    """The result of one random inspection (随机抽查结果), for publication within 20 working days.

    ``object_name`` is what the inspector recorded; the public page shows ``object_display``
    (a natural person's name masked, 张某). ``status``: pending (waits for ``due_by``) →
    published → taken_down; blocked while the scanner finds personal data (``block_hits``).
    """

    __tablename__ = "random_inspection_results"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    # One item of the unit's 随机抽查事项清单 (public_contents, kind random_inspection_list).
    item: Mapped[str] = mapped_column(sa.String(300))
    object_name: Mapped[str] = mapped_column(sa.String(200))
    object_kind: Mapped[str] = mapped_column(sa.String(16))  # natural | legal
    object_display: Mapped[str] = mapped_column(sa.String(200))
    inspected_on: Mapped[date] = mapped_column(sa.Date)
    inspectors: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # no_problem | rectification_ordered | case_opened | not_operating
    result: Mapped[str] = mapped_column(sa.String(32))
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    due_by: Mapped[date] = mapped_column(sa.Date)
    block_hits: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    takedown_notice: Mapped[str] = mapped_column(sa.Text, default="")
    taken_down_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)

    unit: Mapped[Unit] = relationship()

    __table_args__ = (
        # The public list and search, and the yearly report: one unit's results by date.
        sa.Index(
            "ix_random_inspection_results_unit_status_inspected",
            "unit_id",
            "status",
            "inspected_on",
        ),
        # The daily job: pending by due date.
        sa.Index("ix_random_inspection_results_status_due", "status", "due_by"),
    )
