"""Recording gaps (执法全过程记录) kept on the case for the console's filters.

The rules themselves are data (``server/workflow/recording_rules.json``), evaluated by
``server.services.workflow`` so the gap list and the stage gate agree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ..models import Case


def find_gaps(session: Session, case: Case) -> list[dict[str, Any]]:
    """Gaps of one case, each ``{code, stage, activity, message}`` (Chinese message)."""
    from .workflow import gaps

    return gaps(session, case)


def refresh_gaps(session: Session, case: Case) -> list[dict[str, Any]]:
    """Recompute and store the case's gaps (for list filters); returns them."""
    gaps = find_gaps(session, case)
    case.recording_gaps = gaps
    case.gap_count = len(gaps)
    return gaps
