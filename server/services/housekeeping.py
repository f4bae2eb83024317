"""Scheduled upkeep run by the queue's periodic sweep: deadlines, publication, expiry."""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import clock
from ..jobs import ChoreContext, chore
from ..models import DocumentHandover, PlaybackGrant
from . import legal_review

log = logging.getLogger(__name__)


def run(session: Session, now: datetime) -> dict[str, int]:
    """Flag overdue legal reviews, publish decisions and random-inspection results that are
    due, take expired decisions offline, and delete expired playback grants and handover
    links. The caller commits."""
    from ..disclosure import inspections
    from ..disclosure import service as disclosure

    today = clock.today(now)
    counts = {
        "reviews_overdue": len(legal_review.flag_overdue(session, today)),
        "decisions_published": len(disclosure.publish_due(session, today)),
        "decisions_expired": len(disclosure.expire(session, today)),
        "takedowns_overdue": len(disclosure.flag_overdue_takedowns(session, today)),
        "inspection_results_published": len(inspections.publish_due(session, today, now=now)),
    }
    counts["grants_deleted"] = session.execute(
        sa.delete(PlaybackGrant).where(PlaybackGrant.expires_at < now)
    ).rowcount
    counts["handovers_deleted"] = session.execute(
        sa.delete(DocumentHandover).where(DocumentHandover.expires_at < now)
    ).rowcount
    return counts


@chore("housekeeping", order=20)
def _housekeeping_chore(ctx: ChoreContext) -> dict[str, int]:
    return run(ctx.session, ctx.now)
