"""Uploads survive what really happens to them: a server killed mid-upload, and cut connections.

1. gunicorn (gthread) is SIGKILLed while a 40 MiB PATCH is streaming; a new gunicorn on the
   same database and S3 takes over; the client asks HEAD where to go on, waits until the dead
   process's lease has been silent 5 s (423; not its 60 s), finishes, and a separate ``fieldtrace worker`` verifies the item.
2. The client drops its connection in the middle of a PATCH body at 20+ reproducible random
   offsets of a 20 MiB file (server alive); after each cut it resumes from the server's offset.
3. A client that stalls mid-body must not hold up anyone else's request.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from server import create_app
from server.extensions import db
from server.storage.embedded import EmbeddedSeaweed, free_ports
from tests import tus_helpers as tus
from tests.conftest import S3_KEY, S3_SECRET, Users, open_case

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
PART = 8 * MIB  # FIELDTRACE_S3_PART_SIZE default; part_size_for() keeps it for these sizes
PASSWORD = "restart-test-password"


# -- a minimal HTTP/tus client on plain sockets ------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Endpoint:
    host: str
    port: int
    token: str = ""
    sent: int = 0  # PATCH body bytes put on the wire, over all requests
    statuses: list[int] = field(default_factory=list)

    @classmethod
    def from_url(cls, base: str, token: str = "") -> Endpoint:
        parts = urlsplit(base)
        assert parts.hostname is not None and parts.port is not None
        return cls(parts.hostname, parts.port, token)

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        timeout: float = 60.0,
        **headers: str,
    ) -> Reply:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers={**self._auth(), **headers})
            resp = conn.getresponse()
            data = resp.read()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    def json(self, method: str, path: str, payload: Any = None) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        reply = self.request(method, path, body, **{"Content-Type": "application/json"})
        assert reply.status < 300, (reply.status, reply.body[:500])
        return json.loads(reply.body)

    def head_offset(self, location: str) -> int:
        reply = self.request("HEAD", location, **tus.TUS)
        assert reply.status == 200, reply
        return int(reply.header("Upload-Offset") or -1)

    def open_patch(self, location: str, offset: int, length: int) -> socket.socket:
        """Start a PATCH whose body will be ``length`` bytes; the caller writes the body."""
        sock = socket.create_connection((self.host, self.port), timeout=60)
        head = (
            f"PATCH {location} HTTP/1.1\r\n"
            f"Host: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\n"
            "Tus-Resumable: 1.0.0\r\n"
            "Content-Type: application/offset+octet-stream\r\n"
            f"Upload-Offset: {offset}\r\n"
            f"Content-Length: {length}\r\n"
            "Connection: close\r\n\r\n"
        )
        sock.sendall(head.encode())
        return sock

    def write(self, sock: socket.socket, data: bytes | memoryview) -> None:
        sock.sendall(data)
        self.sent += len(data)

    @staticmethod
    def read_reply(sock: socket.socket) -> Reply:
        resp = http.client.HTTPResponse(sock)
        try:
            resp.begin()
            data = resp.read()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            resp.close()

    def patch(self, location: str, offset: int, data: bytes | memoryview) -> Reply | None:
        """A whole PATCH; None when the server hung up before answering (e.g. an early 423)."""
        sock = self.open_patch(location, offset, len(data))
        try:
            view = memoryview(data)
            for start in range(0, len(view), MIB):
                self.write(sock, view[start : start + MIB])
            reply = self.read_reply(sock)
        except OSError:
            return None
        finally:
            sock.close()
        self.statuses.append(reply.status)
        return reply

    def wait_offset(self, location: str, target: int, timeout: float = 10.0) -> int:
        """HEAD until the offset reaches ``target``; the last offset seen if it does not."""
        deadline = time.monotonic() + timeout
        while (offset := self.head_offset(location)) < target and time.monotonic() < deadline:
            time.sleep(0.02)
        return offset

    def settle(self, location: str, timeout: float = 30.0) -> int:
        """Wait until no request holds the upload, and return its offset.

        A PATCH with an empty body takes the upload's lease and gives it back at once: 423 while
        another request (or the lease of a dead process) holds it, 409 when the offset moved.
        """
        deadline = time.monotonic() + timeout
        while True:
            offset = self.head_offset(location)
            reply = self.patch(location, offset, b"")
            if reply is not None and reply.status == 204:
                assert int(reply.header("Upload-Offset") or -1) == offset
                return offset
            assert reply is None or reply.status in (409, 423), reply
            assert time.monotonic() < deadline, "the upload stayed locked"
            time.sleep(0.05)


def create_upload(ep: Endpoint, case_id: int, data: bytes, filename: str) -> str:
    meta = tus.metadata(case_id, data, filename=filename, content_type="video/mp4")
    reply = ep.request(
        "POST", "/api/v1/uploads/", b"",
        **tus.TUS, **{"Upload-Length": str(len(data)), "Upload-Metadata": tus.encode(meta)},
    )  # fmt: skip
    assert reply.status == 201, reply
    location = reply.header("Location")
    assert location and location.startswith("/api/v1/uploads/")
    return location


def download_sha256(ep: Endpoint, item_id: str) -> str:
    reply = ep.request("GET", f"/api/v1/media/{item_id}/original")
    assert reply.status == 200, reply.status
    return hashlib.sha256(reply.body).hexdigest()


# -- processes ---------------------------------------------------------------------------------


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process started with start_new_session=True and everything it forked.

    Only while we have not reaped it: until then its pid (= its group id) cannot be reused.
    """
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        kill_group(proc)


@dataclass
class Deployment:
    data_dir: Path
    env: dict[str, str]
    log: Path
    procs: list[subprocess.Popen[bytes]]

    def run_cli(self, *args: str, stdin: str | None = None) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "server.cli", *args],
            env=self.env, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        assert proc.returncode == 0, f"fieldtrace {' '.join(args)}:\n{proc.stdout}{proc.stderr}"
        return proc.stdout

    def spawn(self, *argv: str) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            proc = subprocess.Popen(
                list(argv), env=self.env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.procs.append(proc)
        return proc

    def gunicorn(self) -> tuple[subprocess.Popen[bytes], Endpoint]:
        port = free_ports(1)[0]
        proc = self.spawn(
            sys.executable, "-m", "gunicorn", "server.wsgi:app", "-k", "gthread",
            "--workers", "1", "--threads", "4", "--bind", f"127.0.0.1:{port}",
            "--timeout", "120", "--graceful-timeout", "1",
        )  # fmt: skip
        ep = Endpoint("127.0.0.1", port)
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"gunicorn exited:\n{self.log.read_text()[-3000:]}"
            try:
                if ep.request("GET", "/readyz").status == 200:
                    return proc, ep
            except OSError:
                pass
            assert time.monotonic() < deadline, f"gunicorn not ready:\n{self.log.read_text()}"
            time.sleep(0.1)


@pytest.fixture
def deployment(
    tmp_path: Path, seaweed: EmbeddedSeaweed, spawned: list[subprocess.Popen[bytes]]
) -> Deployment:
    """A data dir with a migrated SQLite database, fresh buckets and one officer."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    suffix = uuid.uuid4().hex[:8]
    settings = {
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite:///{data_dir / 'fieldtrace.db'}",
        "SECRET_KEY": "restart-test-secret",
        "S3_ENDPOINT_URL": seaweed.endpoint_url,
        "S3_ACCESS_KEY": S3_KEY,
        "S3_SECRET_KEY": S3_SECRET,
        "S3_BUCKET_ORIGINALS": f"rorig-{suffix}",
        "S3_BUCKET_QUARANTINE": f"rquar-{suffix}",
        "S3_BUCKET_DERIVATIVES": f"rderiv-{suffix}",
        "S3_BUCKET_STAGING": f"rstage-{suffix}",
        "RETENTION_DAYS": "1",
        # A lease of a minute: only its dead holder's silence can free it in time (below).
        "UPLOAD_LOCK_SECONDS": "60",
        "REQUIRE_CREDENTIAL": "false",  # officers here hold no 执法证; 持证上岗 is tested elsewhere
    }
    # No FIELDTRACE_QUEUE_URL: the embedded SQLite Huey queue file in the data dir.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDTRACE_")}
    env.update({f"FIELDTRACE_{k}": v for k, v in settings.items()})
    dep = Deployment(data_dir, env, tmp_path / "processes.log", spawned)
    dep.run_cli("db", "upgrade")

    # What `fieldtrace serve` does before it starts gunicorn: create the buckets.
    overrides: dict[str, Any] = {k: v for k, v in settings.items() if k.startswith("S3_")}
    overrides.update(
        SECRET_KEY=settings["SECRET_KEY"],
        DATA_DIR=data_dir,
        SQLALCHEMY_DATABASE_URI=settings["DATABASE_URL"],
        SIGNING_KEY_FILE=data_dir / "audit-signing-key.pem",
    )
    app = create_app(**overrides)
    with app.app_context():
        app.extensions["fieldtrace"].storage.ensure_buckets()
        db.engine.dispose()

    out = dep.run_cli(
        "user", "create", "--username", "wang", "--role", "officer", "--name", "王警官",
        "--unit", "U1", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert "created officer wang" in out
    return dep


# -- 1. the server dies mid-upload ---------------------------------------------------------------


def test_upload_survives_sigkill_of_gunicorn(deployment: Deployment) -> None:
    size = 40 * MIB
    data = random.Random(4040).randbytes(size)
    digest = hashlib.sha256(data).hexdigest()

    first, ep = deployment.gunicorn()
    login = {"username": "wang", "password": PASSWORD}
    ep.token = ep.json("POST", "/api/v1/auth/login", login)["token"]
    case = ep.json("POST", "/api/v1/cases", {"title": "夜间噪声检查", "case_type": "环境保护"})
    location = create_upload(ep, case["id"], data, "VID_RESTART.mp4")

    # Stream the body from a thread: 20 MiB briskly, then a trickle that never finishes.
    sock = ep.open_patch(location, 0, size)
    view = memoryview(data)
    stop = threading.Event()

    def send() -> None:
        try:
            while ep.sent < 20 * MIB and not stop.is_set():
                ep.write(sock, view[ep.sent : ep.sent + 512 * 1024])
                time.sleep(0.005)
            while ep.sent < size - 4 * MIB and not stop.is_set():
                ep.write(sock, view[ep.sent : ep.sent + 64 * 1024])
                time.sleep(0.025)
        except OSError:
            pass  # the server was killed under us

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        deadline = time.monotonic() + 30
        while ep.sent < 20 * MIB:
            assert time.monotonic() < deadline, "could not send 20 MiB"
            time.sleep(0.01)
        # Wait until the server has stored a whole part (HEAD answers during the PATCH)...
        while (stored := ep.head_offset(location)) < PART:
            assert time.monotonic() < deadline, "no part was stored while streaming"
            time.sleep(0.05)
        # ...and kill master and worker: no cleanup, the lease stays in the database.
        kill_group(first)
        killed = time.monotonic()
    finally:
        stop.set()
        sender.join(10)
        sock.close()
    assert first.returncode == -signal.SIGKILL
    sent_before_kill = ep.sent
    assert 20 * MIB <= sent_before_kill <= size - 4 * MIB

    second, ep2 = deployment.gunicorn()
    assert second.pid != first.pid
    ep2.token, ep2.sent = ep.token, ep.sent  # tokens live in the database: still valid

    offset = ep2.head_offset(location)
    # A killed process leaves only whole parts (its in-memory buffer and tail are gone).
    assert stored <= offset <= sent_before_kill  # what was committed survived the kill
    assert offset % PART == 0

    # The dead worker's lease (60 s) is still running: 423 until its hold has been silent
    # UPLOAD_HOLDER_STALE_S (5 s), then ours; the new gunicorn's start-up counts towards it.
    resumed_at = ep2.settle(location)
    assert resumed_at == offset
    taken_over_s = time.monotonic() - killed
    assert taken_over_s < 15, f"the dead process's lease was not taken over ({taken_over_s:.1f} s)"
    print(f"lease of the killed gunicorn taken over {taken_over_s:.1f} s after the kill")
    reply = ep2.patch(location, resumed_at, view[resumed_at:])
    assert reply is not None and reply.status == 204, reply
    assert reply.header("Upload-Offset") == str(size)
    item_id = reply.header("Fieldtrace-Media-Id")
    assert item_id
    # Sent twice: only what the killed process had not yet stored as a part.
    resent = ep2.sent - size
    assert resent == sent_before_kill - offset < sent_before_kill

    status = ep2.json("GET", location)
    assert status["status"] == "completed" and status["offset"] == size
    assert status["media_status"] == "received"  # no worker has run yet

    # A separate worker process takes the queued verify job from the SQLite queue file.
    deployment.spawn(sys.executable, "-m", "server.cli", "worker", "--workers", "1")
    deadline = time.monotonic() + 60
    while (item := ep2.json("GET", f"/api/v1/media/{item_id}"))["status"] == "received":
        assert time.monotonic() < deadline, f"not verified:\n{deployment.log.read_text()[-3000:]}"
        time.sleep(0.2)
    assert item["status"] == "verified", item
    assert item["server_sha256"] == item["device_sha256"] == digest
    assert item["size"] == size and item["locked_until"] is not None
    assert download_sha256(ep2, item_id) == digest


# -- 2. the client's connection is cut, again and again ----------------------------------------


def test_upload_resumes_after_many_client_cuts(live_server: str, client: Any, users: Users) -> None:
    size = 20 * MIB
    rng = random.Random(2020)
    data = rng.randbytes(size)
    # Random cut points, plus a few at and around a part boundary.
    cuts = sorted({*rng.sample(range(1, size), 22), PART - 1, PART, PART + 1, 2 * PART + 7})
    assert len(cuts) >= 20

    officer = users.create("zhao")
    case = open_case(client, officer)
    ep = Endpoint.from_url(live_server, officer.token)
    location = create_upload(ep, case["id"], data, "VID_CUTS.mp4")
    view = memoryview(data)

    offset = 0
    lost = 0
    kept_exactly = 0
    for n, cut in enumerate(cuts):
        assert offset <= cut
        # The PATCH announces the whole rest of the file but the client stops at ``cut``.
        sock = ep.open_patch(location, offset, size - offset)
        ep.write(sock, view[offset:cut])
        if n % 2:
            # Half close: the server sees the body end early and answers where it stands.
            sock.shutdown(socket.SHUT_WR)
            reply = ep.read_reply(sock)
            sock.close()
            assert reply.status == 204, reply
            new_offset = int(reply.header("Upload-Offset") or -1)
            assert new_offset == cut, "a cut PATCH must keep every byte that arrived"
        else:
            # Full close, no answer read: as when a phone loses the network. The server goes on
            # with that request for a moment; wait until HEAD shows what it kept (or until it
            # is clearly done without reaching the cut) and its lease is free.
            sock.close()
            ep.wait_offset(location, cut)
            new_offset = ep.settle(location)
        assert new_offset <= cut, "the server claims bytes that were never sent"
        assert new_offset >= offset
        lost += cut - new_offset
        kept_exactly += new_offset == cut
        offset = new_offset
        assert ep.head_offset(location) == offset

    reply = ep.patch(location, offset, view[offset:])
    assert reply is not None and reply.status == 204, reply
    item_id = reply.header("Fieldtrace-Media-Id")
    assert item_id

    resent = ep.sent - size
    assert resent == lost
    assert resent <= len(cuts) * PART  # at worst one part per cut is sent again
    # In fact none: a connection closed in an orderly way delivers every byte written before
    # the close, and the server keeps them all (parts plus the stored tail).
    assert kept_exactly == len(cuts) and resent == 0

    item = ep.json("GET", f"/api/v1/media/{item_id}")
    digest = hashlib.sha256(data).hexdigest()
    assert item["status"] == "verified", item
    assert item["server_sha256"] == item["device_sha256"] == digest
    assert download_sha256(ep, item_id) == digest


# -- 3. a client that stalls mid-body ------------------------------------------------------------


def test_stalled_patch_does_not_block_other_requests(
    live_server: str, client: Any, users: Users
) -> None:
    size = 12 * MIB
    data = random.Random(1212).randbytes(size)
    officer = users.create("qian")
    case = open_case(client, officer)
    ep = Endpoint.from_url(live_server, officer.token)
    location = create_upload(ep, case["id"], data, "VID_STALL.mp4")

    # A phone that sent 4 MiB and then went quiet (weak signal), its connection still open.
    sock = ep.open_patch(location, 0, size)
    try:
        ep.write(sock, memoryview(data)[: 4 * MIB])
        time.sleep(0.5)
        # Meanwhile anyone else's request must be answered promptly.
        reply = ep.request("HEAD", location, timeout=3, **tus.TUS)
        assert reply.status == 200
    finally:
        sock.close()
        assert ep.wait_offset(location, 4 * MIB) == 4 * MIB  # the cut kept what arrived
