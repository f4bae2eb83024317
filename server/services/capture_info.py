"""How the phone took a photo (the upload's ``capture`` metadata), checked and said in words.

The PWA sends it as JSON next to the file, as a camera keeps EXIF in its own: the method
(``image_capture``: the camera's own still through ImageCapture.takePhoto; ``video_frame``: a
frame of the camera's stream), the size taken, the camera's name, facing and zoom, and the
largest frame its stream offered. It describes the evidence; it is not the evidence. So a
malformed description never refuses the upload (the phone would keep the only copy and retry
for ever): what is well-formed is kept, what is not is dropped and the item is flagged
``capture_info_invalid``, with what was dropped written to the custody trail.

>>> sent = '{"method": "image_capture", "width": 4000, "height": 3000, "facing": "environment"}'
>>> parse_capture(sent[:-1] + ', "lens": 1}').unknown_keys
['lens']
>>> describe_capture(parse_capture(sent).info, "zh")
'相机原图 4000×3000 · 后置摄像头'
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

METHODS = ("image_capture", "video_frame")
# MediaTrackSettings.facingMode's values.
FACINGS = ("user", "environment", "left", "right")
MAX_SIDE = 100_000  # px; a 200 MP still is 16320×12240
MAX_CAMERA_NAME = 200
MAX_ZOOM = 1000.0


@dataclass(frozen=True)
class ParsedCapture:
    """What is kept (``info``; None when nothing usable was sent) and why any was not."""

    info: dict[str, Any] | None
    problems: list[str] = field(default_factory=list)
    unknown_keys: list[str] = field(default_factory=list)


def _size(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_SIDE else None


def _check(key: str, value: Any) -> Any:
    """The value as kept, or None when it is not what the key allows."""
    if key == "method":
        return value if value in METHODS else None
    if key in ("width", "height"):
        return _size(value)
    if key == "camera":
        return (
            value.strip() if isinstance(value, str) and 0 < len(value) <= MAX_CAMERA_NAME else None
        )
    if key == "facing":
        return value if value in FACINGS else None
    if key == "zoom":
        ok = (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and 0 < value <= MAX_ZOOM
        )
        return float(value) if ok else None
    if key == "stream_max":
        if not isinstance(value, dict) or set(value) != {"width", "height"}:
            return None
        width, height = _size(value["width"]), _size(value["height"])
        return {"width": width, "height": height} if width and height else None
    raise KeyError(key)


KNOWN_KEYS = ("method", "width", "height", "camera", "facing", "zoom", "stream_max")


def parse_capture(raw: str | None) -> ParsedCapture:
    """Check the ``capture`` metadata: known keys with sane values are kept, unknown keys
    dropped (a newer app may send more), and anything malformed reported in ``problems``."""
    if raw is None or raw == "":
        return ParsedCapture(None)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return ParsedCapture(None, ["capture is not JSON"])
    if not isinstance(data, dict):
        return ParsedCapture(None, ["capture is not a JSON object"])
    kept: dict[str, Any] = {}
    problems: list[str] = []
    for key in KNOWN_KEYS:
        if key not in data:
            continue
        value = _check(key, data[key])
        if value is None or value == "":
            problems.append(f"{key}: {json.dumps(data[key])[:60]} is not allowed")
        else:
            kept[key] = value
    if ("width" in kept) != ("height" in kept):  # half a size says nothing
        problems.append("width and height come together")
        kept.pop("width", None)
        kept.pop("height", None)
    unknown = sorted(str(k)[:40] for k in data if k not in KNOWN_KEYS)[:20]
    return ParsedCapture(kept or None, problems, unknown)


Lang = Literal["zh", "en"]

_METHOD_WORDS = {
    "image_capture": ("相机原图", "camera still"),
    "video_frame": ("视频画面截取", "frame from the camera's video"),
}
_FACING_WORDS = {
    "environment": ("后置摄像头", "rear camera"),
    "user": ("前置摄像头", "front camera"),
    "left": ("左侧摄像头", "left camera"),
    "right": ("右侧摄像头", "right camera"),
}


def describe_capture(info: dict[str, Any] | None, lang: Lang = "zh") -> str:
    """How a photo was taken, in words: 「相机原图 4000×3000 · 后置摄像头」 or "camera
    still 4000×3000 · rear camera"; "—" when the phone said nothing."""
    if not info:
        return "—"
    i = 0 if lang == "zh" else 1
    head = _METHOD_WORDS[info["method"]][i] if info.get("method") in _METHOD_WORDS else ""
    if info.get("width") and info.get("height"):
        head = f"{head} {info['width']}×{info['height']}".strip()
    parts = [head] if head else []
    if info.get("facing") in _FACING_WORDS:
        parts.append(_FACING_WORDS[info["facing"]][i])
    zoom = info.get("zoom")
    if isinstance(zoom, (int, float)) and abs(zoom - 1) > 0.01:
        parts.append(f"变焦 {zoom:g}×" if i == 0 else f"zoom {zoom:g}×")
    most = info.get("stream_max")
    if info.get("method") == "video_frame" and isinstance(most, dict):
        size = f"{most['width']}×{most['height']}"
        parts.append(f"视频流最大 {size}" if i == 0 else f"stream up to {size}")
    if info.get("camera"):
        parts.append(f"“{info['camera']}”")
    return " · ".join(parts) or "—"
