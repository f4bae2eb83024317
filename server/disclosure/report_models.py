"""Tables of the yearly enforcement statistics report (执法统计年报) and remedy outcomes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .. import clock
from ..extensions import db
from ..models import UTCDateTime

# Columns that make up the archived snapshot (归档存底): once a report leaves "draft" none of
# them may change again (checked on every UPDATE, whatever code path tries).
SNAPSHOT_COLUMNS = ("unit_id", "year", "figures", "narrative", "snapshot_sha256", "frozen_at")


class ImmutableReport(Exception):
    """Something tried to change a frozen or published report."""


class AnnualReport(db.Model):
    """One unit's report for one calendar year: draft → frozen (归档存底) → published.

    ``figures`` is plain JSON computed from the database; ``snapshot_sha256`` is the SHA-256 of
    the canonical JSON of figures and narrative, recorded when the report is frozen.
    """

    __tablename__ = "annual_reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    year: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(16), default="draft")
    figures: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    narrative: Mapped[str] = mapped_column(sa.Text, default="")
    # True once the admin rewrote the generated narrative: re-drafting keeps their text.
    narrative_edited: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    snapshot_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    frozen_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # Frozen after 15 January of the following year (the deadline).
    frozen_late: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # The last day (Asia/Shanghai) the admins were reminded: at most one reminder a day.
    last_reminded_on: Mapped[date | None] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    __table_args__ = (sa.UniqueConstraint("unit_id", "year", name="uq_annual_reports_unit_year"),)


@sa.event.listens_for(AnnualReport, "before_update")
def _refuse_snapshot_changes(_mapper: Any, _connection: Any, target: AnnualReport) -> None:
    state = sa.inspect(target)
    old_status = state.attrs.status.history.deleted
    was = old_status[0] if old_status else target.status
    if was == "draft":
        return
    changed = [name for name in SNAPSHOT_COLUMNS if state.attrs[name].history.has_changes()]
    if changed or (was == "published" and target.status != "published"):
        raise ImmutableReport(
            f"annual report {target.id} is {was}; its snapshot cannot change ({changed})"
        )


class RemedyOutcome(db.Model):
    """The outcome of a 行政复议 (reconsideration) or 行政诉讼 (litigation) about a case.

    A case's later entry of the same kind replaces an earlier one in the statistics of a
    year (a pending one that is later decided counts once, as decided).
    """

    __tablename__ = "remedy_outcomes"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # reconsideration | litigation
    # upheld | changed | revoked | confirmed_illegal | withdrawn | pending
    outcome: Mapped[str] = mapped_column(sa.String(24))
    # The day of the outcome (for "pending": the day that status was recorded), Asia/Shanghai.
    decided_on: Mapped[date] = mapped_column(sa.Date)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    recorded_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    __table_args__ = (sa.Index("ix_remedy_outcomes_unit_decided", "unit_id", "decided_on"),)
