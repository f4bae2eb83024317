"""The party's copy of an enforcement document, opened from the officer's QR code."""

from __future__ import annotations

from flask import Response, request

from ..errors import NotFound
from ..extensions import db
from ..runtime import runtime
from ..services.documents import open_handover
from . import bp


@bp.get("/documents/<token>")
def handover_document(token: str):
    """Serves the PDF; the first opening is the custody event 出具执法文书."""
    try:
        doc = open_handover(db.session, token, client_addr=request.remote_addr or "")
    except NotFound:
        db.session.rollback()
        page = (
            '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            "<title>链接已失效</title><main><h1>链接无效或已过期</h1>"
            "<p>请向执法人员索取新的二维码。The link is invalid or has expired.</p></main>"
        )
        return Response(page, status=404, mimetype="text/html")
    data = runtime().storage.get_bytes(
        doc.bucket or "", doc.object_key or "", version_id=doc.object_version
    )
    db.session.commit()
    return Response(
        data,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{doc.doc_type}.pdf"',
            "Cache-Control": "no-store",
            "X-Content-SHA256": doc.sha256 or "",
        },
    )
