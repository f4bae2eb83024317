"""Enforcement documents (执法文书): the type registry and PDF rendering.

The registry is pure (marshmallow only); `server.documents.render` pulls in reportlab and
Pillow, so it is imported where a PDF is made, not from here.
"""

from __future__ import annotations

from .registry import DOCUMENT_TYPES, DocumentType, describe, dump_fields, get_type, validate_fields

__all__ = [
    "DOCUMENT_TYPES",
    "DocumentType",
    "describe",
    "dump_fields",
    "get_type",
    "validate_fields",
]
