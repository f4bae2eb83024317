"""The audit log as an RFC 6962 Merkle tree: tree hashes, proofs and signed tree heads.

Leaf ``i`` of the tree is the audit entry with ``seq = i + 1``; its leaf data is the 32 raw
bytes of the entry's ``entry_hash`` (the SHA-256 of its canonical JSON, see
``audit.compute_entry_hash``). Choosing the hash rather than the JSON keeps every published
byte free of personal data (actor names, addresses, details), while the leaf still commits to
every field of the entry and, through ``prev_hash``, to the chain before it: whoever holds an
entry (a case file's custody list) recomputes ``entry_hash``, then the leaf hash.

Hashing is exactly RFC 6962 section 2.1 (= RFC 9162 section 2.1.1):
``leaf_hash = SHA-256(0x00 || leaf)``, ``node_hash = SHA-256(0x01 || left || right)``, the
tree of ``n`` leaves splits at the largest power of two below ``n``. Proofs are the audit
path (RFC 6962 2.1.1) and the consistency proof (2.1.2); the verifiers follow RFC 9162
2.1.3.2 and 2.1.4.2 step by step, and are repeated, standard library only, in
``server/archive/verify.py`` for outsiders.

Storage: the hash of every complete subtree above the leaves (``MerkleNode``) is written once
when the tree grows, so any root or proof reads O(log n) stored hashes. The tree grows only
when a tree head is signed (``sign_tree_head``: on demand and by the worker's sweep every
minute), in the same transaction as the head.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import clock
from ..archive import verify as offline
from ..jobs import ChoreContext, chore
from ..models import AuditEntry, MerkleNode, TreeHead
from ..storage import Storage
from .signing import Signer, verify_signature
from .timestamping import Tsa, token_b64

HEAD_FORMAT = "fieldtrace-tree-head/1"
EMPTY_ROOT = hashlib.sha256(b"").digest()
# Any constant: the advisory lock that serialises growing the tree on PostgreSQL (distinct
# from the audit chain's, so appends never wait for the tree).
_PG_TREE_LOCK = 0x46_54_4D_54  # "FTMT"
_INSERT_BATCH = 5000
# Leaves one signed head may add (a few seconds of work on a busy small machine).
MAX_LEAVES_PER_HEAD = 100_000


# A proof that does not verify, its message naming what is wrong: one class for the server
# and the standalone verifier.
ProofError = offline.ProofError


# --- RFC 6962 hashing ---------------------------------------------------------------------


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def entry_leaf_hash(entry_hash_hex: str) -> bytes:
    """The leaf hash of an audit entry, from its ``entry_hash`` (hex)."""
    return leaf_hash(bytes.fromhex(entry_hash_hex))


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class NodeSource(Protocol):
    """Hashes of complete subtrees: ``node(level, index)`` covers leaves
    ``[index << level, (index + 1) << level)``; level 0 are the leaf hashes."""

    def node(self, level: int, index: int) -> bytes: ...


def subtree_hash(source: NodeSource, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for the ranges RFC 6962's recursion produces (``start`` a multiple
    of the largest power of two >= ``end - start``): O(log n) stored hashes."""
    n = end - start
    if n <= 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0:
        level = n.bit_length() - 1
        return source.node(level, start >> level)
    k = _split(n)
    level = k.bit_length() - 1
    return node_hash(source.node(level, start >> level), subtree_hash(source, start + k, end))


def root_hash(source: NodeSource, tree_size: int) -> bytes:
    """MTH of the first ``tree_size`` leaves (the empty tree's is SHA-256 of nothing)."""
    return subtree_hash(source, 0, tree_size)


def inclusion_proof(source: NodeSource, leaf_index: int, tree_size: int) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 2.1.1: the audit path of leaf ``leaf_index``."""
    if not 0 <= leaf_index < tree_size:
        raise ValueError(f"leaf {leaf_index} is not in a tree of {tree_size}")
    path: list[bytes] = []
    start, end = 0, tree_size
    while end - start > 1:  # PATH(m, D[start:end]); siblings are appended innermost first
        k = _split(end - start)
        if leaf_index < start + k:
            path.append(subtree_hash(source, start + k, end))
            end = start + k
        else:
            path.append(subtree_hash(source, start, start + k))
            start = start + k
    path.reverse()
    return path


def consistency_proof(source: NodeSource, first: int, second: int) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 6962 2.1.2 between tree sizes ``first`` and ``second``."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from size {first} to {second}")
    proof: list[bytes] = []
    m, start, end, whole = first, 0, second, True
    while m != end - start:  # SUBPROOF(m, D[start:end], whole)
        k = _split(end - start)
        if m <= k:
            proof.append(subtree_hash(source, start + k, end))
            end = start + k
        else:
            proof.append(subtree_hash(source, start, start + k))
            m, start, whole = m - k, start + k, False
    if not whole:
        proof.append(subtree_hash(source, start, end))
    proof.reverse()
    return proof


# --- RFC 9162 verification ----------------------------------------------------------------


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 2.1.3.2: raise :class:`ProofError` unless ``leaf`` (a leaf hash) is leaf
    ``leaf_index`` of the tree of ``tree_size`` leaves whose root is ``root``. The algorithm
    is the offline verifier's (``server/archive/verify.py``), so the server and an outsider
    check proofs with the same code."""
    offline.verify_inclusion(leaf_index, tree_size, leaf.hex(), [p.hex() for p in path], root.hex())


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 2.1.4.2: raise :class:`ProofError` unless the tree of ``second`` leaves with
    root ``second_root`` extends the tree of ``first`` leaves with root ``first_root`` (the
    offline verifier's algorithm, as above)."""
    offline.verify_consistency(
        first, second, first_root.hex(), second_root.hex(), [p.hex() for p in proof]
    )


# --- an in-memory tree (tests, benchmarks) --------------------------------------------------


class MemoryTree:
    """Every complete subtree hash of a list of leaves, built in O(n) hashes.

    >>> tree = MemoryTree([b"a", b"b", b"c"])
    >>> root_hash(tree, 3).hex()  # doctest: +SKIP
    """

    def __init__(self, leaves: Iterable[bytes] = (), *, hashed: bool = False) -> None:
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf if hashed else leaf_hash(leaf))

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        """Add a leaf hash and every subtree it completes."""
        level, h = 0, leaf
        while True:
            if level == len(self.levels):
                self.levels.append([])
            row = self.levels[level]
            row.append(h)
            if len(row) % 2:
                return
            h, level = node_hash(row[-2], row[-1]), level + 1

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]


# --- the stored tree over the audit log -------------------------------------------------------


class _Recorder:
    """Answers any node with zeros and remembers which were asked for (to fetch them in one
    query before computing the real result)."""

    def __init__(self) -> None:
        self.keys: set[tuple[int, int]] = set()

    def node(self, level: int, index: int) -> bytes:
        self.keys.add((level, index))
        return bytes(32)


class _Fetched:
    def __init__(self, hashes: dict[tuple[int, int], bytes]) -> None:
        self.hashes = hashes

    def node(self, level: int, index: int) -> bytes:
        try:
            return self.hashes[(level, index)]
        except KeyError:
            raise LookupError(f"the stored Merkle tree lacks node ({level}, {index})") from None


def _fetch(session: Session, keys: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    found: dict[tuple[int, int], bytes] = {}
    seqs = [index + 1 for level, index in keys if level == 0]
    if seqs:
        rows = session.execute(
            sa.select(AuditEntry.seq, AuditEntry.entry_hash).where(AuditEntry.seq.in_(seqs))
        )
        for seq, entry_hash in rows:
            found[(0, seq - 1)] = entry_leaf_hash(entry_hash)
    inner = {(level, index) for level, index in keys if level > 0}
    if inner:
        # Levels IN (...) AND indexes IN (...): a superset of at most (log n)^2 rows read by
        # the primary key, in one statement whose shape does not change (cached compiled),
        # unlike a row-value IN (a full scan on SQLite) or an OR per level.
        rows = session.execute(
            sa.select(MerkleNode.level, MerkleNode.idx, MerkleNode.hash).where(
                MerkleNode.level.in_(sorted({level for level, _ in inner})),
                MerkleNode.idx.in_(sorted({index for _, index in inner})),
            )
        )
        for level, index, value in rows:
            if (level, index) in inner:
                found[(level, index)] = bytes(value)
    return found


def _stored(session: Session, compute: Any) -> Any:
    """Run ``compute(source)`` over the stored tree, reading its nodes in one or two queries."""
    recorder = _Recorder()
    compute(recorder)
    return compute(_Fetched(_fetch(session, recorder.keys)))


def stored_root(session: Session, tree_size: int) -> bytes:
    return _stored(session, lambda src: root_hash(src, tree_size))


def stored_leaf_hash(session: Session, leaf_index: int) -> bytes:
    return _stored(session, lambda src: src.node(0, leaf_index))


def stored_inclusion_proof(session: Session, leaf_index: int, tree_size: int) -> list[bytes]:
    return _stored(session, lambda src: inclusion_proof(src, leaf_index, tree_size))


def stored_inclusion_proofs(
    session: Session, leaf_indexes: Sequence[int], tree_size: int
) -> dict[int, list[bytes]]:
    """Inclusion proofs of many leaves in the tree of ``tree_size``, read in one pass (an
    exported case file proves each of its custody entries)."""
    return _stored(
        session,
        lambda src: {i: inclusion_proof(src, i, tree_size) for i in leaf_indexes},
    )


def head_covering(session: Session, signer: Signer, leaf_count: int) -> TreeHead:
    """The latest head if it covers the first ``leaf_count`` entries and is signed by
    ``signer``'s key; otherwise a head signed now, the whole tree grown (caller's transaction)."""
    head = latest_head(session)
    if head is None or head.tree_size < leaf_count or head.public_key != signer.public_key_hex:
        head = sign_tree_head(session, signer, max_leaves=None)
    if head is None or head.tree_size < leaf_count:
        raise RuntimeError(f"no tree head covers the first {leaf_count} audit entries")
    return head


def stored_consistency_proof(session: Session, first: int, second: int) -> list[bytes]:
    return _stored(session, lambda src: consistency_proof(src, first, second))


def _frontier_keys(size: int) -> list[tuple[int, int]]:
    """The complete subtrees a tree of ``size`` leaves splits into, largest (leftmost) first."""
    keys, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            keys.append((level, start >> level))
            start += 1 << level
    return keys


def tree_size(session: Session) -> int:
    """How many leaves the stored tree holds: the largest signed tree head's size."""
    return int(session.execute(sa.select(sa.func.max(TreeHead.tree_size))).scalar() or 0)


def _lock_tree(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_TREE_LOCK})


def _insert_nodes(session: Session, rows: list[tuple[int, int, bytes]]) -> None:
    """Insert node rows through the driver's executemany: the ORM's per-row bookkeeping
    costs five times the hashing when the tree is first built over a long log."""
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    connection.exec_driver_sql(
        f"INSERT INTO merkle_nodes (level, idx, hash) VALUES ({mark}, {mark}, {mark})", rows
    )


def grow(session: Session, *, limit: int | None = None, batch: int = 50_000) -> tuple[int, bytes]:
    """Add the committed audit entries after the stored tree to it (at most ``limit``);
    returns the new size and root. Stops before a gap in seq (a deleted entry:
    ``audit.verify_chain`` names it), so leaf ``i`` is always seq ``i + 1``. O(new entries)
    hashes, O(log n) reads. Only within ``sign_tree_head``'s transaction: the stored tree's
    size is the largest signed head's, so nodes written without a head would be written
    again."""
    size = tree_size(session)
    keys = _frontier_keys(size)
    known = _Fetched(_fetch(session, set(keys)))
    # The right edge of the tree: (level, hash) of its complete subtrees, largest first.
    frontier = [(level, known.node(level, index)) for level, index in keys]
    pending: list[tuple[int, int, bytes]] = []
    added, done = 0, False
    while not done:
        want = batch if limit is None else min(batch, limit - added)
        if want <= 0:
            break
        rows = session.execute(
            sa.select(AuditEntry.seq, AuditEntry.entry_hash)
            .where(AuditEntry.seq > size)
            .order_by(AuditEntry.seq)
            .limit(want)
        ).all()
        done = len(rows) < want
        for seq, entry_hash in rows:
            if seq != size + 1:
                done = True
                break
            h, level, index = entry_leaf_hash(entry_hash), 0, size
            while frontier and frontier[-1][0] == level:
                h = node_hash(frontier.pop()[1], h)
                level, index = level + 1, index >> 1
                pending.append((level, index, h))
            frontier.append((level, h))
            size, added = size + 1, added + 1
        if len(pending) >= _INSERT_BATCH:
            _insert_nodes(session, pending)
            pending = []
    if pending:
        _insert_nodes(session, pending)
    root = EMPTY_ROOT
    if frontier:
        root = frontier[-1][1]
        for _, h in reversed(frontier[:-1]):
            root = node_hash(h, root)
    return size, root


# --- signed tree heads ------------------------------------------------------------------------


def _canonical_time(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def key_id(public_key_hex: str) -> str:
    """SHA-256 of the raw public key (as RFC 6962's LogID), hex."""
    return hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()


def head_message(tree_size: int, root_hash_hex: str, timestamp: str) -> bytes:
    """The bytes a tree head's Ed25519 signature covers; the first line keeps it apart from
    every other thing the server signs (audit heads, archives)."""
    return f"{HEAD_FORMAT}\n{tree_size}\n{root_hash_hex}\n{timestamp}".encode()


def sign_tree_head(
    session: Session, signer: Signer, *, max_leaves: int | None = MAX_LEAVES_PER_HEAD
) -> TreeHead | None:
    """Grow the tree towards the end of the committed log (by at most ``max_leaves``) and
    sign its head, in the caller's transaction; the head of an unchanged tree is re-signed
    with a fresh time (one row per size). None for an empty log.

    The bound keeps one transaction short (on SQLite it holds the only write lock) when the
    tree is first built over a long log: the minute's sweeps then catch up step by step,
    each head consistent with the last."""
    _lock_tree(session)
    size, root = grow(session, limit=max_leaves)
    if size == 0:
        return None
    signed_at = clock.now()
    root_hex = root.hex()
    signature = signer.sign(head_message(size, root_hex, _canonical_time(signed_at)))
    head = session.execute(
        sa.select(TreeHead).where(TreeHead.tree_size == size)
    ).scalar_one_or_none()
    if head is None:
        head = TreeHead(tree_size=size, root_hash=root_hex)
        session.add(head)
    elif head.root_hash != root_hex:
        raise RuntimeError(
            f"the stored tree of size {size} no longer has the root it was signed with"
        )
    head.signed_at = signed_at
    head.public_key = signer.public_key_hex
    head.signature = signature
    head.tsa_token = head.tsa_time = None  # the token covered the previous signature
    session.flush()
    return head


def stamp_latest_head(session: Session, tsa: Tsa) -> TreeHead | None:
    """Give the latest signed head trusted time: an RFC 3161 token over its signature.

    Called after the head's transaction committed, so no lock is held while the TSA answers;
    the token is written only if the head still carries the signature it covers. None when
    there is nothing to stamp; :class:`TimestampError` when the TSA fails (retried on the
    next sweep, the head stays signed)."""
    head = latest_head(session)
    if head is None or head.tsa_token is not None:
        return None
    signature = head.signature
    stamp = tsa.stamp(bytes.fromhex(signature))
    session.refresh(head)
    if head.signature != signature:  # re-signed meanwhile: its own stamp comes next
        return None
    head.tsa_token, head.tsa_time = stamp.token, stamp.time
    session.flush()
    return head


def latest_head(session: Session, size: int | None = None) -> TreeHead | None:
    query = sa.select(TreeHead)
    if size is None:
        query = query.order_by(TreeHead.tree_size.desc()).limit(1)
    else:
        query = query.where(TreeHead.tree_size == size)
    return session.execute(query).scalar_one_or_none()


def head_document(head: TreeHead) -> dict[str, Any]:
    """A signed tree head as published (``/public/log/head``) and checked by ``verify.py``."""
    return {
        "format": HEAD_FORMAT,
        "tree_size": head.tree_size,
        "root_hash": head.root_hash,
        "timestamp": _canonical_time(head.signed_at),
        "key_id": key_id(head.public_key),
        "public_key": head.public_key,
        "algorithm": "Ed25519",
        "signature": head.signature,
        # RFC 3161: the TSA's token over the signature's bytes (base64 DER TimeStampResp)
        # and its time; null when no TSA is configured or it has not answered yet.
        "timestamp_token": token_b64(head.tsa_token) if head.tsa_token else None,
        "timestamp_time": _canonical_time(head.tsa_time) if head.tsa_time else None,
    }


def verify_head(document: dict[str, Any], public_key_hex: str) -> None:
    """Raise :class:`ProofError` unless ``document`` is a tree head signed by the given key."""
    try:
        size, root, ts = (
            int(document["tree_size"]),
            str(document["root_hash"]),
            document["timestamp"],
        )
        signature = str(document["signature"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ProofError(f"malformed tree head: {exc}") from None
    if str(document.get("public_key", public_key_hex)).lower() != public_key_hex.lower():
        raise ProofError("the tree head names another signing key than the pinned one")
    if not verify_signature(public_key_hex, head_message(size, root, str(ts)), signature):
        raise ProofError("bad signature: the tree head was not signed by the pinned key")


def trusted_time_status(session: Session, tsa: Tsa | None) -> dict[str, Any]:
    """Whether tree heads get trusted time, and where the latest head stands, in words."""
    head = latest_head(session)
    latest = (
        {
            "tree_size": head.tree_size,
            "signed_at": head.signed_at,
            "stamped_at": head.tsa_time,
        }
        if head
        else None
    )
    if tsa is None:
        state = "off"
        zh = (
            "可信时间未开启：审计日志的树头只有本单位的签名，没有第三方可信时间戳服务"
            "证明其时间。请系统管理员在服务器上配置时间戳服务（见运维文档）。"
        )
        en = (
            "Trusted time is off: the audit log's tree heads carry only the unit's signature, "
            "with no RFC 3161 time-stamping authority vouching for their time. Ask the system "
            "administrator to configure one on the server (see the operations guide)."
        )
    elif head is not None and head.tsa_time is not None:
        state = "on"
        at = clock.local(head.tsa_time).strftime("%Y-%m-%d %H:%M:%S")
        zh = f"可信时间已开启：最新树头（共 {head.tree_size} 条记录）已由时间戳服务于 {at} 确认。"
        en = (
            f"Trusted time is on: the latest tree head ({head.tree_size} entries) was "
            f"time-stamped by the authority at {at} (Beijing time)."
        )
    else:
        state = "pending"
        zh = "可信时间已开启，但最新树头尚未取得时间戳（时间戳服务未应答），每分钟自动重试。"
        en = (
            "Trusted time is on, but the latest tree head has no time-stamp yet (the "
            "authority has not answered); retried every minute."
        )
    return {"state": state, "latest": latest, "message": {"zh": zh, "en": en}}


def tree_heads_prefix(audit_heads_prefix: str) -> str:
    """Where tree heads are kept: beside the chain's heads, not among them
    (``audit-heads/`` -> ``audit-heads-tree/``), so each listing holds one kind."""
    return audit_heads_prefix.rstrip("/") + "-tree/"


def keep_head(
    storage: Storage, bucket: str, head: TreeHead, *, retain_until: datetime, prefix: str
) -> str | None:
    """Copy the head to WORM storage (COMPLIANCE retention until ``retain_until``) once per
    tree size, and once more when its trusted-time token arrives: an insider who rewrites the
    log and re-signs its heads in the database cannot change or delete these copies. The
    key names the size, so an auditor lists them in order. None when already kept."""
    stamped = head.tsa_token is not None
    base = f"{tree_heads_prefix(prefix)}{head.tree_size:012d}-"
    kept = [key for key, _ in storage.list_versions(bucket, base)]
    if any(key.endswith("-tsa.json") for key in kept) or (kept and not stamped):
        return None
    key = f"{base}{clock.aware(head.signed_at):%Y%m%dT%H%M%S%fZ}{'-tsa' if stamped else ''}.json"
    body = json.dumps(head_document(head), sort_keys=True).encode()
    version = storage.put(bucket, key, body, content_type="application/json")
    storage.lock(bucket, key, version_id=version, until=retain_until)
    return key


# --- the sweep's chores (server/jobs.py): sign, time-stamp, keep ------------------------------


@chore("tree_head", order=50)
def _sign_chore(ctx: ChoreContext) -> None:
    """The audit log's Merkle tree head (RFC 6962), signed every minute."""
    sign_tree_head(ctx.session, ctx.runtime.signer)


@chore("tree_head_time", order=60)
def _stamp_chore(ctx: ChoreContext) -> None:
    """Trusted time (RFC 3161), asked after the head's transaction committed."""
    if ctx.runtime.tsa is not None:
        stamp_latest_head(ctx.session, ctx.runtime.tsa)


@chore("tree_head_kept", order=70)
def _keep_chore(ctx: ChoreContext) -> None:
    """The latest head in WORM storage: once per tree size, once more when stamped."""
    head = latest_head(ctx.session)
    if head is not None:
        years = int(ctx.config["AUDIT_HEAD_RETENTION_YEARS"])
        keep_head(
            ctx.runtime.storage,
            ctx.runtime.uploads.originals_bucket,
            head,
            retain_until=ctx.now + timedelta(days=366 * years),
            prefix=ctx.config["AUDIT_HEADS_PREFIX"],
        )
