"""Media items: metadata, the original's bytes (HTTP Range), and the chain of custody."""

from __future__ import annotations

from flask import Blueprint, Response, request

from ..domain import MediaStatus
from ..errors import DomainError
from ..extensions import db
from ..runtime import runtime
from ..schemas import CustodySchema, MediaItemSchema
from ..services import audit
from ..services.media import get_media
from .common import client_addr, current_user, login_required

bp = Blueprint("media", __name__)


@bp.get("/media/<item_id>")
@login_required()
def show(item_id: str):
    user = current_user()
    item = get_media(db.session, user, item_id)
    audit.record(
        db.session,
        actor=user,
        action="media.viewed",
        object_type="media",
        object_id=item.id,
        client_addr=client_addr(),
    )
    data = MediaItemSchema().dump(item)
    db.session.commit()
    return data


@bp.get("/media/<item_id>/original")
@login_required()
def original(item_id: str):
    """Stream the original; a Range request gets 206 with exactly the bytes asked for."""
    user = current_user()
    item = get_media(db.session, user, item_id)
    if item.status == MediaStatus.HASH_MISMATCH:
        raise DomainError(
            "this upload failed verification and is quarantined; it is not evidence",
            code="hash_mismatch",
            status=409,
        )
    size = item.size
    status = 200
    start, end = 0, size - 1
    if request.range is not None:
        span = request.range.range_for_length(size)
        if span is None:
            raise DomainError(
                f"the requested range is outside the file (size {size})",
                code="range_not_satisfiable",
                status=416,
                headers={"Content-Range": f"bytes */{size}"},
            )
        start, end = span[0], span[1] - 1
        status = 206
    download = request.args.get("download") == "1"
    audit.record(
        db.session,
        actor=user,
        action="media.downloaded" if download else "media.played",
        object_type="media",
        object_id=item.id,
        client_addr=client_addr(),
        details={"range": f"{start}-{end}" if status == 206 else None, "size": size},
    )
    storage = runtime().storage
    bucket, key, version = item.bucket, item.object_key, item.object_version
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start + 1 if size else 0),
        "ETag": f'"sha256-{item.device_sha256}"',
        "Digest": None,
        "Content-Disposition": f'{"attachment" if download else "inline"}; filename="{item.id}"',
    }
    headers = {k: v for k, v in headers.items() if v is not None}
    if status == 206:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    content_type = item.detected_content_type or item.claimed_content_type
    db.session.commit()  # no transaction stays open while bytes stream

    def body():
        if size == 0:
            return
        yield from storage.iter_object(bucket, key, version_id=version, start=start, end=end)

    return Response(
        body(), status=status, headers=headers, content_type=content_type, direct_passthrough=True
    )


@bp.get("/media/<item_id>/custody")
@login_required()
def custody(item_id: str):
    user = current_user()
    item = get_media(db.session, user, item_id)
    audit.record(
        db.session,
        actor=user,
        action="custody.viewed",
        object_type="media",
        object_id=item.id,
        client_addr=client_addr(),
    )
    entries = audit.entries_for(db.session, "media", item.id)
    data = CustodySchema().dump({"media_id": item.id, "entries": entries})
    db.session.commit()
    return data
