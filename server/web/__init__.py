"""Serves the built officer PWA (``pwa/dist``) on the API's origin when no nginx is in front.

Production puts nginx in front (``nginx.conf`` serves the same files); ``make run`` and the
browser tests use this blueprint. Unknown ``/api/`` and ``/public/`` paths stay JSON 404s.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, current_app, send_from_directory

bp = Blueprint("pwa", __name__)

_NO_CACHE = {"index.html", "sw.js", "manifest.webmanifest", "registerSW.js"}
_HEADERS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self), microphone=(self), geolocation=(self)",
}


def _dist() -> Path:
    return Path(current_app.config["PWA_DIR"])


def _send(path: str) -> Response:
    response = send_from_directory(_dist(), path)
    if path in _NO_CACHE:
        response.headers["Cache-Control"] = "no-cache"
    elif path.startswith("assets/"):
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers.update(_HEADERS)
    return response


@bp.get("/")
def shell() -> Response:
    if not (_dist() / "index.html").is_file():
        abort(404, "the PWA is not built: run `make run` (or `npm run build --prefix pwa`)")
    return _send("index.html")


@bp.get("/<path:path>")
def asset(path: str) -> Response:
    if path.startswith(("api/", "public/")):
        abort(404)
    if (_dist() / path).is_file():
        return _send(path)
    return shell()  # the SPA routes every other path itself
