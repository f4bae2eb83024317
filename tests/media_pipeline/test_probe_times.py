from __future__ import annotations

from datetime import timedelta

import pytest

from media_pipeline.probe import zone_shaped_offset

H, M, S = timedelta(hours=1), timedelta(minutes=1), timedelta(seconds=1)
TWO_MINUTES = 2 * M


@pytest.mark.parametrize(
    ("difference", "offset"),
    [
        (8 * H, 8 * H),  # Beijing time written as UTC
        (8 * H + 90 * S, 8 * H),  # and the camera's clock a little off the phone's
        (-(5 * H) + 70 * S, -5 * H),  # New York
        (5 * H + 30 * M, 5 * H + 30 * M),  # India
        (5 * H + 45 * M - 30 * S, 5 * H + 45 * M),  # Nepal
        (-(3 * H + 30 * M), -(3 * H + 30 * M)),  # Newfoundland
        (14 * H, 14 * H),  # Kiribati, the farthest ahead
        (-12 * H, -12 * H),
        (8 * H + 3 * M, None),  # too far from a quarter hour
        (8 * H + 7 * M, None),
        (14 * H + 15 * M, None),  # no zone is that far off
        (-(14 * H + 15 * M), None),
        (90 * S, None),  # no offset at all
        (3 * 24 * H, None),  # days: not a zone
    ],
)
def test_zone_shaped_offset(difference: timedelta, offset: timedelta | None) -> None:
    assert zone_shaped_offset(difference, tolerance=TWO_MINUTES) == offset


def test_zone_offset_tolerance_is_the_callers() -> None:
    assert zone_shaped_offset(8 * H + 3 * M, tolerance=5 * M) == 8 * H
    assert zone_shaped_offset(8 * H + 30 * S, tolerance=10 * S) is None
