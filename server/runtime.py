"""The collaborators one app instance uses: storage, job queue, signer, upload settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from .services.content_credentials import ContentCredentials
from .services.signing import Signer
from .services.timestamping import Tsa
from .services.uploads import UploadSettings
from .storage import Storage

if TYPE_CHECKING:
    from .queue import JobQueue


@dataclass
class Runtime:
    storage: Storage
    signer: Signer
    uploads: UploadSettings
    config: dict[str, Any]
    jobs: JobQueue | None = None
    tsa: Tsa | None = None  # trusted time for tree heads (None: not configured)
    credentials: ContentCredentials | None = None  # C2PA manifests on exported copies

    @classmethod
    def from_config(cls, app: Flask) -> Runtime:
        from .storage.s3 import S3Storage

        c = app.config
        storage = S3Storage(
            endpoint_url=c["S3_ENDPOINT_URL"],
            access_key=c["S3_ACCESS_KEY"],
            secret_key=c["S3_SECRET_KEY"],
            region=c["S3_REGION"],
            originals_bucket=c["S3_BUCKET_ORIGINALS"],
            other_buckets=[
                c["S3_BUCKET_QUARANTINE"],
                c["S3_BUCKET_DERIVATIVES"],
                c["S3_BUCKET_STAGING"],
            ],
            addressing_style=c["S3_ADDRESSING_STYLE"],
        )
        uploads = UploadSettings(
            originals_bucket=c["S3_BUCKET_ORIGINALS"],
            staging_bucket=c["S3_BUCKET_STAGING"],
            part_size=int(c["S3_PART_SIZE"]),
            max_size=int(c["MAX_UPLOAD_BYTES"]),
            expiry=timedelta(hours=int(c["UPLOAD_EXPIRY_HOURS"])),
            lock_seconds=int(c["UPLOAD_LOCK_SECONDS"]),
            require_credential=bool(c.get("REQUIRE_CREDENTIAL", True)),
            holder_stale_s=float(c["UPLOAD_HOLDER_STALE_S"]),
        )
        signer = Signer(c["SIGNING_KEY_FILE"])
        runtime = cls(
            storage=storage,
            signer=signer,
            uploads=uploads,
            config=dict(c),
            tsa=Tsa.from_config(c),
            credentials=ContentCredentials(
                signer,
                cert_file=c["C2PA_CERT"] or None,
                key_file=c["C2PA_KEY"] or None,
                unit_name=c["C2PA_ORGANIZATION"],
                # The heads' RFC 3161 authority also stamps the copies' C2PA signatures.
                tsa_url=c.get("TSA_URL") or None,
            ),
        )
        from .queue import JobQueue

        runtime.jobs = JobQueue.from_config(app)
        return runtime


def runtime() -> Runtime:
    return current_app.extensions["fieldtrace"]
