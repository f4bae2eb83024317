"""Request helpers shared by the blueprints: authentication and body loading."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request
from marshmallow import Schema

from ..errors import DomainError, Forbidden, Unauthorized
from ..extensions import db
from ..models import User
from ..services import audit
from ..services import auth as auth_service

F = TypeVar("F", bound=Callable[..., Any])


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def login_required(*roles: str) -> Callable[[F], F]:
    """Authenticate by bearer token; with ``roles``, also require one of them."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = bearer_token()
            user = auth_service.user_for_token(db.session, token) if token else None
            if user is None:
                raise Unauthorized(
                    "sign in first: send 'Authorization: Bearer <token>'",
                    code="unauthorized",
                    headers={"WWW-Authenticate": 'Bearer realm="fieldtrace"'},
                )
            if roles and user.role not in roles:
                raise Forbidden("your role may not do this", code="role_forbidden")
            g.user = user
            g.token = token
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def current_user() -> User:
    return g.user


def client_addr() -> str:
    return request.remote_addr or ""


def load_body(schema: Schema) -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None:
        raise DomainError("send a JSON object body", code="invalid_json", status=400)
    # NUL, lone surrogates and deep nesting were refused while parsing (server/json_input.py)
    return schema.load(data)


def audit_read(
    user: User, action: str, object_type: str, object_id: int | str, details: dict[str, Any]
) -> None:
    """Record and commit a read of personal data or evidence (a list: the ids it returned)."""
    audit.record(
        db.session,
        actor=user,
        action=action,
        object_type=object_type,
        object_id=object_id,
        client_addr=client_addr(),
        details=details,
    )
    db.session.commit()
