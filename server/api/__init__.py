"""HTTP layer: thin blueprints that unpack, call one service, and map the result to HTTP."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from marshmallow import ValidationError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from ..errors import DomainError
from ..extensions import db
from ..logs import register_request_ids, request_id
from ..services.metrics import errors as dependency_errors
from ..storage import StorageError

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"


def error_response(status: int, code: str, message: str, details: dict | None = None):
    body: dict = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    if rid := request_id():  # the same id as the X-Request-Id header and the log lines
        body["error"]["request_id"] = rid
    return jsonify(body), status


def register_api(app: Flask) -> None:
    from .. import public
    from . import (
        admin,
        auth,
        case_forms,
        case_team,
        cases,
        console,
        credentials,
        disclosure,
        documents,
        health,
        media,
        metrics,
        openapi,
        reports,
        uploads,
        workflow,
    )

    for module in (
        auth,
        case_forms,
        cases,
        uploads,
        media,
        credentials,
        console,
        documents,
        workflow,
        openapi,
        disclosure,
        reports,
        case_team,
        admin,
    ):
        app.register_blueprint(module.bp, url_prefix="/api/v1")
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(public.bp)
    from ..web import bp as pwa_bp

    app.register_blueprint(pwa_bp)  # last: its catch-all route must not shadow anything
    register_request_ids(app)

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        db.session.rollback()
        response, status = error_response(exc.status, exc.code, exc.message, exc.details)
        response.headers.update(exc.headers)
        return response, status

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        db.session.rollback()
        return error_response(
            422, "invalid", "the request is invalid", {"fields": exc.messages_dict}
        )

    @app.errorhandler(StorageError)
    def _storage_error(exc: StorageError):
        db.session.rollback()
        log.exception("storage failure")
        dependency_errors.add("s3")
        response, status = error_response(
            503, "storage_unavailable", "object storage failed; nothing was lost, retry later"
        )
        response.headers["Retry-After"] = "5"
        return response, status

    @app.errorhandler(OverflowError)
    @app.errorhandler(DataError)
    def _unstorable(exc: Exception):
        # A number or time the database cannot hold (e.g. ?case_id=10**30): the input's fault.
        db.session.rollback()
        log.warning("value the database cannot hold: %s", exc)
        return error_response(
            422, "invalid_value", "a number, time or character in the request cannot be stored"
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        response, status = error_response(exc.code or 500, code, exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        db.session.rollback()
        log.exception("unhandled error")
        return error_response(500, "internal_error", "an unexpected error occurred")

    # Bodies larger than MAX_CONTENT_LENGTH get 413, except where a route has its own limit.
    @app.before_request
    def _body_limit():
        if request.blueprint == "uploads":  # tus: a PATCH never exceeds the upload's length
            request.max_content_length = app.config["MAX_UPLOAD_BYTES"]
        elif request.endpoint == "credentials.set_photo":
            request.max_content_length = credentials.PHOTO_MAX_REQUEST  # its own 413

    @app.after_request
    def _headers(response):
        if request.path.startswith("/api/v1/uploads"):
            response.headers["Tus-Resumable"] = TUS_VERSION
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response
