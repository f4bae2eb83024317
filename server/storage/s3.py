"""S3 implementation of the storage interface (SeaweedFS, MinIO, AWS). The only boto3 user."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from .base import AccessDenied, ObjectLocked, ObjectNotFound, ObjectStat, Part, StorageError

_NOT_FOUND = {"NoSuchKey", "NoSuchBucket", "NoSuchVersion", "NoSuchUpload", "404", "NotFound"}
_DENIED = {"AccessDenied", "403", "Forbidden"}


def _translate(exc: Exception, what: str) -> StorageError:
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        message = exc.response.get("Error", {}).get("Message", "") or code
        if code in _NOT_FOUND:
            return ObjectNotFound(f"{what}: {message}")
        if code in _DENIED:
            if "lock" in message.lower() or "retention" in message.lower() or "WORM" in message:
                return ObjectLocked(f"{what}: {message}")
            return AccessDenied(f"{what}: {message}")
        return StorageError(f"{what}: {code} {message}")
    return StorageError(f"{what}: {exc}")


def sign_payloads(endpoint_url: str | None) -> bool:
    """Whether SigV4 must cover each request body's SHA-256 for this endpoint.

    botocore hashes every body over plain HTTP, and over HTTPS too when no checksum header is
    sent (our case: SeaweedFS needs ``request_checksum_calculation="when_required"``). That is
    a second full pass over every byte uploaded. ``UNSIGNED-PAYLOAD`` is safe where the body
    cannot be changed in transit: over TLS (AWS's own default for streamed uploads) and over
    the loopback interface. Plain HTTP to another host keeps signing. Either way the verify
    job hashes each stored original again and compares it with the device's SHA-256.
    """
    if endpoint_url is None:
        return False  # AWS: https
    parts = urlsplit(endpoint_url)
    if parts.scheme == "https":
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


class S3Storage:
    """Object storage on any S3 endpoint.

    >>> store = S3Storage(endpoint_url="http://127.0.0.1:8333", access_key="k",
    ...     secret_key="s", region="us-east-1", originals_bucket="o", other_buckets=["q"])
    """

    def __init__(
        self,
        *,
        endpoint_url: str | None,
        access_key: str | None,
        secret_key: str | None,
        region: str,
        originals_bucket: str,
        other_buckets: list[str],
        addressing_style: str = "path",
        sign_payload: bool | None = None,
    ) -> None:
        """``sign_payload``: None decides by the endpoint (see ``sign_payloads``)."""
        if sign_payload is None:
            sign_payload = sign_payloads(endpoint_url)
        self.originals_bucket = originals_bucket
        self.other_buckets = other_buckets
        self._client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=BotoConfig(
                s3={"addressing_style": addressing_style, "payload_signing_enabled": sign_payload},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=120,
                # SeaweedFS and older S3s reject the newer default CRC trailers on parts.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    # -- buckets -------------------------------------------------------------------------
    def ensure_buckets(self) -> None:
        """Create missing buckets; the originals bucket always with Object Lock (versioned)."""
        try:
            existing = {b["Name"] for b in self._client.list_buckets().get("Buckets", [])}
            if self.originals_bucket not in existing:
                self._client.create_bucket(
                    Bucket=self.originals_bucket, ObjectLockEnabledForBucket=True
                )
            else:
                conf = self._client.get_object_lock_configuration(Bucket=self.originals_bucket)
                enabled = conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
                if enabled != "Enabled":
                    raise StorageError(
                        f"bucket {self.originals_bucket} exists without Object Lock; "
                        "originals must go to a bucket created with Object Lock"
                    )
            for name in self.other_buckets:
                if name not in existing:
                    self._client.create_bucket(Bucket=name)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, "ensure buckets") from exc

    def ping(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.originals_bucket)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, "ping") from exc

    # -- objects -------------------------------------------------------------------------
    def put(
        self, bucket: str, key: str, data: bytes, *, content_type: str | None = None
    ) -> str | None:
        extra = {"ContentType": content_type} if content_type else {}
        try:
            resp = self._client.put_object(Bucket=bucket, Key=key, Body=data, **extra)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"put {bucket}/{key}") from exc
        return resp.get("VersionId")

    def put_file(
        self, bucket: str, key: str, path: str, *, content_type: str | None = None
    ) -> str | None:
        """Upload a local file (multipart when large) without reading it into memory."""
        extra = {"ContentType": content_type} if content_type else {}
        try:
            self._client.upload_file(
                path,
                bucket,
                key,
                ExtraArgs=extra,
                Config=TransferConfig(multipart_chunksize=16 << 20),
            )
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"put file {bucket}/{key}") from exc
        return self.stat(bucket, key).version_id

    def download(self, bucket: str, key: str, path: str, *, version_id: str | None = None) -> str:
        """Stream an object to a local file; returns the SHA-256 of what was written."""
        digest = hashlib.sha256()
        with open(path, "wb") as fh:
            for chunk in self.iter_object(bucket, key, version_id=version_id, chunk_size=4 << 20):
                digest.update(chunk)
                fh.write(chunk)
        return digest.hexdigest()

    def get_bytes(self, bucket: str, key: str, *, version_id: str | None = None) -> bytes:
        return b"".join(self.iter_object(bucket, key, version_id=version_id))

    def stat(self, bucket: str, key: str, *, version_id: str | None = None) -> ObjectStat:
        kwargs = {"VersionId": version_id} if version_id else {}
        try:
            resp = self._client.head_object(Bucket=bucket, Key=key, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"stat {bucket}/{key}") from exc
        return ObjectStat(
            size=int(resp["ContentLength"]),
            version_id=resp.get("VersionId"),
            content_type=resp.get("ContentType"),
            last_modified=resp.get("LastModified"),
            retain_until=resp.get("ObjectLockRetainUntilDate"),
            lock_mode=resp.get("ObjectLockMode"),
        )

    def iter_object(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        start: int = 0,
        end: int | None = None,
        chunk_size: int = 1024 * 1024,
    ) -> Iterator[bytes]:
        """Stream an object (or the inclusive byte range start..end) in chunks."""
        kwargs: dict = {"Bucket": bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            body = self._client.get_object(**kwargs)["Body"]
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"get {bucket}/{key}") from exc
        try:
            while chunk := body.read(chunk_size):
                yield chunk
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"read {bucket}/{key}") from exc
        finally:
            body.close()

    def sha256(self, bucket: str, key: str, *, version_id: str | None = None) -> str:
        digest = hashlib.sha256()
        for chunk in self.iter_object(bucket, key, version_id=version_id, chunk_size=4 << 20):
            digest.update(chunk)
        return digest.hexdigest()

    def delete(self, bucket: str, key: str, *, version_id: str | None = None) -> None:
        kwargs = {"VersionId": version_id} if version_id else {}
        try:
            self._client.delete_object(Bucket=bucket, Key=key, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._lock_aware(
                _translate(exc, f"delete {bucket}/{key}"), bucket, key, version_id
            ) from exc

    # -- multipart -----------------------------------------------------------------------
    def create_multipart(self, bucket: str, key: str, *, content_type: str | None = None) -> str:
        extra = {"ContentType": content_type} if content_type else {}
        try:
            resp = self._client.create_multipart_upload(Bucket=bucket, Key=key, **extra)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"create multipart {bucket}/{key}") from exc
        return resp["UploadId"]

    def upload_part(self, bucket: str, key: str, upload_id: str, number: int, data: bytes) -> Part:
        try:
            resp = self._client.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
            )
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"upload part {number} of {bucket}/{key}") from exc
        return Part(number=number, etag=resp["ETag"], size=len(data))

    def complete_multipart(
        self, bucket: str, key: str, upload_id: str, parts: list[Part]
    ) -> str | None:
        try:
            resp = self._client.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"complete multipart {bucket}/{key}") from exc
        return resp.get("VersionId")

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"abort multipart {bucket}/{key}") from exc

    # -- retention and copies -------------------------------------------------------------
    def lock(self, bucket: str, key: str, *, version_id: str | None, until: datetime) -> None:
        """Put the version under COMPLIANCE retention until ``until``."""
        kwargs = {"VersionId": version_id} if version_id else {}
        try:
            self._client.put_object_retention(
                Bucket=bucket,
                Key=key,
                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until},
                **kwargs,
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._lock_aware(
                _translate(exc, f"lock {bucket}/{key}"), bucket, key, version_id
            ) from exc

    def list_versions(self, bucket: str, prefix: str) -> list[tuple[str, str | None]]:
        """Every stored version under ``prefix`` as (key, version id), delete markers left
        out: a delete marker hides a locked version from a plain listing, never from this."""
        found: list[tuple[str, str | None]] = []
        try:
            pages = self._client.get_paginator("list_object_versions").paginate(
                Bucket=bucket, Prefix=prefix
            )
            for page in pages:
                for version in page.get("Versions", []):
                    vid = version.get("VersionId")
                    found.append((version["Key"], None if vid in (None, "null") else vid))
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"list {bucket}/{prefix}") from exc
        return sorted(found)

    def _lock_aware(
        self, error: StorageError, bucket: str, key: str, version_id: str | None
    ) -> StorageError:
        """Name a refusal caused by Object Lock as such (S3 only says 'Access Denied')."""
        if isinstance(error, ObjectNotFound) or not version_id:
            return error
        try:
            stat = self.stat(bucket, key, version_id=version_id)
        except StorageError:
            return error
        if stat.lock_mode:
            return ObjectLocked(
                f"{error} (version under {stat.lock_mode} retention until "
                f"{stat.retain_until:%Y-%m-%d})"
            )
        return error

    def copy(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        *,
        version_id: str | None = None,
    ) -> str | None:
        source = {"Bucket": src_bucket, "Key": src_key}
        if version_id:
            source["VersionId"] = version_id
        try:
            self._client.copy(
                source, dst_bucket, dst_key, Config=TransferConfig(multipart_chunksize=64 << 20)
            )
            return self.stat(dst_bucket, dst_key).version_id
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"copy {src_bucket}/{src_key} to {dst_bucket}/{dst_key}") from exc
