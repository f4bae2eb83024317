"""Which processes are alive, as the database sees it: one heartbeat row per process.

A process that holds something others wait for (an upload's lease while a PATCH streams, a
media item while a worker transcodes) beats its row every second for as long as it holds
anything, and records itself (:func:`holder`) as the holder. Another node that finds the
holder's row older than a few seconds knows it is gone (killed, crashed, its machine off) and
takes over at once, instead of waiting for a lease of tens of seconds or a sweep of minutes.

Beats are written and compared in database time, so a node whose clock runs ahead or behind
neither looks dead nor outlives its death.

    >>> engine = hold(session)                # first hold beats in the session's transaction,
    >>> ... values(lock_holder=holder()) ...  # which commits it with the claim naming us
    >>> let_go(engine)                        # last one let go: the beats stop
    >>> sa.update(...).where(sa.not_(alive(UploadSession.lock_holder, 5)))  # take over the dead
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from .models import ProcessHeartbeat

log = logging.getLogger(__name__)

# How often a holding process beats. A holder counts as dead when its last beat is older than
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
    """SQL: the process named in ``holder_column`` beat within the last ``stale_s`` seconds."""
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


class _Heart:
    """This process's heartbeat: a side thread beating every engine something is held in."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.holder = f"{socket.gethostname()[:60]}:{self.pid}:{secrets.token_hex(4)}"
        self.lock = threading.Lock()
        self.holds: dict[Engine, int] = {}
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None

    def beat(self, conn: Any) -> None:
        updated = conn.execute(
            sa.update(ProcessHeartbeat)
            .where(ProcessHeartbeat.holder == self.holder)
            .values(beat_at=db_epoch())
            .execution_options(synchronize_session=False)
        ).rowcount
        if not updated:
            conn.execute(sa.insert(ProcessHeartbeat).values(holder=self.holder, beat_at=db_epoch()))

    def hold(self, session: Any) -> Engine:
        engine = session.get_bind()
        with self.lock:
            first = not self.holds.get(engine)
            self.holds[engine] = self.holds.get(engine, 0) + 1
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._run, name="liveness-heartbeat", daemon=True
                )
                self.thread.start()
        if first:
            # Fresh before the caller claims anything. In the caller's own transaction: on
            # SQLite a second connection would wait for the write lock that transaction holds.
            try:
                self.beat(session)
            except BaseException:
                self.let_go(engine)
                raise
        return engine

    def let_go(self, engine: Engine) -> None:
        with self.lock:
            left = self.holds.get(engine, 0) - 1
            if left > 0:
                self.holds[engine] = left
            else:
                self.holds.pop(engine, None)

    def _run(self) -> None:
        while True:
            self.wake.wait(BEAT_S)
            with self.lock:
                engines = list(self.holds)
            for engine in engines:
                try:
                    with engine.begin() as conn:
                        self.beat(conn)
                except Exception as exc:  # the database is away: the next beat tries again
                    log.warning("heartbeat failed: %s", str(exc).splitlines()[0] if exc else exc)


_heart: _Heart | None = None
_heart_lock = threading.Lock()


def _current() -> _Heart:
    global _heart
    with _heart_lock:
        if _heart is None or _heart.pid != os.getpid():  # new, or a forked child (gunicorn)
            _heart = _Heart()
        return _heart


def holder() -> str:
    """This process's name in claims: host, process id and a random boot mark."""
    return _current().holder


def hold(session: Any) -> Engine:
    """Something is about to be held in ``session``'s database: beat now (in the session's
    transaction, which the caller commits with its claim) and every second until let go.
    Returns the engine to give to :func:`let_go`."""
    return _current().hold(session)


def let_go(engine: Engine) -> None:
    """One hold fewer; with none left in ``engine`` the beats there stop."""
    _current().let_go(engine)


def forget_dead(session: Any, older_than_s: float = 86_400) -> int:
    """Remove rows of processes silent for a day (the sweep's housekeeping)."""
    return session.execute(
        sa.delete(ProcessHeartbeat).where(ProcessHeartbeat.beat_at < db_epoch() - older_than_s)
    ).rowcount
