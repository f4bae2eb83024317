"""Shared bookkeeping for pipeline steps: step state, flags and custody entries."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from server import clock
from server.models import MediaItem
from server.services import audit

from .limits import MediaRejected

FLAG_MESSAGES_ZH: dict[str, str] = {
    "type_mismatch": "文件实际类型与声明类型不符",
    "capture_time_mismatch": "文件内记录的拍摄时间与设备上报时间相差过大",
    "file_time_zone_offset": "文件内时间与设备时间相差整数个时区，疑为相机把本地时间记作UTC",
    "device_clock_skew": "设备时钟与服务器时间相差过大",
    "late_upload": "拍摄后很久才上传",
    "captured_in_future": "拍摄时间晚于服务器接收时间",
    "unattached": "无法确定所属办案环节，待监督人员归入",
    "processing_failed": "处理失败，已停止重试",
}


def set_step(item: MediaItem, step: str, state: str, **info: Any) -> None:
    """Record one step's state (``done``, ``failed``, ``skipped``) with when and why."""
    steps = dict(item.steps or {})
    steps[step] = {"state": state, "at": clock.now().isoformat(), **info}
    item.steps = steps
    item.processing_updated_at = clock.now()


def step_done(item: MediaItem, step: str) -> bool:
    return (item.steps or {}).get(step, {}).get("state") in ("done", "failed", "skipped")


def add_flag(session: Session, item: MediaItem, code: str, message: str, **details: Any) -> None:
    """Flag the item for a supervisor (once per code) and write it to the custody trail."""
    if code in item.flag_codes():
        return
    item.flags = [
        *(item.flags or []),
        {"code": code, "message": message, "at": clock.now().isoformat(), **details},
    ]
    audit.record(
        session,
        actor=None,
        action="media.flagged",
        object_type="media",
        object_id=item.id,
        details={"code": code, "message": message, **details},
    )


def remove_flag(item: MediaItem, code: str) -> None:
    item.flags = [f for f in item.flags or [] if f["code"] != code]


def retry_if_transient(exc: MediaRejected) -> None:
    """Raise ``TimeoutError`` for an ffmpeg timeout instead of failing the step for good: it
    is not the file's fault alone (an overloaded worker runs out of time too). The job
    retries, and its last retry flags the item (``processing_failed``)."""
    if exc.code == "ffmpeg_timeout":
        raise TimeoutError(exc.message) from exc
