"""What each pipeline flag code means, in words a supervisor reads: Chinese first, English.

This is the one table of flag labels. The console shows these sentences instead of the code,
and a Chinese screen never shows the English detail the pipeline stored next to a flag (a
Pillow or ffmpeg message). A new flag code gets its line here; ``tests/test_language_words.py``
fails on any code the pipeline can raise (``RejectCode``, ``add_flag(..., "code", ...)``,
``FLAG_MESSAGES_ZH``) that has no line, and on English in a Chinese sentence.

>>> flag_words("type_mismatch")["zh"]
'文件实际类型与声明类型不符'
>>> flag_words("a_code_nobody_knows")["en"]
'Another processing finding'
"""

from __future__ import annotations

from typing import NamedTuple


class Words(NamedTuple):
    zh: str
    en: str


FLAG_WORDS: dict[str, Words] = {
    # refusals of the file itself (media_pipeline.limits.RejectCode)
    "empty_file": Words("文件为空（0字节）", "The file is empty (0 bytes)"),
    "unsupported_type": Words(
        "文件内容不是可识别的照片、视频、录音或文书格式",
        "The content is not a recognised photo, video, audio or document format",
    ),
    "type_mismatch": Words(
        "文件实际类型与声明类型不符", "File type differs from the declared type"
    ),
    "truncated": Words(
        "文件不完整（内容在中途被截断）", "The file is incomplete (cut off part-way)"
    ),
    "decompression_bomb": Words(
        "照片像素数超出上限，为防止解压炸弹未予解码",
        "The photo has more pixels than allowed; not decoded (decompression bomb guard)",
    ),
    "too_large_to_decode": Words(
        "照片只能整幅解码，所需内存超出处理上限，未生成缩略图和预览；拍摄时间和位置已从文件读取",
        "The photo can only be decoded whole, which needs more memory than a worker allows; "
        "no thumbnail or preview was made (its capture time and place were read from the file)",
    ),
    "absurd_duration": Words(
        "录像或录音时长超出上限，未予处理", "The recording is longer than allowed; not processed"
    ),
    "absurd_resolution": Words(
        "画面尺寸超出上限，未予处理", "The frame size is larger than allowed; not processed"
    ),
    "absurd_scan_count": Words(
        "照片的扫描层数异常之多，为防止解码耗时过长未予解码",
        "The photo has an absurd number of scans; not decoded, to bound the decode time",
    ),
    # set on receipt, not by the pipeline (server.services.capture_info)
    "capture_info_invalid": Words(
        "手机上报的拍摄方式信息格式有误，有误部分未予保存（文件本身不受影响）",
        "The phone's description of how the photo was taken was malformed; that part was not "
        "kept (the file itself is unaffected)",
    ),
    "probe_failed": Words(
        "无法读取文件的格式信息（文件可能损坏）",
        "The file's format could not be read (the file may be damaged)",
    ),
    "missing_stream": Words(
        "文件中没有应有的画面或声音", "The file lacks the picture or sound it should hold"
    ),
    "ffmpeg_failed": Words(
        "无法解码此录像或录音，未能生成预览",
        "The recording could not be decoded; no preview was made",
    ),
    "ffmpeg_timeout": Words(
        "处理时间超出上限，稍后重试", "Processing ran out of time; it will be retried"
    ),
    # findings about times, placement and processing
    "capture_time_mismatch": Words(
        "文件内拍摄时间与设备上报时间相差过大",
        "Time in the file differs from the device's capture time",
    ),
    "file_time_zone_offset": Words(
        "文件内时间与设备时间相差整数个时区，疑为相机把本地时间记作协调世界时",
        "The file's time is a whole time zone off the device's: the camera may have written "
        "local time as UTC",
    ),
    "device_clock_skew": Words("设备时钟与服务器时间相差过大", "Device clock far off the server's"),
    "clock_skew": Words("设备时钟与服务器时间相差过大", "Device clock far off the server's"),
    "late_upload": Words("拍摄后很久才上传", "Uploaded long after capture"),
    "captured_in_future": Words(
        "拍摄时间晚于服务器接收时间", "Capture time is later than the server's receipt"
    ),
    "unattached": Words(
        "无法确定所属办案环节，待监督人员归入", "Stage unknown; a supervisor files it"
    ),
    "processing_failed": Words("处理失败，已停止重试", "Processing failed; no more retries"),
    "video_stops_early": Words("录像画面早于声音中断", "The picture stops before the sound does"),
    "location_mismatch": Words(
        "文件内记录的位置与设备上报位置相差过大",
        "The place in the file is far from the place the device reported",
    ),
}

UNKNOWN = Words("其他处理发现", "Another processing finding")


def flag_words(code: str) -> dict[str, str]:
    """``{"zh": …, "en": …}`` for a flag code; a code without a line gets a general label
    (never the code itself: the test above catches the missing line)."""
    words = FLAG_WORDS.get(code, UNKNOWN)
    return {"zh": words.zh, "en": words.en}
