"""Step 3: thumbnails, previews, web proxies, posters, strips and peaks — never the original."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.models import Derivative, MediaItem
from server.services import audit
from server.storage import Storage
from server.storage.keys import derivative_key

from .audio import make_audio_proxy, make_peaks
from .ffmpeg_run import AVProbe, probe_av
from .images import PREVIEW_SIZE, THUMBNAIL_SIZE, make_derivatives, make_thumbnail
from .limits import MediaLimits, MediaRejected
from .steps import add_flag, retry_if_transient, set_step
from .video import make_poster, make_thumb_strip, make_web_proxy, video_stops_early


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _store(
    session: Session,
    storage: Storage,
    bucket: str,
    item: MediaItem,
    name: str,
    path: Path,
    content_type: str,
    info: dict[str, Any],
) -> str:
    """Store one derivative and its row; returns its SHA-256."""
    sha256 = _file_sha256(path)
    # Named by content: a re-derive that dies before its commit leaves the row pointing at
    # the file it describes, never at new bytes under the old name.
    key = derivative_key(item.id, f"{path.stem}-{sha256[:16]}{path.suffix}")
    storage.put_file(bucket, key, str(path), content_type=content_type)
    row = session.execute(
        sa.select(Derivative).where(Derivative.media_item_id == item.id, Derivative.name == name)
    ).scalar_one_or_none() or Derivative(media_item_id=item.id, name=name)
    row.bucket, row.object_key, row.content_type = bucket, key, content_type
    row.size = path.stat().st_size
    row.sha256 = sha256
    row.source_sha256 = item.server_sha256 or item.device_sha256
    row.info = json.loads(json.dumps(info, default=str))
    session.add(row)
    return sha256


def _seconds(value: float) -> str:
    return f"{round(value, 1):g}"


def _flag_video_stopping_early(session: Session, item: MediaItem, proxy_probe: AVProbe) -> None:
    """A picture that stops long before its sound is a finding for a supervisor, not a
    failure: the recording is what the phone made (camera frozen, app in the background)."""
    early = video_stops_early(proxy_probe)
    if early is None:
        return
    video_end, audio_end = _seconds(early["video_end_s"]), _seconds(early["audio_end_s"])
    add_flag(
        session,
        item,
        "video_stops_early",
        f"the picture stops at {video_end} s; the sound goes on to {audio_end} s",
        message_zh=f"画面在 {video_end} 秒处中断，声音持续到 {audio_end} 秒",
        **early,
    )


def derive(
    session: Session,
    storage: Storage,
    item: MediaItem,
    original: Path,
    probe: dict[str, Any],
    workdir: Path,
    *,
    bucket: str,
    limits: MediaLimits,
) -> list[str]:
    """Make the derivatives this kind of media needs; returns their names."""
    kind = probe["detected"]["kind"]
    made: list[str] = []
    hashes: dict[str, str] = {}  # into the chain, so a row changed later shows at export

    def put(name: str, path: Path, content_type: str, info: dict[str, Any]) -> None:
        hashes[name] = _store(session, storage, bucket, item, name, path, content_type, info)
        session.commit()  # hold no transaction while the next ffmpeg run works
        made.append(name)

    try:
        if kind == "photo":
            thumb, preview = workdir / "thumbnail.jpg", workdir / "preview.jpg"
            sizes = make_derivatives(
                original, {preview: PREVIEW_SIZE, thumb: THUMBNAIL_SIZE}, limits=limits
            )
            put("preview", preview, "image/jpeg", dict(sizes[0]))
            put("thumbnail", thumb, "image/jpeg", dict(sizes[1]))
        elif kind in ("video", "audio") and probe.get("has_video"):
            proxy = workdir / "proxy.mp4"
            proxy_info = make_web_proxy(original, proxy, probe=probe, limits=limits)  # type: ignore[arg-type]
            put("proxy", proxy, "video/mp4", dict(proxy_info))
            proxy_probe = probe_av(proxy, limits=limits)
            _flag_video_stopping_early(session, item, proxy_probe)
            duration = proxy_probe.get("video_end_s") or proxy_probe.get("duration") or 0.0
            poster = workdir / "poster.jpg"
            poster_info = make_poster(
                proxy, poster, at_s=min(1.0, duration / 2), probe=proxy_probe, limits=limits
            )
            put("poster", poster, "image/jpeg", dict(poster_info))
            strip = workdir / "strip.jpg"
            strip_info = make_thumb_strip(proxy, strip, probe=proxy_probe, limits=limits)
            put("strip", strip, "image/jpeg", dict(strip_info))
            # The size of a photo's thumbnail, from the poster's frame: lists show both alike.
            thumb = workdir / "thumbnail.jpg"
            thumb_size = make_thumbnail(poster, thumb, size=THUMBNAIL_SIZE, limits=limits)
            put("thumbnail", thumb, "image/jpeg", {"from": "poster", **thumb_size})
        elif kind in ("video", "audio") and probe.get("has_audio"):
            proxy = workdir / "proxy.m4a"
            put(
                "proxy",
                proxy,
                "audio/mp4",
                dict(make_audio_proxy(original, proxy, probe=probe, limits=limits)),
            )  # type: ignore[arg-type]
            peaks_path = workdir / "waveform.json"
            peaks = make_peaks(original, probe=probe, limits=limits)  # type: ignore[arg-type]
            peaks_path.write_text(json.dumps({"peaks": peaks, "duration_s": item.duration_s}))
            put("waveform", peaks_path, "application/json", {"buckets": len(peaks)})
    except MediaRejected as exc:
        retry_if_transient(exc)
        set_step(item, "derive", "failed", code=exc.code, error=exc.message, made=made)
        add_flag(session, item, exc.code, exc.message)
        return made
    set_step(item, "derive", "done", made=made)
    audit.record(
        session,
        actor=None,
        action="media.derived",
        object_type="media",
        object_id=item.id,
        details={"derivatives": made, "sha256": hashes, "source_sha256": item.server_sha256},
    )
    return made
