"""Credentials (执法证): issue, change status, list, the officer's photo, the holder's 亮证
display, and the phone keys with which a phone makes 亮证 codes offline."""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from typing import Any

import segno
from flask import Blueprint, Response, current_app, request, url_for

from .. import clock
from ..credential_photo import MAX_BYTES as PHOTO_MAX_BYTES
from ..errors import DomainError, Invalid
from ..extensions import db
from ..models import Credential
from ..runtime import runtime
from ..schemas import (
    CredentialCreateSchema,
    CredentialDisplayQuerySchema,
    CredentialDisplaySchema,
    CredentialListQuerySchema,
    CredentialListSchema,
    CredentialPhotoSchema,
    CredentialSchema,
    CredentialStatusChangeSchema,
    DeviceKeyListQuerySchema,
    DeviceKeyListSchema,
    DeviceKeyRegisterSchema,
    DeviceKeyRevokeSchema,
    DeviceKeySchema,
)
from ..services import cases as case_service
from ..services import credentials as credential_service
from ..services.units import display_name
from .common import audit_read, client_addr, current_user, load_body, login_required

bp = Blueprint("credentials", __name__)


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def device_cert_ttl() -> timedelta:
    hours = current_app.config.get("CREDENTIAL_DEVICE_CERT_HOURS")
    return timedelta(hours=int(hours)) if hours else credential_service.DEVICE_CERT_TTL


def offline_code_window() -> timedelta:
    seconds = current_app.config.get("CREDENTIAL_OFFLINE_WINDOW_S")
    return timedelta(seconds=int(seconds)) if seconds else credential_service.OFFLINE_CODE_WINDOW


def offline_verify_prefix() -> str:
    """The public page of an offline code, less the code: the phone appends its own."""
    url = url_for("public.verify_offline_credential", code="C", _external=True)
    return url.removesuffix("C")


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


# A 5 MB photo as a base64 data: URL in JSON, with room for the JSON around it.
PHOTO_MAX_REQUEST = PHOTO_MAX_BYTES * 4 // 3 + 64 * 1024


def _photo_upload() -> bytes:
    """The photo in the request: the JPEG/PNG body itself, or JSON ``{"image": data URL}``."""
    if (request.content_length or 0) > PHOTO_MAX_REQUEST:
        raise DomainError(
            "照片不能超过 5 MB / the photo must be at most 5 MB",
            code="photo_too_large",
            status=413,
        )
    if request.mimetype in ("image/jpeg", "image/png"):
        data = request.stream.read(PHOTO_MAX_BYTES + 1)
        if not data:
            raise Invalid("the request body is empty", code="invalid_photo")
        return data
    if request.is_json:
        image = load_body(CredentialPhotoSchema())["image"]
        try:
            return base64.b64decode(image.split(",", 1)[1], validate=True)
        except (binascii.Error, ValueError):
            raise Invalid("the data: URL is not valid base64", code="invalid_photo") from None
    raise DomainError(
        'send image/jpeg or image/png, or JSON {"image": "data:image/…;base64,…"}',
        code="unsupported_media_type",
        status=415,
    )


def photo_response(credential: Credential) -> Response:
    data = credential_service.photo_bytes(runtime().storage, credential)
    return Response(
        data,
        mimetype="image/jpeg",
        headers={"Cache-Control": "no-store", "ETag": f'"{credential.photo_sha256}"'},
    )


def photo_url(credential: Credential) -> str | None:
    if not credential.photo_sha256:
        return None
    return url_for("credentials.get_photo", credential_id=credential.id)


@bp.put("/credentials/<int:credential_id>/photo")
@login_required("admin")
def set_photo(credential_id: int):
    """The officer's photo for 亮证: checked, re-encoded, kept (a new photo is a new object)."""
    user = current_user()
    credential = credential_service.get_managed(db.session, user, credential_id)
    data = _photo_upload()
    rt = runtime()
    credential_service.set_photo(
        db.session,
        rt.storage,
        rt.uploads.originals_bucket,
        user,
        credential,
        data,
        client_addr=client_addr(),
    )
    db.session.commit()
    return CredentialSchema().dump(credential)


@bp.get("/credentials/<int:credential_id>/photo")
@login_required()
def get_photo(credential_id: int):
    """The photo, to its holder and the admins of the holder's unit; each view is audited."""
    user = current_user()
    credential = credential_service.get_viewable(db.session, user, credential_id)
    response = photo_response(credential)  # 404 photo_not_found before anything is recorded
    details = {"holder_id": credential.user_id, "sha256": credential.photo_sha256}
    audit_read(user, "credential.photo_viewed", "credential", credential.id, details)
    return response


@bp.get("/credentials")
@login_required()
def list_credentials():
    query = CredentialListQuerySchema().load(request.args)
    user = current_user()
    items = credential_service.visible(db.session, user, query.get("user_id"))
    data = CredentialListSchema().dump({"items": items})
    details = {"ids": [c.id for c in items], "user_id": query.get("user_id")}
    audit_read(user, "credential.listed", "unit", user.unit_id, details)
    return data


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
    query = CredentialDisplayQuerySchema().load(request.args)
    case = None
    if case_id := query.get("case_id"):
        case = case_service.get_case(db.session, user, case_id)  # 404 unless visible
    position = {
        k: query[k] for k in ("latitude", "longitude", "accuracy_m") if query.get(k) is not None
    }
    now = clock.now()
    shown = credential_service.display(
        db.session,
        user,
        now,
        secret_key=_secret(),
        client_addr=client_addr(),
        case=case,
        device_key_id=query.get("device_key_id"),
        cert_ttl=device_cert_ttl(),
        position=position or None,
    )
    db.session.commit()
    credential = shown.credential
    # The short path: fewer characters, a less dense QR code, easier to scan off a screen.
    verify_url = url_for("public.verify", token=shown.token, _external=True)
    data: dict[str, Any] = {
        "credential_id": credential.id,
        "name": user.name,
        "unit_name": display_name(user.unit, db.session),
        "number": credential.number,
        "issuing_authority": credential.issuing_authority,
        "categories": list(credential.categories),
        "area": credential.area,
        "valid_from": clock.local_date(credential.valid_from).isoformat(),
        "valid_to": clock.local_date(credential.valid_to).isoformat(),
        "status": credential.status,
        "token": shown.token,
        "token_expires_at": shown.expires_at,
        "token_ttl_seconds": int(credential_service.DISPLAY_TOKEN_TTL.total_seconds()),
        "verify_url": verify_url,
        "qr_svg": qr_svg(verify_url),
        "server_time": now,
        "offline": None,
        "offline_problem": shown.device_key_problem.value if shown.device_key_problem else None,
        "photo_sha256": credential.photo_sha256,
        "photo_url": photo_url(credential),
    }
    if cert := shown.device_cert:
        data["offline"] = {
            "cert": cert.cert,
            "expires_at": cert.expires_at,
            "device_key_id": cert.key.id,
            "verify_prefix": offline_verify_prefix(),
            "window_seconds": int(offline_code_window().total_seconds()),
            "rotate_seconds": int(credential_service.OFFLINE_CODE_ROTATE.total_seconds()),
        }
    return CredentialDisplaySchema().dump(data)


@bp.post("/me/device-key")
@login_required("officer", "supervisor")
def register_device_key():
    """The phone's key for offline 亮证 codes: 201 when new, 200 when already registered."""
    body = load_body(DeviceKeyRegisterSchema())
    key, created = credential_service.register_device_key(
        db.session,
        current_user(),
        device_id=body["device_id"],
        public_key=body["public_key"],
        now=clock.now(),
        client_addr=client_addr(),
    )
    db.session.commit()
    return DeviceKeySchema().dump(key), 201 if created else 200


@bp.get("/device-keys")
@login_required()
def list_device_keys():
    query = DeviceKeyListQuerySchema().load(request.args)
    items = credential_service.visible_device_keys(db.session, current_user(), query.get("user_id"))
    return DeviceKeyListSchema().dump({"items": items})


@bp.post("/device-keys/<int:key_id>/revoke")
@login_required()
def revoke_device_key(key_id: int):
    body = load_body(DeviceKeyRevokeSchema())
    user = current_user()
    key = credential_service.get_device_key(db.session, user, key_id)
    credential_service.revoke_device_key(
        db.session, user, key, body["reason"], now=clock.now(), client_addr=client_addr()
    )
    db.session.commit()
    return DeviceKeySchema().dump(key)
