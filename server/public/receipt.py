"""存证回执核验: anyone checks an officer's receipt (uploaded or pasted) against the unit's
published keys and the audit log as it stands now; the verdict and the reasons are said in
Chinese, then English.

Only what the receipt itself states is shown back (item id, hashes, times, stage, log
index): no name of a party or an officer, nothing looked up beyond valid or invalid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import make_response, render_template, request

from .. import clock
from ..extensions import db
from ..runtime import runtime
from ..services import audit, receipts
from . import bp
from .disclosure import _HEADERS

_NO_STORE = {**_HEADERS, "Cache-Control": "no-store"}


def beijing_time(value: Any) -> str:
    """A receipt's ISO time as Beijing time to the second (the receipt keeps the exact one)."""
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "—")
    if at.tzinfo is None:
        return str(value)
    return clock.local(at).strftime("%Y-%m-%d %H:%M:%S")


def _page(**context: Any):
    context["beijing_time"] = beijing_time
    response = make_response(render_template("public/receipt.html", **context))
    response.headers.update(_NO_STORE)
    return response


@bp.get("/receipt")
def receipt_form():
    return _page(check=None, problem=None, pasted="")


@bp.post("/receipt")
def receipt_check():
    upload = request.files.get("file")
    pasted = (request.form.get("receipt") or "").strip()
    raw: bytes | str = ""
    if upload is not None and upload.filename:
        raw = upload.stream.read(receipts.MAX_RECEIPT_BYTES + 1)
    elif pasted:
        raw = pasted
    if not raw:
        return _page(check=None, problem="empty", pasted="")
    try:
        document = receipts.parse(raw)
    except (ValueError, UnicodeDecodeError):
        return _page(check=None, problem="unreadable", pasted=pasted[:4000])
    keys = [k["public_key"] for k in audit.signing_keys(db.session, runtime().signer)]
    check = receipts.check_online(db.session, keys, document)
    db.session.rollback()  # reading only (the signer may have made its key file)
    return _page(check=check, problem=None, pasted="")


# Rows for the OpenAPI document, in the format of ``api.openapi_workflow.add_paths``.
OPENAPI_ROWS: tuple[tuple[str, str, str, str | None, str | None, tuple[int, ...], bool], ...] = (
    (
        "/public/receipt",
        "get",
        "The public receipt check (存证回执核验): a form to upload or paste a receipt",
        None,
        "text/html",
        (),
        True,
    ),
    (
        "/public/receipt",
        "post",
        "Check a receipt (multipart file or pasted text): valid or invalid, and why",
        None,
        "text/html",
        (),
        True,
    ),
)
