"""``fieldtrace audit tree-head``: sign a head of the audit log's Merkle tree now (the worker
signs one every minute) and print it, as ``/public/log/head`` publishes it."""

from __future__ import annotations

import argparse
import json
import sys


def cmd_audit_tree_head(args: argparse.Namespace) -> int:
    from .cli import _app_context
    from .extensions import db
    from .services import transparency
    from .services.timestamping import TimestampError

    with _app_context() as app:
        runtime = app.extensions["fieldtrace"]
        head = transparency.sign_tree_head(db.session, runtime.signer, max_leaves=None)
        db.session.commit()
        if head is None:
            print("the audit log is empty: no tree head to sign")
            return 1
        if runtime.tsa is None:
            print(
                "trusted time is off (no FIELDTRACE_TSA_URL): the head is signed only",
                file=sys.stderr,
            )
        else:
            try:
                transparency.stamp_latest_head(db.session, runtime.tsa)
                db.session.commit()
            except TimestampError as exc:
                db.session.rollback()
                print(f"trusted time failed, the head is signed only: {exc}", file=sys.stderr)
        print(json.dumps(transparency.head_document(head), indent=2))
    return 0


def add_log_commands(audit: argparse._SubParsersAction) -> None:
    tree_head = audit.add_parser(
        "tree-head", help="sign a Merkle tree head of the audit log now and print it"
    )
    tree_head.set_defaults(func=cmd_audit_tree_head)
