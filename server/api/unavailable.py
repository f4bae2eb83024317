"""A shared service that is briefly away (the database restarting, a node failing over) is
503 with ``Retry-After``, never 500: the client retries, and a tus client resumes from the
offset HEAD reports once the database is back."""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..extensions import db
from ..services.metrics import errors

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5


def register_unavailable(app: Flask) -> None:
    from . import error_response

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(DisconnectionError)
    @app.errorhandler(PoolTimeout)
    def _database_unavailable(exc: Exception):
        try:
            db.session.rollback()
        except Exception:  # the connection is gone: the pool replaces it
            db.session.remove()
        errors.add("database")
        log.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else exc)
        response, status = error_response(
            503,
            "database_unavailable",
            "数据库暂时不可用，请稍后重试（已收到的数据不会丢失）"
            " / the database is briefly unavailable; retry shortly (nothing received is lost)",
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response, status
