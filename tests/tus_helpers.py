"""Helpers for speaking tus from tests."""

from __future__ import annotations

import base64
from datetime import timedelta, timezone
from typing import Any

from server import clock

from .conftest import Actor, sha256_hex

TUS = {"Tus-Resumable": "1.0.0"}
CHINA = timezone(timedelta(hours=8))


def metadata(case: int, data: bytes, **overrides: Any) -> dict[str, str]:
    meta = {
        "filename": "IMG_0001.jpg",
        "content_type": "image/jpeg",
        "case_id": str(case),
        "stage": "filing",
        "activity": "onsite_inspection",
        "captured_at": clock.local_now().replace(microsecond=0).isoformat(),
        "sha256": sha256_hex(data),
        "device_id": "phone-1",
        "latitude": "31.2304",
        "longitude": "121.4737",
        "accuracy_m": "8.5",
        "sent_at": clock.now().isoformat(),
    }
    meta.update({k: str(v) for k, v in overrides.items() if v is not None})
    for key in [k for k, v in overrides.items() if v is None]:
        meta.pop(key, None)
    return meta


def encode(meta: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())


def create(client, actor: Actor, length: int, meta: dict[str, str]):
    return client.post(
        "/api/v1/uploads/",
        headers={
            **TUS,
            **actor.headers,
            "Upload-Length": str(length),
            "Upload-Metadata": encode(meta),
        },
    )


def patch(client, actor: Actor, location: str, offset: int, data: bytes, **headers: str):
    return client.patch(
        location,
        data=data,
        headers={
            **TUS,
            **actor.headers,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            **headers,
        },
    )


def upload(client, actor: Actor, case_id: int, data: bytes, **meta_overrides: Any) -> str:
    """Create and send a whole file in one PATCH; returns the media item id."""
    resp = create(client, actor, len(data), metadata(case_id, data, **meta_overrides))
    assert resp.status_code == 201, resp.json
    resp = patch(client, actor, resp.headers["Location"], 0, data)
    assert resp.status_code == 204, resp.json
    return resp.headers["Fieldtrace-Media-Id"]
