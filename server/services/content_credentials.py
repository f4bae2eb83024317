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
makes its own: a unit CA and, issued by it, an ES256 signing certificate, both under
``DATA_DIR`` on first use (like the audit key). ``FIELDTRACE_C2PA_CERT`` and
``FIELDTRACE_C2PA_KEY`` point at a CA-issued chain (PEM, leaf first) and its key instead.
The chain is published at ``/public/signing-keys/c2pa-chain.pem`` (and the self-made CA alone
at ``/public/signing-keys/c2pa-ca.pem``), so a reader can add the CA to its trust list; until
then, readers report ``signingCredential.untrusted`` and nothing else.

>>> creds = ContentCredentials(Path("instance/c2pa"))  # doctest: +SKIP
>>> signed = creds.sign_bytes(jpeg, content_type="image/jpeg", title="preview.jpg",
...     original=Original(sha256=item.server_sha256, content_type="image/heic", id=item.id),
...     actions=["c2pa.resized"])  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SOFTWARE_AGENT = "Fieldtrace"
ORIGINAL_ASSERTION = "org.fieldtrace.original"
CA_FILE, CERT_FILE, KEY_FILE = "c2pa-unit-ca.pem", "c2pa-unit-cert.pem", "c2pa-unit-key.pem"
_VALID_YEARS = 10

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
        directory: Path,
        *,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
        unit_name: str = "Fieldtrace unit",
    ) -> None:
        self.directory = Path(directory)
        self.cert_file = Path(cert_file) if cert_file else None
        self.key_file = Path(key_file) if key_file else None
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
                    self._chain, self._key = self._own_credentials()
            return self._chain, self._key

    def _own_credentials(self) -> tuple[bytes, bytes]:
        ca_path, cert_path, key_path = (
            self.directory / CA_FILE,
            self.directory / CERT_FILE,
            self.directory / KEY_FILE,
        )
        if not key_path.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            ca_pem, cert_pem, key_pem = make_unit_certificates(self.unit_name)
            # The key last and exclusively: a second process racing us keeps the first set.
            for path, data in ((ca_path, ca_pem), (cert_path, cert_pem)):
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(data)
                if not key_path.exists():
                    os.replace(tmp, path)
                else:
                    tmp.unlink()
            try:
                fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(key_pem)
        return cert_path.read_bytes() + ca_path.read_bytes(), key_path.read_bytes()

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

    def _signer(self) -> c2pa.Signer:
        chain, key = self._load()
        return c2pa.Signer.from_info(
            c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key, None)
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
    ) -> None:
        """Write ``source`` (seekable) to ``dest`` with a signed manifest embedded."""
        definition = self.manifest_definition(
            content_type=content_type, title=title, original=original, actions=actions
        )
        signer = self._signer()
        try:
            with c2pa.Builder(definition, self._context) as builder:
                builder.sign(signer, content_type, source, dest)
        finally:
            signer.close()

    def sign_bytes(self, data: bytes, **kwargs: Any) -> bytes:
        out = io.BytesIO()
        self.sign(io.BytesIO(data), out, **kwargs)
        return out.getvalue()


def make_unit_certificates(unit_name: str) -> tuple[bytes, bytes, bytes]:
    """A self-made unit CA and an ES256 C2PA signing certificate it issued, as PEM
    (CA, certificate, PKCS#8 key). The CA's key is not kept: it signs this one certificate,
    so nothing can issue another in its name later."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, unit_name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{unit_name} Fieldtrace C2PA CA"),
        ]
    )
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, unit_name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{unit_name} Fieldtrace content credentials"),
        ]
    )
    start, end = now - timedelta(hours=1), now + timedelta(days=365 * _VALID_YEARS)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
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
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return (
        ca.public_bytes(pem),
        cert.public_bytes(pem),
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
