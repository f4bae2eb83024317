"""Supervisor console (issue #5): unit-wide lists, case timeline, playback URLs, annotations,
custody exports. The contract is docs/console-api.md."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request, url_for

from .. import clock
from ..extensions import db
from ..schemas import (
    BookmarkCreateSchema,
    BookmarkListSchema,
    BookmarkSchema,
    CaseSchema,
    ConsoleCaseListSchema,
    ConsoleCaseQuerySchema,
    ConsoleMediaListSchema,
    ConsoleMediaQuerySchema,
    KeyEvidenceSchema,
    MediaItemSchema,
    PlaybackUrlRequestSchema,
    PlaybackUrlSchema,
    TimelineSchema,
)
from ..services import cases as case_service
from ..services import console, custody_export, playback
from ..services.media import get_media
from .common import client_addr, current_user, load_body, login_required
from .media import audit_access, playback_or_login

bp = Blueprint("console", __name__)

CONSOLE_ROLES = tuple(console.CONSOLE_ROLES)


@bp.get("/console/cases")
@login_required(*CONSOLE_ROLES)
def cases():
    query = ConsoleCaseQuerySchema().load(request.args)
    page = console.list_cases(
        db.session,
        current_user(),
        console.Filters.from_query(query),
        page=query["page"],
        per_page=query["per_page"],
        client_addr=client_addr(),
    )
    data = ConsoleCaseListSchema().dump(page)
    db.session.commit()
    return data


@bp.get("/console/media")
@login_required(*CONSOLE_ROLES)
def media():
    query = ConsoleMediaQuerySchema().load(request.args)
    page = console.list_media(
        db.session,
        current_user(),
        console.Filters.from_query(query),
        page=query["page"],
        per_page=query["per_page"],
        client_addr=client_addr(),
    )
    data = ConsoleMediaListSchema().dump(page)
    db.session.commit()
    return data


@bp.get("/cases/<int:case_id>/timeline")
@login_required()
def timeline(case_id: int):
    found = console.timeline(db.session, current_user(), case_id, client_addr=client_addr())
    case_data = CaseSchema().dump(found.case)
    case_data["media_counts"] = case_service.media_counts(db.session, [case_id])[case_id]
    data = TimelineSchema().dump(found)
    data["case"] = case_data
    db.session.commit()
    return data


@bp.post("/media/<item_id>/playback-url")
@login_required()
def playback_url(item_id: str):
    body = load_body(PlaybackUrlRequestSchema())
    user = current_user()
    item = get_media(db.session, user, item_id)
    issued = playback.issue(
        db.session,
        user,
        item,
        body["what"],
        clock.now(),
        secret_key=current_app.config["SECRET_KEY"],
        client_addr=client_addr(),  # the link works from this address only
    )
    endpoint = {
        "original": "media.original",
        "custody.pdf": "console.custody_pdf",
        "custody.csv": "console.custody_csv",
    }.get(issued.what, f"media.derivative_{issued.what}")
    url = url_for(endpoint, item_id=item.id, pt=issued.token)
    db.session.commit()
    return PlaybackUrlSchema().dump({"url": url, "expires_at": issued.expires_at})


@bp.get("/media/<item_id>/bookmarks")
@login_required()
def bookmarks(item_id: str):
    user = current_user()
    item = get_media(db.session, user, item_id)
    found = console.list_bookmarks(db.session, user, item, client_addr=client_addr())
    data = BookmarkListSchema().dump({"items": found})
    db.session.commit()
    return data


@bp.post("/media/<item_id>/bookmarks")
@login_required(*CONSOLE_ROLES)
def add_bookmark(item_id: str):
    body = load_body(BookmarkCreateSchema())
    user = current_user()
    item = get_media(db.session, user, item_id)
    bookmark = console.add_bookmark(
        db.session, user, item, body["at_s"], body["note"], client_addr=client_addr()
    )
    data = BookmarkSchema().dump(bookmark)
    db.session.commit()
    return data, 201


@bp.post("/media/<item_id>/key-evidence")
@login_required("supervisor")
def key_evidence(item_id: str):
    body = load_body(KeyEvidenceSchema())
    user = current_user()
    item = get_media(db.session, user, item_id)
    console.mark_key_evidence(
        db.session, user, item, body["key"], body["reason"], client_addr=client_addr()
    )
    data = MediaItemSchema().dump(item)
    db.session.commit()
    return data


def _export(item_id: str, fmt: str) -> Response:
    user = current_user()
    item = get_media(db.session, user, item_id)
    download = request.args.get("download") == "1"
    audit_access(
        item,
        "custody.exported",
        {"what": f"custody.{fmt}", "format": fmt, "download": download},
        None,
    )
    lang = "en" if request.args.get("lang") == "en" else "zh"
    lines = custody_export.custody_lines(db.session, item, lang)
    if fmt == "csv":
        content, mimetype = custody_export.to_csv(lines), "text/csv; charset=utf-8"
    else:
        content = custody_export.to_pdf(
            custody_export.item_facts(db.session, item, lang),
            lines,
            generated_at=clock.now(),
            generated_by=f"{user.name} ({user.username})",
            font_path=current_app.config.get("PDF_FONT"),
            lang=lang,
        )
        mimetype = "application/pdf"
    db.session.commit()
    disposition = "attachment" if download else "inline"
    return Response(
        content,
        content_type=mimetype,
        headers={"Content-Disposition": f'{disposition}; filename="custody-{item.id}.{fmt}"'},
    )


@bp.get("/media/<item_id>/custody.csv")
@playback_or_login("custody.csv")
def custody_csv(item_id: str):
    return _export(item_id, "csv")


@bp.get("/media/<item_id>/custody.pdf")
@playback_or_login("custody.pdf")
def custody_pdf(item_id: str):
    return _export(item_id, "pdf")
