"""The server's Ed25519 key, used to sign audit heads so auditors can check them offline."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class Signer:
    """Signs bytes with a private key kept in a file (created on first use, mode 0600)."""

    def __init__(self, key_file: Path) -> None:
        self.key_file = Path(key_file)
        self._key: Ed25519PrivateKey | None = None

    @property
    def key(self) -> Ed25519PrivateKey:
        if self._key is None:
            if self.key_file.exists():
                loaded = serialization.load_pem_private_key(self.key_file.read_bytes(), None)
                if not isinstance(loaded, Ed25519PrivateKey):
                    raise ValueError(f"{self.key_file} is not an Ed25519 key")
                self._key = loaded
            else:
                self._key = Ed25519PrivateKey.generate()
                self.key_file.parent.mkdir(parents=True, exist_ok=True)
                pem = self._key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(pem)
        return self._key

    @property
    def public_key_hex(self) -> str:
        return self.key.public_key().public_bytes_raw().hex()

    def sign(self, message: bytes) -> str:
        return self.key.sign(message).hex()


def verify_signature(public_key_hex: str, message: bytes, signature_hex: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(
            bytes.fromhex(signature_hex), message
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def key_fingerprint(public_key_hex: str) -> str:
    """A short form of a public key for reading aloud or comparing by eye:
    ``SHA256:`` and the first 128 bits of the SHA-256 of the raw key, in groups of four
    (the same as ``server/archive/verify.py`` prints)."""
    digest = hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:32]
    return "SHA256:" + " ".join(digest[i : i + 4] for i in range(0, 32, 4))
