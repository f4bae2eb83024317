"""执法全过程记录 as time: records that state a start and an end must be recorded throughout."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from server.workflow.coverage import minutes_and_seconds, recording_interval, uncovered
from tests import tus_helpers as tus
from tests.conftest import open_case
from tests.workflow_helpers import API, Flow, move_case_to

CHINA = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 21, 9, 30, tzinfo=CHINA)
TWO_MIN = timedelta(minutes=2)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("recordings", "expected"),
    [
        ([], [(0, 10)]),
        ([(0, 10)], []),
        ([(-5, 20)], []),  # a recording may start before and run past the span
        ([(0, 4), (3, 10)], []),  # overlapping clips
        ([(0, 4), (5.5, 10)], []),  # a 90 s switch between clips is forgiven
        ([(0, 4), (7, 10)], [(4, 7)]),
        ([(1.5, 10)], []),  # started 90 s late: forgiven
        ([(3, 10)], [(0, 3)]),
        ([(0, 6)], [(6, 10)]),
        ([(0, 2), (6, 7), (1, 3)], [(3, 6), (7, 10)]),  # unsorted input
        ([(11, 20), (-9, -1)], [(0, 10)]),  # entirely outside the span
    ],
)
def test_uncovered(recordings, expected) -> None:
    spans = [(at(a), at(b)) for a, b in recordings]
    assert uncovered((at(0), at(10)), spans, tolerance=TWO_MIN) == [
        (at(a), at(b)) for a, b in expected
    ]


def test_recording_interval_prefers_the_files_duration() -> None:
    assert recording_interval(at(0), 90.0, at(5)) == (at(0), at(1.5))
    assert recording_interval(at(0), None, at(5)) == (at(0), at(5))
    assert recording_interval(at(0), None, None) == (at(0), at(0))
    assert recording_interval(at(0), None, at(-1)) == (at(0), at(0))  # a clock gone backwards
    assert minutes_and_seconds(timedelta(seconds=173)) == "2分53秒"
    assert minutes_and_seconds(timedelta(seconds=9)) == "9秒"


def clip(path: Path, seconds: int, tone: int) -> bytes:
    """A tiny H.264/AAC clip of ``seconds`` (1 fps keeps it fast)."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"color=c=gray:size=64x48:rate=1:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency={tone}:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


def continuity(client, actor, case_id: int, stage: str) -> list[dict]:
    report = client.get(f"{API}/cases/{case_id}/completeness", headers=actor.headers).json
    [found] = [s for s in report["stages"] if s["stage"] == stage]
    return [r for r in found["requirements"] if r["code"] == "recording_not_continuous"]


def inspected(flow: Flow, officer, case_id: int) -> None:
    """Issue a 现场检查笔录 stating the inspection ran 09:30–09:40."""
    flow.full_doc(
        case_id,
        "onsite_inspection_record",
        {"officer": officer, "party": officer},
        officer,
        inspected_at=at(0).isoformat(),
        ended_at=at(10).isoformat(),
    )


def test_major_property_inspection_must_be_filmed_throughout(client, users, tmp_path) -> None:
    officer, sup = users.create("li"), users.create("zhang", role="supervisor")
    flow = Flow(client, tmp_path)
    cid = open_case(client, officer, major_property=True)["id"]
    move_case_to(client, sup, cid, "investigation")
    inspected(flow, officer, cid)  # 09:30–09:40

    def film(start: float, seconds: int, tone: int) -> None:
        data = clip(tmp_path / f"c{tone}.mp4", seconds, tone)
        tus.upload(
            client, officer, cid, data, content_type="video/mp4", filename="c.mp4",
            stage="investigation", activity="onsite_inspection",
            captured_at=at(start).isoformat(),
        )  # fmt: skip

    film(0, 240, 440)  # 09:30–09:34
    [check] = continuity(client, officer, cid, "investigation")
    assert not check["met"]
    assert check["message"].endswith("09:30:00至09:40:00间09:34:00–09:40:00（6分00秒）无音像记录")
    assert check["message_en"].endswith("(unrecorded 09:34:00–09:40:00)")
    # The gap stops the case leaving the stage, in words, and shows in the console's gaps.
    blocked = flow.advance(officer, cid, "evidence", expect=409)
    assert "recording_not_continuous" in {
        m["code"] for m in blocked.json["error"]["details"]["missing"]
    }
    gaps = client.get(f"{API}/cases/{cid}/gaps", headers=sup.headers).json["gaps"]
    assert ("recording_not_continuous", "investigation") in {(g["code"], g["stage"]) for g in gaps}

    film(5.5, 300, 550)  # 09:35:30–09:40:30: the 90 s switch after 09:34 is forgiven
    [check] = continuity(client, officer, cid, "investigation")
    assert check["met"] and check["message"].endswith("09:30:00至09:40:00已全程记录")
    gaps = client.get(f"{API}/cases/{cid}/gaps", headers=sup.headers).json["gaps"]
    assert "recording_not_continuous" not in {g["code"] for g in gaps}


def test_a_hearing_needs_its_end_time_and_ordinary_inspections_are_not_timed(
    client, users, tmp_path
) -> None:
    officer = users.create("li")
    flow = Flow(client, tmp_path)
    cid = open_case(client, officer)["id"]  # not a major-property case
    inspected(flow, officer, cid)  # 09:30–09:40
    assert continuity(client, officer, cid, "investigation") == []
    hearing = flow.full_doc(
        cid, "hearing_record", {"officer": officer, "party": officer}, officer,
        started_at=at(0).isoformat(), ended_at=None,
    )  # fmt: skip
    [check] = continuity(client, officer, cid, "decision")
    assert not check["met"]
    assert check["message"] == (
        f"《听证笔录》所载听证须全过程音像记录（{hearing['number']}）：笔录未写明起止时间，无法核对"
    )
