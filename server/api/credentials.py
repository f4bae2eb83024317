"""Credentials (执法证): issue, change status, list, and the holder's 亮证 display."""

from __future__ import annotations

from typing import Any

import segno
from flask import Blueprint, current_app, request, url_for

from ..extensions import db
from ..models import utcnow
from ..schemas import (
    CredentialCreateSchema,
    CredentialDisplaySchema,
    CredentialListQuerySchema,
    CredentialListSchema,
    CredentialSchema,
    CredentialStatusChangeSchema,
)
from ..services import cases as case_service
from ..services import credentials as credential_service
from .common import client_addr, current_user, load_body, login_required

bp = Blueprint("credentials", __name__)


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


@bp.post("/credentials")
@login_required("admin")
def issue():
    body = load_body(CredentialCreateSchema())
    credential = credential_service.issue(
        db.session, current_user(), body, client_addr=client_addr()
    )
    db.session.commit()
    return CredentialSchema().dump(credential), 201


@bp.post("/credentials/<int:credential_id>/status")
@login_required("admin")
def change_status(credential_id: int):
    body = load_body(CredentialStatusChangeSchema())
    user = current_user()
    credential = credential_service.get_managed(db.session, user, credential_id)
    credential_service.change_status(
        db.session, user, credential, body["status"], body["reason"], client_addr=client_addr()
    )
    db.session.commit()
    return CredentialSchema().dump(credential)


@bp.get("/credentials")
@login_required()
def list_credentials():
    query = CredentialListQuerySchema().load(request.args)
    items = credential_service.visible(db.session, current_user(), query.get("user_id"))
    return CredentialListSchema().dump({"items": items})


def qr_svg(data: str) -> str:
    """The QR code of ``data`` as inline SVG (scalable: viewBox, no fixed size)."""
    qr = segno.make(data, error="m", micro=False)
    return qr.svg_inline(
        scale=4, border=4, dark="#000", light="#fff", omitsize=True, title="执法证核验二维码"
    )


@bp.get("/me/credential")
@login_required("officer", "supervisor")
def my_credential():
    user = current_user()
    case = None
    if case_id := request.args.get("case_id", type=int):
        case = case_service.get_case(db.session, user, case_id)  # 404 unless visible
    shown = credential_service.display(
        db.session, user, utcnow(), secret_key=_secret(), client_addr=client_addr(), case=case
    )
    db.session.commit()
    credential = shown.credential
    verify_url = url_for("public.verify_credential", token=shown.token, _external=True)
    data: dict[str, Any] = {
        "credential_id": credential.id,
        "name": user.name,
        "unit_name": user.unit.name,
        "number": credential.number,
        "issuing_authority": credential.issuing_authority,
        "categories": list(credential.categories),
        "area": credential.area,
        "valid_from": credential_service.local_day(credential.valid_from).isoformat(),
        "valid_to": credential_service.local_day(credential.valid_to).isoformat(),
        "status": credential.status,
        "token": shown.token,
        "token_expires_at": shown.expires_at,
        "token_ttl_seconds": int(credential_service.DISPLAY_TOKEN_TTL.total_seconds()),
        "verify_url": verify_url,
        "qr_svg": qr_svg(verify_url),
    }
    return CredentialDisplaySchema().dump(data)
