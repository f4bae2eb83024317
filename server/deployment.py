"""Single machine or cluster: what a node must be told before it may serve or work.

On one machine (`make run`: SQLite, embedded SeaweedFS, a queue file, a generated secret and
signing key) every setting has a local default. In a cluster each of those defaults is a
silent fault: evidence accepted into one node's private storage, 亮证 codes another node
cannot read, a second "current" signing key, jobs nobody takes. So a cluster node — any node
on PostgreSQL, or one started with ``FIELDTRACE_DEPLOYMENT=cluster`` — refuses to start
until the settings every node shares are given explicitly, and names the missing ones.

Setup (migrations, buckets) is its own step, ``fieldtrace setup``: safe when several nodes
run it at once (a PostgreSQL advisory lock makes them take turns; the later ones find
everything done).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

# pg_advisory_lock key of `fieldtrace setup` ("FT setup").
SETUP_LOCK_KEY = 0x46545345


def is_cluster(database_url: str | None, environ: Mapping[str, str] = os.environ) -> bool:
    """A node of several: on PostgreSQL (shared by nature) or when told so."""
    mode = (environ.get("FIELDTRACE_DEPLOYMENT") or "").strip().lower()
    if mode == "cluster":
        return True
    if mode == "single" or not database_url:
        return False
    return not database_url.startswith("sqlite")


def missing_shared_settings(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The shared settings not given explicitly, each with why it matters."""

    def given(name: str) -> bool:
        return bool((environ.get(f"FIELDTRACE_{name}") or "").strip())

    missing: list[str] = []
    if not given("S3_ENDPOINT_URL"):
        missing.append(
            "FIELDTRACE_S3_ENDPOINT_URL (the shared S3: without it evidence would go to "
            "this node's own embedded storage)"
        )
    for name in ("S3_ACCESS_KEY", "S3_SECRET_KEY"):
        if not given(name):
            missing.append(f"FIELDTRACE_{name} (the shared S3's credentials, not the default)")
    queue = (environ.get("FIELDTRACE_QUEUE_URL") or "").strip()
    if not queue:
        missing.append(
            "FIELDTRACE_QUEUE_URL (redis://…: without it jobs wait in this node's own file)"
        )
    elif not queue.startswith(("redis://", "rediss://", "unix://")):
        missing.append(f"FIELDTRACE_QUEUE_URL must be a shared Redis, not {queue.split(':')[0]}:")
    if not given("SECRET_KEY"):
        missing.append(
            "FIELDTRACE_SECRET_KEY (the same on every node: sessions, 亮证 QR codes, "
            "playback links)"
        )
    key_file = (environ.get("FIELDTRACE_SIGNING_KEY_FILE") or "").strip()
    if not key_file:
        missing.append(
            "FIELDTRACE_SIGNING_KEY_FILE (one Ed25519 key for the cluster: the audit heads' "
            "signatures)"
        )
    elif not Path(key_file).is_file():
        missing.append(
            f"FIELDTRACE_SIGNING_KEY_FILE={key_file} does not exist on this node (copy the "
            "cluster's key here; a node must not make its own)"
        )
    return missing


def refusal(command: str, missing: list[str]) -> str:
    lines = "\n".join(f"  - {m}" for m in missing)
    return (
        f"fieldtrace {command}: refusing to start half-configured (a cluster node: PostgreSQL "
        f"or FIELDTRACE_DEPLOYMENT=cluster).\n"
        f"集群节点缺少共享配置，拒绝启动。Set these, the same on every node:\n{lines}"
    )


@contextmanager
def setup_lock(engine: sa.Engine) -> Iterator[None]:
    """Held while one node runs setup; another node's setup waits for it (PostgreSQL).

    Session-level advisory lock on a connection of its own, so the migrations' own
    transactions run inside it. SQLite (one machine) needs none."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": SETUP_LOCK_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": SETUP_LOCK_KEY})
            conn.commit()


def schema_is_current(engine: sa.Engine, migrations_dir: str) -> bool:
    """Whether the database is at the migrations' head (else `fieldtrace setup` is due)."""
    from alembic.config import Config as AlembicConfig
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(AlembicConfig, migrations_dir))
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current == set(script.get_heads())


def _alembic_config(cls: Any, migrations_dir: str) -> Any:
    cfg = cls()
    cfg.set_main_option("script_location", migrations_dir)
    return cfg
