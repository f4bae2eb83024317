"""C2PA content credentials for the copies that leave the system (issue 16).

A photo preview, a video proxy or an issued PDF put into an exported case file carries a C2PA
manifest signed for the unit: it names the original by its SHA-256 (an ingredient whose title
is ``sha256:<hex>``, and the ``org.fieldtrace.original`` assertion), says what was done
(``c2pa.actions.v2``: opened, then resized / transcoded / converted / redacted, software agent
Fieldtrace) and binds every byte of the copy, so any C2PA reader finds a change.

Only copies are signed: the original is never read here, let alone rewritten (it is WORM
evidence), and the stored derivative stays as the pipeline recorded it; the export writes a
signed copy of it.

Signing needs an X.509 chain (C2PA does not take bare keys). By default each installation
has its own, derived from the unit's Ed25519 audit key (``SIGNING_KEY_FILE``, made on first
use under ``DATA_DIR``): a unit CA naming that key's fingerprint and, issued by it, an ES256
signing certificate. Derived, not stored: every node of a cluster holds the audit key and so
makes the same chain, and there is no second secret to copy or back up.
``FIELDTRACE_C2PA_CERT`` and ``FIELDTRACE_C2PA_KEY`` point at a CA-issued chain (PEM, leaf
first) and its key instead. The chain is published at ``/public/signing-keys/c2pa-chain.pem``
(its root alone at ``/public/signing-keys/c2pa-ca.pem``), so a reader can add the CA to its
trust list; until then, readers report ``signingCredential.untrusted`` and nothing else.

>>> creds = ContentCredentials(Signer(Path("instance/audit-signing-key.pem")))  # doctest: +SKIP
>>> signed = creds.sign_bytes(jpeg, content_type="image/jpeg", title="preview.jpg",
...     original=Original(sha256=item.server_sha256, content_type="image/heic", id=item.id),
...     actions=["c2pa.resized"])  # doctest: +SKIP
"""

from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .signing import Signer, key_fingerprint

SOFTWARE_AGENT = "Fieldtrace"
ORIGINAL_ASSERTION = "org.fieldtrace.original"
log = logging.getLogger(__name__)
TSA_RETRY_S = 60.0
# Fixed, so every node derives the same certificates (the validity C2PA readers check).
_NOT_BEFORE = datetime(2025, 1, 1, tzinfo=UTC)
_NOT_AFTER = datetime(2055, 1, 1, tzinfo=UTC)
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

# Content types the export signs. Anything else (waveform JSON, ...) goes out as stored.
SIGNABLE = frozenset({"image/jpeg", "image/png", "video/mp4", "audio/mp4", "application/pdf"})


@dataclass(frozen=True)
class Original:
    """What a copy was made from, as the manifest names it (never its bytes)."""

    sha256: str
    content_type: str
    id: str  # media item or document id, so a reader can ask the unit for it
    kind: str = "media"  # media | document


def derivative_actions(name: str, original_type: str, content_type: str) -> list[str]:
    """The C2PA actions that made derivative ``name`` (the pipeline's names) of an original."""
    if name == "proxy":
        return ["c2pa.transcoded"]
    if "redacted" in name:
        return ["c2pa.redacted"]
    converted = original_type != content_type  # a HEIC photo's or a video's JPEG
    return (["c2pa.converted"] if converted else []) + ["c2pa.resized"]


class ContentCredentials:
    """Signs C2PA manifests into copies with the unit's certificate (made on first use)."""

    def __init__(
        self,
        audit_signer: Signer,
        *,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
        unit_name: str = "Fieldtrace unit",
        tsa_url: str | None = None,
    ) -> None:
        self.audit_signer = audit_signer
        self.tsa_url = tsa_url or None
        self._tsa_retry_at = 0.0
        if bool(cert_file) != bool(key_file):
            raise RuntimeError(
                "FIELDTRACE_C2PA_CERT and FIELDTRACE_C2PA_KEY go together (a CA-issued chain "
                "and its key); set both, or neither for the unit's own chain"
            )
        self.cert_file = Path(cert_file) if cert_file else None
        self.key_file = Path(key_file) if key_file else None
        if self.cert_file and self.key_file:
            _check_configured_pair(self.cert_file.read_bytes(), self.key_file.read_bytes())
        self.unit_name = unit_name
        self._lock = threading.Lock()
        self._chain: bytes | None = None
        self._key: bytes | None = None
        self._context = c2pa.Context.from_dict(
            # No thumbnail of the copy inside its own manifest: it would only repeat the
            # picture (and, for a redacted copy, must never hold more than the copy shows).
            {"builder": {"thumbnail": {"enabled": False}}}
        )

    # --- credentials -----------------------------------------------------------------------

    def _load(self) -> tuple[bytes, bytes]:
        with self._lock:
            if self._chain is None or self._key is None:
                if self.cert_file and self.key_file:
                    self._chain = self.cert_file.read_bytes()
                    self._key = self.key_file.read_bytes()
                else:
                    ca_pem, cert_pem, key_pem = make_unit_certificates(
                        self.unit_name,
                        seed=self.audit_signer.key.private_bytes_raw(),
                        audit_key_hex=self.audit_signer.public_key_hex,
                    )
                    self._chain, self._key = cert_pem + ca_pem, key_pem
            return self._chain, self._key

    @property
    def chain_pem(self) -> bytes:
        """The signing certificate and the CA(s) above it, PEM, leaf first (published)."""
        return self._load()[0]

    @property
    def ca_pem(self) -> bytes:
        """The chain's root: the certificate a reader adds to its trust anchors."""
        certs = x509.load_pem_x509_certificates(self.chain_pem)
        return certs[-1].public_bytes(serialization.Encoding.PEM)

    def certificate_info(self) -> dict[str, Any]:
        certs = x509.load_pem_x509_certificates(self.chain_pem)
        leaf, root = certs[0], certs[-1]
        return {
            "algorithm": "ES256",
            "subject": leaf.subject.rfc4514_string(),
            "issuer": leaf.issuer.rfc4514_string(),
            "not_after": leaf.not_valid_after_utc.isoformat(),
            "ca_sha256": root.fingerprint(hashes.SHA256()).hex(),
            "cert_sha256": leaf.fingerprint(hashes.SHA256()).hex(),
        }

    def _signer(self, tsa_url: str | None) -> c2pa.Signer:
        chain, key = self._load()
        return c2pa.Signer.from_info(
            c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key, tsa_url)
        )

    # --- signing ---------------------------------------------------------------------------

    def manifest_definition(
        self, *, content_type: str, title: str, original: Original, actions: list[str]
    ) -> dict[str, Any]:
        ingredient = f"fieldtrace:{original.kind}:{original.id}"
        agent = {"name": SOFTWARE_AGENT}
        return {
            "claim_generator_info": [{"name": SOFTWARE_AGENT, "version": "1"}],
            "title": title,
            "format": content_type,
            "ingredients": [
                {
                    "title": f"sha256:{original.sha256}",
                    "format": original.content_type,
                    "relationship": "parentOf",
                    "instance_id": ingredient,
                    "label": ingredient,
                }
            ],
            "assertions": [
                {
                    "label": "c2pa.actions.v2",
                    "data": {
                        "actions": [
                            {
                                "action": "c2pa.opened",
                                "softwareAgent": agent,
                                "parameters": {"ingredientIds": [ingredient]},
                            },
                            *({"action": a, "softwareAgent": agent} for a in actions),
                        ]
                    },
                },
                {
                    "label": ORIGINAL_ASSERTION,
                    "data": {
                        "kind": original.kind,
                        "id": original.id,
                        "sha256": original.sha256,
                        "content_type": original.content_type,
                    },
                },
            ],
        }

    def sign(
        self,
        source: IO[bytes],
        dest: IO[bytes],
        *,
        content_type: str,
        title: str,
        original: Original,
        actions: list[str],
    ) -> bool:
        """Write ``source`` (seekable) to ``dest`` (seekable, empty) with a signed manifest
        embedded; True when the signature carries an RFC 3161 timestamp from ``tsa_url``.

        A TSA that fails is not a reason to refuse an export: the copy is signed without
        trusted time (the manifest still binds it; the signing time is then the signer's
        word), and the TSA is left alone for ``TSA_RETRY_S`` so one outage does not cost
        every copy of the export a failed request."""
        definition = self.manifest_definition(
            content_type=content_type, title=title, original=original, actions=actions
        )
        start = source.tell()
        if self.tsa_url and time.monotonic() >= self._tsa_retry_at:
            try:
                self._sign_once(definition, content_type, source, dest, self.tsa_url)
                return True
            except c2pa.C2paError as exc:
                log.warning("C2PA timestamp from %s failed, signing without: %s", self.tsa_url, exc)
                self._tsa_retry_at = time.monotonic() + TSA_RETRY_S
                source.seek(start)
                dest.seek(0)
                dest.truncate()
        self._sign_once(definition, content_type, source, dest, None)
        return False

    def _sign_once(
        self,
        definition: dict[str, Any],
        content_type: str,
        source: IO[bytes],
        dest: IO[bytes],
        tsa_url: str | None,
    ) -> None:
        signer = self._signer(tsa_url)
        try:
            with c2pa.Builder(definition, self._context) as builder:
                builder.sign(signer, content_type, source, dest)
        finally:
            signer.close()

    def sign_bytes(self, data: bytes, **kwargs: Any) -> bytes:
        out = io.BytesIO()
        self.sign(io.BytesIO(data), out, **kwargs)
        return out.getvalue()


def _check_configured_pair(chain_pem: bytes, key_pem: bytes) -> None:
    """Refuse at start-up, not at the first export, a chain whose leaf is not for this key."""
    certs = x509.load_pem_x509_certificates(chain_pem)
    key = serialization.load_pem_private_key(key_pem, None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise RuntimeError("FIELDTRACE_C2PA_KEY must be a P-256 (ES256) private key")
    if certs[0].public_key() != key.public_key():
        raise RuntimeError(
            "FIELDTRACE_C2PA_CERT's first certificate is not for FIELDTRACE_C2PA_KEY "
            "(the chain goes leaf first)"
        )


def _derived_scalar(seed: bytes, label: str) -> int:
    okm = HKDF(hashes.SHA256(), 48, salt=None, info=f"fieldtrace/c2pa/{label}/1".encode())
    return int.from_bytes(okm.derive(seed), "big") % (_P256_ORDER - 1) + 1


def make_unit_certificates(
    unit_name: str, *, seed: bytes | None = None, audit_key_hex: str | None = None
) -> tuple[bytes, bytes, bytes]:
    """A unit CA and an ES256 C2PA signing certificate it issued, as PEM (CA, certificate,
    PKCS#8 key of the certificate).

    With ``seed`` (the unit's Ed25519 audit key) both keys are derived from it (HKDF-SHA256,
    one label each), and serials, dates and the deterministic ECDSA signatures follow, so
    every node holding that key makes byte-identical certificates: no second secret to copy
    to each node, no node publishing a CA of its own, and a new audit key is a new CA. The
    CA's subject names the audit key's fingerprint, tying it to the published key. Without a
    seed, fresh random keys (tests, or a chain to hand to a real CA's process)."""
    if seed is None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        key = ec.generate_private_key(ec.SECP256R1())
        serials = (x509.random_serial_number(), x509.random_serial_number())
    else:
        ca_key = ec.derive_private_key(_derived_scalar(seed, "ca"), ec.SECP256R1())
        key = ec.derive_private_key(_derived_scalar(seed, "signer"), ec.SECP256R1())
        serials = (
            _derived_scalar(seed, "ca-serial") >> 104 | 1,
            _derived_scalar(seed, "serial") >> 104 | 1,
        )
    ca_attrs = [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, unit_name),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{unit_name} Fieldtrace C2PA CA"),
    ]
    if audit_key_hex:
        ca_attrs.insert(
            1,
            x509.NameAttribute(
                NameOID.ORGANIZATIONAL_UNIT_NAME, "audit key " + key_fingerprint(audit_key_hex)
            ),
        )
    ca_name = x509.Name(ca_attrs)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, unit_name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{unit_name} Fieldtrace content credentials"),
        ]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(serials[0])
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256(), ecdsa_deterministic=True)
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(serials[1])
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        # C2PA signers need an EKU other than anyExtendedKeyUsage (C2PA 2.x, 14.5.1).
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256(), ecdsa_deterministic=True)
    )
    pem = serialization.Encoding.PEM
    return (
        ca.public_bytes(pem),
        cert.public_bytes(pem),
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
