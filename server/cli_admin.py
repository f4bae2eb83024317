"""``fieldtrace user …`` and ``fieldtrace unit …``: the operator's side of what an admin does
in the app (accounts, the unit's name and document prefix). The operator acts for the whole
deployment: the only one who may move a user to another unit or create a unit."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

ROLES = ["officer", "supervisor", "legal", "leader", "admin"]


def _run(action: Callable[[Any], str]) -> int:
    """Run ``action(session)`` in an app context; print its line, or the domain error."""
    from .cli import _app_context
    from .errors import DomainError
    from .extensions import db

    with _app_context():
        try:
            line = action(db.session)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            print(f"error: {exc.message} ({exc.code})", file=sys.stderr)
            return 1
    print(line)
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass("New password: ")


def cmd_user_list(args: argparse.Namespace) -> int:
    from .services import units, users

    def action(session: Any) -> str:
        unit = units.get_by_code(session, args.unit) if args.unit else None
        rows = [
            f"{u.id}\t{u.username}\t{u.role}\t{u.unit.code}\t"
            f"{'active' if u.active else 'deactivated'}\t{u.name}"
            for u in users.listed(session, None, unit)
        ]
        return "\n".join(["id\tusername\trole\tunit\tstatus\tname", *rows])

    return _run(action)


def cmd_user_update(args: argparse.Namespace) -> int:
    from .services import users

    def action(session: Any) -> str:
        user = users.by_username(session, args.username)
        changes = {"name": args.name, "role": args.role, "unit_code": args.unit}
        users.update(session, None, user, {k: v for k, v in changes.items() if v is not None})
        return f"{user.username}: {user.role} in unit {user.unit.code}, name {user.name}"

    return _run(action)


def cmd_user_reset_password(args: argparse.Namespace) -> int:
    from .services import users

    password = _read_password(args)

    def action(session: Any) -> str:
        user = users.by_username(session, args.username)
        users.reset_password(session, None, user, password)
        return f"{user.username}: new password set; every session ended"

    return _run(action)


def _set_active(active: bool) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        from .services import users

        def action(session: Any) -> str:
            user = users.by_username(session, args.username)
            users.set_active(session, None, user, active, reason=args.reason or "")
            return f"{user.username}: {'reactivated' if active else 'deactivated'}"

        return _run(action)

    return command


def _unit_line(unit: Any) -> str:
    from .services.units import missing_settings

    missing = missing_settings(unit)
    warn = f"  (missing: {', '.join(missing)})" if missing else ""
    return (
        f"{unit.code}\t{unit.name}\tprefix {unit.short_name or '-'}\t"
        f"{unit.address or '-'}\t{unit.contact_phone or '-'}{warn}"
    )


def cmd_unit_list(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from .models import Unit

    def action(session: Any) -> str:
        units = session.execute(sa.select(Unit).order_by(Unit.code)).scalars()
        return "\n".join(["code\tname\tprefix\taddress\tphone", *map(_unit_line, units)])

    return _run(action)


def cmd_unit_create(args: argparse.Namespace) -> int:
    from .services import units

    def action(session: Any) -> str:
        unit = units.create_unit(
            session,
            code=args.code,
            name=args.name,
            short_name=args.prefix,
            address=args.address or "",
            contact_phone=args.phone or "",
        )
        return f"created unit {_unit_line(unit)}"

    return _run(action)


def cmd_unit_update(args: argparse.Namespace) -> int:
    from .services import units

    def action(session: Any) -> str:
        unit = units.get_by_code(session, args.code)
        changes = {
            "name": args.name,
            "short_name": args.prefix,
            "address": args.address,
            "contact_phone": args.phone,
        }
        units.update_unit(session, unit, {k: v for k, v in changes.items() if v is not None})
        return f"updated unit {_unit_line(unit)}"

    return _run(action)


def add_user_commands(user: Any) -> None:
    """``user list|update|reset-password|deactivate|reactivate`` (``user create`` is in cli.py)."""
    listing = user.add_parser("list", help="list users (of one unit with --unit)")
    listing.add_argument("--unit", help="unit code")
    listing.set_defaults(func=cmd_user_list)

    update = user.add_parser("update", help="change a user's name, role or unit")
    update.add_argument("--username", required=True)
    update.add_argument("--name")
    update.add_argument("--role", choices=ROLES)
    update.add_argument("--unit", help="move the user to this unit (code); ends their sessions")
    update.set_defaults(func=cmd_user_update)

    reset = user.add_parser("reset-password", help="set a new password; ends every session")
    reset.add_argument("--username", required=True)
    reset.add_argument("--password-stdin", action="store_true")
    reset.set_defaults(func=cmd_user_reset_password)

    for name, active, text in (
        ("deactivate", False, "deactivate a user: every session ends at once"),
        ("reactivate", True, "let a deactivated user sign in again"),
    ):
        cmd = user.add_parser(name, help=text)
        cmd.add_argument("--username", required=True)
        cmd.add_argument("--reason", default="")
        cmd.set_defaults(func=_set_active(active))


def add_unit_commands(sub: Any) -> None:
    unit = sub.add_parser("unit", help="enforcement units (执法单位)").add_subparsers(
        dest="unit_cmd", required=True
    )
    unit.add_parser("list", help="list units").set_defaults(func=cmd_unit_list)

    create = unit.add_parser("create", help="create a unit")
    create.add_argument("--code", required=True, help="key in URLs and commands, e.g. SH-JA")
    create.add_argument("--name", required=True, help="full name, e.g. 上海市静安区市场监督管理局")
    create.add_argument("--prefix", required=True, help="document number prefix, e.g. 沪静市监")
    create.add_argument("--address", help="office address")
    create.add_argument("--phone", help="contact phone")
    create.set_defaults(func=cmd_unit_create)

    update = unit.add_parser("update", help="change a unit's name, prefix, address or phone")
    update.add_argument("--code", required=True)
    update.add_argument("--name")
    update.add_argument("--prefix")
    update.add_argument("--address")
    update.add_argument("--phone")
    update.set_defaults(func=cmd_unit_update)


def cmd_credential_renew(args: argparse.Namespace) -> int:
    from .services import credentials

    def action(session: Any) -> str:
        old = credentials.by_number(session, args.number)
        new = credentials.renew(
            session,
            None,
            old,
            number=args.new_number,
            valid_from=args.valid_from,
            valid_to=args.valid_to,
        )
        return (
            f"renewed credential {old.number} as {new.number} (id {new.id}), "
            f"valid {args.valid_from} to {args.valid_to}"
        )

    return _run(action)


def add_credential_commands(cred: Any) -> None:
    """``credential renew`` (``issue`` and ``status`` are in cli.py)."""
    from datetime import date

    renew = cred.add_parser(
        "renew", help="renew: a successor credential with a new number and period, same photo"
    )
    renew.add_argument("--number", required=True, help="the credential to renew")
    renew.add_argument("--new-number", required=True)
    renew.add_argument("--valid-from", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    renew.add_argument("--valid-to", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    renew.set_defaults(func=cmd_credential_renew)
