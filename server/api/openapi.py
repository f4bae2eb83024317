"""The OpenAPI 3 document, built from the marshmallow schemas."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint

from .. import schemas as s
from ..domain import Activity, MediaKind, Stage

bp = Blueprint("openapi", __name__)

_ERR = {"content": {"application/json": {"schema": "Error"}}}


def _json(schema: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": "error", **_ERR} for c in codes}


def _op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": responses, "security": [{"bearer": []}], **extra}


_PT = {
    "name": "pt",
    "in": "query",
    "description": "playback token from POST /media/{item_id}/playback-url, instead of a bearer",
    "schema": {"type": "string"},
}


def _id_param(name: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _tus_headers(*names: str) -> list[dict[str, Any]]:
    return [
        {"name": n, "in": "header", "required": n == "Tus-Resumable", "schema": {"type": "string"}}
        for n in ("Tus-Resumable", *names)
    ]


def _schema_name(schema: Any) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__.removesuffix("Schema")


def build_spec() -> dict[str, Any]:
    spec = APISpec(
        title="Fieldtrace API",
        version="1",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
        info={"description": "Field evidence recording: uploads (tus 1.0), cases, media, custody."},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name in (
        "Error",
        "Login",
        "Token",
        "User",
        "CaseCreate",
        "Case",
        "CaseList",
        "StageAdvance",
        "MediaItem",
        "MediaList",
        "Custody",
        "UploadStatus",
        "Health",
        "Reattach",
        "GapList",
        "CredentialCreate",
        "CredentialStatusChange",
        "Credential",
        "CredentialList",
        "CredentialDisplay",
        "CredentialPhoto",
        "PublicCredentialCheck",
        "DeviceKeyRegister",
        "DeviceKey",
        "DeviceKeyList",
        "DeviceKeyRevoke",
        "ConsoleCaseList",
        "ConsoleMediaList",
        "Timeline",
        "PlaybackUrlRequest",
        "PlaybackUrl",
        "BookmarkCreate",
        "Bookmark",
        "BookmarkList",
        "KeyEvidence",
    ):
        if name not in spec.components.schemas:  # nested ones are registered on first use
            spec.components.schema(name, schema=getattr(s, f"{name}Schema"))

    spec.path(
        "/api/v1/auth/login",
        operations={
            "post": {
                "summary": "Sign in and receive a bearer token",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "Login"}},
                },
                "responses": {"200": _json("Token"), **_errors(400, 401, 422, 429)},
            }
        },
    )
    spec.path(
        "/api/v1/auth/logout",
        operations={
            "post": _op(
                "Revoke the current token", {"204": {"description": "revoked"}, **_errors(401)}
            )
        },
    )
    spec.path(
        "/api/v1/auth/me",
        operations={"get": _op("The signed-in user", {"200": _json("User"), **_errors(401)})},
    )
    spec.path(
        "/api/v1/cases",
        operations={
            "get": _op(
                "Cases visible to the user",
                {"200": _json("CaseList"), **_errors(401, 422)},
                parameters=[
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    {
                        "name": "per_page",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                    },
                    {"name": "number", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "has_gaps",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["1"]},
                    },
                ],
            ),
            "post": _op(
                "Open a case",
                {"201": _json("Case", "created"), **_errors(400, 401, 403, 409, 422)},
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": "CaseCreate"}},
                },
            ),
        },
    )
    spec.path(
        "/api/v1/cases/{case_id}",
        operations={
            "get": _op(
                "One case with its stages",
                {"200": _json("Case"), **_errors(401, 404)},
                parameters=[_id_param("case_id", "integer")],
            )
        },
    )
    spec.path(
        "/api/v1/cases/{case_id}/stage",
        operations={
            "post": _op(
                "Move the case to a later stage",
                {"200": _json("Case"), **_errors(400, 401, 403, 404, 409, 422)},
                parameters=[_id_param("case_id", "integer")],
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": "StageAdvance"}},
                },
            )
        },
    )
    spec.path(
        "/api/v1/cases/{case_id}/media",
        operations={
            "get": _op(
                "Media items of a case",
                {"200": _json("MediaList"), **_errors(401, 404)},
                parameters=[
                    _id_param("case_id", "integer"),
                    {"name": "sha256", "in": "query", "schema": {"type": "string"}},
                ],
            )
        },
    )
    spec.path(
        "/api/v1/media/{item_id}",
        operations={
            "get": _op(
                "Metadata of a media item (hashes, times, place, device)",
                {"200": _json("MediaItem"), **_errors(401, 404)},
                parameters=[_id_param("item_id")],
            )
        },
    )
    spec.path(
        "/api/v1/media/{item_id}/original",
        operations={
            "get": _op(
                "The original's bytes; HTTP Range gives 206",
                {
                    "200": {"description": "the whole file"},
                    "206": {"description": "the requested range"},
                    **_errors(401, 404, 409, 416),
                },
                parameters=[
                    _id_param("item_id"),
                    {
                        "name": "download",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["1"]},
                    },
                    _PT,
                    {"name": "Range", "in": "header", "schema": {"type": "string"}},
                ],
            )
        },
    )
    spec.path(
        "/api/v1/cases/{case_id}/gaps",
        operations={
            "get": _op(
                "Recording gaps of a case (must-film activities, major-property stages)",
                {"200": _json("GapList"), **_errors(401, 404)},
                parameters=[_id_param("case_id", "integer")],
            )
        },
    )
    for name, what in (
        ("thumbnail", "JPEG thumbnail (photo, or the video's poster)"),
        ("preview", "JPEG preview of a photo, orientation applied, metadata stripped"),
        ("poster", "JPEG poster frame of a video"),
        ("strip", "JPEG sprite of thumbnails for scrubbing"),
        ("proxy", "browser-playable proxy: H.264/AAC MP4 or AAC M4A; HTTP Range"),
        ("waveform", "JSON peaks of an audio item for the player"),
    ):
        spec.path(
            f"/api/v1/media/{{item_id}}/{name}",
            operations={
                "get": _op(
                    what,
                    {
                        "200": {"description": "the file"},
                        "206": {"description": "a range"},
                        **_errors(401, 404, 416),
                    },
                    parameters=[
                        _id_param("item_id"),
                        _PT,
                        {"name": "Range", "in": "header", "schema": {"type": "string"}},
                    ],
                )
            },
        )
    spec.path(
        "/api/v1/media/{item_id}/attachment",
        operations={
            "post": _op(
                "Supervisor places or moves an item on a case stage (history kept)",
                {"200": _json("MediaItem"), **_errors(400, 401, 403, 404, 409, 422)},
                parameters=[_id_param("item_id")],
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": "Reattach"}},
                },
            )
        },
    )
    spec.path(
        "/api/v1/media/{item_id}/custody",
        operations={
            "get": _op(
                "The item's chain of custody (its audit entries, in order), paged",
                {"200": _json("Custody"), **_errors(401, 404, 422)},
                parameters=[
                    _id_param("item_id"),
                    {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    },
                ],
            )
        },
    )
    spec.path(
        "/api/v1/media/{item_id}/receipt",
        operations={
            "get": _op(
                "The item's signed receipt (存证回执: hashes, times, case, stage, its audit "
                "entry, a tree head and the inclusion proof); check with verify.py receipt",
                {
                    "200": {
                        "description": "The receipt file (canonical JSON)",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **_errors(401, 404, 409),
                },
                parameters=[_id_param("item_id")],
            )
        },
    )
    tus_errors = _errors(400, 401, 403, 404, 409, 410, 412, 413, 415, 422, 423, 460)
    spec.path(
        "/api/v1/uploads/",
        operations={
            "options": {
                "summary": "tus discovery",
                "responses": {"204": {"description": "capabilities"}},
            },
            "post": _op(
                "tus creation (and creation-with-upload)",
                {"201": {"description": "created; Location names the upload"}, **tus_errors},
                parameters=_tus_headers("Upload-Length", "Upload-Metadata"),
            ),
        },
    )
    spec.path(
        "/api/v1/uploads/{upload_id}",
        operations={
            "options": {
                "summary": "tus discovery",
                "parameters": [_id_param("upload_id")],
                "responses": {"204": {"description": "capabilities"}},
            },
            "head": _op(
                "tus offset",
                {"200": {"description": "Upload-Offset header"}, **tus_errors},
                parameters=[_id_param("upload_id"), *_tus_headers()],
            ),
            "patch": _op(
                "tus append",
                {"204": {"description": "new Upload-Offset"}, **tus_errors},
                parameters=[
                    _id_param("upload_id"),
                    *_tus_headers("Upload-Offset", "Upload-Checksum"),
                ],
                requestBody={
                    "content": {
                        "application/offset+octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    }
                },
            ),
            "delete": _op(
                "tus termination",
                {"204": {"description": "terminated"}, **tus_errors},
                parameters=[_id_param("upload_id"), *_tus_headers()],
            ),
            "post": _op(
                "X-HTTP-Method-Override for PATCH or DELETE",
                {"204": {"description": "done"}, **tus_errors},
                parameters=[
                    _id_param("upload_id"),
                    *_tus_headers("X-HTTP-Method-Override", "Upload-Offset"),
                ],
            ),
            "get": _op(
                "Upload status and the verification state of its item",
                {"200": _json("UploadStatus"), **_errors(401, 404, 410)},
                parameters=[_id_param("upload_id")],
            ),
        },
    )
    _credential_paths(spec)
    _console_paths(spec)
    from ..public.keys import OPENAPI_ROWS as KEY_ROWS
    from ..public.log import OPENAPI_ROWS as LOG_ROWS
    from ..public.receipt import OPENAPI_ROWS as RECEIPT_ROWS
    from .case_forms import OPENAPI_ROWS as FORM_ROWS
    from .openapi_workflow import ROWS, add_paths
    from .reports import OPENAPI_ROWS

    add_paths(spec, ROWS + OPENAPI_ROWS + KEY_ROWS + FORM_ROWS + LOG_ROWS + RECEIPT_ROWS)
    from .admin import add_openapi as add_admin_paths

    add_admin_paths(spec)
    from .case_team import add_openapi as add_case_team_paths

    add_case_team_paths(spec)
    spec.path(
        "/api/v1/openapi.json",
        operations={
            "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3"}}}
        },
    )
    spec.path(
        "/healthz",
        operations={"get": {"summary": "Liveness", "responses": {"200": _json("Health")}}},
    )
    spec.path(
        "/readyz",
        operations={
            "get": {
                "summary": "Readiness: database, storage, queue",
                "responses": {"200": _json("Health"), "503": _json("Health", "not ready")},
            }
        },
    )
    spec.path(
        "/metrics",
        operations={
            "get": {
                "summary": "Prometheus metrics (text format 0.0.4), names prefixed fieldtrace_; "
                "for this machine (not through a proxy) or a bearer of FIELDTRACE_METRICS_TOKEN",
                "security": [{"bearer": []}, {}],
                "responses": {
                    "200": {
                        "description": "metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **_errors(403),
                },
            }
        },
    )
    return spec.to_dict()


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _credential_paths(spec: APISpec) -> None:
    """执法证 management, the holder's 亮证 display, and the public check of a scanned code."""
    spec.path(
        "/api/v1/credentials",
        operations={
            "get": _op(
                "Credentials: an admin sees their unit's, anyone else only their own",
                {"200": _json("CredentialList"), **_errors(401, 404, 422)},
                parameters=[{"name": "user_id", "in": "query", "schema": {"type": "integer"}}],
            ),
            "post": _op(
                "Issue a credential to an officer of the admin's unit",
                {"201": _json("Credential", "issued"), **_errors(400, 401, 403, 404, 409, 422)},
                requestBody=_body("CredentialCreate"),
            ),
        },
    )
    spec.path(
        "/api/v1/credentials/{credential_id}/status",
        operations={
            "post": _op(
                "Suspend, revoke (final) or reactivate a credential, with a reason",
                {"200": _json("Credential"), **_errors(400, 401, 403, 404, 409, 422)},
                parameters=[_id_param("credential_id", "integer")],
                requestBody=_body("CredentialStatusChange"),
            )
        },
    )
    spec.path(
        "/api/v1/me/credential",
        operations={
            "get": _op(
                "亮证: the holder's active credential with a fresh 60-second QR token, "
                "its public verification URL and the QR code as SVG (404 "
                "no_active_credential with details.reason: no_credential, expired, "
                "suspended or revoked)",
                {"200": _json("CredentialDisplay"), **_errors(401, 403, 404)},
                parameters=[
                    {
                        "name": "case_id",
                        "in": "query",
                        "description": "the case being worked on: the display is written to "
                        "its custody trail too",
                        "schema": {"type": "integer"},
                    },
                    {
                        "name": "device_key_id",
                        "in": "query",
                        "description": "this phone's registered key: the answer then carries "
                        "`offline`, a device certificate for codes made without network",
                        "schema": {"type": "integer"},
                    },
                    *(
                        {
                            "name": name,
                            "in": "query",
                            "description": "where the phone is (when it knows): written to "
                            "the case's custody entry",
                            "schema": {"type": "number"},
                        }
                        for name in ("latitude", "longitude", "accuracy_m")
                    ),
                ],
            )
        },
    )
    jpeg = {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}
    spec.path(
        "/api/v1/credentials/{credential_id}/photo",
        operations={
            "put": _op(
                "The officer's photo (admin): a JPEG/PNG body or JSON {image: data URL}, at "
                "most 5 MB and 4000×4000; stored re-encoded as a 600 px-high JPEG without "
                "metadata, a new object per photo (audited)",
                {"200": _json("Credential"), **_errors(400, 401, 403, 404, 413, 415, 422)},
                parameters=[_id_param("credential_id", "integer")],
                requestBody={
                    "required": True,
                    "content": {
                        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                        "image/png": {"schema": {"type": "string", "format": "binary"}},
                        "application/json": {"schema": "CredentialPhoto"},
                    },
                },
            ),
            "get": _op(
                "The officer's photo, to its holder and the admins of the holder's unit",
                {"200": {"description": "JPEG", "content": jpeg}, **_errors(401, 404)},
                parameters=[_id_param("credential_id", "integer")],
            ),
        },
    )
    token = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
    photo_public = {
        "200": {"description": "JPEG (Cache-Control: no-store)", "content": jpeg},
        "404": {"description": "the code does not verify now, or there is no photo"},
    }
    lang = {"name": "lang", "in": "query", "schema": {"type": "string", "enum": ["zh", "en"]}}
    spec.path(
        "/public/credentials/verify/{token}",
        operations={
            "get": {
                "summary": "Public page (zh-CN, ?lang=en): is the scanned credential valid now?",
                "parameters": [token, lang],
                "responses": {
                    "200": {
                        "description": "✓ 有效 with the legally required facts, or ✗ 无效 "
                        "with the reason",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    )
    spec.path(
        "/public/credentials/verify/{token}.json",
        operations={
            "get": {
                "summary": "The same public check, for machines",
                "parameters": [token, lang],
                "responses": {"200": _json("PublicCredentialCheck")},
            }
        },
    )
    for suffix in ("", ".json"):  # the short path new QR codes carry: a less dense code
        spec.path(
            f"/public/verify/{{token}}{suffix}",
            operations={
                "get": {
                    "summary": f"Same as /public/credentials/verify/{{token}}{suffix}",
                    "parameters": [token, lang],
                    "responses": {
                        "200": _json("PublicCredentialCheck")
                        if suffix
                        else {
                            "description": "the public page",
                            "content": {"text/html": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
        )
    for path in ("/public/verify/{token}/photo", "/public/credentials/verify/{token}/photo"):
        spec.path(
            path,
            operations={
                "get": {
                    "summary": "The officer's photo, only while the token verifies",
                    "parameters": [token],
                    "responses": photo_public,
                }
            },
        )
    spec.path(
        "/api/v1/me/device-key",
        operations={
            "post": _op(
                "Register this phone's ECDSA P-256 key for offline 亮证 codes (201 new, 200 "
                "already registered; a new key of a phone revokes its old one)",
                {
                    "201": _json("DeviceKey", "registered"),
                    "200": _json("DeviceKey", "already registered"),
                    **_errors(400, 401, 403, 409, 422),
                },
                requestBody=_body("DeviceKeyRegister"),
            )
        },
    )
    spec.path(
        "/api/v1/device-keys",
        operations={
            "get": _op(
                "Device keys: an admin sees their unit's, anyone else only their own",
                {"200": _json("DeviceKeyList"), **_errors(401, 404, 422)},
                parameters=[{"name": "user_id", "in": "query", "schema": {"type": "integer"}}],
            )
        },
    )
    spec.path(
        "/api/v1/device-keys/{key_id}/revoke",
        operations={
            "post": _op(
                "Revoke a phone's key (lost phone): its offline codes fail at the next scan",
                {"200": _json("DeviceKey"), **_errors(400, 401, 404, 409, 422)},
                parameters=[_id_param("key_id", "integer")],
                requestBody=_body("DeviceKeyRevoke"),
            )
        },
    )
    code = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
    spec.path(
        "/public/credentials/offline/{code}",
        operations={
            "get": {
                "summary": "Public page for a code the officer's phone made offline "
                "(离线出示): certificate, device signature, time window, credential now",
                "parameters": [code, lang],
                "responses": {
                    "200": {
                        "description": "✓ 有效 with the legally required facts, or ✗ 无效 "
                        "with the reason",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    )
    spec.path(
        "/public/credentials/offline/{code}.json",
        operations={
            "get": {
                "summary": "The same offline check, for machines",
                "parameters": [code, lang],
                "responses": {"200": _json("PublicCredentialCheck")},
            }
        },
    )
    spec.path(
        "/public/credentials/offline/{code}/photo",
        operations={
            "get": {
                "summary": "The officer's photo, only while the offline code verifies",
                "parameters": [code],
                "responses": photo_public,
            }
        },
    )


def _console_paths(spec: APISpec) -> None:
    """Supervisor console (docs/console-api.md)."""

    def q(name: str, kind: str = "string", **schema: Any) -> dict[str, Any]:
        return {"name": name, "in": "query", "schema": {"type": kind, **schema}}

    filters = [
        q("page", "integer", minimum=1),
        q("per_page", "integer", minimum=1, maximum=200),
        q("officer_id", "integer", minimum=1),
        q("from", format="date"),
        q("to", format="date"),
        q("number"),
        q("stage", enum=[st.value for st in Stage]),
        q("activity", enum=[a.value for a in Activity]),
        q("kind", enum=[k.value for k in MediaKind]),
        q("flag", enum=list(s.CONSOLE_FLAGS)),
        q("q"),
    ]
    spec.path(
        "/api/v1/console/cases",
        operations={
            "get": _op(
                "The unit's cases with officers, counts per stage and kind, and flags "
                "(supervisor, legal reviewer)",
                {"200": _json("ConsoleCaseList"), **_errors(401, 403, 422)},
                parameters=filters,
            )
        },
    )
    spec.path(
        "/api/v1/console/media",
        operations={
            "get": _op(
                "The unit's media items, newest capture first (supervisor, legal reviewer)",
                {"200": _json("ConsoleMediaList"), **_errors(401, 403, 404, 422)},
                parameters=[*filters, q("case_id", "integer", minimum=1)],
            )
        },
    )
    spec.path(
        "/api/v1/cases/{case_id}/timeline",
        operations={
            "get": _op(
                "Stages in order with their media, unattached items, credential displays, gaps",
                {"200": _json("Timeline"), **_errors(401, 404)},
                parameters=[_id_param("case_id", "integer")],
            )
        },
    )
    item = [_id_param("item_id")]
    spec.path(
        "/api/v1/media/{item_id}/playback-url",
        operations={
            "post": _op(
                "A 10-minute URL (?pt=) for <video>/<img>, which cannot send headers",
                {"200": _json("PlaybackUrl"), **_errors(400, 401, 404, 409, 422)},
                parameters=item,
                requestBody=_body("PlaybackUrlRequest"),
            )
        },
    )
    spec.path(
        "/api/v1/media/{item_id}/bookmarks",
        operations={
            "get": _op(
                "Time-coded bookmarks of a recording",
                {"200": _json("BookmarkList"), **_errors(401, 404)},
                parameters=item,
            ),
            "post": _op(
                "Add a bookmark (supervisor, legal reviewer); audited",
                {"201": _json("Bookmark", "created"), **_errors(400, 401, 403, 404, 422)},
                parameters=item,
                requestBody=_body("BookmarkCreate"),
            ),
        },
    )
    spec.path(
        "/api/v1/media/{item_id}/key-evidence",
        operations={
            "post": _op(
                "Mark or unmark key evidence (重要) with a reason (supervisor); audited",
                {"200": _json("MediaItem"), **_errors(400, 401, 403, 404, 409, 422)},
                parameters=item,
                requestBody=_body("KeyEvidence"),
            )
        },
    )
    for fmt, media_type in (("csv", "text/csv"), ("pdf", "application/pdf")):
        spec.path(
            f"/api/v1/media/{{item_id}}/custody.{fmt}",
            operations={
                "get": _op(
                    f"The chain of custody as {fmt.upper()} (audited as custody.exported)",
                    {
                        "200": {
                            "description": "the export",
                            "content": {media_type: {"schema": {"type": "string"}}},
                        },
                        **_errors(401, 403, 404),
                    },
                    parameters=[
                        *item,
                        _PT,
                        q("download", enum=["1"]),
                    ],
                )
            },
        )


@bp.get("/openapi.json")
def openapi_json():
    return build_spec()
