"""Media items: visibility and byte ranges of originals."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..models import Case, MediaItem, User
from .cases import visible_cases


def get_media(session: Session, user: User, item_id: str) -> MediaItem:
    """The item if its case is visible to the user; otherwise 404."""
    visible = visible_cases(user).with_only_columns(Case.id)
    item = session.execute(
        sa.select(MediaItem).where(MediaItem.id == item_id, MediaItem.case_id.in_(visible))
    ).scalar_one_or_none()
    if item is None:
        raise NotFound(f"media item {item_id} not found", code="media_not_found")
    return item
