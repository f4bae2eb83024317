"""Network faults between the app and a real service, made with real sockets.

``TcpProxy`` forwards to a real server (PostgreSQL, Redis, SeaweedFS) until told to ``cut``
(close every open connection and close each new one at once: the service restarting) or to
``hang`` (keep connections open and forward nothing: a service that stopped answering), and
``heal`` again. ``SilentListener`` accepts connections and never says a word.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from typing import Literal

from server.storage.embedded import free_ports

Mode = Literal["pass", "cut", "hang"]


class SilentListener:
    """Accepts TCP connections on 127.0.0.1 and never answers (a hung service)."""

    def __init__(self) -> None:
        self.port = free_ports(1)[0]
        self._sock = socket.create_server(("127.0.0.1", self.port))
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                conn, _ = self._sock.accept()
                self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self._held:
            conn.close()
        self._sock.close()


class TcpProxy:
    """127.0.0.1:<port> → target, with faults on demand."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_ports(1)[0]
        self.mode: Mode = "pass"
        self._sock = socket.create_server(("127.0.0.1", self.port))
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket | None]] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            if self.mode == "cut":
                client.close()
                continue
            if self.mode == "hang":
                with self._lock:
                    self._pairs.append((client, None))
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.2)
                if self.mode == "hang":
                    continue  # hold what arrives; answer nothing
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        return
                    (b if src is a else a).sendall(data)
        except OSError:
            return
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()

    def _close_all(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            for s in (a, b):
                if s is not None:
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)
                    with contextlib.suppress(OSError):
                        s.close()

    def cut(self) -> None:
        """The service goes away: open connections are reset, new ones closed at once."""
        self.mode = "cut"
        self._close_all()

    def hang(self) -> None:
        """The service stops answering: connections stay open, nothing comes back."""
        self.mode = "hang"

    def heal(self) -> None:
        self.mode = "pass"

    def close(self) -> None:
        self._stop.set()
        self._close_all()
        self._sock.close()
