"""The storage interface and the project's own storage exceptions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class StorageError(Exception):
    """Any failure of the object store that callers should report, not crash on."""


class ObjectNotFound(StorageError, FileNotFoundError):
    """The bucket, key or version does not exist."""


class AccessDenied(StorageError, PermissionError):
    """The store refused the operation."""


class ObjectLocked(AccessDenied):
    """The object version is under Object Lock retention: it cannot be deleted or shortened."""


@dataclass(frozen=True)
class ObjectStat:
    size: int
    version_id: str | None
    content_type: str | None
    last_modified: datetime | None
    retain_until: datetime | None = None
    lock_mode: str | None = None


@dataclass(frozen=True)
class Part:
    number: int
    etag: str
    size: int


class Storage(Protocol):
    """What the services need from object storage."""

    def ensure_buckets(self) -> None: ...
    def ping(self) -> None: ...

    def put(
        self, bucket: str, key: str, data: bytes, *, content_type: str | None = None
    ) -> str | None: ...
    def put_file(
        self, bucket: str, key: str, path: str, *, content_type: str | None = None
    ) -> str | None: ...
    def download(
        self, bucket: str, key: str, path: str, *, version_id: str | None = None
    ) -> str: ...
    def get_bytes(self, bucket: str, key: str, *, version_id: str | None = None) -> bytes: ...
    def stat(self, bucket: str, key: str, *, version_id: str | None = None) -> ObjectStat: ...
    def iter_object(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        start: int = 0,
        end: int | None = None,
        chunk_size: int = 1024 * 1024,
    ) -> Iterator[bytes]: ...
    def sha256(self, bucket: str, key: str, *, version_id: str | None = None) -> str: ...
    def delete(self, bucket: str, key: str, *, version_id: str | None = None) -> None: ...

    def create_multipart(
        self, bucket: str, key: str, *, content_type: str | None = None
    ) -> str: ...
    def upload_part(
        self, bucket: str, key: str, upload_id: str, number: int, data: bytes
    ) -> Part: ...
    def complete_multipart(
        self, bucket: str, key: str, upload_id: str, parts: list[Part]
    ) -> str | None: ...
    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None: ...

    def lock(self, bucket: str, key: str, *, version_id: str | None, until: datetime) -> None: ...
    def list_versions(self, bucket: str, prefix: str) -> list[tuple[str, str | None]]: ...
    def copy(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        *,
        version_id: str | None = None,
    ) -> str | None: ...
