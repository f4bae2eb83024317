"""``fieldtrace calendar …``: load next year's national holiday notice, and see which years
are loaded (the admin screen does the same)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .cli_admin import _run


def cmd_calendar_import(args: argparse.Namespace) -> int:
    """Load a notice from a JSON file ({year, source, holidays: [{name, rest, work}]})."""
    try:
        doc = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 1

    def load(session) -> str:
        from .services import calendar

        notice = calendar.import_notice(session, doc)
        rest = sum(1 for workday in notice.overrides.values() if not workday)
        work = len(notice.overrides) - rest
        return (
            f"loaded {notice.year}: {notice.source} ({rest} days off, {work} make-up working days)"
        )

    return _run(load)


def cmd_calendar_show(args: argparse.Namespace) -> int:
    from .cli import _app_context
    from .extensions import db
    from .services import calendar

    with _app_context():
        status = calendar.status(db.session)
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2))
        return 0
    for year in status["years"]:
        print(f"{year['year']}  {year['origin']:8}  {year['source']}")
    if status["missing_years"]:
        print("missing: " + ", ".join(str(y) for y in status["missing_years"]))
    if status["message"]:
        print(status["message"]["en"])
    return 0


def add_calendar_commands(sub: argparse._SubParsersAction) -> None:
    cal = sub.add_parser("calendar", help="national holiday calendar (节假日安排)").add_subparsers(
        dest="calendar_cmd", required=True
    )
    imp = cal.add_parser("import", help="load a year's national holiday notice from JSON")
    imp.add_argument("file", help='JSON: {"year", "source", "holidays": [{name, rest, work}]}')
    imp.set_defaults(func=cmd_calendar_import)
    show = cal.add_parser("show", help="the years loaded, and whether next year's is missing")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_calendar_show)
