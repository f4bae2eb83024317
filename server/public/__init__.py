"""Public, unauthenticated pages under ``/public/``: server-rendered HTML, no login, no JS."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("public", __name__, url_prefix="/public", template_folder="templates")

from . import credentials  # noqa: E402, F401  (registers the routes on bp)
