"""One live run per item: a lease with a heartbeat, released on error; timeouts are retried."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from media_pipeline import derive as derive_module
from media_pipeline.limits import MediaRejected
from media_pipeline.process import process_item
from media_pipeline.verify import Outcome
from server import clock
from server.extensions import db
from server.models import MediaItem
from tests import tus_helpers as tus
from tests.conftest import open_case
from tests.workflow_helpers import tiny_mp4


@pytest.fixture
def video(app, client, users, tmp_path) -> str:
    """A processed video item, set back to be processed again from the derive step."""
    officer = users.create("li")
    case = open_case(client, officer)
    item_id = tus.upload(
        client, officer, case["id"], tiny_mp4(tmp_path / "a.mp4"),
        content_type="video/mp4", filename="a.mp4",
    )  # fmt: skip
    with app.app_context():
        item = db.session.get(MediaItem, item_id)
        assert item.processing == "done"
        item.steps = {k: v for k, v in item.steps.items() if k != "derive"}
        item.processing = "pending"
        db.session.commit()
    return item_id


def _state(app, item_id: str) -> tuple[str, object]:
    with app.app_context():
        item = db.session.get(MediaItem, item_id)
        return item.processing, item.processing_updated_at


def _run(app, item_id: str, **settings):
    with app.app_context():
        rt = app.extensions["fieldtrace"]
        pipeline = dataclasses.replace(rt.jobs.pipeline, **settings)
        return process_item(db.session, rt.storage, item_id, pipeline)


def test_a_live_run_holds_the_item_and_a_silent_one_is_taken_over(app, video):
    with app.app_context():
        item = db.session.get(MediaItem, video)
        item.processing, item.processing_updated_at = "running", clock.now()
        db.session.commit()
    assert _run(app, video) == Outcome.SKIPPED  # another worker is on it
    assert _state(app, video)[0] == "running"
    with app.app_context():
        stuck = app.extensions["fieldtrace"].jobs.pipeline.stuck_after
        item = db.session.get(MediaItem, video)
        item.processing_updated_at = clock.now() - stuck - timedelta(seconds=1)
        db.session.commit()
    assert _run(app, video) == Outcome.SUCCESS  # its worker died: this run takes it over
    assert _state(app, video)[0] == "done"


def test_the_heartbeat_keeps_a_slow_run_alive(app, video, monkeypatch):
    real = derive_module.make_web_proxy
    seen = []

    def slow_proxy(*args, **kwargs):
        seen.append(_state(app, video)[1])
        time.sleep(0.6)
        seen.append(_state(app, video)[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(derive_module, "make_web_proxy", slow_proxy)
    assert _run(app, video, heartbeat_s=0.1) == Outcome.SUCCESS
    assert seen[1] - seen[0] >= timedelta(seconds=0.2)  # beaten while ffmpeg "worked"


def test_a_timeout_is_retried_not_flagged_and_the_item_let_go(app, video, monkeypatch):
    def overloaded(*args, **kwargs):
        raise MediaRejected("ffmpeg_timeout", "ffmpeg did not finish within 3 s")

    monkeypatch.setattr(derive_module, "make_web_proxy", overloaded)
    with pytest.raises(TimeoutError):
        _run(app, video)
    with app.app_context():
        item = db.session.get(MediaItem, video)
        assert item.processing == "pending"  # free for the retry at once
        assert "derive" not in {k for k, v in item.steps.items() if v.get("state") == "failed"}
        assert "ffmpeg_timeout" not in [f["code"] for f in item.flags or []]
        running = db.session.execute(
            sa.select(sa.func.count()).where(MediaItem.processing == "running")
        ).scalar_one()
        assert running == 0
    monkeypatch.undo()
    assert _run(app, video) == Outcome.SUCCESS  # the retry
    assert _state(app, video)[0] == "done"


def test_a_probe_timeout_is_retried_too(app, video, monkeypatch):
    from media_pipeline import probe as probe_module

    with app.app_context():
        item = db.session.get(MediaItem, video)
        item.steps = {k: v for k, v in item.steps.items() if k != "probe"}
        db.session.commit()

    def overloaded(*args, **kwargs):
        raise MediaRejected("ffmpeg_timeout", "ffprobe did not finish within 3 s")

    monkeypatch.setattr(probe_module, "probe_av", overloaded)
    with pytest.raises(TimeoutError):
        _run(app, video)
    with app.app_context():
        item = db.session.get(MediaItem, video)
        assert item.processing == "pending" and "probe" not in item.steps
        assert "ffmpeg_timeout" not in [f["code"] for f in item.flags or []]
    monkeypatch.undo()
    assert _run(app, video) == Outcome.SUCCESS
