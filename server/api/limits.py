"""Request-size limits the app enforces itself, answered in the API's JSON error form.

- A body sent without Content-Length (``Transfer-Encoding: chunked``) is held to the route's
  limit too: Werkzeug would silently cut such a body at the limit (and the JSON parser then
  says 400 "not JSON"); here it is 413 like a declared one.
- Request headers: any one line longer than ``MAX_HEADER_LINE`` or all of them together longer
  than ``MAX_HEADER_BYTES`` get 431. nginx (the shipped ``nginx.conf``) refuses larger ones
  first and maps its own answer to this form; gunicorn's own limits (``fieldtrace serve`` sets
  ``--limit-request-field_size`` above ``MAX_HEADER_LINE``) answer in gunicorn's plain text,
  which only a client talking to gunicorn directly can reach.
- A body the app refused without reading (a tus PATCH at the wrong offset, an expired token)
  is read and dropped after the answer has gone out, up to ``DRAIN_MAX_BYTES`` and
  ``DRAIN_SECONDS``. Closing the connection on unread bytes (gunicorn 27 keeps at most 64 KiB)
  resets it under nginx while nginx is still sending, which nginx counts as a node failure and
  answers 502; with several nodes that takes a healthy node out.
"""

from __future__ import annotations

import io
import time
from typing import IO

from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge, RequestHeaderFieldsTooLarge

MAX_HEADER_LINE = 8 * 1024  # as nginx's large_client_header_buffers (4 8k)
MAX_HEADER_BYTES = 32 * 1024
GUNICORN_FIELD_LIMIT = 16 * 1024  # above MAX_HEADER_LINE, so the app answers first
_READ = 64 * 1024
DRAIN_MAX_BYTES = 64 * 1024 * 1024  # above any tus chunk a client sends (the PWA: 8 MiB)
DRAIN_SECONDS = 30.0


def register_limits(app: Flask) -> None:
    """After ``register_api``: its own hook sets each route's ``max_content_length`` first."""

    @app.before_request
    def _header_limit() -> None:
        total = 0
        for name, value in request.headers.items():
            line = len(name) + len(value) + 4
            if line > MAX_HEADER_LINE:
                raise RequestHeaderFieldsTooLarge(
                    f"请求头 {name} 过长 / the {name} header is longer than {MAX_HEADER_LINE} bytes"
                )
            total += line
        if total > MAX_HEADER_BYTES:
            raise RequestHeaderFieldsTooLarge(
                f"请求头过大 / the request headers exceed {MAX_HEADER_BYTES} bytes"
            )

    @app.before_request
    def _chunked_body_limit() -> None:
        limit = request.max_content_length
        if (
            limit is None
            or request.content_length is not None
            or request.blueprint == "uploads"  # tus streams its bodies; it has its own limits
            or "chunked" not in request.headers.get("Transfer-Encoding", "").lower()
        ):
            return
        raw = request.environ["wsgi.input"]
        body = bytearray()
        while len(body) <= limit:
            chunk = raw.read(min(_READ, limit + 1 - len(body)))
            if not chunk:
                break
            body += chunk
        if len(body) > limit:
            raise RequestEntityTooLarge(
                f"请求内容过大 / the request body is larger than {limit} bytes"
            )
        # What get_data()/get_json() and request.stream (the credential photo) read from now on.
        request._cached_data = bytes(body)
        request.environ["wsgi.input"] = io.BytesIO(request._cached_data)

    @app.after_request
    def _drain_unread_body(response: Response) -> Response:
        if (
            request.content_length
            or "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        ):
            # The server's own body reader (bounded by the body's end), not request.stream,
            # which raises 413 again for a body over the route's limit.
            stream = request.environ["wsgi.input"]
            response.call_on_close(lambda: drain(stream))
        return response


def drain(stream: IO[bytes]) -> int:
    """Read what is left of a request body and drop it; bounded in bytes and time."""
    deadline = time.monotonic() + DRAIN_SECONDS
    drained = 0
    try:
        while drained < DRAIN_MAX_BYTES and time.monotonic() < deadline:
            chunk = stream.read(_READ)
            if not chunk:
                break
            drained += len(chunk)
    except (OSError, ValueError):  # the client went away, or the server closed the stream
        pass
    return drained
