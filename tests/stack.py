"""The production web stack for tests and benchmarks: the repo's nginx.conf in front of gunicorn.

``Stack`` runs ``gunicorn server.wsgi:app`` (gthread) and Debian nginx with ``nginx.conf``
rewritten by plain string replacement (its ``# SUBST`` points), all under one work directory,
against an S3 endpoint the caller runs. Used by ``tests/test_nginx.py`` and ``bench/upload.py``.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

import requests

from server import clock
from server.storage.embedded import free_ports

REPO = Path(__file__).resolve().parents[1]
NGINX = Path("/usr/sbin/nginx")
NGINX_CONF = REPO / "nginx.conf"
PASSWORD = "correct horse battery staple"
CHINA = timezone(timedelta(hours=8))
MiB = 1024 * 1024


@dataclass(frozen=True)
class S3Endpoint:
    """Where the app keeps its objects."""

    url: str
    access_key: str
    secret_key: str


def render_nginx_conf(
    template: str,
    *,
    prefix: Path,
    https_port: int,
    http_port: int,
    upstream: str,
    static_root: Path,
    upstream_source: str | None = None,
    more_upstreams: tuple[str, ...] = (),
) -> str:
    """``nginx.conf`` with every ``# SUBST`` point pointed at ``prefix`` and local ports;
    ``more_upstreams`` are further web nodes, listed before it with the same parameters."""
    user = pwd.getpwuid(os.getuid()).pw_name  # ignored (with a warning) unless root
    replacements = {
        "user www-data;": f"user {user};",
        "/run/nginx-fieldtrace.pid": f"{prefix}/nginx.pid",
        "/var/log/nginx/": f"{prefix}/logs/",
        "/var/lib/nginx/": f"{prefix}/temp/",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen [::]:80;": "",
        "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
        "listen [::]:443 ssl;": "",
        "/etc/fieldtrace/tls/": f"{prefix}/tls/",
        "127.0.0.1:8000": upstream,
        "/srv/fieldtrace/pwa/dist": str(static_root),
    }
    if upstream_source:
        # Connect to gunicorn from another loopback address, so the app's idea of the client
        # can only have come from X-Forwarded-For.
        anchor = "proxy_http_version 1.1;"
        replacements[anchor] = f"{anchor} proxy_bind {upstream_source};"
    conf = template
    for old, new in replacements.items():
        if old not in conf:
            raise ValueError(f"nginx.conf no longer contains {old!r}; update tests/stack.py")
        conf = conf.replace(old, new)
    for node in more_upstreams:
        line = next(ln for ln in conf.splitlines() if ln.strip().startswith(f"server {upstream} "))
        conf = conf.replace(line, line.replace(upstream, node) + "\n" + line, 1)
    return conf


def write_self_signed_cert(directory: Path) -> Path:
    """``fullchain.pem`` and ``privkey.pem`` for 127.0.0.1/localhost; returns the certificate."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fieldtrace test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_file = directory / "fullchain.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file = directory / "privkey.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return cert_file


STATIC_FILES = {
    "index.html": '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
    '<title>执法记录</title><link rel="manifest" href="/manifest.webmanifest">'
    '<script type="module" src="/assets/app-3f2a1c9e.js"></script></head>'
    '<body><div id="app"></div></body></html>\n',
    "assets/app-3f2a1c9e.js": "document.getElementById('app').textContent = 'Fieldtrace';\n",
    "sw.js": "self.addEventListener('fetch', () => {});\n",
    "manifest.webmanifest": '{"name": "Fieldtrace", "start_url": "/", "display": "standalone"}\n',
}


def write_static_site(root: Path) -> None:
    """A stand-in for the PWA build (``pwa/dist``): the files nginx treats specially."""
    for name, text in STATIC_FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    """Stop a process started in its own session, and everything it started."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()


def _gunicorn_private_control() -> list[str]:
    """Newer gunicorn opens a control socket in ~/.gunicorn by default: shared, so turn it off."""
    from gunicorn.config import KNOWN_SETTINGS

    names = {setting.name for setting in KNOWN_SETTINGS}
    return ["--no-control-socket"] if "control_socket_disable" in names else []


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Stack:
    """gunicorn + nginx for one test module or one benchmark run; a context manager."""

    def __init__(
        self,
        workdir: Path,
        s3: S3Endpoint,
        *,
        workers: int = 1,
        threads: int = 4,
        upstream_source: str | None = None,
        app_env: Mapping[str, str] | None = None,
        more_upstreams: tuple[str, ...] = (),
    ) -> None:
        self.workdir = Path(workdir)
        self.s3 = s3
        self.workers = workers
        self.threads = threads
        self.upstream_source = upstream_source
        self.more_upstreams = more_upstreams
        self.app_port, self.https_port, self.http_port = free_ports(3)
        self.url = f"https://127.0.0.1:{self.https_port}"
        self.http_url = f"http://127.0.0.1:{self.http_port}"
        self.nginx_prefix = self.workdir / "nginx"
        self.ca_file = self.nginx_prefix / "tls" / "fullchain.pem"
        self.gunicorn_log = self.workdir / "gunicorn.log"
        self.nginx_error_log = self.nginx_prefix / "logs" / "fieldtrace-error.log"
        suffix = uuid.uuid4().hex[:8]
        self.buckets = {
            "S3_BUCKET_ORIGINALS": f"orig-{suffix}",
            "S3_BUCKET_QUARANTINE": f"quar-{suffix}",
            "S3_BUCKET_DERIVATIVES": f"deriv-{suffix}",
            "S3_BUCKET_STAGING": f"stage-{suffix}",
        }
        data_dir = self.workdir / "data"
        settings = {
            "DATA_DIR": str(data_dir),
            "DATABASE_URL": f"sqlite:///{data_dir / 'fieldtrace.db'}",
            "SECRET_KEY": uuid.uuid4().hex,
            "S3_ENDPOINT_URL": s3.url,
            "S3_ACCESS_KEY": s3.access_key,
            "S3_SECRET_KEY": s3.secret_key,
            "PROXY_COUNT": "1",
            # These stacks upload as officers without an issued 执法证 (持证上岗 is tested in
            # tests/test_credentials.py).
            "REQUIRE_CREDENTIAL": "false",
            **self.buckets,
            **(app_env or {}),
        }
        # No inherited FIELDTRACE_* (no FIELDTRACE_QUEUE_URL: the embedded SQLite queue).
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDTRACE_")}
        self.env.update({f"FIELDTRACE_{k}": v for k, v in settings.items()})
        self.gunicorn: subprocess.Popen[bytes] | None = None
        self.nginx: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._create_buckets()
        self.fieldtrace("db", "upgrade")
        self._start_gunicorn()
        self._start_nginx()
        return self

    def stop(self) -> None:
        _stop(self.nginx)
        _stop(self.gunicorn)
        self.nginx = self.gunicorn = None

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _create_buckets(self) -> None:
        from server.storage.s3 import S3Storage

        S3Storage(
            endpoint_url=self.s3.url,
            access_key=self.s3.access_key,
            secret_key=self.s3.secret_key,
            region="us-east-1",
            originals_bucket=self.buckets["S3_BUCKET_ORIGINALS"],
            other_buckets=[v for k, v in self.buckets.items() if k != "S3_BUCKET_ORIGINALS"],
        ).ensure_buckets()

    def _start_gunicorn(self) -> None:
        args = [
            sys.executable, "-m", "gunicorn", "server.wsgi:app",
            "--bind", f"127.0.0.1:{self.app_port}",
            "--worker-class", "gthread",
            "--workers", str(self.workers),
            "--threads", str(self.threads),
            "--timeout", "300",
            "--graceful-timeout", "10",
            "--access-logfile", "-",
            *_gunicorn_private_control(),
        ]  # fmt: skip
        with self.gunicorn_log.open("ab") as log:
            self.gunicorn = subprocess.Popen(
                args,
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(
            "gunicorn",
            f"http://127.0.0.1:{self.app_port}/healthz",
            self.gunicorn,
            self.gunicorn_log,
        )

    def _start_nginx(self) -> None:
        prefix = self.nginx_prefix
        for sub in ("logs", "temp", "html"):
            (prefix / sub).mkdir(parents=True, exist_ok=True)
        write_self_signed_cert(prefix / "tls")
        write_static_site(prefix / "html")
        conf = prefix / "nginx.conf"
        conf.write_text(
            render_nginx_conf(
                NGINX_CONF.read_text(encoding="utf-8"),
                prefix=prefix,
                https_port=self.https_port,
                http_port=self.http_port,
                upstream=f"127.0.0.1:{self.app_port}",
                static_root=prefix / "html",
                upstream_source=self.upstream_source,
                more_upstreams=self.more_upstreams,
            ),
            encoding="utf-8",
        )
        stderr_log = prefix / "logs" / "stderr.log"
        args = [str(NGINX), "-p", f"{prefix}/", "-c", str(conf), "-e", str(stderr_log)]
        check = subprocess.run([*args, "-t", "-q"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{check.stderr}\n{_tail(stderr_log)}")
        with stderr_log.open("ab") as log:
            self.nginx = subprocess.Popen(
                [*args, "-g", "daemon off;"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready("nginx", f"{self.url}/healthz", self.nginx, stderr_log)

    def _wait_ready(
        self,
        name: str,
        url: str,
        process: subprocess.Popen[bytes],
        log: Path,
        timeout: float = 30.0,
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited ({process.returncode}):\n{_tail(log)}")
            try:
                if requests.get(url, timeout=2, verify=str(self.ca_file)).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{url} not ready in {timeout} s:\n{_tail(log)}")

    # -- using it ----------------------------------------------------------------------
    def fieldtrace(self, *args: str, stdin: str | None = None) -> str:
        """Run the ``fieldtrace`` CLI against this stack's configuration; returns stdout."""
        done = subprocess.run(
            [sys.executable, "-m", "server.cli", *args],
            cwd=REPO, env=self.env, input=stdin, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"fieldtrace {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout

    def create_user(self, username: str, role: str = "officer", unit: str = "U1") -> None:
        self.fieldtrace(
            "user", "create", "--username", username, "--role", role,
            "--name", username.title(), "--unit", unit, "--password-stdin",
            stdin=PASSWORD + "\n",
        )  # fmt: skip

    def session(self) -> requests.Session:
        """A requests session that trusts this stack's certificate (and ignores *_CA_BUNDLE)."""
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.ca_file)
        return session

    def login(self, session: requests.Session, username: str) -> str:
        """Sign in through nginx; the session sends the bearer token from now on."""
        resp = session.post(
            f"{self.url}/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        )
        resp.raise_for_status()
        token = resp.json()["token"]
        session.headers["Authorization"] = f"Bearer {token}"
        return token

    def worker_pids(self) -> list[int]:
        """gunicorn's worker processes (children of the master)."""
        assert self.gunicorn is not None
        master = str(self.gunicorn.pid)
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == master:
                pids.append(int(stat.parent.name))
        return pids


def open_case(session: requests.Session, url: str, title: str = "无证经营检查") -> int:
    """Open a case as the session's user; returns its id."""
    resp = session.post(f"{url}/api/v1/cases", json={"title": title, "case_type": "市场监管"})
    resp.raise_for_status()
    return int(resp.json()["id"])


def write_random_file(path: Path, size: int) -> str:
    """``size`` random bytes at ``path``; returns their SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as fh:
        left = size
        while left:
            block = os.urandom(min(16 * MiB, left))
            digest.update(block)
            fh.write(block)
            left -= len(block)
    return digest.hexdigest()


def upload_metadata(case_id: int, sha256: str, filename: str = "VID_0001.mp4") -> dict[str, str]:
    """tus ``Upload-Metadata`` for a video recorded now, in case ``case_id``."""
    return {
        "filename": filename,
        "content_type": "video/mp4",
        "case_id": str(case_id),
        "stage": "filing",
        "activity": "onsite_inspection",
        "captured_at": clock.local_now().replace(microsecond=0).isoformat(),
        "sha256": sha256,
        "device_id": "phone-1",
        "sent_at": clock.now().isoformat(),
    }


@dataclass(frozen=True)
class TusResult:
    """Where a finished tus upload ended: its URL, final offset and media item."""

    url: str
    offset: int
    media_item_id: str


def tus_upload(
    url: str,
    headers: Mapping[str, str],
    stream: IO[bytes],
    metadata: Mapping[str, str],
    chunk_size: int,
) -> TusResult:
    """Upload ``stream`` with tuspy (the server's CA must be in ``REQUESTS_CA_BUNDLE``)."""
    from tusclient.client import TusClient

    client = TusClient(f"{url}/api/v1/uploads/", headers=dict(headers))
    uploader: Any = client.uploader(
        file_stream=stream, chunk_size=chunk_size, metadata=dict(metadata), retries=0
    )
    uploader.upload()
    return TusResult(
        url=uploader.url,
        offset=uploader.offset,
        media_item_id=uploader.request.response_headers.get("fieldtrace-media-id", ""),
    )
