"""tus 1.0 endpoint: core protocol plus creation, creation-with-upload, termination,
expiration and checksum (sha256, sha1, md5) extensions."""

from __future__ import annotations

import base64
import binascii
import logging
from email.utils import format_datetime

from flask import Blueprint, Response, request
from werkzeug.exceptions import ClientDisconnected

from ..errors import DomainError
from ..extensions import db
from ..models import MediaItem, UploadSession
from ..runtime import runtime
from ..schemas import UploadStatusSchema
from ..services import uploads as upload_service
from . import TUS_VERSION
from .common import client_addr, current_user, login_required

bp = Blueprint("uploads", __name__)
log = logging.getLogger(__name__)

EXTENSIONS = "creation,creation-with-upload,termination,expiration,checksum"
CHECKSUMS = {"sha256": "sha256", "sha1": "sha1", "md5": "md5"}


def _require_tus() -> None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise DomainError(
            f"send 'Tus-Resumable: {TUS_VERSION}'",
            code="tus_version_unsupported",
            status=412,
            headers={"Tus-Version": TUS_VERSION},
        )


def _int_header(name: str) -> int:
    raw = request.headers.get(name)
    # ASCII digits only: str.isdigit also accepts "²" and "٣", which int() then refuses or reads
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 20:
        raise DomainError(f"{name} must be a non-negative integer", code="invalid_header")
    return int(raw)


def _checksum() -> tuple[str, bytes] | None:
    raw = request.headers.get("Upload-Checksum")
    if raw is None:
        return None
    algorithm, _, value = raw.partition(" ")
    if algorithm not in CHECKSUMS:
        raise DomainError(f"checksum algorithm {algorithm!r} is not supported", code="bad_checksum")
    try:
        return CHECKSUMS[algorithm], base64.b64decode(value, validate=True)
    except binascii.Error:
        raise DomainError("Upload-Checksum value is not base64", code="bad_checksum") from None


def _expires(upload: UploadSession) -> str:
    return format_datetime(upload.expires_at, usegmt=True)


def _on_complete(upload: UploadSession) -> str | None:
    rt = runtime()
    item_id = upload_service.complete_upload(
        db.session, rt.storage, rt.uploads, upload, current_user()
    )
    # complete_upload committed; touch no ORM object before enqueueing, so this request holds
    # no transaction while the job (which may run inline) opens its own. A duplicate's item
    # is verified already: its verification job skips it.
    if rt.jobs is not None:
        try:
            rt.jobs.enqueue_verify(item_id)
        except Exception:  # the queue is away (Redis restarting): the item is stored; the
            # sweep enqueues items left "received" (server/queue.py), so say success
            log.exception("could not enqueue verification of %s; the sweep will", item_id)
    return item_id


def _media_item_id(upload: UploadSession) -> str | None:
    """The upload's item, finishing a completion that failed before (see finish_completion)."""
    rt = runtime()
    return upload_service.finish_completion(
        db.session, rt.storage, rt.uploads, upload, _on_complete
    )


def _patch(upload: UploadSession, *, offset: int | None = None) -> Response:
    if request.headers.get("Content-Type") != "application/offset+octet-stream":
        raise DomainError(
            "PATCH needs Content-Type: application/offset+octet-stream",
            code="bad_content_type",
            status=415,
        )
    if offset is None:
        offset = _int_header("Upload-Offset")
    rt = runtime()
    result = upload_service.write_chunk(
        db.session,
        rt.storage,
        rt.uploads,
        upload,
        offset=offset,
        stream=request.stream,
        content_length=request.content_length,
        checksum=_checksum(),
        on_complete=_on_complete,
        disconnect_errors=(ClientDisconnected, OSError),
    )
    headers = {"Upload-Offset": str(result.offset)}
    db.session.refresh(upload)
    if upload.status == "active":
        headers["Upload-Expires"] = _expires(upload)
    if result.media_item_id:
        headers["Fieldtrace-Media-Id"] = result.media_item_id
    return Response(status=204, headers=headers)


@bp.route("/uploads/", methods=["OPTIONS"])
@bp.route("/uploads/<upload_id>", methods=["OPTIONS"])
def discover(upload_id: str | None = None):
    rt = runtime()
    return Response(
        status=204,
        headers={
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(rt.uploads.max_size),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUMS),
        },
    )


@bp.post("/uploads/")
@login_required("officer", "supervisor")
def create():
    _require_tus()
    if request.headers.get("Upload-Defer-Length"):
        raise DomainError("Upload-Defer-Length is not supported", code="defer_length_unsupported")
    length = _int_header("Upload-Length")
    rt = runtime()
    upload = upload_service.create_upload(
        db.session,
        rt.storage,
        rt.uploads,
        current_user(),
        length=length,
        raw_metadata=upload_service.parse_metadata(request.headers.get("Upload-Metadata")),
        client_addr=client_addr(),
    )
    db.session.commit()
    location = f"/api/v1/uploads/{upload.id}"
    headers = {"Location": location, "Upload-Expires": _expires(upload), "Upload-Offset": "0"}
    if length == 0:
        item_id = _on_complete_empty(upload)
        headers["Fieldtrace-Media-Id"] = item_id
    elif request.headers.get("Content-Type") == "application/offset+octet-stream":
        patched = _patch(upload, offset=0)  # creation-with-upload
        headers.update(
            {k: v for k, v in patched.headers.items() if k.startswith(("Upload", "Field"))}
        )
    return Response(status=201, headers=headers)


def _on_complete_empty(upload: UploadSession) -> str:
    """A zero-byte file completes at creation (tus); it is stored and verified like any other."""
    rt = runtime()
    result = upload_service.write_chunk(
        db.session,
        rt.storage,
        rt.uploads,
        upload,
        offset=0,
        stream=request.stream,
        content_length=0,
        checksum=None,
        on_complete=_on_complete,
    )
    return result.media_item_id or ""


@bp.route("/uploads/<upload_id>", methods=["HEAD"])
@login_required("officer", "supervisor")
def head(upload_id: str):
    _require_tus()
    upload = upload_service.get_upload(db.session, current_user(), upload_id)
    item_id = _media_item_id(upload)
    headers = {
        "Upload-Offset": str(upload.offset),
        "Upload-Length": str(upload.length),
        "Cache-Control": "no-store",
        "Upload-Metadata": upload_service.encode_metadata(upload_service.client_metadata(upload)),
    }
    if upload.status == "active":
        headers["Upload-Expires"] = _expires(upload)
    if item_id:
        headers["Fieldtrace-Media-Id"] = item_id
    return Response(status=200, headers=headers)


@bp.route("/uploads/<upload_id>", methods=["PATCH"])
@login_required("officer", "supervisor")
def patch(upload_id: str):
    _require_tus()
    upload = upload_service.get_upload(db.session, current_user(), upload_id)
    return _patch(upload)


@bp.route("/uploads/<upload_id>", methods=["DELETE"])
@login_required("officer", "supervisor")
def terminate(upload_id: str):
    _require_tus()
    rt = runtime()
    upload = upload_service.get_upload(db.session, current_user(), upload_id)
    upload_service.terminate_upload(db.session, rt.storage, rt.uploads, upload, current_user())
    db.session.commit()
    return Response(status=204)


@bp.route("/uploads/<upload_id>", methods=["POST"])
@login_required("officer", "supervisor")
def method_override(upload_id: str):
    """``X-HTTP-Method-Override`` for clients whose network drops PATCH/DELETE (tus spec)."""
    override = request.headers.get("X-HTTP-Method-Override", "").upper()
    if override == "PATCH":
        return patch.__wrapped__(upload_id)  # type: ignore[attr-defined]
    if override == "DELETE":
        return terminate.__wrapped__(upload_id)  # type: ignore[attr-defined]
    raise DomainError(
        "POST to an upload needs X-HTTP-Method-Override", code="bad_method", status=405
    )


@bp.get("/uploads/<upload_id>")
@login_required("officer", "supervisor")
def status(upload_id: str):
    """Where an upload stands, and the verification state of the item it produced."""
    upload = upload_service.get_upload(db.session, current_user(), upload_id)
    item_id = _media_item_id(upload)
    item = db.session.get(MediaItem, item_id) if item_id else None
    return UploadStatusSchema().dump(
        {
            "id": upload.id,
            "offset": upload.offset,
            "length": upload.length,
            "status": upload.status,
            "expires_at": upload.expires_at,
            "media_item_id": item_id,
            "media_status": item.status if item else None,
            "media_status_message": item.status_message if item else None,
        }
    )
