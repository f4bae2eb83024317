"""Marshmallow schemas for every request and response body."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate

from . import clock
from .domain import Activity, Procedure, Role, Stage

_SHA256 = validate.Regexp(r"^[0-9a-f]{64}$", error="must be 64 lowercase hex digits (SHA-256)")
# Times and days a client may send: wide enough for a phone whose clock reset to 1970 (the
# record keeps it and flags the offset), narrow enough that the database can store it.
_EARLIEST, _LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
_DAY = validate.Range(
    min=_EARLIEST.date(), max=date(2099, 12, 31), error="must lie between 1970 and 2099"
)


class Instant(fields.AwareDateTime):
    """An ISO time with a UTC offset, between 1970 and 2099 once converted to UTC."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("format", "iso")
        kwargs.setdefault("error_messages", {"invalid_awareness": "needs a UTC offset"})
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            in_range = _EARLIEST <= moment.astimezone(UTC) < _LATEST
        except OverflowError:  # 0001-01-01T00:00+14:00 has no UTC value
            in_range = False
        if not in_range:
            raise ValidationError("must lie between 1970 and 2099")
        return moment


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "machine-readable code"})
    message = fields.String(required=True, metadata={"description": "human-readable message"})
    details = fields.Dict()
    request_id = fields.String(
        metadata={"description": "the request's id, as in the X-Request-Id header and the logs"}
    )


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(
        required=True, validate=validate.Length(min=1, max=1024), load_only=True
    )


class UnitSchema(Schema):
    id = fields.Integer()
    code = fields.String(metadata={"description": "the unit's key in URLs and the CLI"})
    name = fields.String(metadata={"description": "full name, e.g. 上海市静安区市场监督管理局"})
    short_name = fields.String(
        metadata={"description": "document number prefix, e.g. 沪静市监 (沪静市监罚〔2026〕1号)"}
    )
    address = fields.String()
    contact_phone = fields.String()
    display_name = fields.Method(
        "_display_name", metadata={"description": "the name shown to people (never the code)"}
    )
    number_prefix = fields.Method(
        "_number_prefix", metadata={"description": "what document numbers start with now"}
    )
    missing = fields.Method(
        "_missing",
        metadata={"description": "settings the admin still has to fill in: name, short_name"},
    )

    def _display_name(self, unit: Any) -> str:
        from .services.units import display_name

        return display_name(unit)

    def _number_prefix(self, unit: Any) -> str:
        from .services.units import number_prefix

        return number_prefix(unit)

    def _missing(self, unit: Any) -> list[str]:
        from .services.units import missing_settings

        return missing_settings(unit)


class UserSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    name = fields.String()
    role = fields.String(validate=validate.OneOf([r.value for r in Role]))
    unit = fields.Nested(UnitSchema)


class TokenSchema(Schema):
    token = fields.String(required=True)
    token_type = fields.String(dump_default="Bearer")
    expires_at = fields.AwareDateTime(required=True)
    user = fields.Nested(UserSchema)


class PartySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(load_default="person", validate=validate.OneOf(["person", "organisation"]))
    id_number = fields.String(validate=validate.Length(max=64))


class CaseCreateSchema(Schema):
    number = fields.String(validate=validate.Length(min=1, max=64))
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    case_type = fields.String(load_default="", validate=validate.Length(max=100))
    parties = fields.List(fields.Nested(PartySchema), load_default=list)
    location = fields.String(load_default="", validate=validate.Length(max=300))
    major_property = fields.Boolean(load_default=False)
    officer_ids = fields.List(fields.Integer(), load_default=list)
    procedure = fields.String(
        load_default="general", validate=validate.OneOf([p.value for p in Procedure])
    )


class CaseStageSchema(Schema):
    stage = fields.String()
    started_at = fields.AwareDateTime()
    ended_at = fields.AwareDateTime(allow_none=True)
    opened_by_id = fields.Integer(allow_none=True)
    reason = fields.String()
    override_reason = fields.String(allow_none=True)


class OfficerRefSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    name = fields.String()


class CaseSchema(Schema):
    id = fields.Integer()
    unit_id = fields.Integer()
    number = fields.String()
    title = fields.String()
    case_type = fields.String()
    parties = fields.List(fields.Dict())
    location = fields.String()
    major_property = fields.Boolean()
    current_stage = fields.String()
    created_at = fields.AwareDateTime()
    officers = fields.List(fields.Nested(OfficerRefSchema))
    stages = fields.List(fields.Nested(CaseStageSchema))
    gap_count = fields.Integer()
    media_counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    procedure = fields.String()
    is_major = fields.Boolean()
    decision_draft = fields.Dict(allow_none=True)
    legal_review_status = fields.String(allow_none=True)
    review_overdue = fields.Boolean()
    override_count = fields.Integer()
    service_date = fields.Date(allow_none=True)
    remedy_windows = fields.Method("_remedy_windows", allow_none=True)
    execution_records = fields.List(fields.Dict())
    archived_at = fields.AwareDateTime(allow_none=True)

    def _remedy_windows(self, case: Any) -> dict[str, str] | None:
        from .services.documents import remedy_windows

        return remedy_windows(case)


class CaseListSchema(Schema):
    items = fields.List(fields.Nested(CaseSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class StageAdvanceSchema(Schema):
    to_stage = fields.String(required=True, validate=validate.OneOf([s.value for s in Stage]))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    override_reason = fields.String(validate=validate.Length(min=5, max=2000))


class PageQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE  # filters are read by the view itself

    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class LabelledFlags(fields.List):
    """A media item's flags, each with ``label`` ({"zh", "en"}) from the one table of flag
    words (media_pipeline/flag_words.py): the console shows the label, never the code."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.Dict(), **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        from media_pipeline.flag_words import flag_words

        labelled = [{**f, "label": flag_words(str(f.get("code", "")))} for f in value or []]
        return super()._serialize(labelled, attr, obj, **kwargs)


class MediaItemSchema(Schema):
    id = fields.String()
    case_id = fields.Integer()
    stage = fields.String()
    activity = fields.String()
    kind = fields.String()
    filename = fields.String()
    claimed_content_type = fields.String()
    detected_content_type = fields.String(allow_none=True)
    size = fields.Integer()
    device_sha256 = fields.String()
    server_sha256 = fields.String(allow_none=True)
    hashes_match = fields.Method("_hashes_match", allow_none=True)
    status = fields.String()
    status_message = fields.String()
    captured_at = fields.AwareDateTime()
    captured_at_offset_min = fields.Integer(allow_none=True)
    received_at = fields.AwareDateTime()
    stored_at = fields.AwareDateTime(allow_none=True)
    verified_at = fields.AwareDateTime(allow_none=True)
    locked_until = fields.AwareDateTime(allow_none=True)
    device_clock_offset_s = fields.Float(allow_none=True)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    accuracy_m = fields.Float(allow_none=True)
    location_status = fields.String(allow_none=True)
    captured_end_at = fields.AwareDateTime(allow_none=True)
    device_id = fields.String()
    # How the app took the photo (server.services.capture_info): method, width, height,
    # camera, facing, zoom, stream_max; null when the phone said nothing.
    capture = fields.Dict(allow_none=True)
    uploader = fields.Nested(OfficerRefSchema)
    processing = fields.String()
    steps = fields.Dict()
    flags = LabelledFlags()
    probe = fields.Dict(allow_none=True)
    duration_s = fields.Float(allow_none=True)
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    file_captured_at = fields.AwareDateTime(allow_none=True)
    attached_stage = fields.String(allow_none=True)
    derivatives = fields.Method("_derivative_names")
    key_evidence = fields.Boolean()
    key_evidence_reason = fields.String()
    key_evidence_by = fields.Nested(
        OfficerRefSchema, attribute="key_evidence_user", allow_none=True
    )
    key_evidence_at = fields.AwareDateTime(allow_none=True)

    def _derivative_names(self, item: Any) -> list[str]:
        return sorted(d.name for d in item.derivatives)

    def _hashes_match(self, item: Any) -> bool | None:
        if item.server_sha256 is None:
            return None
        return bool(item.server_sha256 == item.device_sha256)


class ReattachSchema(Schema):
    stage = fields.String(required=True, validate=validate.OneOf([s.value for s in Stage]))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class GapSchema(Schema):
    code = fields.String()
    stage = fields.String()
    activity = fields.String(allow_none=True)
    message = fields.String()
    message_en = fields.String()


class GapListSchema(Schema):
    case_id = fields.Integer()
    gaps = fields.List(fields.Nested(GapSchema))


class MediaListSchema(Schema):
    items = fields.List(fields.Nested(MediaItemSchema))


class AuditEntrySchema(Schema):
    id = fields.Integer()
    seq = fields.Integer()
    at = fields.AwareDateTime()
    actor = fields.String()
    action = fields.String()
    object_type = fields.String()
    object_id = fields.String()
    client_addr = fields.String()
    details = fields.Dict()
    prev_hash = fields.String()
    entry_hash = fields.String()
    # The action and its details in words ({"zh", "en"}), for people: server/services/audit_words.py
    action_label = fields.Method("_action_label")
    details_text = fields.Method("_details_text")

    def _action_label(self, entry: Any) -> dict[str, str]:
        from .services.audit_words import action_words

        return action_words(entry.action)

    def _details_text(self, entry: Any) -> dict[str, str]:
        from .services.audit_words import details_text

        return {lang: details_text(entry.action, entry.details, lang) for lang in ("zh", "en")}


class CustodySchema(Schema):
    media_id = fields.String()
    entries = fields.List(fields.Nested(AuditEntrySchema))
    # Paged (?after=<seq>&limit=<n>, 500 by default, at most 1000): the next page starts
    # after next_after; null on the last page.
    total = fields.Integer()
    next_after = fields.Integer(allow_none=True)


class UploadStatusSchema(Schema):
    id = fields.String()
    offset = fields.Integer()
    length = fields.Integer()
    status = fields.String()
    expires_at = fields.AwareDateTime()
    media_item_id = fields.String(allow_none=True)
    media_status = fields.String(allow_none=True)
    media_status_message = fields.String(allow_none=True)


class UploadMetadataSchema(Schema):
    """The tus ``Upload-Metadata`` keys, decoded from base64."""

    class Meta:
        unknown = EXCLUDE  # tus clients add their own keys (filetype, name, ...)

    filename = fields.String(required=True, validate=validate.Length(min=1, max=255))
    content_type = fields.String(
        required=True,
        validate=validate.Regexp(r"^[a-z0-9.+-]+/[a-z0-9.+-]+$", error="not a MIME type"),
    )
    case_id = fields.Integer(required=True, strict=False)
    # Optional: without it the pipeline attaches the item to the stage open at capture time.
    stage = fields.String(validate=validate.OneOf([s.value for s in Stage]))
    activity = fields.String(required=True, validate=validate.OneOf([a.value for a in Activity]))
    captured_at = Instant(required=True)
    sha256 = fields.String(required=True, validate=_SHA256)
    device_id = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9._:-]{1,64}$", error="1-64 letters, digits, ._:-"),
    )
    latitude = fields.Float(validate=validate.Range(min=-90, max=90), allow_none=True)
    longitude = fields.Float(validate=validate.Range(min=-180, max=180), allow_none=True)
    accuracy_m = fields.Float(validate=validate.Range(min=0), allow_none=True)
    sent_at = Instant()
    captured_end_at = Instant()
    location_status = fields.String(validate=validate.OneOf(["ok", "refused", "unavailable"]))
    # How the app took a photo (method, size, camera), as JSON: kept with the upload.
    capture = fields.String(validate=validate.Length(max=2000))

    @pre_load
    def _normalise(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data = {k: v for k, v in data.items() if v != "" or k in ("filename", "sha256")}
        if isinstance(data.get("sha256"), str):
            data["sha256"] = data["sha256"].strip().lower()
        if data.get("location_status") in ("pending", "granted"):  # GPS never settled / fixed
            data["location_status"] = {"pending": "unavailable", "granted": "ok"}[
                data["location_status"]
            ]
        if isinstance(data.get("content_type"), str):
            data["content_type"] = data["content_type"].split(";")[0].strip().lower()
        return data

    @post_load
    def _gps_pair(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if ("latitude" in data) != ("longitude" in data):
            raise ValidationError("latitude and longitude come together", "latitude")
        return data


class HealthSchema(Schema):
    status = fields.String()
    checks = fields.Dict(keys=fields.String(), values=fields.String())


# --- credentials (执法证, 亮证) ---------------------------------------------------------------

from .domain import CredentialStatus  # noqa: E402  (this section was appended; keeps merges small)


class CredentialCreateSchema(Schema):
    user_id = fields.Integer(required=True, strict=True)
    number = fields.String(required=True, validate=validate.Length(min=1, max=64))
    issuing_authority = fields.String(required=True, validate=validate.Length(min=1, max=200))
    categories = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)),
        required=True,
        validate=validate.Length(min=1, max=30),
    )
    area = fields.String(required=True, validate=validate.Length(min=1, max=200))
    valid_from = fields.Date(
        required=True, validate=_DAY, metadata={"description": "first day (Asia/Shanghai)"}
    )
    valid_to = fields.Date(
        required=True, validate=_DAY, metadata={"description": "last day (Asia/Shanghai)"}
    )

    @post_load
    def _period(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data["valid_to"] < data["valid_from"]:
            raise ValidationError("must not be before valid_from", "valid_to")
        return data


class CredentialStatusChangeSchema(Schema):
    status = fields.String(
        required=True, validate=validate.OneOf([s.value for s in CredentialStatus])
    )
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CredentialListQuerySchema(Schema):
    user_id = fields.Integer(validate=validate.Range(min=1))


class _ShanghaiDate(fields.Field):
    """A stored instant (midnight Asia/Shanghai) dumped as its calendar day."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None

        return clock.local_date(value).isoformat()


class CredentialSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    holder = fields.Nested(OfficerRefSchema, attribute="user")
    number = fields.String()
    issuing_authority = fields.String()
    categories = fields.List(fields.String())
    area = fields.String()
    valid_from = _ShanghaiDate(metadata={"type": "string", "format": "date"})
    valid_to = _ShanghaiDate(metadata={"type": "string", "format": "date"})
    status = fields.String(validate=validate.OneOf([s.value for s in CredentialStatus]))
    status_changed_at = fields.AwareDateTime(allow_none=True)
    photo_sha256 = fields.String(
        allow_none=True, metadata={"description": "SHA-256 of the current photo (JPEG), if any"}
    )


class CredentialPhotoSchema(Schema):
    """The officer's photo as JSON; or PUT the JPEG/PNG itself as the body."""

    image = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^data:image/(jpeg|png);base64,", error="a data: URL of a JPEG or PNG"
        ),
        metadata={"description": "data:image/jpeg;base64,… or data:image/png;base64,…"},
    )


class CredentialDisplayQuerySchema(Schema):
    """``GET /me/credential``: the case being worked on, this phone's key, and where it is."""

    case_id = fields.Integer(validate=validate.Range(min=1))
    device_key_id = fields.Integer(validate=validate.Range(min=1))
    latitude = fields.Float(validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(validate=validate.Range(min=-180, max=180))
    accuracy_m = fields.Float(validate=validate.Range(min=0))

    @pre_load
    def _drop_empty(self, data: Any, **_: Any) -> dict[str, Any]:
        return {k: v for k, v in dict(data).items() if v != ""}

    @post_load
    def _gps_pair(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if ("latitude" in data) != ("longitude" in data):
            raise ValidationError("latitude and longitude come together", "latitude")
        if "accuracy_m" in data and "latitude" not in data:
            raise ValidationError("accuracy_m needs latitude and longitude", "accuracy_m")
        return data


class CredentialListSchema(Schema):
    items = fields.List(fields.Nested(CredentialSchema))


class CredentialDisplaySchema(Schema):
    """What the holder's phone shows for 亮证, with a fresh QR token."""

    credential_id = fields.Integer()
    name = fields.String()
    unit_name = fields.String()
    number = fields.String()
    issuing_authority = fields.String()
    categories = fields.List(fields.String())
    area = fields.String()
    valid_from = fields.String(metadata={"format": "date"})
    valid_to = fields.String(metadata={"format": "date"})
    status = fields.String()
    token = fields.String()
    token_expires_at = fields.AwareDateTime()
    token_ttl_seconds = fields.Integer()
    verify_url = fields.String(metadata={"description": "public page the QR code opens"})
    qr_svg = fields.String(metadata={"description": "the QR code of verify_url as inline SVG"})
    server_time = fields.AwareDateTime(
        metadata={"description": "the server's clock: the phone dates its offline codes by it"}
    )
    offline = fields.Nested(
        lambda: OfflineCertSchema(),
        allow_none=True,
        metadata={"description": "for codes the phone makes offline; asked with device_key_id"},
    )
    offline_problem = fields.String(
        allow_none=True,
        validate=validate.OneOf(["device_key_unknown", "device_key_revoked"]),
        metadata={"description": "why there is no `offline`: register a (new) device key"},
    )
    photo_sha256 = fields.String(
        allow_none=True, metadata={"description": "the photo's SHA-256: refetch when it changes"}
    )
    photo_url = fields.String(
        allow_none=True,
        metadata={"description": "GET it with the bearer token (JPEG); null: no photo"},
    )


class PublicCredentialFactsSchema(Schema):
    name = fields.String()
    number = fields.String()
    issuing_authority = fields.String()
    unit_name = fields.String()
    categories = fields.List(fields.String())
    area = fields.String()
    valid_from = fields.String(metadata={"format": "date"})
    valid_to = fields.String(metadata={"format": "date"})
    photo_url = fields.String(
        allow_none=True,
        metadata={"description": "the officer's photo, served only while this code is valid"},
    )


class PublicCredentialCheckSchema(Schema):
    """A citizen's check of a scanned credential: valid now, or why not."""

    valid = fields.Boolean()
    reason = fields.String(allow_none=True)
    reason_text = fields.String(allow_none=True)
    checked_at = fields.AwareDateTime()
    checked_at_local = fields.String(metadata={"description": "Asia/Shanghai, for people"})
    credential = fields.Nested(PublicCredentialFactsSchema, allow_none=True)
    offline = fields.Boolean(metadata={"description": "a code the phone made without network"})


class OfflineCertSchema(Schema):
    """A device certificate: the phone makes 亮证 codes with it while it has no network."""

    cert = fields.String(metadata={"description": "base64url; the first part of every code"})
    expires_at = fields.AwareDateTime()
    device_key_id = fields.Integer()
    verify_prefix = fields.String(
        metadata={"description": "the code's public page is this followed by the code"}
    )
    window_seconds = fields.Integer(
        metadata={"description": "a code verifies this long either side of the server's clock"}
    )
    rotate_seconds = fields.Integer(metadata={"description": "make a new code this often"})


class DeviceKeyRegisterSchema(Schema):
    device_id = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9._:-]{1,64}$", error="1-64 letters, digits, ._:-"),
    )
    public_key = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "ECDSA P-256 public key, raw point or SPKI, base64url"},
    )


class DeviceKeySchema(Schema):
    id = fields.Integer()
    device_id = fields.String()
    user_id = fields.Integer()
    algorithm = fields.String()
    fingerprint = fields.String(metadata={"description": "SHA-256 (hex) of the raw point"})
    created_at = fields.AwareDateTime()
    last_certified_at = fields.AwareDateTime(
        allow_none=True,
        metadata={"description": "the phone's offline codes work until this plus 24 h"},
    )
    revoked_at = fields.AwareDateTime(allow_none=True)
    revoked_reason = fields.String()


class DeviceKeyListSchema(Schema):
    items = fields.List(fields.Nested(DeviceKeySchema))


class DeviceKeyListQuerySchema(Schema):
    user_id = fields.Integer(validate=validate.Range(min=1))


class DeviceKeyRevokeSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


# --- supervisor console (issue #5, docs/console-api.md) -------------------------------------

from .domain import MediaKind  # noqa: E402  (appended section, as above)

CONSOLE_FLAGS = (
    "gap",
    "unverified",
    "hash_mismatch",
    "unattached",
    "clock_skew",
    "late_upload",
    "review_overdue",
    "override",
)
PLAYBACK_WHATS = (
    "original",
    "proxy",
    "thumbnail",
    "preview",
    "poster",
    "strip",
    "waveform",
    "custody.pdf",
    "custody.csv",
)


class ConsoleCaseQuerySchema(Schema):
    """Filters of ``GET /console/cases``; empty parameters count as absent."""

    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    officer_id = fields.Integer(validate=validate.Range(min=1))
    date_from = fields.Date(
        data_key="from",
        validate=_DAY,
        metadata={"description": "first day (Asia/Shanghai), included"},
    )
    date_to = fields.Date(
        data_key="to", validate=_DAY, metadata={"description": "last day (Asia/Shanghai), included"}
    )
    number = fields.String(validate=validate.Length(min=1, max=64))
    stage = fields.String(validate=validate.OneOf([s.value for s in Stage]))
    activity = fields.String(validate=validate.OneOf([a.value for a in Activity]))
    kind = fields.String(validate=validate.OneOf([k.value for k in MediaKind]))
    flag = fields.String(validate=validate.OneOf(CONSOLE_FLAGS))
    q = fields.String(validate=validate.Length(min=1, max=100))

    @pre_load
    def _drop_empty(self, data: Any, **_: Any) -> dict[str, Any]:
        return {k: v for k, v in dict(data).items() if v not in ("", None)}

    @post_load
    def _period(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ValidationError("must not be before from", "to")
        if isinstance(data.get("number"), str):
            data["number"] = data["number"].strip()
        return data


class ConsoleMediaQuerySchema(ConsoleCaseQuerySchema):
    case_id = fields.Integer(validate=validate.Range(min=1))


class PersonRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class ConsoleCaseSchema(Schema):
    id = fields.Integer(attribute="case.id")
    number = fields.String(attribute="case.number")
    title = fields.String(attribute="case.title")
    case_type = fields.String(attribute="case.case_type")
    current_stage = fields.String(attribute="case.current_stage")
    major_property = fields.Boolean(attribute="case.major_property")
    created_at = fields.AwareDateTime(attribute="case.created_at")
    officers = fields.List(fields.Nested(PersonRefSchema))
    counts = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.Integer()),
        metadata={"description": "stage (or 'unattached') → media kind → number of items"},
    )
    flags = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={
            "description": "gap, unverified, hash_mismatch, unattached, clock_skew, late_upload"
        },
    )


class ConsoleCaseListSchema(Schema):
    items = fields.List(fields.Nested(ConsoleCaseSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class MediaSummarySchema(Schema):
    id = fields.String()
    case_id = fields.Integer()
    case_number = fields.String(attribute="case.number")
    kind = fields.String()
    activity = fields.String()
    stage = fields.String(allow_none=True)
    attached_stage = fields.String(allow_none=True)
    captured_at = fields.AwareDateTime()
    captured_at_offset_min = fields.Integer(allow_none=True)
    duration_s = fields.Float(allow_none=True)
    width = fields.Integer(allow_none=True)
    height = fields.Integer(allow_none=True)
    uploader = fields.Nested(PersonRefSchema)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    accuracy_m = fields.Float(allow_none=True)
    location_status = fields.String(allow_none=True)
    status = fields.String()
    processing = fields.String()
    flags = LabelledFlags()
    key_evidence = fields.Boolean()
    derivatives = fields.Method("_derivative_names")

    def _derivative_names(self, item: Any) -> list[str]:
        return sorted(d.name for d in item.derivatives)


class ConsoleMediaListSchema(Schema):
    items = fields.List(fields.Nested(MediaSummarySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class TimelineStageSchema(Schema):
    stage = fields.String()
    started_at = fields.AwareDateTime()
    ended_at = fields.AwareDateTime(allow_none=True)
    items = fields.List(fields.Nested(MediaSummarySchema))


class CredentialEventSchema(Schema):
    at = fields.AwareDateTime()
    officer = fields.String()
    officer_id = fields.Integer()
    action = fields.String()
    credential_id = fields.Integer(allow_none=True)
    number = fields.String(allow_none=True)


class TimelineSchema(Schema):
    case = fields.Nested(CaseSchema)
    stages = fields.List(fields.Nested(TimelineStageSchema))
    unattached = fields.List(fields.Nested(MediaSummarySchema))
    credential_events = fields.List(fields.Nested(CredentialEventSchema))
    gaps = fields.List(fields.Nested(GapSchema))
    counts = fields.Dict(
        keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer())
    )
    flags = fields.Dict(keys=fields.String(), values=fields.Integer())


class PlaybackUrlRequestSchema(Schema):
    what = fields.String(required=True, validate=validate.OneOf(PLAYBACK_WHATS))


class PlaybackUrlSchema(Schema):
    url = fields.String(metadata={"description": "relative URL carrying ?pt=<token>"})
    expires_at = fields.AwareDateTime()


class BookmarkCreateSchema(Schema):
    at_s = fields.Float(
        required=True, allow_nan=False, validate=validate.Range(min=0, max=7 * 24 * 3600)
    )
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class BookmarkSchema(Schema):
    id = fields.Integer()
    media_item_id = fields.String()
    at_s = fields.Float()
    note = fields.String()
    author = fields.Nested(PersonRefSchema)
    created_at = fields.AwareDateTime()


class BookmarkListSchema(Schema):
    items = fields.List(fields.Nested(BookmarkSchema))


class KeyEvidenceSchema(Schema):
    key = fields.Boolean(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


# --- case workflow (issue #6) ---------------------------------------------------------------

PENALTY_KIND_VALUES = [
    "warning",
    "fine",
    "confiscation",
    "suspension",
    "license_revocation",
    "license_suspension",
    "other",
]


class DraftPenaltySchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(PENALTY_KIND_VALUES))
    amount = fields.Float(allow_none=True, validate=validate.Range(min=0))
    description = fields.String(load_default="", validate=validate.Length(max=2000))


class DraftPartySchema(Schema):
    """The party the decision is against, as the 处罚决定书 will name them."""

    type = fields.String(allow_none=True, validate=validate.OneOf(["natural", "legal"]))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    id_type = fields.String(allow_none=True, validate=validate.Length(max=200))
    id_number = fields.String(allow_none=True, validate=validate.Length(max=200))
    address = fields.String(allow_none=True, validate=validate.Length(max=500))
    phone = fields.String(allow_none=True, validate=validate.Length(max=50))
    legal_representative = fields.String(allow_none=True, validate=validate.Length(max=200))


class DecisionDraftSchema(Schema):
    penalties = fields.List(fields.Nested(DraftPenaltySchema), required=True)
    summary = fields.String(load_default="", validate=validate.Length(max=5000))
    legal_basis = fields.String(load_default="", validate=validate.Length(max=5000))
    # The operative content the legal review sees and the decision must follow: whom it is
    # against, the facts found, and why this penalty within the discretion standard (裁量).
    # Optional here so earlier drafts stay valid; the console asks for them.
    party = fields.Nested(DraftPartySchema, allow_none=True)
    facts = fields.String(allow_none=True, validate=validate.Length(max=20000))
    discretion = fields.String(allow_none=True, validate=validate.Length(max=5000))
    # Not published (事后公开) when the case involves one of these; the reason is recorded.
    withhold_reason = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.OneOf(["minors", "state_secret", "trade_secret", "privacy"]),
    )


class ExecutionRecordSchema(Schema):
    kind = fields.String(
        required=True,
        validate=validate.OneOf(["payment", "compulsory_application", "performed", "other"]),
    )
    on = fields.Date(required=True, validate=_DAY)
    amount = fields.Float(allow_none=True, validate=validate.Range(min=0))
    reference = fields.String(load_default="", validate=validate.Length(max=200))
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class MajorDecisionItemSchema(Schema):
    id = fields.Integer(dump_only=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    penalty_kinds = fields.List(
        fields.String(validate=validate.OneOf(PENALTY_KIND_VALUES)), load_default=list
    )
    min_fine = fields.Float(allow_none=True, load_default=None)
    case_types = fields.List(fields.String(), load_default=list)
    active = fields.Boolean(load_default=True)


class CalendarDaySchema(Schema):
    day = fields.Date(required=True, validate=_DAY)
    is_workday = fields.Boolean(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=100))


class CalendarPutSchema(Schema):
    items = fields.List(fields.Nested(CalendarDaySchema), required=True)


class DocumentCreateSchema(Schema):
    type = fields.String(required=True, validate=validate.Length(min=1, max=48))
    fields_ = fields.Dict(required=True, data_key="fields")


class DocumentFieldsSchema(Schema):
    fields_ = fields.Dict(required=True, data_key="fields")


class SignatureCreateSchema(Schema):
    role = fields.String(
        required=True,
        validate=validate.OneOf(
            ["officer", "party", "leader", "reviewer", "recipient", "approver"]
        ),
    )
    signer_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    image = fields.String(required=True, validate=validate.Length(min=30, max=800_000))
    device_signed_at = fields.AwareDateTime(allow_none=True, load_default=None)
    # The content hash (GET /documents/<id>/review-match) of the version the signer was shown;
    # required for the leader's signature of a decision bound by the legal review.
    shown_content_sha256 = fields.String(
        allow_none=True, load_default=None, validate=validate.Regexp(r"^[0-9a-f]{64}$")
    )


class SignatureSchema(Schema):
    id = fields.Integer()
    role = fields.String()
    signer_name = fields.String()
    sha256 = fields.String()
    signed_at = fields.AwareDateTime()
    device_signed_at = fields.AwareDateTime(allow_none=True)


class DocumentSchema(Schema):
    id = fields.String()
    series_id = fields.String()
    version = fields.Integer()
    case_id = fields.Integer()
    doc_type = fields.String(data_key="type")
    title = fields.Method("_title")
    stage = fields.String()
    fields_ = fields.Dict(attribute="fields", data_key="fields")
    status = fields.String()
    number = fields.String(allow_none=True)
    sha256 = fields.String(allow_none=True)
    size = fields.Integer(allow_none=True)
    created_by_id = fields.Integer()
    created_at = fields.AwareDateTime()
    issued_at = fields.AwareDateTime(allow_none=True)
    signatures = fields.List(fields.Nested(SignatureSchema))
    pdf_url = fields.Method("_pdf_url", allow_none=True)
    for_the_party = fields.Method(
        "_for_the_party", metadata={"description": "a copy may be handed to the party"}
    )

    def _title(self, doc: Any) -> dict[str, str]:
        from .documents.registry import DOCUMENT_TYPES

        return dict(DOCUMENT_TYPES[doc.doc_type].title)

    def _for_the_party(self, doc: Any) -> bool:
        from .documents.registry import DOCUMENT_TYPES

        return DOCUMENT_TYPES[doc.doc_type].for_the_party

    def _pdf_url(self, doc: Any) -> str | None:
        return f"/api/v1/documents/{doc.id}/pdf" if doc.object_key else None


class ChecklistAnswerSchema(Schema):
    item = fields.String(required=True)
    passed = fields.Boolean(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class LegalReviewSubmitSchema(Schema):
    report = fields.String(required=True, validate=validate.Length(min=1, max=20000))
    decision_draft = fields.Nested(DecisionDraftSchema, required=True)


class LegalOpinionSchema(Schema):
    outcome = fields.String(
        required=True, validate=validate.OneOf(["agree", "returned", "transfer"])
    )
    checklist = fields.List(fields.Nested(ChecklistAnswerSchema), required=True)
    opinion = fields.String(required=True, validate=validate.Length(min=1, max=20000))
    signature = fields.String(required=True, validate=validate.Length(min=30, max=800_000))


class ReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class NoteSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ResolutionSchema(Schema):
    resolution = fields.String(
        required=True, validate=validate.OneOf(["uphold_opinion", "accept_objection"])
    )
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class LegalReviewSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    case_number = fields.String(attribute="case.number")
    case_title = fields.String(attribute="case.title")
    submitted_by_name = fields.String(attribute="submitted_by.name")
    reviewer_name = fields.Method("_reviewer_name", allow_none=True)
    round = fields.Integer()
    status = fields.String()
    report = fields.String()
    decision_draft = fields.Dict()
    package = fields.Dict()
    submitted_by_id = fields.Integer()
    submitted_at = fields.AwareDateTime()
    due_on = fields.Date()
    overdue = fields.Boolean(
        dump_only=True, metadata={"description": "past due by the working calendar as it stands"}
    )  # set by the route (legal_review.is_overdue), which has the calendar
    extension = fields.Dict(allow_none=True)
    materials_requests = fields.List(fields.Dict())
    reviewer_id = fields.Integer(allow_none=True)
    checklist = fields.List(fields.Dict(), allow_none=True)
    opinion = fields.String(allow_none=True)
    decided_at = fields.AwareDateTime(allow_none=True)
    opinion_document_id = fields.String(allow_none=True)
    disagreement = fields.Dict(allow_none=True)

    def _reviewer_name(self, review: Any) -> str | None:
        return review.reviewer.name if review.reviewer else None
