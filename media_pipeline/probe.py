"""Step 2: the real type from the bytes, the facts inside the file, and time checks."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from server.models import MediaItem
from server.services import audit

from .ffmpeg_run import probe_av
from .images import probe_image
from .limits import MediaLimits, MediaRejected
from .sniff import claimed_matches, detect_type
from .steps import add_flag, retry_if_transient, set_step


@dataclass(frozen=True)
class TimeRules:
    max_skew: timedelta
    late_after: timedelta
    # How far a file's time may stray from a whole time-zone offset off the device's capture
    # time and still be read as one (see zone_shaped_offset). Small: most offsets within
    # ±14 h are within a few minutes of some quarter hour.
    zone_offset_tolerance: timedelta = timedelta(minutes=2)


_QUARTER_HOUR = timedelta(minutes=15)
_MAX_ZONE_OFFSET = timedelta(hours=14)


def zone_shaped_offset(difference: timedelta, *, tolerance: timedelta) -> timedelta | None:
    """The time-zone offset that ``difference`` is, give or take ``tolerance``; else None.

    UTC offsets are multiples of a quarter hour (India +05:30, Nepal +05:45) within ±14 h.
    MP4/MOV ``creation_time`` is UTC by the standard, yet many cameras write their local
    wall-clock time there, which lands exactly one zone offset away from the true instant.

    >>> zone_shaped_offset(timedelta(hours=8, seconds=20), tolerance=timedelta(minutes=2))
    datetime.timedelta(seconds=28800)
    """
    quarters = round(difference / _QUARTER_HOUR)
    offset = quarters * _QUARTER_HOUR
    if quarters == 0 or abs(offset) > _MAX_ZONE_OFFSET or abs(difference - offset) > tolerance:
        return None
    return offset


def _parse_file_time(raw: str | None, fallback_offset_min: int | None) -> datetime | None:
    """A time read from the file; a naive one is taken in the device's own UTC offset."""
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        tz = timezone(timedelta(minutes=fallback_offset_min or 0))
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def probe_original(
    session: Session, item: MediaItem, path: Path, *, limits: MediaLimits, times: TimeRules
) -> dict[str, Any] | None:
    """Probe the local copy of the original; returns the probe, or None when rejected.

    A rejection flags the item with its reason and leaves the original untouched.
    """
    detected = detect_type(path)
    item.detected_content_type = detected.mime
    try:
        if detected.kind == "photo":
            # Headers only: derive decodes the pixels next and rejects a photo that does not
            # decode, with the same codes. Decoding here too cost a second entropy decode.
            probe: dict[str, Any] = dict(probe_image(path, limits=limits, check_decodes=False))
            item.width, item.height = probe["display_width"], probe["display_height"]
            file_time = probe.get("capture_time")
        elif detected.kind in ("video", "audio"):
            probe = dict(probe_av(path, limits=limits))
            item.duration_s = probe.get("duration")
            item.width, item.height = probe.get("display_width"), probe.get("display_height")
            file_time = probe.get("creation_time")
        elif detected.kind == "document":
            probe, file_time = {"kind": "document"}, None
        else:
            raise MediaRejected("unsupported_type", f"unknown content ({detected.mime})")
    except MediaRejected as exc:
        retry_if_transient(exc)
        set_step(item, "probe", "failed", code=exc.code, error=exc.message)
        add_flag(session, item, exc.code, exc.message)
        if exc.code != "type_mismatch" and not claimed_matches(item.claimed_content_type, detected):
            add_flag(
                session,
                item,
                "type_mismatch",
                f"claimed {item.claimed_content_type} but the bytes are {detected.mime}",
            )
        return None
    # Flags touch the database; they come after the slow part so no transaction waits on it.
    if not claimed_matches(item.claimed_content_type, detected):
        add_flag(
            session,
            item,
            "type_mismatch",
            f"claimed {item.claimed_content_type} but the bytes are {detected.mime}",
        )
    probe["detected"] = {
        "kind": detected.kind,
        "mime": detected.mime,
        "container": detected.container,
    }
    _check_location(session, item, probe)
    item.probe = probe
    item.file_captured_at = _parse_file_time(file_time, item.captured_at_offset_min)
    _check_times(session, item, times)
    set_step(item, "probe", "done", kind=detected.kind, mime=detected.mime)
    audit.record(
        session,
        actor=None,
        action="media.probed",
        object_type="media",
        object_id=item.id,
        details={
            "detected": detected.mime,
            "duration_s": item.duration_s,
            "width": item.width,
            "height": item.height,
            "file_captured_at": item.file_captured_at.isoformat()
            if item.file_captured_at
            else None,
        },
    )
    return probe


# GPS on a phone strays beyond the accuracy it reports (street canyons, indoors, a first fix):
# two positions disagree only when they are farther apart than both accuracies and this.
LOCATION_MARGIN_M = 200.0
_EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine on the mean Earth radius).

    >>> round(distance_m(31.2304, 121.4737, 39.9042, 116.4074) / 1000)  # Shanghai-Beijing
    1067
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _metres(value: float) -> tuple[str, str]:
    """A distance in words: (Chinese, English)."""
    if value >= 1000:
        km = f"{value / 1000:.1f}"
        return f"{km} 公里", f"{km} km"
    return f"{value:.0f} 米", f"{value:.0f} m"


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """The GCJ-02 coordinates (China's mandated map datum) of a WGS 84 position in China.

    GCJ-02 shifts positions by 100-700 m with a published formula; outside China it is WGS 84.

    >>> [round(v, 4) for v in wgs84_to_gcj02(31.2304, 121.4737)]
    [31.2285, 121.4782]
    """
    if not (0.8293 <= lat <= 55.8271 and 72.004 <= lon <= 137.8347):
        return lat, lon
    x, y = lon - 105.0, lat - 35.0
    d_lat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
        + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
        + (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2 / 3
        + (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2 / 3
    )  # fmt: skip
    d_lon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
        + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
        + (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2 / 3
        + (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    )  # fmt: skip
    a, ee = 6378245.0, 0.00669342162296594323  # Krasovsky 1940, as the formula has it
    rad = lat / 180.0 * math.pi
    magic = 1 - ee * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((a * (1 - ee)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (a / sqrt_magic * math.cos(rad) * math.pi)
    return lat + d_lat, lon + d_lon


def _gcj02_explains(gps: dict[str, Any], lat: float, lon: float, allowed: float) -> float | None:
    """The distance the GCJ-02 shift leaves, when shifting either position closes the gap."""
    for (a_lat, a_lon), (b_lat, b_lon) in (
        (wgs84_to_gcj02(gps["lat"], gps["lon"]), (lat, lon)),  # the file in WGS 84
        ((gps["lat"], gps["lon"]), wgs84_to_gcj02(lat, lon)),  # the phone in WGS 84
    ):
        left = distance_m(a_lat, a_lon, b_lat, b_lon)
        if left <= allowed:
            return left
    return None


def _check_location(session: Session, item: MediaItem, probe: dict[str, Any]) -> None:
    """Keep the file's own position next to the phone's, and flag them disagreeing.

    Both go into ``probe["location"]`` (shown with the item). ``location_mismatch`` when
    they are farther apart than the larger of both accuracies plus :data:`LOCATION_MARGIN_M`:
    a photo taken elsewhere than the phone said, or a file brought from another place. A gap
    that China's GCJ-02 datum shift closes is the same place (``datum_shift``), not flagged.
    """
    gps = probe.get("gps")
    if not gps:
        return
    location: dict[str, Any] = {"file": dict(gps), "device": None}
    if item.latitude is not None and item.longitude is not None:
        device = {"lat": item.latitude, "lon": item.longitude, "accuracy_m": item.accuracy_m}
        distance = distance_m(gps["lat"], gps["lon"], item.latitude, item.longitude)
        accuracy = max(item.accuracy_m or 0.0, gps.get("accuracy_m") or 0.0)
        allowed = accuracy + LOCATION_MARGIN_M
        location.update(device=device, distance_m=round(distance, 1), allowed_m=allowed)
        if distance > allowed:
            datum = _gcj02_explains(gps, item.latitude, item.longitude, allowed)
            if datum is not None:
                # One of the two is in China's GCJ-02 datum (some phones' system location
                # gives it), 100-700 m off WGS 84: the same place, said so, not flagged.
                location.update(datum_shift="gcj02", distance_without_shift_m=round(datum, 1))
                distance = 0.0
        if distance > allowed:
            (far_zh, far_en), (acc_zh, acc_en) = _metres(distance), _metres(accuracy)
            margin = f"{LOCATION_MARGIN_M:.0f}"
            add_flag(
                session,
                item,
                "location_mismatch",
                f"the position in the file is {far_en} from the one the phone reported, "
                f"more than their accuracy ({acc_en}) plus {margin} m",
                message_zh=f"文件内记录的位置距设备上报位置 {far_zh}，"
                f"超出两者定位精度（{acc_zh}）加 {margin} 米余量",
                distance_m=round(distance, 1),
                allowed_m=allowed,
                file=dict(gps),
                device=device,
            )
    probe["location"] = location


def _check_times(session: Session, item: MediaItem, times: TimeRules) -> None:
    skew = times.max_skew
    if item.file_captured_at and abs(item.file_captured_at - item.captured_at) > skew:
        _check_file_time(session, item, item.file_captured_at - item.captured_at, times)
    if (
        item.device_clock_offset_s is not None
        and abs(item.device_clock_offset_s) > skew.total_seconds()
    ):
        add_flag(
            session,
            item,
            "device_clock_skew",
            f"the device clock was {item.device_clock_offset_s:+.0f} s off the server's",
            seconds=item.device_clock_offset_s,
        )
    if item.captured_at - item.received_at > skew:
        add_flag(
            session,
            item,
            "captured_in_future",
            "the capture time is later than the moment the server received the upload",
        )
    delay = item.received_at - item.captured_at
    if delay > times.late_after:
        add_flag(
            session,
            item,
            "late_upload",
            f"uploaded {delay.total_seconds() / 3600:.1f} h after capture",
            hours=round(delay.total_seconds() / 3600, 1),
        )


def _check_file_time(
    session: Session, item: MediaItem, difference: timedelta, times: TimeRules
) -> None:
    """Flag a file time that disagrees with the device's capture time.

    A whole time-zone offset is its own finding, ``file_time_zone_offset``, not a
    ``capture_time_mismatch``: a camera clock set to another zone, or local time written as
    UTC (then the offset is the device's own UTC offset). Either way the file's time is kept
    as the file states it, and the original is never touched.
    """
    seconds = difference.total_seconds()
    zone = zone_shaped_offset(difference, tolerance=times.zone_offset_tolerance)
    if zone is None:
        add_flag(
            session,
            item,
            "capture_time_mismatch",
            f"the file says it was recorded {seconds:+.0f} s from the device's capture time",
            seconds=seconds,
        )
        return
    hours = zone / timedelta(hours=1)
    device_zone = item.captured_at_offset_min
    add_flag(
        session,
        item,
        "file_time_zone_offset",
        f"the file's time is {hours:+g} h from the device's capture time, a whole time-zone "
        "offset: the camera's clock was set to another zone or wrote local time as UTC",
        offset_h=hours,
        seconds=seconds,
        matches_device_zone=device_zone is not None and zone == timedelta(minutes=device_zone),
    )
