"""Fieldtrace server: ``create_app`` binds extensions and blueprints, nothing else."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.routing import IntegerConverter

from .config import Config
from .extensions import db, migrate
from .json_input import StrictJSONProvider


def create_app(config: Config | None = None, **overrides: Any) -> Flask:
    """Build the WSGI app. ``overrides`` replace config values (used by tests)."""
    app = Flask(__name__, static_folder=None)
    app.json = StrictJSONProvider(app)  # NUL, lone surrogates, deep nesting: 422 everywhere
    app.url_map.converters["int"] = Int64Converter  # before any route is added
    app.config.from_object(config or Config())
    app.config.update(overrides)
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("FIELDTRACE_SECRET_KEY must be set (the CLI generates one for make run)")

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()))
    with app.app_context():
        _tune_sqlite(db.engine)

    from .runtime import Runtime

    app.extensions["fieldtrace"] = Runtime.from_config(app)

    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    from .api import register_api

    register_api(app)
    from .api.limits import register_limits

    register_limits(app)
    from .api.unavailable import register_unavailable

    register_unavailable(app)
    from .events import require_listeners

    require_listeners()  # a decision issued with nobody listening would never be published
    from .jobs import require_chores

    require_chores()  # every package's periodic chores, before the first sweep
    return app


class Int64Converter(IntegerConverter):
    """``<int:id>`` that the database can hold: a larger id matches no route, so 404."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def _migrations_dir() -> Any:
    from pathlib import Path

    return Path(__file__).with_name("migrations")


def _tune_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout and IMMEDIATE transactions so concurrent writers queue, not fail."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" below open transactions
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
