"""Bodies of the admin's account, unit, device and first-run endpoints (server/api/admin.py)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

from .domain import Role
from .schemas import _DAY, CredentialSchema, DeviceKeySchema, OfficerRefSchema, UnitSchema

_ROLES = validate.OneOf([r.value for r in Role])
_PASSWORD = fields.String(
    required=True,
    load_only=True,
    validate=validate.Length(min=10, max=1024),
    metadata={"description": "at least 10 characters"},
)


def _text(max_len: int, *, required: bool = False, min_len: int = 0, **meta: Any) -> fields.String:
    return fields.String(
        required=required, validate=validate.Length(min=min_len, max=max_len), metadata=meta
    )


class AdminUserSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    name = fields.String()
    role = fields.String(validate=_ROLES)
    active = fields.Boolean()
    created_at = fields.AwareDateTime()
    unit = fields.Nested(UnitSchema)


class AdminUserListSchema(Schema):
    items = fields.List(fields.Nested(AdminUserSchema))


class UserCreateSchema(Schema):
    username = _text(64, required=True, min_len=1)
    name = _text(100, required=True, min_len=1)
    role = fields.String(required=True, validate=_ROLES)
    password = _PASSWORD


class UserUpdateSchema(Schema):
    name = _text(100, min_len=1)
    role = fields.String(validate=_ROLES)
    unit_code = _text(
        64,
        min_len=1,
        description="the operator's CLI only; an admin gets 403 unit_change_forbidden",
    )


class PasswordResetSchema(Schema):
    password = _PASSWORD


class UserStatusSchema(Schema):
    active = fields.Boolean(required=True)
    reason = _text(2000)


class UnitUpdateSchema(Schema):
    name = _text(200, min_len=1, description="full name, e.g. 上海市静安区市场监督管理局")
    short_name = _text(40, description="document number prefix, e.g. 沪静市监")
    address = _text(300)
    contact_phone = _text(40)


class UnitCreateSchema(UnitUpdateSchema):
    code = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"),
        metadata={"description": "the unit's key in URLs, e.g. SH-JA"},
    )
    name = _text(200, required=True, min_len=1)
    short_name = _text(40, required=True, min_len=1)


class SetupAdminSchema(Schema):
    username = _text(64, required=True, min_len=1)
    name = _text(100, required=True, min_len=1)
    password = _PASSWORD


class SetupSchema(Schema):
    unit = fields.Nested(UnitCreateSchema, required=True)
    admin = fields.Nested(SetupAdminSchema, required=True)
    setup_code = _text(64, description="printed by `fieldtrace serve`; needed unless on 127.0.0.1")


class SetupStateSchema(Schema):
    needed = fields.Boolean(metadata={"description": "no account exists yet"})
    code_required = fields.Boolean(
        metadata={"description": "this request does not come from the machine itself"}
    )


class _TreeHeadStateSchema(Schema):
    tree_size = fields.Integer(metadata={"description": "entries covered by the latest head"})
    signed_at = fields.AwareDateTime(metadata={"description": "when the unit signed it"})
    stamped_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "the time-stamping authority's time, or null"}
    )


class _WordsSchema(Schema):
    zh = fields.String()
    en = fields.String()


class TrustedTimeSchema(Schema):
    state = fields.String(
        metadata={"description": "off (no TSA configured), on (latest head stamped), pending"}
    )
    latest = fields.Nested(_TreeHeadStateSchema, allow_none=True)
    message = fields.Nested(_WordsSchema)


class CredentialRenewSchema(Schema):
    number = _text(64, required=True, min_len=1, description="the new credential's number")
    valid_from = fields.Date(required=True, validate=_DAY)
    valid_to = fields.Date(required=True, validate=_DAY)

    @post_load
    def _period(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data["valid_to"] < data["valid_from"]:
            raise ValidationError("must not be before valid_from", "valid_to")
        return data


class RenewedCredentialSchema(CredentialSchema):
    renewed_from = fields.Integer(metadata={"description": "the credential it succeeds"})


class DeviceSchema(Schema):
    id = fields.String(metadata={"description": "the phone's device id"})
    holder = fields.Nested(OfficerRefSchema)
    registered_at = fields.AwareDateTime(allow_none=True)
    last_seen_at = fields.AwareDateTime(allow_none=True)
    uploads = fields.Integer(metadata={"description": "recordings uploaded from it"})
    last_upload_at = fields.AwareDateTime(allow_none=True)
    keys = fields.List(fields.Nested(DeviceKeySchema))
    revoked = fields.Boolean(metadata={"description": "it has keys and every one is revoked"})


class DeviceListSchema(Schema):
    items = fields.List(fields.Nested(DeviceSchema))


class DeviceRevokeSchema(Schema):
    reason = _text(2000, required=True, min_len=1)
