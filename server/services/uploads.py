"""tus 1.0 resumable uploads streamed into S3 multipart uploads.

All upload state lives in the database, so any web process can take the next request.
Bytes below the minimum part size are kept as a separate small "tail" object in the staging
bucket (as tusd's S3 store does), so a PATCH cut off midway keeps everything that arrived.

Completion happens in two steps, so an object never reaches storage without a row that leads
to it. First every byte is stored as a part (a small file is one part) and the row becomes
``completed``: from then on it is evidence, which DELETE and the expiry sweep never discard.
Then the object is assembled from the recorded parts (``_store_object``); whoever finishes the
completion (the PATCH itself, a later HEAD, GET or PATCH, the sweep) repeats this step if it
did not finish, and adopts the object if S3 had assembled it before a failure.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import math
import re
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import IO, Any, TypeVar

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from .. import clock, liveness
from ..domain import MediaStatus, UploadStatus, kind_for_content_type
from ..errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from ..jobs import ChoreContext, chore
from ..models import MediaItem, UploadSession, User, new_id
from ..schemas import UploadMetadataSchema
from ..storage import ObjectNotFound, Storage, StorageError
from ..storage.base import Part
from ..storage.keys import duplicate_staging_key, original_key, upload_tail_key
from . import audit
from .capture_info import parse_capture
from .cases import can_record, get_case, stage_reached
from .credentials import own_device, require_valid_at

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_PARTS = 10_000
READ_SIZE = 1024 * 1024
# Parts of one request uploading at once, while the next part is read from the client.
UPLOADS_IN_FLIGHT = 2
# The client's Upload-Metadata keys the server keeps (under ``meta["client"]``) and echoes on
# HEAD; any other key is dropped, so a client can never set the server's own state.
CLIENT_KEYS = frozenset(UploadMetadataSchema().fields)


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
    # A lease whose holding process has not beaten for this long (its node was killed) is
    # free at once, without waiting out ``lock_seconds``.
    holder_stale_s: float = 5.0


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
            text = base64.b64decode(value.strip(), validate=True).decode() if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise Invalid(
                f"Upload-Metadata value for {key!r} is not base64 UTF-8", code="invalid_metadata"
            ) from None
        result[key] = _without_control_characters(key, text)
    return result


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _without_control_characters(key: str, text: str) -> str:
    """A file name's control characters become "_" (a phone's name for its file is kept, and
    the case archive and its manifest stay verifiable); in any other value they are refused."""
    if not _CONTROL.search(text):
        return text
    if key in ("filename", "name"):
        return _CONTROL.sub("_", text)
    raise Invalid(
        f"Upload-Metadata 的 {key!r} 含有控制字符 / Upload-Metadata value for {key!r} contains "
        "a control character",
        code="invalid_metadata",
    )


def client_metadata(upload: UploadSession) -> dict[str, str]:
    """The client's own (whitelisted) Upload-Metadata, never the server's state."""
    meta = upload.meta or {}
    client = meta.get("client")
    if isinstance(client, dict):
        return dict(client)
    return {k: v for k, v in meta.items() if k in CLIENT_KEYS}  # rows from before the split


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
    own_device(session, user, meta["device_id"], client_addr)

    now = clock.now()
    # Only a verified original stands in for a resend: one still "received" may yet turn out
    # hash_mismatch, and the resend would then be the only good copy. Several identical items
    # can exist (two uploads of one file in flight at once): the oldest one is taken.
    duplicate = session.execute(
        sa.select(MediaItem)
        .where(
            MediaItem.case_id == case.id,
            MediaItem.device_sha256 == meta["sha256"],
            MediaItem.status == MediaStatus.VERIFIED.value,
        )
        .order_by(MediaItem.stored_at, MediaItem.id)
        .limit(1)
    ).scalar_one_or_none()
    upload_id = secrets.token_urlsafe(24)
    item_id = duplicate.id if duplicate else new_id()
    stored_meta = {
        "client": {k: v for k, v in raw_metadata.items() if k in CLIENT_KEYS},
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


def get_upload(session: Session, user: User, upload_id: str) -> UploadSession:
    upload = session.get(UploadSession, upload_id)
    if upload is None or upload.user_id != user.id:
        raise NotFound("upload not found", code="upload_not_found")
    if upload.status in (UploadStatus.TERMINATED, UploadStatus.EXPIRED) or (
        upload.status == UploadStatus.ACTIVE and upload.expires_at <= clock.now()
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


def _lease_free(now: datetime, holder_stale_s: float) -> sa.ColumnElement[bool]:
    """No live request holds the upload's lease (none was taken, it ran out, or the process
    that took it stopped beating: see ``server.liveness``)."""
    return sa.or_(
        UploadSession.lock_token.is_(None),
        UploadSession.lock_expires_at < now,
        liveness.dead(UploadSession.lock_holder, holder_stale_s),
    )


class _Lease:
    """A short database lease on one upload, renewed while bytes flow or S3 works.

    Every write under the lease also requires the upload to be still in the status the lease
    was taken for (active while bytes arrive, completed while the completion is finished), so
    a DELETE or the expiry sweep (which only act on active uploads whose lease is free) can
    never be undone by a request that was running when they happened.

    The lease names a hold its process beats until the request ends (``server.liveness``):
    the lease of a killed process, or of a request that ended unable to release it, is taken
    over within ``holder_stale_s``, not ``seconds``.
    """

    def __init__(self, session: Session, upload_id: str, settings: UploadSettings) -> None:
        self.session = session
        self.upload_id = upload_id
        self.seconds = settings.lock_seconds
        self.holder_stale_s = settings.holder_stale_s
        self.token = secrets.token_hex(16)
        self.status = UploadStatus.ACTIVE
        self._renewed = 0.0
        self._held: liveness.Hold | None = None

    def _take(self, *conditions: sa.ColumnElement[bool], **values: Any) -> bool:
        # Beaten before the lease names it (its row is committed with the lease, below).
        self._held = held = liveness.hold(self.session)
        taken = False
        try:
            now = clock.now()
            result = self.session.execute(
                sa.update(UploadSession)
                .where(
                    UploadSession.id == self.upload_id,
                    _lease_free(now, self.holder_stale_s),
                    *conditions,
                )
                .values(
                    lock_token=self.token,
                    lock_expires_at=now + timedelta(seconds=self.seconds),
                    lock_holder=held.name,
                    **values,
                )
                .execution_options(synchronize_session=False)
            )
            self.session.commit()
            taken = result.rowcount == 1
        finally:
            if not taken:
                self._let_go()
        self._renewed = time.monotonic()
        return taken

    def _let_go(self) -> None:
        if self._held is not None:
            liveness.let_go(self._held, self.session)
            self._held = None

    def acquire(self, offset: int, expiry: timedelta) -> bool:
        """Take an active upload at ``offset`` to write to it; it is not abandoned meanwhile."""
        return self._take(
            UploadSession.offset == offset,
            UploadSession.status == UploadStatus.ACTIVE.value,
            expires_at=clock.now() + expiry,
        )

    def acquire_completion(self) -> bool:
        """Take a completed upload whose object or media item is still to be made."""
        self.status = UploadStatus.COMPLETED
        return self._take(
            UploadSession.status == UploadStatus.COMPLETED.value,
            UploadSession.media_item_id.is_(None),
        )

    def _write(self, **values: Any) -> None:
        result = self.session.execute(
            sa.update(UploadSession)
            .where(
                UploadSession.id == self.upload_id,
                UploadSession.lock_token == self.token,
                UploadSession.status == self.status.value,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        self.session.commit()
        if result.rowcount != 1:
            self._lost()
        self._renewed = time.monotonic()

    def _lost(self) -> None:
        status = self.session.execute(
            sa.select(UploadSession.status).where(UploadSession.id == self.upload_id)
        ).scalar_one_or_none()
        self.session.commit()
        if status in (UploadStatus.TERMINATED, UploadStatus.EXPIRED, None):
            raise UploadGone("this upload was terminated or has expired; start a new one")
        raise UploadLocked("lost the lock on this upload to another request; resume with HEAD")

    def renew_if_due(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._renewed < self.seconds / 3:
            return
        self._write(lock_expires_at=clock.now() + timedelta(seconds=self.seconds))

    def save(self, **values: Any) -> None:
        """Write state, only while still holding the lease on the upload, in its status."""
        self._write(updated_at=clock.now(), **values)

    def complete(self, **values: Any) -> None:
        """Every byte is stored: the upload becomes evidence, which nothing discards."""
        self.save(status=UploadStatus.COMPLETED.value, **values)
        self.status = UploadStatus.COMPLETED

    def wait_for(self, future: Future[T]) -> T:
        """The result of a storage call, renewing the lease while it runs.

        A slow S3 must not let another request, DELETE or the sweep take over an upload whose
        request is still at work. (Should this process stall beyond the lease anyway, what the
        others may then do is safe too: see ``_store_object``.)
        """
        while True:
            try:
                return future.result(timeout=self.seconds / 4)
            except TimeoutError:
                if future.done():  # the call itself raised TimeoutError
                    raise
                self.renew_if_due()

    def run(self, call: Callable[..., T], *args: Any) -> T:
        """Run a storage call in a worker thread, renewing the lease until it returns."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-store") as pool:
            return self.wait_for(pool.submit(call, *args))

    def release(self) -> None:
        try:
            self.session.rollback()
            self.session.execute(
                sa.update(UploadSession)
                .where(UploadSession.id == self.upload_id, UploadSession.lock_token == self.token)
                .values(lock_token=None, lock_expires_at=None, lock_holder=None)
                .execution_options(synchronize_session=False)
            )
            self.session.commit()
        finally:
            # Even when the database is away and the row still names our hold: its beats stop,
            # so the next request takes the lease over within ``holder_stale_s``, however
            # many other uploads this process is busy with.
            self._let_go()


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
        return _write_completed(
            session, storage, settings, upload, offset, content_length, on_complete
        )
    if upload.offset != offset:
        raise _offset_mismatch(upload, offset)
    remaining = upload.length - upload.offset
    if content_length is not None and content_length > remaining:
        raise TooLarge(
            f"the body ({content_length} bytes) goes past Upload-Length ({remaining} bytes left)"
        )
    upload_id = upload.id
    lease = _Lease(session, upload_id, settings)
    if not lease.acquire(offset, settings.expiry):
        session.refresh(upload)
        if upload.status == UploadStatus.COMPLETED:  # another request just finished it
            return _write_completed(
                session, storage, settings, upload, offset, content_length, on_complete
            )
        if upload.status != UploadStatus.ACTIVE:
            raise UploadGone("this upload was terminated or has expired; start a new one")
        if upload.offset != offset:
            raise _offset_mismatch(upload, offset)
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
            # Still under the lease: a HEAD meanwhile does not complete it a second time. If
            # this fails the upload stays completed without an item: finish_completion retries.
            session.expire_all()  # the row was written with UPDATE statements: re-read it
            finished = session.get(UploadSession, upload_id)
            assert finished is not None
            result.media_item_id = _finish_under_lease(
                session, storage, lease, finished, on_complete
            )
        return result
    finally:
        if spool is not None:
            spool.close()
        lease.release()


def _offset_mismatch(upload: UploadSession, offset: int) -> Conflict:
    return Conflict(
        f"Upload-Offset {offset} does not match the server's offset {upload.offset}",
        code="offset_mismatch",
        headers={"Upload-Offset": str(upload.offset)},
    )


def _write_completed(
    session: Session,
    storage: Storage,
    settings: UploadSettings,
    upload: UploadSession,
    offset: int,
    content_length: int | None,
    on_complete: Callable[[UploadSession], str | None],
) -> WriteResult:
    """A PATCH to a completed upload: finish a failed completion; an empty one at the end is 204."""
    item_id = finish_completion(session, storage, settings, upload, on_complete)
    if offset == upload.length and not content_length:
        if item_id is None:
            raise UploadLocked(
                "another request is completing this upload; retry shortly",
                headers={"Retry-After": "2"},
            )
        return WriteResult(offset=upload.length, completed=True, cut=False, media_item_id=item_id)
    raise Conflict(
        "this upload is already complete",
        code="upload_completed",
        headers={"Upload-Offset": str(upload.offset)},
    )


def finish_completion(
    session: Session,
    storage: Storage,
    settings: UploadSettings,
    upload: UploadSession,
    on_complete: Callable[[UploadSession], str | None],
) -> str | None:
    """The media item of a completed upload, made now if the completion failed before.

    ``completed`` means every byte is stored (as parts); the object is assembled and the item
    made after that, which can fail (a slow or failing S3, a busy database, a killed process).
    HEAD, GET, PATCH and the sweep call this, so a retry finishes the job. ``None`` while
    another request holds the upload.
    """
    if upload.status != UploadStatus.COMPLETED or upload.media_item_id:
        return upload.media_item_id
    lease = _Lease(session, upload.id, settings)
    taken = lease.acquire_completion()
    session.refresh(upload)
    if not taken or upload.media_item_id:
        if taken:
            lease.release()
        return upload.media_item_id
    try:
        return _finish_under_lease(session, storage, lease, upload, on_complete)
    finally:
        lease.release()


def _finish_under_lease(
    session: Session,
    storage: Storage,
    lease: _Lease,
    upload: UploadSession,
    on_complete: Callable[[UploadSession], str | None],
) -> str | None:
    _store_object(session, storage, lease, upload)
    return on_complete(upload)


def _object_stored(upload: UploadSession) -> bool:
    """Whether the completed upload's object is assembled (its version id, maybe None, is
    known). Uploads completed before completion had two steps all hold the key."""
    return "version_id" in (upload.meta or {})


def _store_object(session: Session, storage: Storage, lease: _Lease, upload: UploadSession) -> None:
    """Assemble a completed upload's object from its recorded parts; safe to repeat.

    The upload is completed before S3 is asked, so neither DELETE nor the sweep can abort the
    multipart upload meanwhile (its bytes would be lost) or leave the object without a row
    leading to it (an orphaned original). Repeating the step is safe: S3 assembles a
    multipart upload once, and if the first answer was lost, ``_complete_object`` adopts the
    object it made.
    """
    if _object_stored(upload):
        return
    if upload.multipart_id is None:
        raise StorageError(f"upload {upload.id} is completed but has no parts to assemble")
    parts = [Part(**p) for p in upload.parts]
    session.commit()  # no transaction (on SQLite: the write lock) stays open while S3 works
    version_id = lease.run(
        _complete_object,
        storage,
        upload.bucket,
        upload.object_key,
        upload.multipart_id,
        parts,
        upload.length,
    )
    lease.save(meta={**upload.meta, "version_id": version_id})
    session.refresh(upload)


def _complete_object(
    storage: Storage, bucket: str, key: str, multipart_id: str, parts: list[Part], length: int
) -> str | None:
    try:
        return storage.complete_multipart(bucket, key, multipart_id, parts)
    except ObjectNotFound:
        pass
    # The multipart upload is gone: an earlier attempt completed it and this S3 does not
    # answer a repeated completion (nothing else ends a completed upload's multipart upload).
    # The key is this upload's alone, so the object there is the one made of these parts.
    try:
        stat = storage.stat(bucket, key)
    except ObjectNotFound:
        log.error(
            "multipart upload %s of %s/%s is gone and no object was stored",
            multipart_id,
            bucket,
            key,
        )
        raise StorageError(
            f"the parts of {bucket}/{key} are gone and no object was stored"
        ) from None
    if stat.size != length:
        raise StorageError(f"{bucket}/{key} holds {stat.size} bytes, the upload {length}")
    return stat.version_id


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
            content_type=client_metadata(upload).get("content_type"),
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
        part = lease.wait_for(future)  # re-raises the worker's StorageError
        free.append(used)
        parts.append(part)
        committed += part.size
        # The old tail is now inside a part: the state says "no tail" until a new one is put.
        # Progress also keeps a long PATCH from outliving the upload's expiry.
        lease.save(
            parts=[p.__dict__ for p in parts],
            offset=committed,
            tail_size=0,
            multipart_id=multipart_id,
            expires_at=clock.now() + settings.expiry,
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
            # A full part goes to a worker, unless it is the last one (sent at completion).
            if filled == part_size and remaining > 0:
                if multipart_id is None:
                    multipart_id = _open_multipart(storage, state, lease)
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
        if multipart_id is None:  # a file smaller than a part is a multipart upload of one
            multipart_id = _open_multipart(storage, state, lease)
        if rest or not parts:  # the last part (an empty file's only, empty, part)
            number = len(parts) + 1
            parts.append(
                lease.run(
                    storage.upload_part, state.bucket, state.object_key, multipart_id, number, rest
                )
            )
        # Every byte is stored: the upload is evidence from here on (see _store_object).
        lease.complete(
            offset=state.length,
            tail_size=0,
            parts=[p.__dict__ for p in parts],
            multipart_id=multipart_id,
            expires_at=clock.now() + settings.expiry,  # the sweep retries a failed completion
            meta={k: v for k, v in state.meta.items() if k not in ("tail_key", "version_id")},
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
    try:
        lease.save(
            offset=new_offset,
            tail_size=len(rest),
            expires_at=clock.now() + settings.expiry,
            multipart_id=multipart_id,
            meta={**state.meta, "tail_key": new_tail_key},
        )
    except DomainError:  # terminated, expired or taken over: the row never named this tail
        if new_tail_key:
            _delete_quietly(storage, settings.staging_bucket, new_tail_key)
        raise
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


def _open_multipart(storage: Storage, state: _State, lease: _Lease) -> str:
    """Start the upload's multipart upload and record it, so a termination can abort it."""
    multipart_id = storage.create_multipart(
        state.bucket, state.object_key, content_type=state.content_type
    )
    try:
        lease.save(multipart_id=multipart_id)
    except DomainError:  # terminated or taken over meanwhile: the row never named it
        with contextlib.suppress(StorageError):
            storage.abort_multipart(state.bucket, state.object_key, multipart_id)
        raise
    return multipart_id


def _delete_quietly(storage: Storage, bucket: str, key: str) -> None:
    with contextlib.suppress(StorageError):  # scratch data: the expiry sweep retries
        storage.delete(bucket, key)


# -- completion ------------------------------------------------------------------------------


def complete_upload(
    session: Session, storage: Storage, settings: UploadSettings, upload: UploadSession, user: User
) -> str:
    """Turn a finished upload into a media item (status received), or link its duplicate.

    The upload's object is assembled already (``finish_completion`` sees to it).
    """
    if not _object_stored(upload):
        raise StorageError(f"the object of upload {upload.id} is not assembled yet")
    meta = UploadMetadataSchema().load(client_metadata(upload))
    if upload.duplicate_of_id:
        original = session.get(MediaItem, upload.duplicate_of_id)
        if original is not None and original.status == MediaStatus.VERIFIED:
            return _link_duplicate(session, storage, upload, user, meta["sha256"])
        # Not (or no longer) verified: this copy may be the only good one, so it is kept.
        _promote_duplicate(session, storage, settings, upload)
    if not upload.meta.get("version_id"):
        # Object Lock buckets are versioned: without the version id the lock and every later
        # read could hit a newer version instead of this upload's bytes.
        raise StorageError(f"no version id for {upload.bucket}/{upload.object_key}")
    now = clock.now()
    captured: datetime = meta["captured_at"]
    offset = captured.utcoffset()
    capture = parse_capture(meta.get("capture"))
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
        capture=capture.info,
        device_id=meta["device_id"],
        uploader_id=user.id,
    )
    if capture.problems:
        # The description is dropped, never the evidence (see server.services.capture_info).
        item.flags = [
            {
                "code": "capture_info_invalid",
                "message": "the phone's capture metadata was malformed: "
                + "; ".join(capture.problems),
                "at": now.isoformat(),
            }
        ]
    # Bytes already in the evidence bucket stay evidence: an identical item stored meanwhile
    # (two uploads of one file in flight at once) does not replace them, it is only noted.
    identical_to = session.execute(
        sa.select(MediaItem.id)
        .where(
            MediaItem.case_id == upload.case_id,
            MediaItem.device_sha256 == meta["sha256"],
            MediaItem.status.in_([MediaStatus.RECEIVED.value, MediaStatus.VERIFIED.value]),
        )
        .order_by(MediaItem.stored_at, MediaItem.id)
        .limit(1)
    ).scalar_one_or_none()
    promoted = "promoted_from" in upload.meta
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
            # What the device said about the recording, fixed in the chain at receipt: the
            # item's row can be edited later, this entry cannot (the archive verifier
            # compares the two).
            "case_id": item.case_id,
            "stage": item.stage,
            "activity": item.activity,
            "captured_at": captured.isoformat(),
            "captured_at_offset_min": item.captured_at_offset_min,
            "captured_end_at": _iso(item.captured_end_at),
            "sent_at": _iso(meta.get("sent_at")),
            "device_clock_offset_s": item.device_clock_offset_s,
            "latitude": item.latitude,
            "longitude": item.longitude,
            "accuracy_m": item.accuracy_m,
            "location_status": item.location_status,
            "device_id": item.device_id,
            # How the app took it, as kept on the item; what was malformed or unknown, so
            # the trail says what the phone sent that the item does not hold.
            "capture": item.capture,
            **({"capture_dropped": capture.problems} if capture.problems else {}),
            **({"capture_unknown_keys": capture.unknown_keys} if capture.unknown_keys else {}),
            **({"identical_to": identical_to} if identical_to else {}),
            **({"promoted_from": upload.meta["promoted_from"]} if promoted else {}),
        },
    )
    item_id = item.id
    session.commit()
    return item_id


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _link_duplicate(
    session: Session, storage: Storage, upload: UploadSession, user: User, sha256: str
) -> str:
    """The resent file is a verified item already: link it and drop the staging copy."""
    item_id = upload.duplicate_of_id
    assert item_id is not None
    upload.media_item_id = item_id
    audit.record(
        session,
        actor=user,
        action="upload.duplicate",
        object_type="media",
        object_id=item_id,
        client_addr=upload.client_addr,
        details={"upload_id": upload.id, "sha256": sha256},
    )
    bucket, key = upload.bucket, upload.object_key
    session.commit()
    _delete_quietly(storage, bucket, key)
    return item_id


def _promote_duplicate(
    session: Session, storage: Storage, settings: UploadSettings, upload: UploadSession
) -> None:
    """Make a duplicate's staging copy an original of its own (its twin was never verified).

    Only uploads created before duplicates were limited to verified items get here. The item
    id comes from the upload id, so a retry after a failure finds the copy an earlier attempt
    made, rather than adding a second version no item would name.
    """
    item_id = uuid.uuid5(uuid.NAMESPACE_URL, f"fieldtrace:upload:{upload.id}").hex
    key = original_key(upload.case_id, item_id)
    staging = (upload.bucket, upload.object_key)
    session.commit()  # only reads so far; no transaction stays open while S3 copies
    try:
        copied = storage.stat(settings.originals_bucket, key)
    except ObjectNotFound:
        version_id = storage.copy(
            *staging, settings.originals_bucket, key, version_id=upload.meta.get("version_id")
        )
    else:
        if copied.size != upload.length:
            raise StorageError(f"{key} holds {copied.size} bytes, the upload {upload.length}")
        version_id = copied.version_id
    upload.meta = {
        **upload.meta,
        "item_id": item_id,
        "version_id": version_id,
        "promoted_from": upload.duplicate_of_id,
    }
    upload.bucket, upload.object_key = settings.originals_bucket, key
    upload.duplicate_of_id = None
    session.commit()
    _delete_quietly(storage, *staging)


def terminate_upload(
    session: Session, storage: Storage, settings: UploadSettings, upload: UploadSession, user: User
) -> None:
    """Abort an unfinished upload (tus termination); never one a request is writing to."""
    if upload.status == UploadStatus.COMPLETED:
        raise Conflict("a completed upload is evidence and cannot be terminated", code="completed")
    if not _claim_inactive(session, settings, upload.id, UploadStatus.TERMINATED):
        session.refresh(upload)
        if upload.status == UploadStatus.COMPLETED:
            raise Conflict(
                "a completed upload is evidence and cannot be terminated", code="completed"
            )
        if upload.status != UploadStatus.ACTIVE:
            raise UploadGone("this upload was terminated or has expired; start a new one")
        raise UploadLocked(
            "a request is writing to this upload; retry the termination when it ends",
            headers={"Retry-After": "2"},
        )
    session.refresh(upload)
    audit.record(
        session,
        actor=user,
        action="upload.terminated",
        object_type="media",
        object_id=upload.meta.get("item_id", upload.id),
        details={"upload_id": upload.id, "offset": upload.offset},
    )
    session.commit()
    _discard(storage, settings, upload)


def _claim_inactive(
    session: Session,
    settings: UploadSettings,
    upload_id: str,
    status: UploadStatus,
    *,
    expired_by: datetime | None = None,
) -> bool:
    """Move an active upload whose lease is free to ``status``; False when it is not so."""
    conditions = [
        UploadSession.id == upload_id,
        UploadSession.status == UploadStatus.ACTIVE.value,
        # a lease runs on the wall clock, whatever ``expired_by`` says
        _lease_free(clock.now(), settings.holder_stale_s),
    ]
    if expired_by is not None:
        conditions.append(UploadSession.expires_at <= expired_by)
    result = session.execute(
        sa.update(UploadSession)
        .where(*conditions)
        .values(status=status.value, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _discard(storage: Storage, settings: UploadSettings, upload: UploadSession) -> None:
    if upload.multipart_id:
        with contextlib.suppress(StorageError):  # already gone
            storage.abort_multipart(upload.bucket, upload.object_key, upload.multipart_id)
    if tail_key := (upload.meta or {}).get("tail_key"):
        _delete_quietly(storage, settings.staging_bucket, tail_key)


def expire_uploads(
    session: Session, storage: Storage, settings: UploadSettings, *, now: datetime | None = None
) -> int:
    """Abort abandoned uploads past their expiry; returns how many were expired.

    An upload a request is still writing to is left alone (its lease is live), and so is a
    completed one, whose object may be assembling. The sweep also finishes completions that
    failed and were not retried by their client.
    """
    now = now or clock.now()
    stale = session.execute(
        sa.select(UploadSession.id).where(
            UploadSession.status == UploadStatus.ACTIVE.value, UploadSession.expires_at <= now
        )
    ).scalars()
    count = 0
    for upload_id in list(stale):
        if not _claim_inactive(session, settings, upload_id, UploadStatus.EXPIRED, expired_by=now):
            session.rollback()
            continue
        upload = session.get(UploadSession, upload_id, populate_existing=True)
        assert upload is not None
        audit.record(
            session,
            actor=None,
            action="upload.expired",
            object_type="media",
            object_id=upload.meta.get("item_id", upload.id),
            details={"upload_id": upload.id, "offset": upload.offset},
        )
        session.commit()
        _discard(storage, settings, upload)
        count += 1
    session.commit()
    finish_stalled_completions(session, storage, settings)
    return count


def _finish_by_id(
    session: Session, storage: Storage, settings: UploadSettings, upload_id: str
) -> None:
    """Finish a completed upload with no item, as its uploader (used by the sweep and repair)."""
    upload = session.get(UploadSession, upload_id, populate_existing=True)
    assert upload is not None
    uploader = session.get(User, upload.user_id)
    assert uploader is not None
    make_item = partial(complete_upload, session, storage, settings, user=uploader)
    finish_completion(session, storage, settings, upload, make_item)


def finish_stalled_completions(
    session: Session, storage: Storage, settings: UploadSettings, *, any_age: bool = False
) -> None:
    """Finish completed uploads whose completion failed and was not retried: assemble the
    object if that is still to do, and make the media item.

    The sweep looks only at uploads written to within the expiry period (the expires_at index
    keeps that cheap; older ones are finished by their client's HEAD, GET or PATCH);
    ``any_age`` (``fieldtrace uploads recover``) looks at all of them."""
    now = clock.now()
    conditions = [
        UploadSession.status == UploadStatus.COMPLETED.value,
        UploadSession.media_item_id.is_(None),
        UploadSession.updated_at < now - timedelta(seconds=settings.lock_seconds),
    ]
    if not any_age:
        conditions.append(UploadSession.expires_at > now)
    stalled = session.execute(sa.select(UploadSession.id).where(*conditions)).scalars()
    for upload_id in list(stalled):
        try:
            _finish_by_id(session, storage, settings, upload_id)
        except Exception:  # one bad upload must not stop the sweep; it is retried next time
            session.rollback()
            log.exception("completing upload %s failed; retried on the next sweep", upload_id)
    session.commit()


def recover_orphaned_originals(
    session: Session, storage: Storage, settings: UploadSettings
) -> list[str]:
    """Adopt objects that terminated or expired uploads left in the originals bucket.

    Before completion had two steps, a DELETE or the sweep could end an upload whose object
    S3 was assembling: the object stayed, invisible, with no item. Each such upload is made
    completed again and finished like any other, so the evidence gets its media item (and its
    verification and lock). A one-off repair, as it asks the store about every terminated or
    expired upload; returns the ids of the uploads recovered.
    """
    ended = session.execute(
        sa.select(UploadSession.id).where(
            UploadSession.status.in_([UploadStatus.TERMINATED.value, UploadStatus.EXPIRED.value]),
            UploadSession.bucket == settings.originals_bucket,
            UploadSession.media_item_id.is_(None),
        )
    ).scalars()
    recovered: list[str] = []
    for upload_id in list(ended):
        upload = session.get(UploadSession, upload_id)
        assert upload is not None
        session.commit()  # no transaction stays open while the store answers
        try:
            stat = storage.stat(upload.bucket, upload.object_key)
        except ObjectNotFound:
            continue  # ended before its object was made: nothing reached storage
        if stat.size != upload.length:
            log.error(
                "%s/%s holds %s bytes, upload %s %s",
                upload.bucket,
                upload.object_key,
                stat.size,
                upload_id,
                upload.length,
            )
            continue
        ended_as = upload.status
        result = session.execute(
            sa.update(UploadSession)
            .where(UploadSession.id == upload_id, UploadSession.status == ended_as)
            .values(
                status=UploadStatus.COMPLETED.value,
                offset=upload.length,
                tail_size=0,
                # Tried again by the sweep for an expiry period, and by the client's HEAD.
                expires_at=clock.now() + settings.expiry,
                updated_at=clock.now(),
                meta={
                    **{k: v for k, v in upload.meta.items() if k != "tail_key"},
                    "version_id": stat.version_id,
                },
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            session.rollback()
            continue
        audit.record(
            session,
            actor=None,
            action="upload.recovered",
            object_type="media",
            object_id=upload.meta.get("item_id", upload_id),
            details={
                "upload_id": upload_id,
                "was": ended_as,
                "bucket": upload.bucket,
                "key": upload.object_key,
                "version_id": stat.version_id,
            },
        )
        session.commit()
        try:
            _finish_by_id(session, storage, settings, upload_id)
        except Exception:  # completed now: the sweep and the client's HEAD retry it
            session.rollback()
            log.exception("completing recovered upload %s failed; the sweep retries", upload_id)
        recovered.append(upload_id)
    session.commit()
    return recovered


@chore("expired", order=10)
def _expire_chore(ctx: ChoreContext) -> int:
    """Abandoned uploads past their expiry are aborted (the sweep, once a minute)."""
    return expire_uploads(ctx.session, ctx.runtime.storage, ctx.runtime.uploads)
