"""tus 1.0 resumable uploads streamed into S3 multipart uploads.

All upload state lives in the database, so any web process can take the next request.
Bytes below the minimum part size are kept as a separate small "tail" object in the staging
bucket (as tusd's S3 store does), so a PATCH cut off midway keeps everything that arrived.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from ..domain import MediaStatus, UploadStatus, kind_for_content_type
from ..errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from ..models import Device, MediaItem, UploadSession, User, new_id, utcnow
from ..schemas import UploadMetadataSchema
from ..storage import Storage, StorageError
from ..storage.base import Part
from ..storage.keys import duplicate_staging_key, original_key, upload_tail_key
from . import audit
from .cases import can_record, get_case, stage_reached
from .credentials import require_valid_at

MAX_PARTS = 10_000
READ_SIZE = 1024 * 1024
# Parts of one request uploading at once, while the next part is read from the client.
UPLOADS_IN_FLIGHT = 2


@dataclass(frozen=True)
class UploadSettings:
    originals_bucket: str
    staging_bucket: str
    part_size: int
    max_size: int
    expiry: timedelta
    lock_seconds: int
    # 持证上岗: refuse captures made while the uploader held no valid credential.
    require_credential: bool = True


class ChecksumMismatch(DomainError):
    status = 460
    code = "checksum_mismatch"


class UploadGone(DomainError):
    status = 410
    code = "upload_gone"


class UploadLocked(DomainError):
    status = 423
    code = "upload_locked"


class TooLarge(DomainError):
    status = 413
    code = "upload_too_large"


def parse_metadata(header: str | None) -> dict[str, str]:
    """Decode tus ``Upload-Metadata``: comma-separated ``key base64value`` pairs."""
    result: dict[str, str] = {}
    if not header:
        return result
    for pair in header.split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _, value = pair.partition(" ")
        try:
            result[key] = base64.b64decode(value.strip(), validate=True).decode() if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise Invalid(
                f"Upload-Metadata value for {key!r} is not base64 UTF-8", code="invalid_metadata"
            ) from None
    return result


def encode_metadata(meta: dict[str, Any]) -> str:
    return ",".join(
        f"{k} {base64.b64encode(str(v).encode()).decode()}"
        for k, v in meta.items()
        if v is not None
    )


def part_size_for(length: int, minimum: int) -> int:
    """Parts of at least ``minimum`` bytes, large enough to fit the file in 10,000 parts."""
    needed = math.ceil(length / (MAX_PARTS - 1)) if length else minimum
    mib = 1024 * 1024
    return max(minimum, math.ceil(needed / mib) * mib)


def create_upload(
    session: Session,
    storage: Storage,
    settings: UploadSettings,
    user: User,
    *,
    length: int,
    raw_metadata: dict[str, str],
    client_addr: str,
) -> UploadSession:
    """Validate everything before any byte is sent, then open the upload."""
    if length < 0:
        raise Invalid("Upload-Length must not be negative", code="invalid_length")
    if length > settings.max_size:
        raise TooLarge(f"uploads are limited to {settings.max_size} bytes")
    try:
        meta = UploadMetadataSchema().load(raw_metadata)
    except ValidationError as exc:
        raise Invalid(
            "Upload-Metadata is incomplete or malformed: "
            + "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in exc.messages_dict.items()),
            code="invalid_metadata",
            details={"fields": exc.messages_dict},
        ) from None
    kind = kind_for_content_type(meta["content_type"])
    if kind is None:
        raise DomainError(
            f"{meta['content_type']} is not a photo, video, audio or PDF type",
            code="unsupported_media_type",
            status=415,
        )
    case = get_case(session, user, meta["case_id"])
    if case.archived_at is not None:
        raise Conflict(f"case {case.number} is archived and read-only", code="case_archived")
    if not can_record(user, case):
        raise Forbidden("you are not assigned to this case", code="not_assigned")
    if meta.get("stage") and not stage_reached(case, meta["stage"]):
        raise Conflict(
            f"the case has not reached stage {meta['stage']} (it is at {case.current_stage})",
            code="stage_not_reached",
        )
    if settings.require_credential:
        require_valid_at(session, user, meta["captured_at"])  # 403 credential_not_valid
    _check_device(session, user, meta["device_id"], client_addr)

    now = utcnow()
    duplicate = session.execute(
        sa.select(MediaItem).where(
            MediaItem.case_id == case.id,
            MediaItem.device_sha256 == meta["sha256"],
            MediaItem.status.in_([MediaStatus.RECEIVED, MediaStatus.VERIFIED]),
        )
    ).scalar_one_or_none()
    upload_id = secrets.token_urlsafe(24)
    item_id = duplicate.id if duplicate else new_id()
    stored_meta = {
        **raw_metadata,
        "item_id": item_id,
        "kind": kind.value,
        "part_size": part_size_for(length, settings.part_size),
    }
    offset_s = None
    if meta.get("sent_at"):
        offset_s = round((now - meta["sent_at"]).total_seconds(), 3)
    upload = UploadSession(
        id=upload_id,
        user_id=user.id,
        case_id=case.id,
        length=length,
        offset=0,
        meta=stored_meta,
        status=UploadStatus.ACTIVE.value,
        bucket=settings.staging_bucket if duplicate else settings.originals_bucket,
        object_key=duplicate_staging_key(upload_id)
        if duplicate
        else original_key(case.id, item_id),
        parts=[],
        tail_size=0,
        duplicate_of_id=duplicate.id if duplicate else None,
        device_clock_offset_s=offset_s,
        client_addr=client_addr,
        created_at=now,
        updated_at=now,
        expires_at=now + settings.expiry,
    )
    session.add(upload)
    session.flush()
    audit.record(
        session,
        actor=user,
        action="upload.created",
        object_type="media",
        object_id=item_id,
        client_addr=client_addr,
        details={
            "upload_id": upload_id,
            "length": length,
            "sha256": meta["sha256"],
            "duplicate_of": duplicate.id if duplicate else None,
            "filename": meta["filename"],
        },
    )
    return upload


def _check_device(session: Session, user: User, device_id: str, client_addr: str) -> None:
    device = session.get(Device, device_id)
    if device is None:
        session.add(Device(id=device_id, user_id=user.id, last_seen_at=utcnow()))
        audit.record(
            session,
            actor=user,
            action="device.registered",
            object_type="device",
            object_id=device_id,
            client_addr=client_addr,
        )
    elif device.user_id != user.id:
        raise Conflict("this device is registered to another officer", code="device_not_yours")
    else:
        device.last_seen_at = utcnow()


def get_upload(session: Session, user: User, upload_id: str) -> UploadSession:
    upload = session.get(UploadSession, upload_id)
    if upload is None or upload.user_id != user.id:
        raise NotFound("upload not found", code="upload_not_found")
    if upload.status in (UploadStatus.TERMINATED, UploadStatus.EXPIRED) or (
        upload.status == UploadStatus.ACTIVE and upload.expires_at <= utcnow()
    ):
        raise UploadGone("this upload was terminated or has expired; start a new one")
    return upload


# -- PATCH ---------------------------------------------------------------------------------


@dataclass
class WriteResult:
    offset: int
    completed: bool
    cut: bool
    media_item_id: str | None


class _Lease:
    """A short database lease on one upload, renewed while bytes flow."""

    def __init__(self, session: Session, upload_id: str, seconds: int) -> None:
        self.session = session
        self.upload_id = upload_id
        self.seconds = seconds
        self.token = secrets.token_hex(16)
        self._renewed = 0.0

    def acquire(self, offset: int) -> bool:
        now = utcnow()
        result = self.session.execute(
            sa.update(UploadSession)
            .where(
                UploadSession.id == self.upload_id,
                UploadSession.offset == offset,
                UploadSession.status == UploadStatus.ACTIVE.value,
                sa.or_(
                    UploadSession.lock_token.is_(None),
                    UploadSession.lock_expires_at < now,
                ),
            )
            .values(lock_token=self.token, lock_expires_at=now + timedelta(seconds=self.seconds))
            .execution_options(synchronize_session=False)
        )
        self.session.commit()
        self._renewed = time.monotonic()
        return result.rowcount == 1

    def renew_if_due(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._renewed < self.seconds / 3:
            return
        result = self.session.execute(
            sa.update(UploadSession)
            .where(UploadSession.id == self.upload_id, UploadSession.lock_token == self.token)
            .values(lock_expires_at=utcnow() + timedelta(seconds=self.seconds))
            .execution_options(synchronize_session=False)
        )
        self.session.commit()
        if result.rowcount != 1:
            raise UploadLocked("lost the lock on this upload to another request; resume with HEAD")
        self._renewed = time.monotonic()

    def save(self, **values: Any) -> None:
        """Write state, only while still holding the lease."""
        result = self.session.execute(
            sa.update(UploadSession)
            .where(UploadSession.id == self.upload_id, UploadSession.lock_token == self.token)
            .values(updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
        self.session.commit()
        if result.rowcount != 1:
            raise UploadLocked("lost the lock on this upload to another request; resume with HEAD")
        self._renewed = time.monotonic()


def _read_checked_body(
    stream: IO[bytes], content_length: int | None, checksum: tuple[str, bytes], limit: int
) -> tuple[IO[bytes], int]:
    """Spool the whole PATCH body (to disk past 8 MiB) and check it before anything is kept."""
    import tempfile

    algorithm, expected = checksum
    digest = hashlib.new(algorithm)
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - returned to caller
    total = 0
    while total < limit:
        chunk = stream.read(min(READ_SIZE, limit - total))
        if not chunk:
            break
        digest.update(chunk)
        spool.write(chunk)
        total += len(chunk)
    if content_length is not None and total != content_length:
        spool.close()
        raise DomainError("the request body was cut off", code="incomplete_body", status=400)
    if digest.digest() != expected:
        spool.close()
        raise ChecksumMismatch("Upload-Checksum does not match the bytes received; resend them")
    spool.seek(0)
    return spool, total


def write_chunk(
    session: Session,
    storage: Storage,
    settings: UploadSettings,
    upload: UploadSession,
    *,
    offset: int,
    stream: IO[bytes],
    content_length: int | None,
    checksum: tuple[str, bytes] | None,
    on_complete: Callable[[UploadSession], str | None],
    disconnect_errors: tuple[type[BaseException], ...] = (),
) -> WriteResult:
    """Append the request body at ``offset``; complete the upload when the last byte arrives."""
    if upload.status == UploadStatus.COMPLETED:
        raise Conflict(
            "this upload is already complete",
            code="upload_completed",
            headers={"Upload-Offset": str(upload.offset)},
        )
    if upload.offset != offset:
        raise Conflict(
            f"Upload-Offset {offset} does not match the server's offset {upload.offset}",
            code="offset_mismatch",
            headers={"Upload-Offset": str(upload.offset)},
        )
    remaining = upload.length - upload.offset
    if content_length is not None and content_length > remaining:
        raise TooLarge(
            f"the body ({content_length} bytes) goes past Upload-Length ({remaining} bytes left)"
        )
    upload_id = upload.id
    lease = _Lease(session, upload_id, settings.lock_seconds)
    if not lease.acquire(offset):
        session.refresh(upload)
        if upload.offset != offset:
            raise Conflict(
                f"Upload-Offset {offset} does not match the server's offset {upload.offset}",
                code="offset_mismatch",
                headers={"Upload-Offset": str(upload.offset)},
            )
        raise UploadLocked(
            "another request is writing to this upload; retry shortly",
            headers={"Retry-After": "2"},
        )
    session.refresh(upload)
    state = _State.of(upload, settings)
    # No transaction may stay open while the client sends (or stalls): on SQLite it would
    # hold the write lock, on PostgreSQL an idle-in-transaction connection.
    session.commit()
    spool: IO[bytes] | None = None
    try:
        if checksum is not None:
            spool, _ = _read_checked_body(stream, content_length, checksum, remaining)
        result = _stream_into_parts(
            session, storage, settings, state, lease, spool or stream, disconnect_errors
        )
        if result.completed:
            session.expire_all()  # the row was written with UPDATE statements: re-read it
            finished = session.get(UploadSession, upload_id)
            assert finished is not None
            result.media_item_id = on_complete(finished)
        return result
    finally:
        if spool is not None:
            spool.close()
        session.rollback()
        session.execute(
            sa.update(UploadSession)
            .where(UploadSession.id == upload_id, UploadSession.lock_token == lease.token)
            .values(lock_token=None, lock_expires_at=None)
            .execution_options(synchronize_session=False)
        )
        session.commit()


@dataclass
class _State:
    """A plain copy of the upload row, so streaming never touches (and locks) the database."""

    id: str
    bucket: str
    object_key: str
    content_type: str | None
    part_size: int
    length: int
    offset: int
    parts: list[Part]
    tail_size: int
    tail_key: str | None
    multipart_id: str | None
    meta: dict[str, Any]

    @classmethod
    def of(cls, upload: UploadSession, settings: UploadSettings) -> _State:
        meta = dict(upload.meta)
        return cls(
            id=upload.id,
            bucket=upload.bucket,
            object_key=upload.object_key,
            content_type=meta.get("content_type"),
            part_size=int(meta.get("part_size") or settings.part_size),
            length=upload.length,
            offset=upload.offset,
            parts=[Part(**p) for p in upload.parts],
            tail_size=upload.tail_size,
            tail_key=meta.get("tail_key"),
            multipart_id=upload.multipart_id,
            meta=meta,
        )


def _stream_into_parts(
    session: Session,
    storage: Storage,
    settings: UploadSettings,
    state: _State,
    lease: _Lease,
    stream: IO[bytes],
    disconnect_errors: tuple[type[BaseException], ...],
) -> WriteResult:
    """Stream the body into S3 parts, recording every stored part before going on.

    A pipeline: the body is read straight into a preallocated part buffer (the only copy of
    each byte here) while up to ``UPLOADS_IN_FLIGHT`` full parts upload in worker threads.
    Parts are recorded (``lease.save``) strictly in order as they finish, so the row only ever
    names a prefix of stored parts: a killed process loses just the parts in flight and the
    bytes not yet in a part, and the client resumes from the row's offset. Buffers are reused
    once their part is recorded, so a request holds at most ``UPLOADS_IN_FLIGHT + 1`` parts'
    worth of memory. When the client goes away, the parts in flight are awaited and recorded
    and what arrived since is kept as a new tail object. A failed part upload is raised here.
    """
    part_size = state.part_size
    parts = list(state.parts)
    committed = sum(p.size for p in parts)
    multipart_id = state.multipart_id
    remaining = state.length - state.offset
    # Small uploads need no whole part-sized buffer.
    buf = bytearray(min(part_size, state.tail_size + remaining))
    filled = _load_tail(storage, settings, state, buf)
    free: list[bytearray] = []  # buffers of recorded parts, for the next parts
    in_flight: deque[tuple[Future[Part], bytearray]] = deque()
    pool = ThreadPoolExecutor(max_workers=UPLOADS_IN_FLIGHT, thread_name_prefix="upload-part")
    cut = False

    def record_oldest() -> None:
        nonlocal committed
        future, used = in_flight.popleft()
        part = future.result()  # waits; re-raises the worker's StorageError
        free.append(used)
        parts.append(part)
        committed += part.size
        # The old tail is now inside a part: the state says "no tail" until a new one is put.
        lease.save(
            parts=[p.__dict__ for p in parts],
            offset=committed,
            tail_size=0,
            multipart_id=multipart_id,
        )

    try:
        while remaining > 0:
            session.commit()  # a no-op unless something opened a transaction
            size = min(READ_SIZE, remaining, len(buf) - filled)
            try:
                count = _read_into(stream, memoryview(buf)[filled : filled + size])
            except disconnect_errors:
                cut = True
                break
            if not count:
                cut = True
                break
            filled += count
            remaining -= count
            while in_flight and in_flight[0][0].done():
                record_oldest()
            # A full part goes to a worker, unless it is the last one (_finish_object's).
            if filled == part_size and remaining > 0:
                if multipart_id is None:
                    multipart_id = storage.create_multipart(
                        state.bucket, state.object_key, content_type=state.content_type
                    )
                    lease.save(multipart_id=multipart_id)
                if len(in_flight) == UPLOADS_IN_FLIGHT:
                    record_oldest()
                number = len(parts) + len(in_flight) + 1
                future = pool.submit(
                    storage.upload_part, state.bucket, state.object_key, multipart_id, number, buf
                )
                in_flight.append((future, buf))
                buf = free.pop() if free else bytearray(part_size)
                filled = 0
            lease.renew_if_due()
        while in_flight:
            record_oldest()
    finally:
        pool.shutdown(wait=True)  # after an error too: no thread may outlive the request

    rest = buf if filled == len(buf) else buf[:filled]
    if remaining == 0:
        lease.renew_if_due(force=True)  # still ours? (raises if another request took over)
        version_id = _finish_object(storage, state, multipart_id, parts, rest)
        meta = {k: v for k, v in state.meta.items() if k != "tail_key"}
        lease.save(
            offset=state.length,
            tail_size=0,
            parts=[p.__dict__ for p in parts],
            multipart_id=multipart_id,
            status=UploadStatus.COMPLETED.value,
            meta={**meta, "version_id": version_id},
        )
        if state.tail_key:
            _delete_quietly(storage, settings.staging_bucket, state.tail_key)
        return WriteResult(offset=state.length, completed=True, cut=False, media_item_id=None)

    # Each PATCH writes its tail under its own name and only then points the row at it, so a
    # request that lost its lease can never overwrite the tail another request relies on.
    new_tail_key = None
    if rest:
        new_tail_key = upload_tail_key(state.id, lease.token)
        storage.put(settings.staging_bucket, new_tail_key, rest)
    new_offset = committed + len(rest)
    lease.save(
        offset=new_offset,
        tail_size=len(rest),
        expires_at=utcnow() + settings.expiry,
        multipart_id=multipart_id,
        meta={**state.meta, "tail_key": new_tail_key},
    )
    if state.tail_key and state.tail_key != new_tail_key:
        _delete_quietly(storage, settings.staging_bucket, state.tail_key)
    return WriteResult(offset=new_offset, completed=False, cut=cut, media_item_id=None)


def _load_tail(storage: Storage, settings: UploadSettings, state: _State, buf: bytearray) -> int:
    """Copy the stored tail (bytes of an unfinished part) to the front of ``buf``."""
    if not state.tail_size:
        return 0
    assert state.tail_key is not None
    filled = 0
    for chunk in storage.iter_object(
        settings.staging_bucket, state.tail_key, start=0, end=state.tail_size - 1
    ):
        if filled + len(chunk) > len(buf):  # never: a tail is shorter than a part
            break
        buf[filled : filled + len(chunk)] = chunk
        filled += len(chunk)
    if filled != state.tail_size:
        raise DomainError(
            "the stored tail of this upload is incomplete", code="tail_corrupt", status=500
        )
    return filled


def _read_into(stream: IO[bytes], window: memoryview) -> int:
    """Read up to ``len(window)`` bytes into ``window``; 0 at the end of the body."""
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        return readinto(window) or 0
    chunk = stream.read(len(window))
    window[: len(chunk)] = chunk
    return len(chunk)


def _finish_object(
    storage: Storage,
    upload: _State,
    multipart_id: str | None,
    parts: list[Part],
    last: bytes | bytearray,
) -> str | None:
    if multipart_id is None:
        return storage.put(upload.bucket, upload.object_key, last, content_type=upload.content_type)
    if last:
        parts.append(
            storage.upload_part(
                upload.bucket, upload.object_key, multipart_id, len(parts) + 1, last
            )
        )
    return storage.complete_multipart(upload.bucket, upload.object_key, multipart_id, parts)


def _delete_quietly(storage: Storage, bucket: str, key: str) -> None:
    with contextlib.suppress(StorageError):  # scratch data: the expiry sweep retries
        storage.delete(bucket, key)


# -- completion ------------------------------------------------------------------------------


def complete_upload(session: Session, storage: Storage, upload: UploadSession, user: User) -> str:
    """Turn a finished upload into a media item (status received), or link its duplicate."""
    meta = UploadMetadataSchema().load(
        {k: v for k, v in upload.meta.items() if k in UploadMetadataSchema().fields}
    )
    if upload.duplicate_of_id:
        item_id = upload.duplicate_of_id
        _delete_quietly(storage, upload.bucket, upload.object_key)
        upload.media_item_id = item_id
        audit.record(
            session,
            actor=user,
            action="upload.duplicate",
            object_type="media",
            object_id=item_id,
            client_addr=upload.client_addr,
            details={"upload_id": upload.id, "sha256": meta["sha256"]},
        )
        session.commit()
        return item_id
    if not upload.meta.get("version_id"):
        # Object Lock buckets are versioned: without the version id the lock and every later
        # read could hit a newer version instead of this upload's bytes.
        raise StorageError(f"no version id for {upload.bucket}/{upload.object_key}")
    now = utcnow()
    captured: datetime = meta["captured_at"]
    offset = captured.utcoffset()
    item = MediaItem(
        id=upload.meta["item_id"],
        case_id=upload.case_id,
        stage=meta.get("stage"),
        activity=meta["activity"],
        kind=upload.meta["kind"],
        filename=meta["filename"],
        claimed_content_type=meta["content_type"],
        size=upload.length,
        bucket=upload.bucket,
        object_key=upload.object_key,
        object_version=upload.meta.get("version_id"),
        device_sha256=meta["sha256"],
        status=MediaStatus.RECEIVED.value,
        captured_at=captured,
        captured_at_offset_min=int(offset.total_seconds() // 60) if offset is not None else None,
        received_at=upload.created_at,
        stored_at=now,
        device_clock_offset_s=upload.device_clock_offset_s,
        latitude=meta.get("latitude"),
        longitude=meta.get("longitude"),
        accuracy_m=meta.get("accuracy_m"),
        location_status=meta.get("location_status"),
        captured_end_at=meta.get("captured_end_at"),
        device_id=meta["device_id"],
        uploader_id=user.id,
    )
    session.add(item)
    upload.media_item_id = item.id
    audit.record(
        session,
        actor=user,
        action="upload.completed",
        object_type="media",
        object_id=item.id,
        client_addr=upload.client_addr,
        details={
            "upload_id": upload.id,
            "size": upload.length,
            "bucket": upload.bucket,
            "key": upload.object_key,
            "version_id": item.object_version,
            "device_sha256": meta["sha256"],
        },
    )
    item_id = item.id
    session.commit()
    return item_id


def terminate_upload(
    session: Session, storage: Storage, settings: UploadSettings, upload: UploadSession, user: User
) -> None:
    if upload.status == UploadStatus.COMPLETED:
        raise Conflict("a completed upload is evidence and cannot be terminated", code="completed")
    _discard(storage, settings, upload)
    upload.status = UploadStatus.TERMINATED.value
    audit.record(
        session,
        actor=user,
        action="upload.terminated",
        object_type="media",
        object_id=upload.meta.get("item_id", upload.id),
        details={"upload_id": upload.id, "offset": upload.offset},
    )


def _discard(storage: Storage, settings: UploadSettings, upload: UploadSession) -> None:
    if upload.multipart_id:
        with contextlib.suppress(StorageError):  # already gone
            storage.abort_multipart(upload.bucket, upload.object_key, upload.multipart_id)
    if tail_key := (upload.meta or {}).get("tail_key"):
        _delete_quietly(storage, settings.staging_bucket, tail_key)


def expire_uploads(
    session: Session, storage: Storage, settings: UploadSettings, *, now: datetime | None = None
) -> int:
    """Abort abandoned uploads past their expiry; returns how many were expired."""
    now = now or utcnow()
    stale = session.execute(
        sa.select(UploadSession).where(
            UploadSession.status == UploadStatus.ACTIVE.value, UploadSession.expires_at <= now
        )
    ).scalars()
    count = 0
    for upload in stale:
        _discard(storage, settings, upload)
        upload.status = UploadStatus.EXPIRED.value
        audit.record(
            session,
            actor=None,
            action="upload.expired",
            object_type="media",
            object_id=upload.meta.get("item_id", upload.id),
            details={"upload_id": upload.id, "offset": upload.offset},
        )
        count += 1
    session.commit()
    return count
