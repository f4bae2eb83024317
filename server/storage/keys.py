"""Every object-key rule, as pure functions."""

from __future__ import annotations


def original_key(case_id: int, item_id: str) -> str:
    return f"cases/{case_id}/{item_id[0:2]}/{item_id[2:4]}/{item_id}"


def upload_tail_key(upload_id: str, writer: str) -> str:
    """Bytes of an upload below the minimum part size, kept apart so a cut PATCH loses nothing.

    ``writer`` (the PATCH's lease token) makes each request's tail a new object.
    """
    return f"uploads/{upload_id}/tail-{writer}"


def duplicate_staging_key(upload_id: str) -> str:
    return f"uploads/{upload_id}/duplicate"


def quarantine_key(item_id: str, attempt: int) -> str:
    return f"hash-mismatch/{item_id[0:2]}/{item_id}/attempt-{attempt}"


def derivative_key(item_id: str, name: str) -> str:
    return f"media/{item_id[0:2]}/{item_id[2:4]}/{item_id}/{name}"


def credential_photo_key(credential_id: int, sha256: str) -> str:
    """One object per photo: a new photo never overwrites the one shown before it."""
    return f"credentials/{credential_id}/photo-{sha256}.jpg"
