"""Which claims are alive, as the database sees it: a heartbeat row per claim.

A request or job that holds something others wait for (an upload's lease while a PATCH
streams, a media item while a worker transcodes) takes a :class:`Hold`, names it in its claim,
and its process beats the hold's row every second until the hold is let go. Another node that
finds the row older than a few seconds knows the claim is dead (its process killed, crashed,
its machine off, or the request ended without being able to release it while the database was
away) and takes over at once, instead of waiting for a lease of tens of seconds or a sweep of
minutes. One UPDATE a second beats all the live holds of a process in one database.

Beats are written and compared in database time, so a node whose clock runs ahead or behind
neither looks dead nor outlives its death.

    >>> held = hold(session)                  # its first beat is in the session's transaction,
    >>> ... values(lock_holder=held.name) ... # committed with the claim that names it
    >>> let_go(held, session)                 # its beats stop (and its row is deleted)
    >>> sa.update(...).where(dead(UploadSession.lock_holder, 5))  # take over the dead
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from .models import ProcessHeartbeat

log = logging.getLogger(__name__)

# How often a process beats its holds. A hold counts as dead when its last beat is older than
# the caller's ``stale_s``, which should be a few beats (several seconds) to ride out a busy
# database or a stalled machine.
BEAT_S = 1.0


class db_epoch(FunctionElement[float]):
    """The database's clock, in seconds since the epoch (float)."""

    type = sa.Float()
    inherit_cache = True
    name = "db_epoch"


@compiles(db_epoch)
def _sqlite_epoch(element: Any, compiler: Any, **kw: Any) -> str:
    return "((julianday('now') - 2440587.5) * 86400.0)"


@compiles(db_epoch, "postgresql")
def _postgresql_epoch(element: Any, compiler: Any, **kw: Any) -> str:
    # clock_timestamp(), not now(): the time of this statement, not of its transaction.
    return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)"


def alive(holder_column: Any, stale_s: float) -> sa.ColumnElement[bool]:
    """SQL: the hold named in ``holder_column`` was beaten within the last ``stale_s`` s."""
    return (
        sa.select(ProcessHeartbeat.holder)
        .where(
            ProcessHeartbeat.holder == holder_column,
            ProcessHeartbeat.beat_at >= db_epoch() - stale_s,
        )
        .exists()
    )


def dead(holder_column: Any, stale_s: float) -> sa.ColumnElement[bool]:
    """SQL: a holder is named and has not beaten for ``stale_s`` seconds (or never did)."""
    return sa.and_(holder_column.is_not(None), sa.not_(alive(holder_column, stale_s)))


@dataclass(frozen=True)
class Hold:
    """One live claim of this process: ``name`` goes into the claim's holder column."""

    engine: Engine
    name: str


class _Heart:
    """This process's heartbeat: a side thread beating the rows of its live holds."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.prefix = f"{socket.gethostname()[:60]}:{self.pid}:{secrets.token_hex(4)}"
        self.count = itertools.count(1)
        self.lock = threading.Condition()
        self.live: dict[Engine, set[str]] = {}
        self.beating: Engine | None = None
        self.thread: threading.Thread | None = None

    def hold(self, session: Any) -> Hold:
        held = Hold(session.get_bind(), f"{self.prefix}:{next(self.count)}")
        # Fresh before the caller claims anything, in the caller's own transaction: on SQLite
        # a second connection would wait for the write lock that transaction holds.
        session.execute(sa.insert(ProcessHeartbeat).values(holder=held.name, beat_at=db_epoch()))
        with self.lock:
            self.live.setdefault(held.engine, set()).add(held.name)
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._run, name="liveness-heartbeat", daemon=True
                )
                self.thread.start()
        return held

    def let_go(self, held: Hold) -> None:
        with self.lock:
            live = self.live.get(held.engine, set())
            live.discard(held.name)
            if not live:
                self.live.pop(held.engine, None)
                # The engine may be disposed once its last hold is gone: let a beat under way
                # finish first (a connection it returned to a disposed pool would leak).
                self.lock.wait_for(lambda: self.beating is not held.engine, timeout=2)

    def _run(self) -> None:
        while True:
            time.sleep(BEAT_S)
            with self.lock:
                engines = list(self.live)
            for engine in engines:
                with self.lock:
                    names = list(self.live.get(engine, ()))
                    self.beating = engine if names else None
                if not names:
                    continue
                try:
                    with engine.begin() as conn:
                        conn.execute(
                            sa.update(ProcessHeartbeat)
                            .where(ProcessHeartbeat.holder.in_(names))
                            .values(beat_at=db_epoch())
                        )
                except Exception as exc:  # the database is away: the next beat tries again
                    log.warning("heartbeat failed: %s", str(exc).splitlines()[0] if exc else exc)
                finally:
                    with self.lock:
                        self.beating = None
                        self.lock.notify_all()


_heart: _Heart | None = None
_heart_lock = threading.Lock()


def _current() -> _Heart:
    global _heart
    with _heart_lock:
        if _heart is None or _heart.pid != os.getpid():  # new, or a forked child (gunicorn)
            _heart = _Heart()
        return _heart


def hold(session: Any) -> Hold:
    """A claim is about to be made in ``session``'s database: its row is written in the
    session's transaction (which the caller commits with the claim naming ``Hold.name``) and
    beaten every second until :func:`let_go`."""
    return _current().hold(session)


def let_go(held: Hold, session: Any = None) -> None:
    """The claim has ended (released or not): its beats stop. With ``session``, its row is
    deleted too, if the database lets us (else ``forget_dead`` removes it within a day)."""
    _current().let_go(held)
    if session is not None:
        try:
            session.execute(sa.delete(ProcessHeartbeat).where(ProcessHeartbeat.holder == held.name))
            session.commit()
        except sa.exc.SQLAlchemyError:  # the database is away: the row goes stale instead
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                session.rollback()


def forget_dead(session: Any, older_than_s: float = 86_400) -> int:
    """Remove rows silent for a day: holds of killed processes (the watchdog's housekeeping)."""
    return session.execute(
        sa.delete(ProcessHeartbeat).where(ProcessHeartbeat.beat_at < db_epoch() - older_than_s)
    ).rowcount
