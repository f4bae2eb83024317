"""A cluster node refuses to start half-configured; `fieldtrace setup` is a step of its own,
safe when two nodes run it at once (issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.storage.embedded import EmbeddedSeaweed
from tests.conftest import PG_URL

SHARED = (
    "FIELDTRACE_S3_ENDPOINT_URL",
    "FIELDTRACE_S3_ACCESS_KEY",
    "FIELDTRACE_S3_SECRET_KEY",
    "FIELDTRACE_QUEUE_URL",
    "FIELDTRACE_SECRET_KEY",
    "FIELDTRACE_SIGNING_KEY_FILE",
)


def clean_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDTRACE_")}
    return {**env, "FIELDTRACE_DATA_DIR": str(tmp_path / "data"), **settings}


def cli(env: dict[str, str], *args: str, timeout: int = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=timeout,
    )


def signing_key(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.mark.parametrize("command", ["serve", "worker", "setup"])
def test_a_node_on_postgresql_names_every_missing_shared_setting(tmp_path, command):
    env = clean_env(
        tmp_path, FIELDTRACE_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/x"
    )
    result = cli(env, command)
    assert result.returncode == 2, result.stderr
    assert "refusing to start half-configured" in result.stderr
    for name in SHARED:
        assert name in result.stderr, name
    assert not (tmp_path / "data" / "s3").exists()  # no embedded storage was started


def test_deployment_cluster_on_sqlite_names_only_what_is_missing(tmp_path):
    env = clean_env(
        tmp_path,
        FIELDTRACE_DEPLOYMENT="cluster",
        FIELDTRACE_S3_ENDPOINT_URL="http://10.0.0.5:8333",
        FIELDTRACE_S3_ACCESS_KEY="k",
        FIELDTRACE_S3_SECRET_KEY="s",
        FIELDTRACE_QUEUE_URL="sqlite:////tmp/queue.db",
        FIELDTRACE_SIGNING_KEY_FILE=str(tmp_path / "absent.pem"),
    )
    result = cli(env, "serve")
    assert result.returncode == 2
    missing = result.stderr.split("every node:", 1)[1]
    assert "FIELDTRACE_S3_ENDPOINT_URL" not in missing and "FIELDTRACE_S3_ACCESS_KEY" not in missing
    assert "FIELDTRACE_QUEUE_URL must be a shared Redis" in missing
    assert "FIELDTRACE_SECRET_KEY" in missing
    assert "absent.pem does not exist" in missing


@pytest.fixture
def fresh_schema() -> Iterator[str]:
    assert PG_URL
    schema = f"s_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.mark.skipif(
    not PG_URL, reason="the setup lock is PostgreSQL's (FIELDTRACE_TEST_DATABASE_URL)"
)
def test_two_nodes_running_setup_at_once_both_succeed(
    tmp_path, fresh_schema, seaweed: EmbeddedSeaweed
):
    suffix = uuid.uuid4().hex[:8]
    env = clean_env(
        tmp_path,
        FIELDTRACE_DATABASE_URL=fresh_schema,
        FIELDTRACE_S3_ENDPOINT_URL=seaweed.endpoint_url,
        FIELDTRACE_S3_ACCESS_KEY=seaweed.access_key,
        FIELDTRACE_S3_SECRET_KEY=seaweed.secret_key,
        FIELDTRACE_S3_BUCKET_ORIGINALS=f"orig-{suffix}",
        FIELDTRACE_S3_BUCKET_QUARANTINE=f"quar-{suffix}",
        FIELDTRACE_S3_BUCKET_DERIVATIVES=f"deriv-{suffix}",
        FIELDTRACE_S3_BUCKET_STAGING=f"stage-{suffix}",
        FIELDTRACE_QUEUE_URL="redis://127.0.0.1:6379/15",
        FIELDTRACE_SECRET_KEY="one-secret-for-the-cluster",
        FIELDTRACE_SIGNING_KEY_FILE=str(signing_key(tmp_path / "cluster" / "signing.pem")),
    )
    # Before setup, a node refuses to serve an empty database.
    early = cli(env, "serve", "--port", "1")
    assert early.returncode == 2 and "fieldtrace setup" in early.stderr

    nodes = [
        subprocess.Popen(
            [sys.executable, "-m", "server.cli", "setup"],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [node.communicate(timeout=180) for node in nodes]
    for node, (out, err) in zip(nodes, outputs, strict=True):
        assert node.returncode == 0, err
        assert "database schema is up to date" in out and "buckets are ready" in out
    engine = sa.create_engine(fresh_schema)
    with engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    engine.dispose()
    assert len(versions) == 1
    # and once more later: nothing to do, still fine
    again = cli(env, "setup")
    assert again.returncode == 0, again.stderr


def test_single_machine_decides_by_database_unless_told():
    from server.deployment import is_cluster

    pg = "postgresql+psycopg://u@db/x"
    assert is_cluster(pg, {}) and not is_cluster("sqlite:///x.db", {})
    assert not is_cluster(pg, {"FIELDTRACE_DEPLOYMENT": "single"})
    assert is_cluster("sqlite:///x.db", {"FIELDTRACE_DEPLOYMENT": "cluster"})
