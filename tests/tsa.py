"""A real RFC 3161 time-stamping authority for tests: ``openssl ts -reply`` behind HTTP.

A throw-away CA and a TSA certificate (extendedKeyUsage critical timeStamping) are made with
the openssl command line; each POSTed TimeStampReq is answered by ``openssl ts -reply``.
``fail`` makes it answer 503, as a TSA that is down would.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_CONFIG = """
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class LocalTsa:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.fail = False
        self._server: ThreadingHTTPServer | None = None

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/tsr"

    def start(self) -> LocalTsa:
        d = self.dir
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key", cwd=d)
        _openssl(
            "req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=Fieldtrace test TSA root",
            "-days", "3650", "-out", "ca.crt",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            cwd=d,
        )  # fmt: skip
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "tsa.key", cwd=d)
        _openssl("req", "-new", "-key", "tsa.key", "-subj", "/CN=Fieldtrace test TSA",
                 "-out", "tsa.csr", cwd=d)  # fmt: skip
        (d / "ext.cnf").write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=critical,timeStamping\n"
        )
        _openssl(
            "x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "3650", "-extfile", "ext.cnf", "-out", "tsa.crt",
            cwd=d,
        )  # fmt: skip
        (d / "serial").write_text("01\n")
        (d / "tsa.cnf").write_text(_CONFIG.format(dir=d))
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if tsa.fail:
                    self.send_response(503)
                    self.end_headers()
                    return
                with tempfile.TemporaryDirectory(dir=d) as work:
                    (Path(work) / "q.tsq").write_bytes(query)
                    done = subprocess.run(
                        ["openssl", "ts", "-reply", "-config", str(d / "tsa.cnf"),
                         "-queryfile", "q.tsq", "-out", "r.tsr"],
                        cwd=work, capture_output=True,
                    )  # fmt: skip
                    reply = (Path(work) / "r.tsr").read_bytes() if done.returncode == 0 else b""
                self.send_response(200 if reply else 400)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
