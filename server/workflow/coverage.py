"""Was a span of time recorded from start to end? Pure functions over time intervals.

A record such as the 听证笔录 states when the activity began and ended; the recordings of the
case say when they ran (capture start plus the duration read from the file). What no recording
covers is a gap. Short gaps are forgiven: written times are to the minute, and an officer
switching from one clip to the next loses a few seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

Interval = tuple[datetime, datetime]


def uncovered(
    span: Interval, recordings: Iterable[Interval], *, tolerance: timedelta
) -> list[Interval]:
    """The parts of ``span`` that no recording covers, longer than ``tolerance``, in order.

    >>> from datetime import datetime as dt
    >>> at = lambda m: dt(2026, 5, 1, 10, m)
    >>> uncovered((at(0), at(40)), [(at(0), at(22)), (at(25), at(41))],
    ...           tolerance=timedelta(minutes=2))
    [(datetime.datetime(2026, 5, 1, 10, 22), datetime.datetime(2026, 5, 1, 10, 25))]
    """
    start, end = span
    gaps: list[Interval] = []
    cursor = start
    for rec_start, rec_end in sorted(r for r in recordings if r[1] > start and r[0] < end):
        if rec_start > cursor:
            gaps.append((cursor, rec_start))
        cursor = max(cursor, rec_end)
        if cursor >= end:
            break
    if cursor < end:
        gaps.append((cursor, end))
    return [(a, b) for a, b in gaps if b - a > tolerance]


def recording_interval(
    captured_at: datetime, duration_s: float | None, captured_end_at: datetime | None
) -> Interval:
    """When a recording ran: from its capture start for the duration in the file (the bytes'
    word, not the phone's), else until the end time the phone reported."""
    if duration_s:
        return captured_at, captured_at + timedelta(seconds=duration_s)
    return captured_at, max(captured_at, captured_end_at or captured_at)


def minutes_and_seconds(length: timedelta) -> str:
    """``2分53秒`` for a gap's length, as the console shows it."""
    total = int(length.total_seconds())
    minutes, seconds = divmod(total, 60)
    return f"{minutes}分{seconds:02d}秒" if minutes else f"{seconds}秒"
