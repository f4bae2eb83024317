"""Periodic chores: each package registers its own, the worker's sweep runs them.

A chore is a plain function of a :class:`ChoreContext` (session, runtime, the sweep's "now")
that returns what it did (a count, a dict of counts, or None). It runs in its own transaction,
committed when it returns and rolled back when it raises: one failing chore is logged and
retried on the next sweep, and does not stop the others. The sweep runs once a minute per
cluster (``server.queue.JobQueue``), so a chore need not guard against a second worker.

Chores are registered where their domain lives (``@chore("name", order=...)``), as warehouse's
packages declare their own tasks; :func:`require_chores` imports those modules, so the set
is complete before the first sweep.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChoreContext:
    session: Session
    runtime: Runtime
    now: datetime
    config: Mapping[str, Any]


Chore = Callable[[ChoreContext], "int | dict[str, int] | None"]
_CHORES: dict[str, tuple[int, Chore]] = {}

# The modules that register chores (imported by require_chores before the first sweep).
CHORE_MODULES = (
    "server.services.uploads",
    "server.services.housekeeping",
    "server.disclosure.report",
    "server.services.audit",
    "server.services.transparency",
)


def chore(name: str, *, order: int = 100) -> Callable[[Chore], Chore]:
    """Register ``fn`` as the periodic chore ``name``; lower ``order`` runs first."""

    def register(fn: Chore) -> Chore:
        if name in _CHORES and _CHORES[name][1] is not fn:
            raise RuntimeError(f"two periodic chores named {name!r}")
        _CHORES[name] = (order, fn)
        return fn

    return register


def registered() -> list[str]:
    return [name for name, _ in sorted(_CHORES.items(), key=lambda kv: (kv[1][0], kv[0]))]


def require_chores() -> None:
    """Import every module that registers chores; refuse to run without them."""
    for module in CHORE_MODULES:
        importlib.import_module(module)
    if not _CHORES:
        raise RuntimeError("no periodic chores registered")


def run_chores(context: ChoreContext) -> dict[str, int]:
    """Run every registered chore in order, each in its own transaction; their counts."""
    done: dict[str, int] = {}
    session = context.session
    for name in registered():
        try:
            result = _CHORES[name][1](context)
            session.commit()
        except Exception:
            session.rollback()
            log.exception("periodic chore %s failed; retried on the next sweep", name)
            continue
        if isinstance(result, dict):
            done.update(result)
        elif isinstance(result, int) and not isinstance(result, bool):
            done[name] = result
    return done
