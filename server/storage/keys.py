"""Every object-key rule, as pure functions."""

from __future__ import annotations


def original_key(case_id: int, item_id: str) -> str:
    return f"cases/{case_id}/{item_id[0:2]}/{item_id[2:4]}/{item_id}"


def upload_tail_key(upload_id: str) -> str:
    """Bytes of an upload below the minimum part size, kept apart so a cut PATCH loses nothing."""
    return f"uploads/{upload_id}/tail"


def duplicate_staging_key(upload_id: str) -> str:
    return f"uploads/{upload_id}/duplicate"


def quarantine_key(item_id: str, attempt: int) -> str:
    return f"hash-mismatch/{item_id[0:2]}/{item_id}/attempt-{attempt}"


def derivative_key(item_id: str, name: str) -> str:
    return f"media/{item_id[0:2]}/{item_id[2:4]}/{item_id}/{name}"
