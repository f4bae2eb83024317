"""`fieldtrace serve` (what `make run` starts) comes up on the embedded default and stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from server.storage.embedded import free_ports


def _cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env=env,
        input=stdin,
        text=True,
        capture_output=True,
        timeout=60,
    )


def _get(url: str, token: str | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_serve_runs_embedded_stack_and_stops(tmp_path: Path):
    port = free_ports(1)[0]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FIELDTRACE_")},
        "FIELDTRACE_DATA_DIR": str(tmp_path / "data"),
        "FIELDTRACE_PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--web-workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            try:
                status, body = _get(f"{base}/readyz")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert status == 200 and body["checks"] == {
            "database": "ok",
            "storage": "ok",
            "queue": "ok",
        }

        created = _cli(
            env,
            "user",
            "create",
            "--username",
            "li",
            "--role",
            "officer",
            "--name",
            "李明",
            "--unit",
            "SH",
            "--password-stdin",
            stdin="a-long-password\n",
        )
        assert created.returncode == 0, created.stderr
        req = urllib.request.Request(
            f"{base}/api/v1/auth/login",
            data=json.dumps({"username": "li", "password": "a-long-password"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            token = json.loads(resp.read())["token"]
        assert _get(f"{base}/api/v1/auth/me", token) == (
            200,
            _get(f"{base}/api/v1/auth/me", token)[1],
        )
        assert _get(f"{base}/api/v1/auth/me", token)[1]["name"] == "李明"
        assert _get(f"{base}/api/v1/cases")[0] == 401
        verify = _cli(env, "audit", "verify")
        assert verify.returncode == 0 and "audit chain intact" in verify.stdout
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert f"Fieldtrace is serving on http://127.0.0.1:{port}/" in output
    assert "fieldtrace user create" in output  # tells how to create the first admin
    assert not (tmp_path / "data" / "s3-endpoint").exists()
