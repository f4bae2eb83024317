"""After a restore into other S3 storage: rows follow the new version ids, audited, and a
case file still exports and verifies (offline too)."""

from __future__ import annotations

import io
import json

from server import cli
from server.archive import verify
from server.extensions import db
from server.models import MediaItem
from server.runtime import runtime
from server.services import audit
from server.services.restore import record_restored_versions
from tests.test_archive_integrity import _case_with_two_videos, _export, _public_key


def _restore_as_new_version(app, item_id: str) -> dict[str, str]:
    """What a restore does to one original: the same bytes stored again, under a new id."""
    with app.app_context():
        item = db.session.get(MediaItem, item_id)
        storage = runtime().storage
        data = storage.get_bytes(item.bucket, item.object_key, version_id=item.object_version)
        client = storage._client  # the restore writes with plain S3 calls, as the drill does
        put = client.put_object(Bucket=item.bucket, Key=item.object_key, Body=data)
        entry = {
            "bucket": item.bucket,
            "key": item.object_key,
            "old": item.object_version,
            "new": put["VersionId"],
        }
        db.session.rollback()
        return entry


def test_restored_versions_are_audited_and_the_case_file_still_verifies(
    app, client, users, tmp_path
):
    _, sup, cid, v1, _ = _case_with_two_videos(client, users, tmp_path)
    moved = _restore_as_new_version(app, v1)
    with app.app_context():
        report = record_restored_versions(db.session, [moved, {**moved, "key": "elsewhere"}])
        db.session.commit()
        assert (report.moved, report.unchanged) == (1, 1)
        assert db.session.get(MediaItem, v1).object_version == moved["new"]
        [entry] = [e for e in audit.entries_for(db.session, "media", v1)
                   if e.action == "storage.restored"]  # fmt: skip
        assert entry.details["from_version"] == moved["old"]
        assert entry.details["version_id"] == moved["new"]
        again = record_restored_versions(db.session, [moved])  # run twice: nothing more
        assert again.moved == 0
        db.session.commit()
    data = _export(client, sup, cid)  # not refused: the row agrees with the chain
    report = verify.verify_archive(io.BytesIO(data), _public_key(app))
    assert report.problems == [] and report.authentic


def test_a_version_changed_without_the_audited_move_is_still_refused(app, client, users, tmp_path):
    _, sup, cid, v1, _ = _case_with_two_videos(client, users, tmp_path)
    moved = _restore_as_new_version(app, v1)
    with app.app_context():
        db.session.get(MediaItem, v1).object_version = moved["new"]  # behind the app's back
        db.session.commit()
    assert _export(client, sup, cid, expect=409)["error"]["code"] == "archive_integrity_mismatch"


def test_fieldtrace_restore_versions_reads_the_drills_map(app, client, users, tmp_path, capsys,
                                                        monkeypatch):  # fmt: skip
    _, _, _, v1, _ = _case_with_two_videos(client, users, tmp_path)
    moved = _restore_as_new_version(app, v1)
    path = tmp_path / "version-map.json"
    path.write_text(json.dumps([moved]))
    monkeypatch.setattr(cli, "_app", lambda config=None: app)
    assert cli.main(["restore", "versions", str(path)]) == 0
    assert "1 rows now name their restored version" in capsys.readouterr().out
    with app.app_context():
        assert db.session.get(MediaItem, v1).object_version == moved["new"]
