"""Step 4: attach every item to exactly one case stage (or flag it for a supervisor)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.models import CaseStage, MediaAttachment, MediaItem
from server.services import audit

from .steps import FLAG_MESSAGES_ZH, add_flag, set_step


def choose_stage(item: MediaItem, stages: list[CaseStage]) -> tuple[str | None, str]:
    """The officer's valid choice wins; else the stage open at capture time; else none."""
    reached = {s.stage for s in stages}
    if item.stage and item.stage in reached:
        return item.stage, "chosen"
    for stage in sorted(stages, key=lambda s: s.started_at):
        if stage.started_at <= item.captured_at and (
            stage.ended_at is None or item.captured_at < stage.ended_at
        ):
            return stage.stage, "time_window"
    return None, "unattached"


def attach(session: Session, item: MediaItem) -> str | None:
    """Attach once; a later supervisor correction is never overwritten by a re-run."""
    existing = session.execute(
        sa.select(MediaAttachment).where(MediaAttachment.media_item_id == item.id).limit(1)
    ).scalar_one_or_none()
    if existing is not None:
        set_step(item, "attach", "done", stage=item.attached_stage, source="existing")
        return item.attached_stage
    stages = list(
        session.execute(sa.select(CaseStage).where(CaseStage.case_id == item.case_id)).scalars()
    )
    stage, source = choose_stage(item, stages)
    session.add(MediaAttachment(media_item_id=item.id, stage=stage, source=source))
    item.attached_stage = stage
    if stage is None:
        add_flag(session, item, "unattached", FLAG_MESSAGES_ZH["unattached"])
    set_step(item, "attach", "done", stage=stage, source=source)
    audit.record(
        session,
        actor=None,
        action="media.attached",
        object_type="media",
        object_id=item.id,
        details={"stage": stage, "source": source, "chosen": item.stage},
    )
    return stage
