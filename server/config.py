"""Configuration: one class reading ``FIELDTRACE_*`` environment variables."""

from __future__ import annotations

import os
from pathlib import Path


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"FIELDTRACE_{name}")
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    raw = _env(name)
    return int(raw) if raw is not None else default


def _bool(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    if raw.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if raw.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"FIELDTRACE_{name}={raw!r}: say true or false")


class Config:
    """Settings for one process. Tests subclass it or pass overrides to ``create_app``."""

    def __init__(self) -> None:
        self.DATA_DIR = Path(_env("DATA_DIR", "instance") or "instance").resolve()
        self.SQLALCHEMY_DATABASE_URI = _env(
            "DATABASE_URL", f"sqlite:///{self.DATA_DIR / 'fieldtrace.db'}"
        )
        self.SECRET_KEY = _env("SECRET_KEY")
        self.PORT = _int("PORT", 8000)
        self.HOST = _env("HOST", "127.0.0.1")

        # Object storage. No endpoint: `fieldtrace serve` starts an embedded SeaweedFS.
        self.S3_ENDPOINT_URL = _env("S3_ENDPOINT_URL")
        self.S3_ACCESS_KEY = _env("S3_ACCESS_KEY", "fieldtrace")
        self.S3_SECRET_KEY = _env("S3_SECRET_KEY", "fieldtrace-local-secret")
        self.S3_REGION = _env("S3_REGION", "us-east-1")
        self.S3_ADDRESSING_STYLE = _env("S3_ADDRESSING_STYLE", "path")
        self.S3_BUCKET_ORIGINALS = _env("S3_BUCKET_ORIGINALS", "fieldtrace-originals")
        self.S3_BUCKET_QUARANTINE = _env("S3_BUCKET_QUARANTINE", "fieldtrace-quarantine")
        self.S3_BUCKET_DERIVATIVES = _env("S3_BUCKET_DERIVATIVES", "fieldtrace-derivatives")
        self.S3_BUCKET_STAGING = _env("S3_BUCKET_STAGING", "fieldtrace-staging")
        self.S3_PART_SIZE = _int("S3_PART_SIZE", 8 * 1024 * 1024)
        self.RETENTION_DAYS = _int("RETENTION_DAYS", 3650)

        # Job queue. No URL: embedded SQLite-backed Huey; redis://... for Redis.
        self.QUEUE_URL = _env("QUEUE_URL")
        self.QUEUE_NAME = _env("QUEUE_NAME", "fieldtrace")
        # GET /metrics (Prometheus): answered to the same machine (a direct request from
        # 127.0.0.1/::1, not through a proxy) and to anyone sending this token as a bearer.
        self.METRICS_TOKEN = _env("METRICS_TOKEN", "") or ""
        # Pipeline latency in /metrics covers the items finished in this last window.
        self.METRICS_WINDOW_S = _int("METRICS_WINDOW_S", 3600)
        # Log lines: "text" (default) or "json" (one object a line, with the request id).
        self.LOG_FORMAT = _env("LOG_FORMAT", "text") or "text"

        self.JOB_RETRY_DELAY_S = _int("JOB_RETRY_DELAY_S", 5)

        # Uploads.
        self.MAX_UPLOAD_BYTES = _int("MAX_UPLOAD_BYTES", 50 * 1000**3)
        # Any other request body, as nginx.conf caps it (tus and the credential photo excepted).
        self.MAX_CONTENT_LENGTH = _int("MAX_BODY_BYTES", 1024 * 1024)
        self.UPLOAD_EXPIRY_HOURS = _int("UPLOAD_EXPIRY_HOURS", 72)
        self.UPLOAD_LOCK_SECONDS = _int("UPLOAD_LOCK_SECONDS", 30)
        # A PATCH's process beats every second while it holds a lease; a lease whose process
        # has been silent this long (its node or gunicorn worker was killed) is taken over by
        # the next HEAD or PATCH, instead of waiting out UPLOAD_LOCK_SECONDS.
        self.UPLOAD_HOLDER_STALE_S = _int("UPLOAD_HOLDER_STALE_S", 5)

        # Sessions and login throttling.
        self.TOKEN_TTL_HOURS = _int("TOKEN_TTL_HOURS", 12)
        self.LOGIN_FREE_FAILURES = _int("LOGIN_FREE_FAILURES", 3)
        self.LOGIN_MAX_DELAY_SECONDS = _int("LOGIN_MAX_DELAY_SECONDS", 300)

        # Media pipeline.
        self.MEDIA_MAX_CLOCK_SKEW_S = _int("MEDIA_MAX_CLOCK_SKEW_S", 300)
        self.LATE_UPLOAD_HOURS = _int("LATE_UPLOAD_HOURS", 24)
        self.MEDIA_MAX_IMAGE_PIXELS = _int("MEDIA_MAX_IMAGE_PIXELS", 60_000_000)
        self.MEDIA_MAX_JPEG_SCANS = _int("MEDIA_MAX_JPEG_SCANS", 100)
        # Decoder memory for photos decoded whole: progressive JPEG, HEIC (see MediaLimits).
        self.MEDIA_MAX_DECODE_MB = _int("MEDIA_MAX_DECODE_MB", 512)
        # One-scan JPEGs decode at 1/8 scale: 200 MP phone photos (see MediaLimits).
        self.MEDIA_MAX_JPEG_PIXELS = _int("MEDIA_MAX_JPEG_PIXELS", 16384 * 16384)
        # Measured by bench/pipeline.py; the proxy encode's time limit scales with it.
        self.MEDIA_TRANSCODE_PIXELS_PER_S = _int("MEDIA_TRANSCODE_PIXELS_PER_S", 50_000_000)
        self.FFMPEG_MAX_THREADS = _int("FFMPEG_MAX_THREADS", 8)
        self.MEDIA_MAX_DURATION_S = _int("MEDIA_MAX_DURATION_S", 6 * 3600)
        self.FFMPEG_MEMORY_MB = _int("FFMPEG_MEMORY_MB", 2048)
        # A processing run beats every minute; one silent this long lost its worker, and the
        # sweep hands its item to another run.
        self.PROCESSING_STUCK_MINUTES = _int("PROCESSING_STUCK_MINUTES", 10)
        # A worker process beats every second while it runs a job; an item whose worker has
        # been silent this long (killed mid-transcode) is queued again by any live worker,
        # which looks every PROCESSING_WATCHDOG_S seconds.
        self.PROCESSING_HOLDER_STALE_S = _int("PROCESSING_HOLDER_STALE_S", 30)
        self.PROCESSING_WATCHDOG_S = _int("PROCESSING_WATCHDOG_S", 10)

        # Custody PDFs: a TrueType CJK font (``path`` or ``path#index`` in a .ttc); unset uses
        # reportlab's built-in STSong-Light, which needs no font file.
        self.PDF_FONT = _env("PDF_FONT")

        # Offline 亮证: how long a phone's device certificate lasts, and the accepted clock
        # window of a code the phone made itself.
        self.CREDENTIAL_DEVICE_CERT_HOURS = _int("CREDENTIAL_DEVICE_CERT_HOURS", 24)
        self.CREDENTIAL_OFFLINE_WINDOW_S = _int("CREDENTIAL_OFFLINE_WINDOW_S", 60)
        # 持证上岗: refuse an upload of a capture made while the uploader held no valid
        # credential (off only for a deployment that does not manage credentials here).
        self.REQUIRE_CREDENTIAL = _bool("REQUIRE_CREDENTIAL", True)

        # Case workflow (issue #6): handover links, review deadlines, archive retention.
        self.DOCUMENT_HANDOVER_MINUTES = _int("DOCUMENT_HANDOVER_MINUTES", 15)
        self.LEGAL_REVIEW_DAYS = _int("LEGAL_REVIEW_DAYS", 10)
        self.LEGAL_REVIEW_EXTENSION_DAYS = _int("LEGAL_REVIEW_EXTENSION_DAYS", 3)
        self.LEGAL_MATERIALS_DAYS = _int("LEGAL_MATERIALS_DAYS", 3)
        # Originals of an archived case are retained this many years; evidence used in the
        # decision (key evidence, or linked from a document) for the longer period.
        self.ARCHIVE_RETENTION_YEARS = _int("ARCHIVE_RETENTION_YEARS", 30)
        self.ARCHIVE_KEY_EVIDENCE_YEARS = _int("ARCHIVE_KEY_EVIDENCE_YEARS", 100)
        # Signed heads of the audit log are copied to the originals bucket under Object Lock,
        # kept as long as the longest-kept evidence they vouch for.
        self.AUDIT_HEAD_RETENTION_YEARS = _int("AUDIT_HEAD_RETENTION_YEARS", 100)
        self.AUDIT_HEADS_PREFIX = _env("AUDIT_HEADS_PREFIX", "audit-heads/")

        # The built officer PWA, served on the API's origin when nothing else serves it.
        self.PWA_DIR = Path(
            _env("PWA_DIR", str(Path(__file__).resolve().parents[1] / "pwa" / "dist")) or ""
        )

        self.SIGNING_KEY_FILE = Path(
            _env("SIGNING_KEY_FILE", str(self.DATA_DIR / "audit-signing-key.pem")) or ""
        )
        # C2PA content credentials on exported copies: a CA-issued chain (PEM, leaf first) and
        # its key; both empty: a unit CA and certificate derived from the audit signing key.
        self.C2PA_CERT = _env("C2PA_CERT", "") or ""
        self.C2PA_KEY = _env("C2PA_KEY", "") or ""
        self.C2PA_ORGANIZATION = _env("C2PA_ORGANIZATION", "Fieldtrace unit") or ""
        # Trusted time: an RFC 3161 time-stamping authority for the audit log's tree heads
        # (its URL, the PEM root certificate(s) its tokens chain to). Empty: heads are signed
        # without trusted time, and the console says so.
        self.TSA_URL = _env("TSA_URL", "") or ""
        self.TSA_CA_FILE = _env("TSA_CA_FILE", "") or ""
        self.TSA_TIMEOUT_S = _int("TSA_TIMEOUT_S", 10)
        # Trust X-Forwarded-For from this many proxies (1 behind the shipped nginx.conf).
        self.PROXY_COUNT = _int("PROXY_COUNT", 0)
        # Host names the links in QR codes and handovers may carry (Flask's TRUSTED_HOSTS):
        # any other Host header gets 400, so a forged one cannot point a party elsewhere.
        # Comma-separated; empty (the default) trusts any, as for local runs.
        self.TRUSTED_HOSTS = [
            h.strip() for h in (_env("TRUSTED_HOSTS") or "").split(",") if h.strip()
        ] or None

        self.SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
        self.JSON_AS_ASCII = False
