"""The audit log's Merkle tree, published (公开审计日志): signed tree heads, inclusion and
consistency proofs (RFC 6962), so anyone who kept an earlier head can detect a rewrite.

Hashes only: a leaf is the SHA-256 of an entry's hash, nothing personal is shown.
"""

from __future__ import annotations

from flask import jsonify, request

from ..errors import DomainError, NotFound
from ..extensions import db
from ..services import transparency
from . import bp

_CACHE = {"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"}


def _int_arg(name: str, *, required: bool = False) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        if required:
            raise DomainError(f"give {name}=N", code="missing_parameter")
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise DomainError(f"{name} must be a whole number", code="invalid_parameter")
    return int(raw)


def _published_size() -> int:
    size = transparency.tree_size(db.session)
    if size == 0:
        raise NotFound("no tree head has been signed yet", code="no_tree_head")
    return size


def _check_size(name: str, value: int, published: int) -> None:
    if value < 1:
        raise DomainError(f"{name} must be at least 1", code="invalid_parameter")
    if value > published:
        raise NotFound(
            f"{name}={value} is beyond the published log (tree size {published})",
            code="beyond_log",
            details={"tree_size": published},
        )


@bp.get("/log/head")
def log_head():
    """The latest signed tree head, or with ``?tree_size=N`` the one signed at that size."""
    size = _int_arg("tree_size")
    head = transparency.latest_head(db.session, size)
    if head is None:
        if size is None:
            raise NotFound("no tree head has been signed yet", code="no_tree_head")
        raise NotFound(f"no tree head was signed at tree size {size}", code="no_tree_head")
    response = jsonify(transparency.head_document(head))
    response.headers.update(_CACHE)
    return response


@bp.get("/log/proof/<int:seq>")
def log_proof(seq: int):
    """The audit path of entry ``seq`` (leaf ``seq - 1``) in the tree of ``tree_size``."""
    published = _published_size()
    size = _int_arg("tree_size")
    size = published if size is None else size
    _check_size("tree_size", size, published)
    if not 1 <= seq <= size:
        raise NotFound(
            f"entry {seq} is not in the tree of size {size}",
            code="not_in_tree",
            details={"tree_size": size},
        )
    leaf_index = seq - 1
    path = transparency.stored_inclusion_proof(db.session, leaf_index, size)
    leaf = transparency.stored_leaf_hash(db.session, leaf_index)
    response = jsonify(
        {
            "seq": seq,
            "leaf_index": leaf_index,
            "leaf_hash": leaf.hex(),
            "tree_size": size,
            "audit_path": [h.hex() for h in path],
        }
    )
    response.headers.update(_CACHE)
    return response


@bp.get("/log/consistency")
def log_consistency():
    """RFC 6962 consistency proof between tree sizes ``first`` and ``second``."""
    published = _published_size()
    first = _int_arg("first", required=True)
    second = _int_arg("second")
    second = published if second is None else second
    assert first is not None
    _check_size("first", first, published)
    _check_size("second", second, published)
    if first > second:
        raise DomainError("first must not be larger than second", code="invalid_parameter")
    proof = transparency.stored_consistency_proof(db.session, first, second)
    response = jsonify({"first": first, "second": second, "proof": [h.hex() for h in proof]})
    response.headers.update(_CACHE)
    return response


# Rows for the OpenAPI document, in the format of ``api.openapi_workflow.add_paths``.
OPENAPI_ROWS: tuple[tuple[str, str, str, str | None, str | None, tuple[int, ...], bool], ...] = (
    (
        "/public/log/head",
        "get",
        "The audit log's latest signed tree head (?tree_size=N: the head signed at that size)",
        None,
        "object",
        (400, 404),
        True,
    ),
    (
        "/public/log/proof/{seq}",
        "get",
        "RFC 6962 inclusion proof of audit entry seq in the tree of ?tree_size=N",
        None,
        "object",
        (400, 404),
        True,
    ),
    (
        "/public/log/consistency",
        "get",
        "RFC 6962 consistency proof between tree sizes ?first=M&second=N",
        None,
        "object",
        (400, 404),
        True,
    ),
)
