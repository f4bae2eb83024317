"""The server's signing public keys (签名公钥), published so an auditor can pin them.

A case archive carries the key it was signed with, but anyone who forges an archive can sign
it with a key of their own: the auditor must compare the archive's key with one obtained
independently of the archive. This page is that independent source (with the standalone
verifier to download alongside). Deliberately public: keys, fingerprints and dates only.
"""

from __future__ import annotations

from flask import jsonify, make_response, render_template

from ..archive import verify as verifier
from ..extensions import db
from ..runtime import runtime
from ..services import audit
from . import bp
from .disclosure import _HEADERS


def _keys() -> list[dict]:
    return audit.signing_keys(db.session, runtime().signer)


def _content_credentials() -> dict | None:
    """The C2PA chain's facts (fingerprints, names, expiry), or None when not signing."""
    credentials = runtime().credentials
    return credentials.certificate_info() if credentials is not None else None


@bp.get("/signing-keys")
def signing_keys():
    response = make_response(
        render_template(
            "public/signing_keys.html", keys=_keys(), content_credentials=_content_credentials()
        )
    )
    response.headers.update(_HEADERS)
    return response


@bp.get("/signing-keys.json")
def signing_keys_json():
    response = jsonify(
        {"algorithm": "Ed25519", "keys": _keys(), "content_credentials": _content_credentials()}
    )
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/signing-keys/verify.py")
def verifier_source():
    """The standalone verifier, to use instead of the copy inside an archive."""
    with open(verifier.__file__, "rb") as fh:
        body = fh.read()
    response = make_response(body)
    response.headers.update(
        {
            "Content-Type": "text/x-python; charset=utf-8",
            "Content-Disposition": "attachment; filename=verify.py",
            "Cache-Control": "public, max-age=300",
            "X-Content-Type-Options": "nosniff",
        }
    )
    return response


def _pem(body: bytes, filename: str):
    response = make_response(body)
    response.headers.update(
        {
            "Content-Type": "application/x-pem-file",
            "Content-Disposition": f"attachment; filename={filename}",
            "Cache-Control": "public, max-age=300",
            "X-Content-Type-Options": "nosniff",
        }
    )
    return response


@bp.get("/signing-keys/c2pa-chain.pem")
def content_credentials_chain():
    """The certificate chain (leaf first) that signs the C2PA manifests on exported copies."""
    credentials = runtime().credentials
    if credentials is None:
        return make_response("", 404)
    return _pem(credentials.chain_pem, "fieldtrace-c2pa-chain.pem")


@bp.get("/signing-keys/c2pa-ca.pem")
def content_credentials_ca():
    """The root of that chain: add it to a C2PA reader's trust anchors to trust the unit."""
    credentials = runtime().credentials
    if credentials is None:
        return make_response("", 404)
    return _pem(credentials.ca_pem, "fieldtrace-c2pa-ca.pem")


# Rows for the OpenAPI document, in the format of ``api.openapi_workflow.add_paths``
# (path, method, summary, body, response, error codes, public).
OPENAPI_ROWS: tuple[tuple[str, str, str, str | None, str | None, tuple[int, ...], bool], ...] = (
    (
        "/public/signing-keys",
        "get",
        "The server's current and past signing public keys (pin them to verify an archive)",
        None,
        "text/html",
        (),
        True,
    ),
    (
        "/public/signing-keys.json",
        "get",
        "The signing public keys, fingerprints and periods of use, for machines",
        None,
        "object",
        (),
        True,
    ),
    (
        "/public/signing-keys/verify.py",
        "get",
        "The standalone archive verifier (Python 3 standard library only)",
        None,
        "text/x-python",
        (),
        True,
    ),
    (
        "/public/signing-keys/c2pa-chain.pem",
        "get",
        "The certificate chain that signs C2PA content credentials on exported copies (PEM)",
        None,
        "application/x-pem-file",
        (404,),
        True,
    ),
    (
        "/public/signing-keys/c2pa-ca.pem",
        "get",
        "The unit's C2PA root certificate, to add to a C2PA reader's trust anchors (PEM)",
        None,
        "application/x-pem-file",
        (404,),
        True,
    ),
)
