"""Login, logout and who-am-I."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app

from ..extensions import db
from ..schemas import LoginSchema, TokenSchema, UserSchema
from ..services import auth as auth_service
from .common import client_addr, current_user, load_body, login_required

bp = Blueprint("auth", __name__)


@bp.post("/auth/login")
def login():
    body = load_body(LoginSchema())
    cfg = current_app.config
    try:
        result = auth_service.login(
            db.session,
            username=body["username"],
            password=body["password"],
            client_addr=client_addr(),
            token_ttl=timedelta(hours=int(cfg["TOKEN_TTL_HOURS"])),
            free_failures=int(cfg["LOGIN_FREE_FAILURES"]),
            max_delay_s=int(cfg["LOGIN_MAX_DELAY_SECONDS"]),
        )
    except auth_service.Unauthorized:
        db.session.commit()  # keep the failure count and its audit entry
        raise
    db.session.commit()
    return TokenSchema().dump(result), 200


@bp.post("/auth/logout")
@login_required()
def logout():
    from flask import g

    auth_service.logout(db.session, token=g.token, user=current_user(), client_addr=client_addr())
    db.session.commit()
    return "", 204


@bp.get("/auth/me")
@login_required()
def me():
    return UserSchema().dump(current_user())
