"""Public, unauthenticated pages under ``/public/``: server-rendered HTML, no login, no JS."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("public", __name__, url_prefix="/public", template_folder="templates")

# Registers the routes on bp.
from . import credentials, disclosure, documents, keys, log, receipt, reports  # noqa: E402, F401
