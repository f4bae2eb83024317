"""``fieldtrace audit tree-head``: sign a head of the audit log's Merkle tree now (the worker
signs one every minute) and print it, as ``/public/log/head`` publishes it."""

from __future__ import annotations

import argparse
import json


def cmd_audit_tree_head(args: argparse.Namespace) -> int:
    from .cli import _app_context
    from .extensions import db
    from .services import transparency

    with _app_context() as app:
        head = transparency.sign_tree_head(
            db.session, app.extensions["fieldtrace"].signer, max_leaves=None
        )
        db.session.commit()
        if head is None:
            print("the audit log is empty: no tree head to sign")
            return 1
        print(json.dumps(transparency.head_document(head), indent=2))
    return 0


def add_log_commands(audit: argparse._SubParsersAction) -> None:
    tree_head = audit.add_parser(
        "tree-head", help="sign a Merkle tree head of the audit log now and print it"
    )
    tree_head.set_defaults(func=cmd_audit_tree_head)
