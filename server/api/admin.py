"""The admin's accounts, unit, devices and credential renewal; and the first-run setup."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from flask import Blueprint, current_app, request

from ..extensions import db
from ..runtime import runtime
from ..schemas import CredentialSchema, UnitSchema
from ..schemas_admin import (
    AdminUserListSchema,
    AdminUserSchema,
    CredentialRenewSchema,
    DeviceListSchema,
    DeviceRevokeSchema,
    DeviceSchema,
    PasswordResetSchema,
    SetupSchema,
    SetupStateSchema,
    TrustedTimeSchema,
    UnitUpdateSchema,
    UserCreateSchema,
    UserStatusSchema,
    UserUpdateSchema,
)
from ..services import credentials as credential_service
from ..services import devices as device_service
from ..services import setup as setup_service
from ..services import transparency
from ..services import units as unit_service
from ..services import users as user_service
from .common import client_addr, current_user, load_body, login_required

bp = Blueprint("admin", __name__)


# --- users --------------------------------------------------------------------------------


@bp.get("/users")
@login_required("admin")
def list_users():
    return AdminUserListSchema().dump({"items": user_service.listed(db.session, current_user())})


@bp.post("/users")
@login_required("admin")
def create_user():
    body = load_body(UserCreateSchema())
    user = user_service.create(db.session, current_user(), **body, client_addr=client_addr())
    db.session.commit()
    return AdminUserSchema().dump(user), 201


@bp.get("/users/<int:user_id>")
@login_required("admin")
def get_user(user_id: int):
    return AdminUserSchema().dump(user_service.managed(db.session, current_user(), user_id))


@bp.patch("/users/<int:user_id>")
@login_required("admin")
def update_user(user_id: int):
    body = load_body(UserUpdateSchema())
    actor = current_user()
    user = user_service.managed(db.session, actor, user_id)
    user_service.update(db.session, actor, user, body, client_addr=client_addr())
    db.session.commit()
    return AdminUserSchema().dump(user)


@bp.post("/users/<int:user_id>/password")
@login_required("admin")
def reset_password(user_id: int):
    body = load_body(PasswordResetSchema())
    actor = current_user()
    user = user_service.managed(db.session, actor, user_id)
    user_service.reset_password(
        db.session, actor, user, body["password"], client_addr=client_addr()
    )
    db.session.commit()
    return AdminUserSchema().dump(user)


@bp.post("/users/<int:user_id>/status")
@login_required("admin")
def set_user_status(user_id: int):
    body = load_body(UserStatusSchema())
    actor = current_user()
    user = user_service.managed(db.session, actor, user_id)
    user_service.set_active(
        db.session,
        actor,
        user,
        body["active"],
        reason=body.get("reason", ""),
        client_addr=client_addr(),
    )
    db.session.commit()
    return AdminUserSchema().dump(user)


# --- the unit -----------------------------------------------------------------------------


@bp.get("/unit")
@login_required()
def get_unit():
    return UnitSchema().dump(current_user().unit)


@bp.put("/unit")
@login_required("admin")
def update_unit():
    body = load_body(UnitUpdateSchema())
    actor = current_user()
    unit = unit_service.update_unit(
        db.session, actor.unit, body, actor=actor, client_addr=client_addr()
    )
    db.session.commit()
    return UnitSchema().dump(unit)


# --- devices and credential renewal --------------------------------------------------------


@bp.get("/devices")
@login_required("admin")
def list_devices():
    items = device_service.unit_devices(db.session, current_user())
    return DeviceListSchema().dump({"items": items})


@bp.post("/devices/<device_id>/revoke")
@login_required("admin")
def revoke_device(device_id: str):
    body = load_body(DeviceRevokeSchema())
    device = device_service.revoke_device(
        db.session, current_user(), device_id, body["reason"], client_addr=client_addr()
    )
    db.session.commit()
    return DeviceSchema().dump(device)


@bp.post("/credentials/<int:credential_id>/renew")
@login_required("admin")
def renew_credential(credential_id: int):
    body = load_body(CredentialRenewSchema())
    actor = current_user()
    old = credential_service.get_managed(db.session, actor, credential_id)
    new = credential_service.renew(db.session, actor, old, **body, client_addr=client_addr())
    db.session.commit()
    return {**CredentialSchema().dump(new), "renewed_from": old.id}, 201


# --- first-run setup ----------------------------------------------------------------------


def _setup_allowed(code: str | None) -> bool:
    forwarded = bool(request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"))
    if setup_service.is_local(request.remote_addr or "", forwarded):
        return True
    return bool(code) and setup_service.code_matches(current_app.config["SECRET_KEY"], code or "")


@bp.get("/setup")
def setup_state():
    """Whether the first-run form should show (no account yet), and whether it needs the code."""
    return SetupStateSchema().dump(
        {"needed": setup_service.needed(db.session), "code_required": not _setup_allowed(None)}
    )


@bp.post("/setup")
def run_setup():
    body = load_body(SetupSchema())
    admin = setup_service.run(
        db.session,
        unit=body["unit"],
        admin=body["admin"],
        allowed=_setup_allowed(body.get("setup_code")),
        client_addr=client_addr(),
    )
    db.session.commit()
    return AdminUserSchema().dump(admin), 201


# --- trusted time -------------------------------------------------------------------------


@bp.get("/trusted-time")
@login_required("admin")
def trusted_time():
    """Whether the audit log's tree heads are time-stamped by an RFC 3161 authority."""
    status = transparency.trusted_time_status(db.session, runtime().tsa)
    return TrustedTimeSchema().dump(status)


# --- OpenAPI ------------------------------------------------------------------------------

_U = "/api/v1/users/{user_id}"
_E = (401, 403, 404, 409, 422)
OPENAPI_ROWS: tuple[tuple[str, str, str, str | None, str | None, tuple[int, ...], bool], ...] = (
    (
        "/api/v1/trusted-time",
        "get",
        "Whether tree heads get trusted time from an RFC 3161 authority (admin), in words",
        None,
        "TrustedTime",
        (401, 403),
        False,
    ),
    (
        "/api/v1/users",
        "get",
        "The admin's unit's accounts",
        None,
        "AdminUserList",
        (401, 403),
        False,
    ),
    (
        "/api/v1/users",
        "post",
        "Create an account in the admin's unit (201)",
        "UserCreate",
        "AdminUser",
        _E,
        False,
    ),
    (_U, "get", "One account of the admin's unit", None, "AdminUser", (401, 403, 404), False),
    (
        _U,
        "patch",
        "Change name or role (a new role ends the user's sessions); never the last active admin",
        "UserUpdate",
        "AdminUser",
        _E,
        False,
    ),
    (
        f"{_U}/password",
        "post",
        "Set a new password; every session of the user ends",
        "PasswordReset",
        "AdminUser",
        _E,
        False,
    ),
    (
        f"{_U}/status",
        "post",
        "Deactivate (sessions end at once) or reactivate; never the last active admin",
        "UserStatus",
        "AdminUser",
        _E,
        False,
    ),
    ("/api/v1/unit", "get", "The signed-in user's unit", None, "Unit", (401,), False),
    (
        "/api/v1/unit",
        "put",
        "Name, document number prefix, address and phone of the admin's unit",
        "UnitUpdate",
        "Unit",
        _E,
        False,
    ),
    (
        "/api/v1/devices",
        "get",
        "The unit's phones: 亮证 keys, uploads, last seen",
        None,
        "DeviceList",
        (401, 403),
        False,
    ),
    (
        "/api/v1/devices/{device_id}/revoke",
        "post",
        "Revoke every live key of a phone (its offline 亮证 codes stop)",
        "DeviceRevoke",
        "Device",
        _E,
        False,
    ),
    (
        "/api/v1/credentials/{credential_id}/renew",
        "post",
        "Renew: a successor credential (new number, new period, same photo) (201)",
        "CredentialRenew",
        "RenewedCredential",
        _E,
        False,
    ),
    (
        "/api/v1/setup",
        "get",
        "First run: is setup needed, and does this request need the setup code",
        None,
        "SetupState",
        (),
        True,
    ),
    (
        "/api/v1/setup",
        "post",
        "First run: the first unit and admin (only while no account exists; from 127.0.0.1 "
        "or with the code `fieldtrace serve` prints)",
        "Setup",
        "AdminUser",
        (403, 409, 422),
        True,
    ),
)


def add_openapi(spec: APISpec) -> None:
    """Document these routes (the rows above) in the OpenAPI spec."""
    from .. import schemas_admin

    for name in (
        "AdminUser",
        "AdminUserList",
        "UserCreate",
        "UserUpdate",
        "PasswordReset",
        "UserStatus",
        "UnitUpdate",
        "DeviceList",
        "Device",
        "DeviceRevoke",
        "CredentialRenew",
        "RenewedCredential",
        "Setup",
        "SetupState",
        "TrustedTime",
    ):
        if name not in spec.components.schemas:
            spec.components.schema(name, schema=getattr(schemas_admin, f"{name}Schema"))
    error = {"description": "error", "content": {"application/json": {"schema": "Error"}}}
    paths: dict[str, dict[str, Any]] = {}
    for path, method, summary, body, response, errors, public in OPENAPI_ROWS:
        ok = (
            "201" if "(201)" in summary or (path.endswith("/setup") and method == "post") else "200"
        )
        op: dict[str, Any] = {
            "summary": summary,
            "responses": {
                ok: {"description": "OK", "content": {"application/json": {"schema": response}}},
                **{str(c): error for c in errors},
            },
            "parameters": [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in re.findall(r"{(\w+)}", path)
            ],
        }
        if not public:
            op["security"] = [{"bearer": []}]
        if body:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body}},
            }
        paths.setdefault(path, {})[method] = op
    for path, operations in paths.items():
        spec.path(path, operations=operations)
