"""Backup and restore drill: a database dump and an object copy, restored into a fresh stack.

    .venv/bin/python bench/backup_drill.py [--photos 40] [--videos 2] [--video-mib 24]

1. A source stack: a PostgreSQL database of its own (on FIELDTRACE_TEST_DATABASE_URL's
   server, default 127.0.0.1:5432) and an embedded SeaweedFS. Officers upload photos and
   larger files through the app's tus API (in-process, jobs run at once: each item is
   verified, locked under COMPLIANCE retention, processed, receipted); the sweep's signed
   audit head is kept in WORM storage; a credential photo and a document are not made.
2. Backup: ``pg_dump -Fc`` of the database, and every version of every object of the
   originals, derivatives and quarantine buckets (staging is scratch) copied to a directory
   with a manifest of its key, version, SHA-256, Object Lock mode, retain-until date and
   legal hold. The signing key file is copied too (a secret: keep it apart from the dump).
3. Restore into a fresh stack (a new database, a new SeaweedFS): ``pg_restore``, buckets by
   ``fieldtrace setup``'s ``ensure_buckets``, every version put back oldest first with its
   retention and legal hold. S3 gives restored versions new version ids (no S3 lets a client
   choose them), so ``fieldtrace restore versions version-map.json`` points the rows that
   name a version (media items, documents) at the new ids, each move an audited
   ``storage.restored`` custody entry, so case-file export and the archive's verify.py
   still find each row agreeing with the chain.
4. Checks on the restored stack: ``fieldtrace audit verify --no-sign`` (the chain, the signed
   heads in the database and those kept under Object Lock in the restored bucket), every
   original re-hashed from the restored storage against the SHA-256 recorded at upload, the
   retention of every original still COMPLIANCE until the same date, and a delete of a
   restored original refused, and what a case-file export would refuse (nothing, since the
   moves are in the chain).

Prints counts, bytes and seconds for each phase.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import boto3  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from botocore.config import Config as BotoConfig  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from server.storage.embedded import EmbeddedSeaweed  # noqa: E402

PG_SERVER = os.environ.get(
    "FIELDTRACE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
S3_KEY, S3_SECRET = "drill", "drill-secret-key"
BUCKETS = {
    "S3_BUCKET_ORIGINALS": "drill-originals",
    "S3_BUCKET_QUARANTINE": "drill-quarantine",
    "S3_BUCKET_DERIVATIVES": "drill-derivatives",
    "S3_BUCKET_STAGING": "drill-staging",
}
BACKED_UP = ("S3_BUCKET_ORIGINALS", "S3_BUCKET_DERIVATIVES", "S3_BUCKET_QUARANTINE")


@dataclass
class Stack:
    name: str
    database_url: str
    libpq_url: str
    s3: EmbeddedSeaweed
    data_dir: Path

    def settings(self) -> dict[str, Any]:
        return {
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SECRET_KEY": "drill-secret",
            "DATA_DIR": self.data_dir,
            "S3_ENDPOINT_URL": self.s3.endpoint_url,
            "S3_ACCESS_KEY": S3_KEY,
            "S3_SECRET_KEY": S3_SECRET,
            "SIGNING_KEY_FILE": self.data_dir / "signing.pem",
            "PASSWORD_HASH_COST": "test",
            "QUEUE_IMMEDIATE": True,
            "REQUIRE_CREDENTIAL": False,
            **BUCKETS,
        }

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDTRACE_")}
        for key, value in self.settings().items():
            name = "DATABASE_URL" if key == "SQLALCHEMY_DATABASE_URI" else key
            if isinstance(value, bool):
                continue
            env[f"FIELDTRACE_{name}"] = str(value)
        env["FIELDTRACE_DEPLOYMENT"] = "single"
        return env

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.s3.endpoint_url,
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_SECRET,
            region_name="us-east-1",
            config=BotoConfig(s3={"addressing_style": "path"}),
        )


@contextmanager
def timed(label: str, figures: dict[str, float]):
    started = time.perf_counter()
    yield
    figures[label] = time.perf_counter() - started
    print(f"  {label}: {figures[label]:.2f} s", flush=True)


def _database(name: str) -> tuple[str, str]:
    """A new database on the drill's PostgreSQL server: (SQLAlchemy URL, libpq URL)."""
    parts = urlsplit(PG_SERVER)
    admin = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = urlunsplit(parts._replace(path=f"/{name}"))
    libpq = urlunsplit(parts._replace(scheme="postgresql", path=f"/{name}"))
    return url, libpq


def _drop_database(name: str) -> None:
    admin = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _stack(work: Path, name: str) -> Stack:
    db_name = f"drill_{name}_{uuid.uuid4().hex[:8]}"
    url, libpq = _database(db_name)
    s3 = EmbeddedSeaweed(work / f"{name}-s3", S3_KEY, S3_SECRET)
    s3.start()
    data_dir = work / f"{name}-data"
    data_dir.mkdir(parents=True)
    return Stack(db_name, url, libpq, s3, data_dir)


# -- 1. data ---------------------------------------------------------------------------------
def make_data(stack: Stack, photos: int, videos: int, video_mib: int) -> dict[str, int]:
    import io

    from PIL import Image

    from server import create_app
    from server.deployment import schema_is_current  # noqa: F401  (import check only)
    from server.extensions import db
    from server.services.auth import create_user
    from tests import tus_helpers as tus
    from tests.conftest import PASSWORD, Actor

    app = create_app(**stack.settings())
    from server.cli import _upgrade

    with app.app_context():
        _upgrade(app)
        app.extensions["fieldtrace"].storage.ensure_buckets()
        for i in range(2):
            create_user(
                db.session,
                username=f"officer{i}",
                password=PASSWORD,
                role="officer",
                name=f"执法人员{i}",
                unit_code="SH-JA",
            )
        db.session.commit()
    client = app.test_client()
    actors = []
    for i in range(2):
        resp = client.post(
            "/api/v1/auth/login", json={"username": f"officer{i}", "password": PASSWORD}
        )
        actors.append(Actor(0, f"officer{i}", "officer", "SH-JA", resp.json["token"]))
    cases = []
    for actor in actors:
        resp = client.post(
            "/api/v1/cases",
            json={"title": "备份演练 无证经营检查", "case_type": "市场监管"},
            headers=actor.headers,
        )
        assert resp.status_code == 201, resp.json
        cases.append(resp.json["id"])
    total = 0
    for n in range(photos):
        image = Image.new("RGB", (640 + n, 480), ((n * 37) % 256, (n * 91) % 256, 120))
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=85)
        data = buf.getvalue()
        actor = actors[n % 2]
        tus.upload(
            client, actor, cases[n % 2], data,
            device_id=f"phone-{actor.username}", filename=f"IMG_{n:04d}.jpg",
        )  # fmt: skip
        total += len(data)
    for n in range(videos):
        data = os.urandom(video_mib << 20)  # bytes only: verified, locked, flagged by probe
        actor = actors[n % 2]
        tus.upload(
            client, actor, cases[n % 2], data, device_id=f"phone-{actor.username}",
            filename=f"VID_{n:04d}.mp4", content_type="video/mp4",
        )  # fmt: skip
        total += len(data)
    with app.app_context():
        runtime = app.extensions["fieldtrace"]
        runtime.jobs.sweep()  # the minute's sweep: signed audit head kept in WORM storage
        items = db.session.execute(sa.text("SELECT count(*) FROM media_items")).scalar_one()
        entries = db.session.execute(sa.text("SELECT count(*) FROM audit_entries")).scalar_one()
        db.session.remove()
        db.engine.dispose()
    return {"items": items, "bytes": total, "audit_entries": entries}


# -- 2. backup -------------------------------------------------------------------------------
def backup(stack: Stack, out: Path) -> dict[str, int]:
    out.mkdir(parents=True)
    subprocess.run(
        ["pg_dump", "-Fc", "--no-owner", "-f", str(out / "database.dump"), stack.libpq_url],
        check=True,
    )
    shutil.copy2(stack.data_dir / "signing.pem", out / "signing.pem")
    s3 = stack.client()
    manifest: list[dict[str, Any]] = []
    objects = out / "objects"
    objects.mkdir()
    total = 0
    for setting in BACKED_UP:
        bucket = BUCKETS[setting]
        versions: list[dict[str, Any]] = []
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            versions += [{**v, "delete_marker": False} for v in page.get("Versions", [])]
            versions += [{**v, "delete_marker": True} for v in page.get("DeleteMarkers", [])]
        # Oldest first within a key, so restoring in this order leaves the same latest one.
        versions.sort(key=lambda v: (v["Key"], v["LastModified"]))
        for v in versions:
            entry: dict[str, Any] = {
                "setting": setting,
                "key": v["Key"],
                "version_id": v.get("VersionId"),
                "delete_marker": v["delete_marker"],
            }
            if not v["delete_marker"]:
                kw = {"Bucket": bucket, "Key": v["Key"]}
                if v.get("VersionId") and v["VersionId"] != "null":
                    kw["VersionId"] = v["VersionId"]
                body = s3.get_object(**kw)
                path = objects / f"{len(manifest):08d}"
                digest = hashlib.sha256()
                with path.open("wb") as fh:
                    for chunk in body["Body"].iter_chunks(1 << 20):
                        digest.update(chunk)
                        fh.write(chunk)
                entry.update(
                    file=path.name,
                    size=path.stat().st_size,
                    sha256=digest.hexdigest(),
                    content_type=body.get("ContentType"),
                    metadata=body.get("Metadata") or {},
                )
                total += entry["size"]
                entry.update(_lock_of(s3, kw))
            manifest.append(entry)
    (out / "manifest.json").write_text(json.dumps(manifest, default=str, indent=1))
    locked = sum(1 for e in manifest if e.get("lock_mode"))
    return {"versions": len(manifest), "bytes": total, "locked": locked}


def _lock_of(s3: Any, kw: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        ret = s3.get_object_retention(**kw)["Retention"]
        out["lock_mode"] = ret.get("Mode")
        out["retain_until"] = ret["RetainUntilDate"].isoformat()
    except ClientError:
        pass  # no retention on this version (derivatives, scratch)
    with suppress(ClientError):
        out["legal_hold"] = s3.get_object_legal_hold(**kw)["LegalHold"]["Status"]
    return out


# -- 3. restore ------------------------------------------------------------------------------
def restore(backup_dir: Path, stack: Stack) -> dict[str, int]:
    subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", "-d", stack.libpq_url,
         str(backup_dir / "database.dump")],
        check=True,
    )  # fmt: skip
    shutil.copy2(backup_dir / "signing.pem", stack.data_dir / "signing.pem")
    from server.storage.s3 import S3Storage

    S3Storage(
        endpoint_url=stack.s3.endpoint_url,
        access_key=S3_KEY,
        secret_key=S3_SECRET,
        region="us-east-1",
        originals_bucket=BUCKETS["S3_BUCKET_ORIGINALS"],
        other_buckets=[v for k, v in BUCKETS.items() if k != "S3_BUCKET_ORIGINALS"],
    ).ensure_buckets()
    s3 = stack.client()
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    version_map: list[dict[str, str]] = []
    for entry in manifest:
        bucket = BUCKETS[entry["setting"]]
        if entry["delete_marker"]:
            s3.delete_object(Bucket=bucket, Key=entry["key"])
            continue
        kw: dict[str, Any] = {"Bucket": bucket, "Key": entry["key"], "Metadata": entry["metadata"]}
        if entry.get("content_type"):
            kw["ContentType"] = entry["content_type"]
        if entry.get("lock_mode"):
            kw["ObjectLockMode"] = entry["lock_mode"]
            kw["ObjectLockRetainUntilDate"] = datetime.fromisoformat(entry["retain_until"])
        if entry.get("legal_hold") == "ON":
            kw["ObjectLockLegalHoldStatus"] = "ON"
        with (backup_dir / "objects" / entry["file"]).open("rb") as fh:
            put = s3.put_object(Body=fh, **kw)
        if entry["version_id"]:
            version_map.append(
                {"bucket": bucket, "key": entry["key"], "old": entry["version_id"],
                 "new": put.get("VersionId") or ""}
            )  # fmt: skip
    (backup_dir / "version-map.json").write_text(json.dumps(version_map, indent=1))
    rows = _point_rows_at_new_versions(stack, backup_dir / "version-map.json")
    return {"versions": len(manifest), "rows_repointed": rows}


def _point_rows_at_new_versions(stack: Stack, map_file: Path) -> int:
    """``fieldtrace restore versions``: rows naming a version follow it, audited."""
    result = subprocess.run(
        [str(REPO / ".venv" / "bin" / "fieldtrace"), "restore", "versions", str(map_file)],
        env=stack.env(),
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    print(f"    fieldtrace restore versions: {result.stdout.strip()}")
    return int(result.stdout.split()[0])


# -- 4. checks -------------------------------------------------------------------------------
def check(stack: Stack, source_locks: dict[str, str]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    started = time.perf_counter()
    verify = subprocess.run(
        [str(REPO / ".venv" / "bin" / "fieldtrace"), "audit", "verify", "--no-sign"],
        env=stack.env(),
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    figures["audit_verify_s"] = time.perf_counter() - started
    figures["audit_verify"] = (verify.stdout + verify.stderr).strip().splitlines()[-1:]
    figures["audit_verify_ok"] = verify.returncode == 0
    s3 = stack.client()
    engine = sa.create_engine(stack.database_url)
    with engine.connect() as conn:
        items = conn.execute(
            sa.text(
                "SELECT id, bucket, object_key, object_version, server_sha256, device_sha256, "
                "size FROM media_items ORDER BY id"
            )
        ).all()
    engine.dispose()
    started = time.perf_counter()
    bad, hashed, lock_bad = [], 0, []
    for item_id, bucket, key, version, server_sha, device_sha, size in items:
        kw = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
        digest = hashlib.sha256()
        for chunk in s3.get_object(**kw)["Body"].iter_chunks(1 << 20):
            digest.update(chunk)
        hashed += size
        if digest.hexdigest() != (server_sha or device_sha):
            bad.append(item_id)
        ret = _lock_of(s3, kw)
        if (ret.get("lock_mode"), ret.get("retain_until")) != (
            "COMPLIANCE",
            source_locks.get(item_id),
        ):
            lock_bad.append(item_id)
    figures["rehash_s"] = time.perf_counter() - started
    figures["export_refused"] = _case_file_differences(stack)
    figures["originals_rehashed"] = len(items)
    figures["bytes_rehashed"] = hashed
    figures["hash_mismatches"] = bad
    figures["retention_differs"] = lock_bad
    if items:
        item_id, bucket, key, version, *_ = items[0]
        try:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=version)
            figures["locked_delete"] = "ALLOWED (retention lost!)"
        except ClientError as exc:
            figures["locked_delete"] = f"refused ({exc.response['Error']['Code']})"
    return figures


def _case_file_differences(stack: Stack) -> list[str]:
    """What a case-file export would refuse on the restored stack: rows that disagree with
    the audit chain (``server.services.archive.recorded_differences``)."""
    from server import create_app
    from server.extensions import db
    from server.models import Case, MediaItem
    from server.services.archive import custody_entries, recorded_differences

    app = create_app(**stack.settings())
    found: list[str] = []
    with app.app_context():
        for case in db.session.scalars(sa.select(Case)):
            items = list(
                db.session.scalars(sa.select(MediaItem).where(MediaItem.case_id == case.id))
            )
            entries = custody_entries(db.session, case, [i.id for i in items])
            found += recorded_differences(case, items, entries)
        db.session.remove()
        db.engine.dispose()
    return found


def source_retention(stack: Stack) -> dict[str, str]:
    s3 = stack.client()
    engine = sa.create_engine(stack.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, bucket, object_key, object_version FROM media_items")
        ).all()
    engine.dispose()
    out = {}
    for item_id, bucket, key, version in rows:
        kw = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
        out[item_id] = _lock_of(s3, kw).get("retain_until")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--video-mib", type=int, default=24)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fieldtrace-drill-"))
    figures: dict[str, float] = {}
    stacks: list[Stack] = []
    try:
        print(f"work directory {work}", flush=True)
        source = _stack(work, "source")
        stacks.append(source)
        with timed("make data", figures):
            made = make_data(source, args.photos, args.videos, args.video_mib)
        print(f"    {made['items']} items, {made['bytes'] / 2**20:.1f} MiB of originals, "
              f"{made['audit_entries']} audit entries")  # fmt: skip
        locks = source_retention(source)
        with timed("backup (pg_dump + every object version)", figures):
            backed = backup(source, work / "backup")
        dump = (work / "backup" / "database.dump").stat().st_size
        print(f"    {backed['versions']} versions ({backed['locked']} under Object Lock), "
              f"{backed['bytes'] / 2**20:.1f} MiB; dump {dump / 2**10:.0f} KiB")  # fmt: skip
        source.s3.stop()  # the source is gone: the restore may not lean on it
        target = _stack(work, "restored")
        stacks.append(target)
        with timed("restore (pg_restore + put every version with its lock)", figures):
            restored = restore(work / "backup", target)
        print(f"    {restored['versions']} versions restored, "
              f"{restored['rows_repointed']} rows pointed at the new version ids")  # fmt: skip
        with timed("checks", figures):
            result = check(target, locks)
        print(
            f"    audit verify: {'PASS' if result['audit_verify_ok'] else 'FAIL'} "
            f"{' '.join(result['audit_verify'])} ({result['audit_verify_s']:.2f} s)"
        )
        print(f"    re-hashed {result['originals_rehashed']} originals, "
              f"{result['bytes_rehashed'] / 2**20:.1f} MiB in {result['rehash_s']:.2f} s: "
              f"{len(result['hash_mismatches'])} mismatches; "
              f"retention differs on {len(result['retention_differs'])}; "
              f"deleting a restored original: {result.get('locked_delete')}")  # fmt: skip
        refused = result["export_refused"]
        print(f"    case-file export would refuse {len(refused)} rows (differ from the "
              f"audit chain{': ' + refused[0] if refused else ''}")  # fmt: skip
        ok = (
            result["audit_verify_ok"]
            and not result["hash_mismatches"]
            and not result["retention_differs"]
            and str(result.get("locked_delete", "")).startswith("refused")
            and not refused
        )
        print("DRILL PASSED" if ok else "DRILL FAILED", flush=True)
        return 0 if ok else 1
    finally:
        for stack in stacks:
            with suppress(Exception):
                stack.s3.stop()
            _drop_database(stack.name)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
