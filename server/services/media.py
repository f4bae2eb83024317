"""Media items: visibility and supervisor placement on stages."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..domain import Role
from ..errors import Conflict, Forbidden, NotFound
from ..models import Case, CaseStage, MediaAttachment, MediaItem, User
from . import audit
from .cases import visible_cases
from .rules import refresh_gaps


def get_media(session: Session, user: User, item_id: str) -> MediaItem:
    """The item if its case is visible to the user; otherwise 404."""
    visible = visible_cases(user).with_only_columns(Case.id)
    item = session.execute(
        sa.select(MediaItem).where(MediaItem.id == item_id, MediaItem.case_id.in_(visible))
    ).scalar_one_or_none()
    if item is None:
        raise NotFound(f"media item {item_id} not found", code="media_not_found")
    return item


def reattach(
    session: Session, user: User, item: MediaItem, stage: str, reason: str, *, client_addr: str
) -> MediaItem:
    """Move an item to a stage the case has reached; the earlier placements stay on record."""
    if user.role != Role.SUPERVISOR:
        raise Forbidden("only a supervisor may move evidence between stages", code="role_forbidden")
    if item.case.archived_at is not None:
        raise Conflict("the case is archived and read-only", code="case_archived")
    reached = set(
        session.execute(
            sa.select(CaseStage.stage).where(CaseStage.case_id == item.case_id)
        ).scalars()
    )
    if stage not in reached:
        raise Conflict(f"the case has not reached stage {stage}", code="stage_not_reached")
    previous = item.attached_stage
    session.add(
        MediaAttachment(
            media_item_id=item.id,
            stage=stage,
            source="supervisor",
            by_user_id=user.id,
            reason=reason,
        )
    )
    item.attached_stage = stage
    item.flags = [f for f in item.flags or [] if f["code"] != "unattached"]
    steps = dict(item.steps or {})
    steps["attach"] = {
        **steps.get("attach", {}),
        "state": "done",
        "stage": stage,
        "source": "supervisor",
    }
    item.steps = steps
    audit.record(
        session,
        actor=user,
        action="media.moved",
        object_type="media",
        object_id=item.id,
        client_addr=client_addr,
        details={"from": previous, "to": stage, "reason": reason, "chosen": item.stage},
    )
    case = session.get(Case, item.case_id)
    assert case is not None
    refresh_gaps(session, case)
    return item


def attachment_history(session: Session, item: MediaItem) -> list[MediaAttachment]:
    return list(
        session.execute(
            sa.select(MediaAttachment)
            .where(MediaAttachment.media_item_id == item.id)
            .order_by(MediaAttachment.id)
        ).scalars()
    )
