"""The ``fieldtrace`` command: serve, worker, user, credential, audit, db, uploads."""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from . import clock
from .api.limits import GUNICORN_FIELD_LIMIT
from .config import Config

ENDPOINT_FILE = "s3-endpoint"
# gunicorn's access line, with the request's id (the app's X-Request-Id response header, the
# same id as nginx's line and the app's own lines) and the seconds taken.
ACCESS_LOG_FORMAT = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" rt=%(L)s id=%({x-request-id}o)s'
)


def prepared_config() -> Config:
    """Config with a persistent generated secret and the embedded S3 endpoint, when in use."""
    config = Config()
    config.DATA_DIR.mkdir(parents=True, exist_ok=True)
    if not config.SECRET_KEY:
        secret_file = config.DATA_DIR / "secret-key"
        if not secret_file.exists():
            fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        config.SECRET_KEY = secret_file.read_text().strip()
    if not config.S3_ENDPOINT_URL:
        endpoint_file = config.DATA_DIR / ENDPOINT_FILE
        if endpoint_file.exists():
            config.S3_ENDPOINT_URL = endpoint_file.read_text().strip()
    return config


def _app(config: Config | None = None):
    from . import create_app

    return create_app(config or prepared_config())


@contextmanager
def _app_context() -> Iterator[Any]:
    """An app context whose database connections are closed on exit."""
    from .extensions import db

    app = _app()
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def _start_embedded_s3(config: Config):
    from .storage.embedded import EmbeddedSeaweed

    weed = EmbeddedSeaweed(config.DATA_DIR / "s3", config.S3_ACCESS_KEY, config.S3_SECRET_KEY)
    endpoint = weed.start()
    (config.DATA_DIR / ENDPOINT_FILE).write_text(endpoint)
    return weed


def _refuse_half_configured(command: str, database_url: str | None) -> bool:
    """True (and the reasons printed) when a cluster node lacks a shared setting."""
    from .deployment import is_cluster, missing_shared_settings, refusal

    if not is_cluster(database_url):
        return False
    missing = missing_shared_settings()
    if missing:
        print(refusal(command, missing), file=sys.stderr)
        return True
    return False


def cmd_setup(args: argparse.Namespace) -> int:
    """Migrations and buckets, as a step of its own; nodes running it at once take turns."""
    from .deployment import setup_lock
    from .extensions import db

    config = prepared_config()
    if _refuse_half_configured("setup", config.SQLALCHEMY_DATABASE_URI):
        return 2
    app = _app(config)
    with app.app_context():
        try:
            with setup_lock(db.engine):
                _upgrade(app)
                print("database schema is up to date", flush=True)
                if config.S3_ENDPOINT_URL:
                    app.extensions["fieldtrace"].storage.ensure_buckets()
                    print("buckets are ready", flush=True)
                else:
                    print("no S3 endpoint: `fieldtrace serve` starts one and makes its buckets")
        finally:
            db.session.remove()
            db.engine.dispose()
    return 0


def _cluster_serve_checks(config: Config) -> str | None:
    """A cluster node serves only a database that `fieldtrace setup` brought up to date."""
    from .deployment import schema_is_current
    from .extensions import db

    app = _app(config)
    with app.app_context():
        try:
            if not schema_is_current(db.engine, _migrations_dir_for_tests()):
                return (
                    "fieldtrace serve: the database schema is not up to date; run "
                    "`fieldtrace setup` once (on any node) first"
                )
        finally:
            db.session.remove()
            db.engine.dispose()
    return None


def cmd_serve(args: argparse.Namespace) -> int:
    """Embedded SeaweedFS (unless an endpoint is set), migrations, gunicorn, in-process worker.

    A cluster node (PostgreSQL or FIELDTRACE_DEPLOYMENT=cluster) refuses to start without the
    shared settings, leaves migrations and buckets to `fieldtrace setup`, and runs no job
    worker unless given --worker (workers are `fieldtrace worker` processes)."""
    from .deployment import is_cluster

    config = Config()
    if _refuse_half_configured("serve", config.SQLALCHEMY_DATABASE_URI):
        return 2
    if is_cluster(config.SQLALCHEMY_DATABASE_URI):
        return _serve_cluster_node(args)
    config.DATA_DIR.mkdir(parents=True, exist_ok=True)
    endpoint_file = config.DATA_DIR / ENDPOINT_FILE
    endpoint_file.unlink(missing_ok=True)
    weed = None
    if not config.S3_ENDPOINT_URL:
        weed = _start_embedded_s3(config)
        print(f"SeaweedFS S3 on {weed.endpoint_url} (data in {weed.data_dir})", flush=True)
    config = prepared_config()
    app = _app(config)
    with app.app_context():
        _upgrade(app)
        app.extensions["fieldtrace"].storage.ensure_buckets()
        first_run = _first_run_banner(app, config.SECRET_KEY)
    env = {**os.environ, "FIELDTRACE_DATA_DIR": str(config.DATA_DIR)}
    if config.S3_ENDPOINT_URL:
        env["FIELDTRACE_S3_ENDPOINT_URL"] = config.S3_ENDPOINT_URL
    port = args.port or config.PORT
    bind = f"{args.host or config.HOST}:{port}"
    web = subprocess.Popen(
        _gunicorn_command(bind, args.web_workers),
        env=env,
    )
    consumer = None
    if not args.no_worker:
        consumer = _in_process_worker(app)
    print(
        f"\nFieldtrace is serving on http://{bind}/\n"
        f"  API: http://{bind}/api/v1/openapi.json   health: http://{bind}/readyz\n"
        f"{first_run}",
        flush=True,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.is_set() and web.poll() is None:
            stop.wait(1)
    finally:
        if web.poll() is None:
            web.terminate()
            web.wait(30)
        if consumer is not None:
            consumer.stop(graceful=True)
        if weed is not None:
            weed.stop()
        endpoint_file.unlink(missing_ok=True)
    return web.returncode or 0


def _serve_cluster_node(args: argparse.Namespace) -> int:
    config = prepared_config()
    problem = _cluster_serve_checks(config)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    port = args.port or config.PORT
    bind = f"{args.host or config.HOST}:{port}"
    web = subprocess.Popen(_gunicorn_command(bind, args.web_workers))
    consumer = None
    if args.worker:
        consumer = _in_process_worker(_app(config))
    print(f"Fieldtrace (cluster node) is serving on http://{bind}/", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.is_set() and web.poll() is None:
            stop.wait(1)
    finally:
        if web.poll() is None:
            web.terminate()
            web.wait(30)
        if consumer is not None:
            consumer.stop(graceful=True)
    return web.returncode or 0


def _in_process_worker(app: Any) -> Any:
    """A job worker inside ``serve``'s process, logging its jobs as ``fieldtrace worker``."""
    from .logs import attach_job_logging, configure_logging

    configure_logging(app.config["LOG_FORMAT"])
    jobs = app.extensions["fieldtrace"].jobs
    attach_job_logging(jobs.huey)
    consumer = jobs.consumer(workers=2, in_process=True)
    consumer.start()
    return consumer


def _gunicorn_command(bind: str, web_workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "server.wsgi:app",
        "--bind",
        bind,
        "--worker-class",
        "gthread",
        "--workers",
        str(web_workers),
        "--threads",
        "8",
        "--timeout",
        "300",
        "--graceful-timeout",
        "30",
        "--access-logfile",
        "-",
        "--access-logformat",
        ACCESS_LOG_FORMAT,
        "--limit-request-field_size",
        str(GUNICORN_FIELD_LIMIT),
    ]


def _first_run_banner(app: Any, secret_key: str) -> str:
    """While no account exists: where to set up the unit and its first admin in the app."""
    from .extensions import db
    from .services import setup

    if not setup.needed(db.session):
        db.session.rollback()
        return ""
    db.session.rollback()
    return (
        "  First run: open the address above in a browser to set up your unit and its first\n"
        "  admin (首次使用：在浏览器中打开上面的地址，设置本单位和第一个管理员).\n"
        f"  Setup code (设置码), needed when not opened on this machine: "
        f"{setup.setup_code(secret_key)}\n"
        "  Or by command: echo 'a-long-password' | .venv/bin/fieldtrace user create "
        "--username admin --role admin --name 管理员 --unit SH-JA --password-stdin\n"
    )


def cmd_worker(args: argparse.Namespace) -> int:
    if _refuse_half_configured("worker", Config().SQLALCHEMY_DATABASE_URI):
        return 2
    from .logs import attach_job_logging, configure_logging

    app = _app()
    configure_logging(app.config["LOG_FORMAT"])
    jobs = app.extensions["fieldtrace"].jobs
    attach_job_logging(jobs.huey)
    consumer = jobs.consumer(workers=args.workers)
    consumer.run()
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    from .errors import DomainError
    from .extensions import db
    from .services.auth import create_user

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
    with _app_context():
        try:
            user = create_user(
                db.session,
                username=args.username,
                password=password,
                role=args.role,
                name=args.name,
                unit_code=args.unit,
            )
            db.session.commit()
        except DomainError as exc:
            print(f"error: {exc.message} ({exc.code})", file=sys.stderr)
            return 1
        print(f"created {user.role} {user.username} (id {user.id}) in unit {args.unit}")
        from .services.units import missing_settings

        if missing := missing_settings(user.unit):
            print(
                f"note: unit {args.unit} has no {' or '.join(missing)} yet; document numbers "
                "need the prefix: set them in the app (单位设置) or with `fieldtrace unit update "
                f"--code {args.unit} --name … --prefix …`"
            )
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """The chain and its signed heads in the database, then the heads kept in WORM storage;
    when all is well, a new signed head (kept in both places)."""
    from datetime import timedelta

    from .extensions import db
    from .services import audit
    from .storage.base import StorageError

    with _app_context() as app:
        rt = app.extensions["fieldtrace"]
        bucket, prefix = app.config["S3_BUCKET_ORIGINALS"], app.config["AUDIT_HEADS_PREFIX"]
        report = audit.verify_chain(db.session)
        stored = None
        if not args.no_storage:
            try:
                stored = audit.verify_stored_heads(db.session, rt.storage, bucket, prefix=prefix)
            except StorageError as exc:
                print(f"cannot read the signed heads in storage: {exc}", file=sys.stderr)
                return 2
            report.problems += stored.problems
        if report.ok and not args.no_sign:
            if args.no_storage:
                audit.sign_head(db.session, rt.signer)
            else:
                years = int(app.config["AUDIT_HEAD_RETENTION_YEARS"])
                until = clock.now() + timedelta(days=366 * years)
                try:
                    audit.checkpoint(
                        db.session, rt.signer, rt.storage, bucket, retain_until=until, prefix=prefix
                    )
                except StorageError as exc:
                    print(f"cannot keep the signed head in storage: {exc}", file=sys.stderr)
                    return 2
            db.session.commit()
        if report.ok:
            kept = f", {stored.heads_checked} kept in WORM storage" if stored else ""
            print(
                f"audit chain intact: {report.checked} entries, "
                f"{report.heads_checked} signed heads{kept}"
            )
            return 0
        first = report.problems[0]
        print(f"audit chain BROKEN at {first}", file=sys.stderr)
        for problem in report.problems[1:]:
            print(f"  also: {problem}", file=sys.stderr)
        return 1


def cmd_archive_verify(args: argparse.Namespace) -> int:
    """Check a case archive offline, exactly as the ``verify.py`` bundled in it does."""
    from .archive.verify import run

    return run(
        args.file,
        args.public_key,
        as_json=args.json,
        trust_embedded_key=args.trust_embedded_key,
        tsa_ca=args.tsa_ca,
    )


def cmd_keys_show(args: argparse.Namespace) -> int:
    """The signing public keys an auditor pins with ``archive verify --public-key``."""
    import json

    from .extensions import db
    from .services import audit

    with _app_context() as app:
        keys = audit.signing_keys(db.session, app.extensions["fieldtrace"].signer)
        db.session.rollback()  # reading only; the signer may have made its key file
    if args.json:
        print(json.dumps({"algorithm": "Ed25519", "keys": keys}, indent=2))
        return 0
    for key in keys:
        period = f"{key['first_used'] or '-'} .. {'now' if key['current'] else key['last_used']}"
        label = "current" if key["current"] else "past"
        print(f"{key['public_key']}  {label}  {period}")
        print(f"  {key['fingerprint']}")
    return 0


def _split_categories(text: str) -> list[str]:
    for sep in ("，", "、", ";", "；"):
        text = text.replace(sep, ",")
    return [c.strip() for c in text.split(",") if c.strip()]


def cmd_credential_issue(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from .errors import DomainError
    from .extensions import db
    from .models import User
    from .services import credentials

    with _app_context():
        user = db.session.execute(
            sa.select(User).where(User.username == args.username)
        ).scalar_one_or_none()
        if user is None:
            print(f"error: no user {args.username!r} (user_not_found)", file=sys.stderr)
            return 1
        try:
            credential = credentials.issue(
                db.session,
                None,
                {
                    "user_id": user.id,
                    "number": args.number,
                    "issuing_authority": args.authority,
                    "categories": _split_categories(args.categories),
                    "area": args.area,
                    "valid_from": args.valid_from,
                    "valid_to": args.valid_to,
                },
            )
            db.session.commit()
        except DomainError as exc:
            print(f"error: {exc.message} ({exc.code})", file=sys.stderr)
            return 1
        print(
            f"issued credential {credential.number} (id {credential.id}) to {user.username}, "
            f"valid {args.valid_from} to {args.valid_to}"
        )
    return 0


def cmd_credential_status(args: argparse.Namespace) -> int:
    from .errors import DomainError
    from .extensions import db
    from .services import credentials

    with _app_context():
        try:
            credential = credentials.by_number(db.session, args.number)
            before = credential.status
            credentials.change_status(db.session, None, credential, args.status, args.reason)
            db.session.commit()
        except DomainError as exc:
            print(f"error: {exc.message} ({exc.code})", file=sys.stderr)
            return 1
        print(f"credential {credential.number}: {before} -> {credential.status}")
    return 0


def _migrations_dir_for_tests() -> str:
    return str(Path(__file__).with_name("migrations"))


def _upgrade(app) -> None:
    from flask_migrate import upgrade

    upgrade(directory=_migrations_dir_for_tests())


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    with _app_context() as app:
        _upgrade(app)
    print("database schema is up to date")
    return 0


def cmd_uploads_expire(args: argparse.Namespace) -> int:
    from .extensions import db
    from .services.uploads import expire_uploads

    with _app_context() as app:
        rt = app.extensions["fieldtrace"]
        n = expire_uploads(db.session, rt.storage, rt.uploads)
    print(f"expired {n} abandoned uploads")
    return 0


def cmd_uploads_recover(args: argparse.Namespace) -> int:
    from .extensions import db
    from .services.uploads import finish_stalled_completions, recover_orphaned_originals

    with _app_context() as app:
        rt = app.extensions["fieldtrace"]
        recovered = recover_orphaned_originals(db.session, rt.storage, rt.uploads)
        finish_stalled_completions(db.session, rt.storage, rt.uploads, any_age=True)
    for upload_id in recovered:
        print(f"recovered upload {upload_id}")
    print(f"recovered {len(recovered)} orphaned originals; finished every stalled completion")
    return 0


def cmd_restore_versions(args: argparse.Namespace) -> int:
    import json

    from .extensions import db
    from .services.restore import record_restored_versions

    version_map = json.loads(Path(args.map).read_text())
    with _app_context():
        report = record_restored_versions(db.session, version_map)
        db.session.commit()
    print(
        f"{report.moved} rows now name their restored version (one storage.restored custody "
        f"entry each); {report.unchanged} map entries name no row"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fieldtrace", description="Fieldtrace field evidence server"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run SeaweedFS (embedded), web app and worker")
    serve.add_argument("--port", type=int)
    serve.add_argument("--host")
    serve.add_argument("--web-workers", type=int, default=2)
    serve.add_argument("--no-worker", action="store_true", help="run no in-process job worker")
    serve.add_argument(
        "--worker",
        action="store_true",
        help="a cluster node: run an in-process job worker too (by default it runs none)",
    )
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run a job worker")
    worker.add_argument("--workers", type=int, default=2)
    worker.set_defaults(func=cmd_worker)

    sub.add_parser(
        "setup",
        help="apply migrations and create the buckets (once per release, on any node; "
        "safe when several nodes run it at once)",
    ).set_defaults(func=cmd_setup)

    user = sub.add_parser("user", help="manage users").add_subparsers(
        dest="user_cmd", required=True
    )
    create = user.add_parser("create", help="create a user")
    create.add_argument("--username", required=True)
    create.add_argument(
        "--role", required=True, choices=["officer", "supervisor", "legal", "leader", "admin"]
    )
    create.add_argument("--name", required=True)
    create.add_argument("--unit", default="DEFAULT", help="unit code (created if missing)")
    create.add_argument("--password-stdin", action="store_true")
    create.set_defaults(func=cmd_user_create)
    from .cli_admin import add_unit_commands, add_user_commands

    add_user_commands(user)
    add_unit_commands(sub)
    from .cli_calendar import add_calendar_commands

    add_calendar_commands(sub)

    audit_p = sub.add_parser("audit", help="audit log").add_subparsers(
        dest="audit_cmd", required=True
    )
    verify = audit_p.add_parser("verify", help="verify the hash chain and signed heads")
    verify.add_argument("--no-sign", action="store_true", help="do not sign the head afterwards")
    verify.add_argument(
        "--no-storage",
        action="store_true",
        help="check the database alone, not the heads kept in WORM storage",
    )
    verify.set_defaults(func=cmd_audit_verify)
    from .cli_log import add_log_commands

    add_log_commands(audit_p)

    archive_p = sub.add_parser("archive", help="case archives (案卷)").add_subparsers(
        dest="archive_cmd", required=True
    )
    archive_verify = archive_p.add_parser("verify", help="verify a case archive offline")
    archive_verify.add_argument("file", metavar="FILE.zip")
    add_verify_arguments(archive_verify)
    archive_verify.set_defaults(func=cmd_archive_verify)

    keys_p = sub.add_parser("keys", help="the server's signing keys (签名公钥)").add_subparsers(
        dest="keys_cmd", required=True
    )
    keys_show = keys_p.add_parser(
        "show", help="print the current and past signing public keys with their periods of use"
    )
    keys_show.add_argument("--json", action="store_true", help="print the keys as JSON")
    keys_show.set_defaults(func=cmd_keys_show)

    cred = sub.add_parser("credential", help="enforcement credentials (执法证)").add_subparsers(
        dest="credential_cmd", required=True
    )
    issue = cred.add_parser("issue", help="issue a credential to an officer")
    issue.add_argument("--username", required=True, help="the holder")
    issue.add_argument("--number", required=True, help="credential number (unique)")
    issue.add_argument("--authority", required=True, help="issuing authority (发证机关)")
    issue.add_argument(
        "--categories", required=True, help='enforcement categories, e.g. "市场监管,食品安全"'
    )
    issue.add_argument("--area", required=True, help="enforcement area (执法区域)")
    issue.add_argument("--valid-from", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    issue.add_argument("--valid-to", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    issue.set_defaults(func=cmd_credential_issue)
    status = cred.add_parser("status", help="suspend, revoke or reactivate a credential")
    status.add_argument("--number", required=True)
    status.add_argument("--status", required=True, choices=["active", "suspended", "revoked"])
    status.add_argument("--reason", required=True)
    status.set_defaults(func=cmd_credential_status)
    from .cli_admin import add_credential_commands

    add_credential_commands(cred)

    dbp = sub.add_parser("db", help="database").add_subparsers(dest="db_cmd", required=True)
    dbp.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    restore_p = sub.add_parser("restore", help="after a restore").add_subparsers(
        dest="restore_cmd", required=True
    )
    versions = restore_p.add_parser(
        "versions",
        help="point rows at the object versions a restore into other S3 storage made "
        "(MAP.json: [{bucket, key, old, new}], as bench/backup_drill.py writes it); audited",
    )
    versions.add_argument("map", metavar="MAP.json")
    versions.set_defaults(func=cmd_restore_versions)

    up = sub.add_parser("uploads", help="uploads").add_subparsers(dest="up_cmd", required=True)
    up.add_parser("expire", help="abort abandoned uploads").set_defaults(func=cmd_uploads_expire)
    up.add_parser(
        "recover",
        help="give an item to every stored original that has none (run once after upgrading)",
    ).set_defaults(func=cmd_uploads_recover)
    return parser


def add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    from .archive.verify import add_arguments

    add_arguments(parser)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
