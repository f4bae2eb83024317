"""Recording rules (执法全过程记录): which activities and stages lack audio/video."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..domain import ACTIVITY_LABELS, MUST_FILM, STAGE_LABELS, MediaKind, MediaStatus
from ..models import Case, CaseStage, MediaItem

_RECORDINGS = {MediaKind.VIDEO.value, MediaKind.AUDIO.value}


def find_gaps(session: Session, case: Case) -> list[dict[str, Any]]:
    """Gaps of one case, each ``{code, stage, activity, message}`` (Chinese message)."""
    items = session.execute(
        sa.select(
            MediaItem.kind,
            MediaItem.activity,
            MediaItem.stage,
            MediaItem.attached_stage,
            MediaItem.steps,
        ).where(MediaItem.case_id == case.id, MediaItem.status != MediaStatus.HASH_MISMATCH)
    ).all()
    kinds: dict[tuple[str, str], set[str]] = defaultdict(set)
    stage_kinds: dict[str, set[str]] = defaultdict(set)
    for kind, activity, chosen, attached, steps in items:
        attach_done = (steps or {}).get("attach", {}).get("state") == "done"
        stage = attached if attach_done else chosen
        if stage is None:
            continue
        kinds[(stage, activity)].add(kind)
        stage_kinds[stage].add(kind)
    gaps: list[dict[str, Any]] = []
    for (stage, activity), found in sorted(kinds.items()):
        if activity in MUST_FILM and not found & _RECORDINGS:
            gaps.append(
                {
                    "code": "activity_not_filmed",
                    "stage": stage,
                    "activity": activity,
                    "message": f"{STAGE_LABELS[stage]['zh']}环节的{ACTIVITY_LABELS[activity]['zh']}"
                    "须全程音像记录，但只有照片或文书",
                }
            )
    if case.major_property:
        reached = session.execute(
            sa.select(CaseStage.stage).where(CaseStage.case_id == case.id)
        ).scalars()
        for stage in reached:
            if not stage_kinds.get(stage, set()) & _RECORDINGS:
                gaps.append(
                    {
                        "code": "major_property_no_video",
                        "stage": stage,
                        "activity": None,
                        "message": "涉及重大财产权益的案件，"
                        f"{STAGE_LABELS[stage]['zh']}环节缺少音像记录",
                    }
                )
    return gaps


def refresh_gaps(session: Session, case: Case) -> list[dict[str, Any]]:
    """Recompute and store the case's gaps (for list filters); returns them."""
    gaps = find_gaps(session, case)
    case.recording_gaps = gaps
    case.gap_count = len(gaps)
    return gaps
