"""A web node or a job worker in a process of its own, for tests that kill it with SIGKILL.

    proc = Node.start("web", app_config)   # werkzeug, threaded, on a free port: proc.url
    proc = Node.start("worker", app_config, slow_derive_s=60)
    proc.kill()                            # SIGKILL: no cleanup of any kind

The app is built from the test's own config (same database, S3 and queue), so the node and the
test's in-process app act as two nodes of one cluster. ``slow_derive_s`` holds every derive
step that long, so a test can kill a worker mid-transcode.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from server.storage.embedded import free_ports

ROOT = Path(__file__).resolve().parent.parent
_CONFIG_ENV = "FIELDTRACE_TEST_NODE_CONFIG"


@dataclass
class Node:
    proc: subprocess.Popen[bytes]
    url: str | None
    log: Path

    @classmethod
    def start(
        cls, role: str, config: dict[str, Any], *, log: Path, slow_derive_s: float = 0
    ) -> Node:
        port = free_ports(1)[0] if role == "web" else 0
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDTRACE_")}
        env[_CONFIG_ENV] = json.dumps(
            {k: str(v) if isinstance(v, Path) else v for k, v in config.items()}
        )
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.node", role, str(port), str(slow_derive_s)],
                env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        node = cls(proc, f"http://127.0.0.1:{port}" if role == "web" else None, log)
        if node.url:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, f"node exited:\n{log.read_text()[-3000:]}"
                try:
                    if requests.get(node.url + "/healthz", timeout=5).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline, f"node not up:\n{log.read_text()[-3000:]}"
                time.sleep(0.1)
        return node

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def _main(role: str, port: int, slow_derive_s: float) -> None:
    from werkzeug.serving import make_server

    from server import create_app

    config = json.loads(os.environ[_CONFIG_ENV])
    app = create_app(**config)
    if slow_derive_s:
        from media_pipeline import derive

        real = derive.make_web_proxy

        def slow_proxy(*args: Any, **kwargs: Any) -> Any:
            print("derive: holding", flush=True)
            time.sleep(slow_derive_s)
            return real(*args, **kwargs)

        derive.make_web_proxy = slow_proxy  # type: ignore[assignment]
    if role == "web":
        make_server("127.0.0.1", port, app, threaded=True).serve_forever()
    else:
        app.extensions["fieldtrace"].jobs.consumer(workers=1, periodic=False).run()


if __name__ == "__main__":
    _main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
