"""Media items: metadata, originals and derivatives (HTTP Range), placement, custody."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, g, request

from .. import clock
from ..domain import MediaStatus
from ..errors import Conflict, DomainError, NotFound
from ..extensions import db
from ..models import AuditEntry, Derivative, MediaItem, PlaybackGrant
from ..runtime import runtime
from ..schemas import CustodySchema, MediaItemSchema, ReattachSchema
from ..services import audit, playback, receipts
from ..services.media import get_media, reattach
from .common import bearer_token, client_addr, current_user, load_body, login_required

bp = Blueprint("media", __name__)

DERIVATIVES = playback.DERIVATIVES
F = TypeVar("F", bound=Callable[..., Any])


def playback_or_login(what: str | None = None) -> Callable[[F], F]:
    """A bearer token, or a playback token (``?pt=``) for exactly this item and file.

    ``what`` names the file; None takes it from the route's ``name`` (the derivatives).
    """

    def decorator(view: F) -> F:
        with_bearer = login_required()(view)

        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = request.args.get("pt")
            g.playback_grant = None
            if token is None or bearer_token() is not None:
                return with_bearer(*args, **kwargs)
            user, _item, grant = playback.authorize(
                db.session,
                token,
                item_id=kwargs["item_id"],
                what=what or kwargs["name"],
                now=clock.now(),
                secret_key=current_app.config["SECRET_KEY"],
            )
            g.user, g.playback_grant = user, grant
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def playback_grant() -> PlaybackGrant | None:
    """The grant of this request's playback token, or None for a bearer request."""
    return g.get("playback_grant")


def audit_access(
    item: MediaItem, action: str, details: dict[str, Any], first_range: str | None
) -> None:
    """Custody entry for serving bytes: every bearer request, or a playback token's first."""
    playback.record_access(
        db.session,
        user=current_user(),
        item=item,
        grant=playback_grant(),
        action=action,
        details=details,
        first_range=first_range,
        client_addr=client_addr(),
        now=clock.now(),
    )


def _dump(item: MediaItem) -> dict:
    return MediaItemSchema().dump(item)


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
    data = _dump(item)
    db.session.commit()
    return data


def _serve(
    item: MediaItem,
    *,
    bucket: str,
    key: str,
    version: str | None,
    size: int,
    content_type: str,
    etag: str,
    what: str,
) -> Response:
    """Stream an object; a Range request gets 206 with exactly the bytes asked for."""
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
    byte_range = f"{start}-{end}" if status == 206 else None
    # Open the object and read its first chunk before answering: S3 away or the object gone
    # is then an HTTP error with a JSON body (503 storage_unavailable), not a 200 whose body
    # stops short (which a player takes for a damaged file and nginx for a failed node).
    chunks = _open_object(bucket, key, version, start, end) if size else _no_bytes()
    try:
        first = next(chunks, b"")
        audit_access(
            item,
            "media.downloaded" if download else "media.played",
            {"what": what, "range": byte_range, "size": size},
            byte_range,
        )
    except BaseException:
        chunks.close()
        raise
    disposition = "attachment" if download else "inline"
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start + 1 if size else 0),
        "ETag": f'"{etag}"',
        "Content-Disposition": f'{disposition}; filename="{item.id}-{what}"',
    }
    if status == 206:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    db.session.commit()  # no transaction stays open while bytes stream

    def body() -> Iterator[bytes]:
        try:
            if first:
                yield first
            yield from chunks
        finally:
            chunks.close()

    return Response(
        body(), status=status, headers=headers, content_type=content_type, direct_passthrough=True
    )


def _open_object(
    bucket: str, key: str, version: str | None, start: int, end: int
) -> Generator[bytes, None, None]:
    return runtime().storage.iter_object(bucket, key, version_id=version, start=start, end=end)


def _no_bytes() -> Generator[bytes, None, None]:
    yield from ()


@bp.get("/media/<item_id>/original")
@playback_or_login("original")
def original(item_id: str):
    item = get_media(db.session, current_user(), item_id)
    if item.status == MediaStatus.HASH_MISMATCH:
        raise DomainError(
            "this upload failed verification and is quarantined; it is not evidence",
            code="hash_mismatch",
            status=409,
        )
    return _serve(
        item,
        bucket=item.bucket,
        key=item.object_key,
        version=item.object_version,
        size=item.size,
        content_type=item.detected_content_type or item.claimed_content_type,
        etag=f"sha256-{item.device_sha256}",
        what="original",
    )


@playback_or_login()
def derivative(item_id: str, name: str):
    item = get_media(db.session, current_user(), item_id)
    row = next((d for d in item.derivatives if d.name == name), None)
    if row is None:
        raise NotFound(
            f"no {name} for this item (yet): see its processing state",
            code="derivative_not_found",
        )
    return _serve_derivative(item, row)


for _name in DERIVATIVES:
    bp.add_url_rule(
        f"/media/<item_id>/{_name}", f"derivative_{_name}", derivative, defaults={"name": _name}
    )


def _serve_derivative(item: MediaItem, row: Derivative) -> Response:
    return _serve(
        item,
        bucket=row.bucket,
        key=row.object_key,
        version=None,
        size=row.size,
        content_type=row.content_type,
        etag=f"sha256-{row.sha256}",
        what=row.name,
    )


@bp.post("/media/<item_id>/attachment")
@login_required("supervisor")
def move(item_id: str):
    """A supervisor places (or moves) an item on a stage, with a reason; history is kept."""
    body = load_body(ReattachSchema())
    user = current_user()
    item = get_media(db.session, user, item_id)
    reattach(db.session, user, item, body["stage"], body["reason"], client_addr=client_addr())
    data = _dump(item)
    db.session.commit()
    return data


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
    after, limit = _page_arg("after", 0), min(_page_arg("limit", CUSTODY_PAGE), CUSTODY_PAGE_MAX)
    entries, total = audit.entries_page(
        db.session, "media", item.id, after=after, limit=max(limit, 1)
    )
    more = len(entries) == max(limit, 1) and entries[-1].seq < _last_seq(item.id)
    data = CustodySchema().dump(
        {
            "media_id": item.id,
            "entries": entries,
            "total": total,
            "next_after": entries[-1].seq if more else None,
        }
    )
    db.session.commit()
    return data


@bp.get("/media/<item_id>/receipt")
@login_required()
def receipt(item_id: str):
    """The item's signed receipt (存证回执) as a canonical JSON file, for whoever may see the
    item; issued on first request if the pipeline has not yet (409 before verification)."""
    user = current_user()
    item = get_media(db.session, user, item_id)
    signer = runtime().signer
    try:
        issued = receipts.issue(db.session, signer, item)
    except receipts.ReceiptUnavailable as exc:
        raise Conflict(str(exc), code="receipt_unavailable") from None
    document = receipts.receipt_file(db.session, signer, issued)
    audit.record(
        db.session,
        actor=user,
        action="media.receipt_viewed",
        object_type="media",
        object_id=item.id,
        client_addr=client_addr(),
        details={"fingerprint": receipts.fingerprint(issued)},
    )
    db.session.commit()
    response = Response(receipts.offline.canonical_json(document), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="receipt-{item.id}.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


CUSTODY_PAGE, CUSTODY_PAGE_MAX = 500, 1000


def _page_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise DomainError(
            f"{name} 须为非负整数 / {name} must be a non-negative integer",
            code=f"invalid_{name}",
            status=422,
        )
    return int(raw)


def _last_seq(item_id: str) -> int:
    last = db.session.execute(
        sa.select(sa.func.max(AuditEntry.seq)).where(
            AuditEntry.object_type == "media", AuditEntry.object_id == item_id
        )
    ).scalar_one()
    return int(last or 0)
