"""Real tus clients against the server on a real socket: tuspy (Python) and tus-js-client (Node).

Each file is a real recording made here (Pillow JPEG, ffmpeg MP4 with H.264/AAC, ffmpeg M4A),
sent in several PATCH requests, and must end as a verified media item whose server hash is the
local SHA-256 and whose original downloads back byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image
from tusclient.client import TusClient

from tests import tus_helpers as tus
from tests.conftest import Actor, Users, open_case

JS_DIR = Path(__file__).with_name("js")
JS_SCRIPT = JS_DIR / "tus_upload.mjs"
MAX_CHUNK = 256 * 1024


@dataclass(frozen=True)
class Recording:
    path: Path
    content_type: str

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def chunk_size_for(size: int) -> int:
    """At most 256 KiB, and small enough that the file needs at least four PATCH requests."""
    return min(MAX_CHUNK, max(1024, -(-size // 4)))


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", *args],
        check=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Recording]:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (make system-deps installs Debian ffmpeg)")
    out = tmp_path_factory.mktemp("recordings")
    rng = random.Random(20240611)

    photo = out / "IMG_0001.jpg"
    width, height = 800, 600
    # Noise compresses badly, so the JPEG is about 1 MB: several PATCHes of 256 KiB.
    Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3)).save(
        photo, "JPEG", quality=92
    )

    video = out / "VID_0001.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25:duration=2",
        "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
        "-c:v", "libx264", "-b:v", "4M", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(video),
    )  # fmt: skip

    audio = out / "AUD_0001.m4a"
    _ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=1000:duration=6",
        "-c:a", "aac", "-b:a", "192k", str(audio),
    )  # fmt: skip

    result = {
        "photo": Recording(photo, "image/jpeg"),
        "video": Recording(video, "video/mp4"),
        "audio": Recording(audio, "audio/mp4"),
    }
    for rec in result.values():
        assert rec.path.stat().st_size > 16 * 1024, rec
    return result


def assert_verified(base: str, actor: Actor, item_id: str, rec: Recording) -> dict[str, Any]:
    """The item is verified, the server hashed what the device hashed, and the bytes round-trip."""
    resp = requests.get(f"{base}/api/v1/media/{item_id}", headers=actor.headers, timeout=30)
    assert resp.status_code == 200, resp.text
    item: dict[str, Any] = resp.json()
    assert item["status"] == "verified", item
    assert item["server_sha256"] == item["device_sha256"] == rec.sha256
    assert item["hashes_match"] is True
    assert item["size"] == rec.path.stat().st_size
    assert item["claimed_content_type"] == rec.content_type
    assert item["locked_until"] is not None
    original = requests.get(
        f"{base}/api/v1/media/{item_id}/original", headers=actor.headers, timeout=60
    )
    assert original.status_code == 200
    assert hashlib.sha256(original.content).hexdigest() == rec.sha256
    assert original.content == rec.data
    return item


def _metadata(case_id: int, rec: Recording) -> dict[str, str]:
    return tus.metadata(
        case_id, rec.data, filename=rec.path.name, content_type=rec.content_type,
        stage="filing", activity="evidence_collection",
    )  # fmt: skip


def _upload_status(base: str, actor: Actor, url: str) -> dict[str, Any]:
    absolute = url if url.startswith("http") else base + url
    resp = requests.get(absolute, headers=actor.headers, timeout=30)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


# -- (a) tuspy ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "checksum"), [("photo", False), ("video", True), ("audio", False)]
)
def test_tuspy_uploads_are_verified(
    live_server: str,
    client: Any,
    users: Users,
    recordings: dict[str, Recording],
    kind: str,
    checksum: bool,
) -> None:
    officer = users.create("tuspy")
    case = open_case(client, officer)
    rec = recordings[kind]
    size = rec.path.stat().st_size
    chunk = chunk_size_for(size)

    tus_client = TusClient(f"{live_server}/api/v1/uploads/", headers=officer.headers)
    # A stream we own: with file_path= tuspy opens the file per request and never closes it.
    with rec.path.open("rb") as stream:
        uploader = tus_client.uploader(
            file_stream=stream,
            chunk_size=chunk,
            metadata=_metadata(case["id"], rec),
            upload_checksum=checksum,  # tuspy sends "Upload-Checksum: sha1 ..." per PATCH
            retries=0,
        )
        uploader.set_url(uploader.create_url())  # the creation POST
        assert uploader.url.startswith(f"{live_server}/api/v1/uploads/")
        assert uploader.get_offset() == 0  # HEAD
        uploader.offset = 0
        patches = 0
        while uploader.offset < size:
            uploader.upload_chunk()
            patches += 1
            assert uploader.offset == min(size, patches * chunk)
    assert patches >= 4
    assert uploader.request is not None
    item_id = uploader.request.response_headers["fieldtrace-media-id"]

    status = _upload_status(live_server, officer, uploader.url)
    assert status["status"] == "completed" and status["offset"] == size
    assert status["media_item_id"] == item_id and status["media_status"] == "verified"
    item = assert_verified(live_server, officer, item_id, rec)
    assert item["kind"] == kind and item["filename"] == rec.path.name


# -- (b) tus-js-client ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def node() -> str:
    """The node binary, with tests/js/node_modules installed from the committed lock file."""
    node_bin = shutil.which("node")
    if node_bin is None:
        pytest.skip("node is not installed; tus-js-client tests need Node.js 18+")
    if not (JS_DIR / "node_modules" / "tus-js-client").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("tests/js/node_modules is missing and npm is unavailable (make node-deps)")
        subprocess.run(
            [npm, "ci", "--prefix", str(JS_DIR), "--no-audit", "--no-fund"],
            check=True, timeout=300, capture_output=True,
        )  # fmt: skip
    return node_bin


def run_tus_js(
    node: str,
    base: str,
    actor: Actor,
    rec: Recording,
    meta: dict[str, str],
    chunk: int,
    **env: str,
) -> dict[str, Any]:
    proc = subprocess.run(
        [node, str(JS_SCRIPT), f"{base}/api/v1/uploads/", str(rec.path), json.dumps(meta),
         str(chunk)],
        env={**os.environ, "TUS_TOKEN": actor.token, **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"node failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize(
    ("kind", "during_creation"), [("photo", False), ("video", True), ("audio", False)]
)
def test_tus_js_client_uploads_are_verified(
    live_server: str,
    client: Any,
    users: Users,
    recordings: dict[str, Recording],
    node: str,
    kind: str,
    during_creation: bool,
) -> None:
    officer = users.create("tusjs")
    case = open_case(client, officer)
    rec = recordings[kind]
    size = rec.path.stat().st_size
    chunk = chunk_size_for(size)

    env = {"TUS_DATA_DURING_CREATION": "1"} if during_creation else {}
    report = run_tus_js(node, live_server, officer, rec, _metadata(case["id"], rec), chunk, **env)

    assert report["aborted"] is False and report["size"] == size
    assert report["url"].startswith(f"{live_server}/api/v1/uploads/")
    # One request per chunk, each starting where the previous one ended, nothing sent twice.
    assert report["patchOffsets"] == list(range(0, size, chunk))
    assert report["bytesSent"] == size
    expected = "POST 201" if during_creation else "PATCH 204"
    assert report["statuses"][0] == "POST 201" and expected in report["statuses"]
    item_id = report["mediaId"]
    assert item_id
    status = _upload_status(live_server, officer, report["url"])
    assert status["media_item_id"] == item_id and status["media_status"] == "verified"
    item = assert_verified(live_server, officer, item_id, rec)
    assert item["kind"] == kind


def test_tus_js_client_resumes_from_server_offset(
    live_server: str,
    client: Any,
    users: Users,
    recordings: dict[str, Recording],
    node: str,
) -> None:
    officer = users.create("resumer")
    case = open_case(client, officer)
    rec = recordings["video"]
    size = rec.path.stat().st_size
    chunk = 128 * 1024
    assert size > 4 * chunk
    meta = _metadata(case["id"], rec)

    # Abort when the third PATCH starts sending (its first 64 KiB piece): that request is cut,
    # or never reaches the server; either way the server's offset is where to go on from.
    first = run_tus_js(
        node, live_server, officer, rec, meta, chunk, TUS_ABORT_AFTER=str(2 * chunk + 1)
    )
    assert first["aborted"] is True and first["mediaId"] is None
    url = first["url"]
    assert url.startswith(f"{live_server}/api/v1/uploads/")
    acknowledged = max(first["patchOffsets"])  # the last PATCH started where the server was
    assert 0 < acknowledged < size
    assert first["bytesSent"] < size

    second = run_tus_js(node, live_server, officer, rec, meta, chunk, TUS_UPLOAD_URL=url)
    assert second["aborted"] is False
    assert second["url"] == url, "the second run must continue the same upload"
    assert "POST 201" not in second["statuses"], "the second run must not create a new upload"
    # It asked the server where to go on (HEAD) and started exactly there, not at zero.
    assert second["statuses"][0] == "HEAD 200"
    resumed_at = second["headOffsets"][0]
    assert second["patchOffsets"][0] == resumed_at
    assert acknowledged <= resumed_at <= first["bytesSent"]
    total_sent = first["bytesSent"] + second["bytesSent"]
    assert size <= total_sent < 2 * size

    item_id = second["mediaId"]
    assert item_id
    assert_verified(live_server, officer, item_id, rec)
