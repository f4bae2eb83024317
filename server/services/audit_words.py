"""Audit actions and their details in words a person reads: Chinese first, English.

The custody view of the console and the custody PDF name each entry by these words, never by
its code (``upload.created`` → 上传开始), and say its details as a short sentence instead of
JSON. The code and the full details stay in the API, the CSV and the hash chain. A new audit
action gets its line in ``ACTION_WORDS``; ``tests/test_language_words.py`` fails on any action
the code base records without one.

>>> action_words("media.verified")["zh"]
'哈希校验通过'
>>> details_text("media.moved", {"from": "filing", "to": "evidence", "reason": "错放"}, "zh")
'原环节：立案；新环节：取证；理由：错放'
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from media_pipeline.flag_words import flag_words

from .. import clock
from ..domain import ACTIVITY_LABELS, STAGE_LABELS

Lang = Literal["zh", "en"]

ACTION_WORDS: dict[str, tuple[str, str]] = {
    # uploads and media (the custody trail of one item)
    "upload.created": ("上传开始", "Upload started"),
    "upload.completed": ("上传完成", "Upload completed"),
    "upload.duplicate": (
        "重复上传（同一文件已在案）",
        "Duplicate upload (the file is already held)",
    ),
    "upload.expired": ("上传超时作废", "Upload expired"),
    "upload.terminated": ("上传已取消", "Upload cancelled"),
    "upload.recovered": ("上传补登完成", "Upload recovered"),
    "media.verified": ("哈希校验通过", "Hash verified"),
    "media.hash_mismatch": ("哈希校验不一致，已隔离", "Hash mismatch; quarantined"),
    "storage.restored": (
        "从备份恢复，存储版本号已更新",
        "Restored from backup; storage version updated",
    ),
    "media.probed": ("文件检测完成", "File checked"),
    "media.derived": ("已生成预览", "Previews made"),
    "media.flagged": ("发现异常", "Flagged"),
    "media.processing_failed": ("处理失败", "Processing failed"),
    "media.attached": ("归入办案环节", "Filed under a stage"),
    "media.moved": ("改归办案环节", "Moved to another stage"),
    "media.viewed": ("查看", "Viewed"),
    "media.receipt_viewed": ("取存证回执", "Receipt fetched"),
    "media.listed": ("列表查看", "Listed"),
    "media.played": ("播放", "Played"),
    "media.downloaded": ("下载", "Downloaded"),
    "media.original": ("调取原件", "Original fetched"),
    "media.bookmarked": ("添加时间标记", "Bookmarked"),
    "media.bookmarks_listed": ("查看时间标记", "Bookmarks viewed"),
    "media.key_evidence_marked": ("标为重要证据", "Marked as key evidence"),
    "media.key_evidence_unmarked": ("取消重要证据标记", "Key evidence mark removed"),
    "custody.viewed": ("查看保管链", "Custody viewed"),
    "custody.exported": ("导出保管链", "Custody exported"),
    "playback_url.issued": ("签发临时播放链接", "Playback link issued"),
    # accounts
    "auth.login": ("登录", "Signed in"),
    "auth.login_failed": ("登录失败", "Sign-in failed"),
    "auth.logout": ("退出登录", "Signed out"),
    "user.created": ("创建账号", "Account created"),
    "user.updated": ("修改账号", "Account changed"),
    "user.deactivated": ("停用账号", "Account deactivated"),
    "user.reactivated": ("恢复账号", "Account reactivated"),
    "user.password_reset": ("重置密码", "Password reset"),
    "unit.created": ("创建单位", "Unit created"),
    "unit.updated": ("修改单位", "Unit changed"),
    "device.registered": ("登记设备", "Device registered"),
    "device_key.registered": ("登记设备密钥", "Device key registered"),
    "device_key.revoked": ("吊销设备密钥", "Device key revoked"),
    # credentials
    "credential.issued": ("发放执法证", "Credential issued"),
    "credential.status_changed": ("执法证状态变更", "Credential status changed"),
    "credential.photo_set": ("设置执法证照片", "Credential photo set"),
    "credential.photo_viewed": ("查看执法证照片", "Credential photo viewed"),
    "credential.listed": ("查看执法证列表", "Credentials listed"),
    "credential.displayed": ("亮证", "Credential shown"),
    "credential.verified_publicly": ("公众扫码核验执法证", "Credential checked by the public"),
    "credential.renewed": ("换发执法证", "Credential renewed"),
    "officer.listed": ("查看执法人员列表", "Officers listed"),
    # cases
    "case.created": ("立案登记", "Case opened"),
    "case.viewed": ("查看案件", "Case viewed"),
    "case.listed": ("查看案件列表", "Cases listed"),
    "case.media_listed": ("查看案件音像记录", "Case recordings listed"),
    "case.stage_advanced": ("推进办案环节", "Stage advanced"),
    "case.stage_override": ("越过缺项推进", "Moved on despite gaps"),
    "case.credential_displayed": ("执法中亮证", "Credential shown in the case"),
    "case.decision_drafted": ("拟定处罚决定", "Decision drafted"),
    "case.execution_recorded": ("登记执行情况", "Execution recorded"),
    "case.officers_assigned": ("指派执法人员", "Officers assigned"),
    "case.archived": ("归档", "Archived"),
    "case.archive_exported": ("导出案卷", "Case file exported"),
    "case.archive_export_refused": ("拒绝导出案卷", "Case file export refused"),
    # documents
    "document.created": ("起草文书", "Document drafted"),
    "document.edited": ("修改文书", "Document edited"),
    "document.signed": ("签名", "Signed"),
    "document.issued": ("出具文书", "Document issued"),
    "document.corrected": ("更正文书", "Document corrected"),
    "filing.returned": ("立案审批退回补正", "Filing approval returned for correction"),
    "document.reopened": ("文书退回修改", "Document reopened"),
    "document.listed": ("查看文书列表", "Documents listed"),
    "document.viewed": ("查看文书", "Document viewed"),
    "document.downloaded": ("下载文书", "Document downloaded"),
    "document.prefilled": ("预填文书", "Document prefilled"),
    "document.awaiting_signature_listed": ("查看待签名文书", "Documents awaiting signature listed"),
    "document.review_match_viewed": ("核对文书与审核意见", "Document checked against the review"),
    "document.handover_offered": ("提供文书交付码", "Handover offered"),
    "document.handed_over": ("文书已交付当事人", "Handed over"),
    # legal review
    "legal_review.submitted": ("提交法制审核", "Legal review submitted"),
    "legal_review.decided": ("作出法制审核意见", "Legal review decided"),
    "legal_review.listed": ("查看法制审核列表", "Legal reviews listed"),
    "legal_review.viewed": ("查看法制审核", "Legal review viewed"),
    "legal_review.previewed": ("预览法制审核材料", "Legal review previewed"),
    "legal_review.draft_suggested": ("生成审核意见建议稿", "Opinion draft suggested"),
    "legal_review.overdue": ("法制审核超期", "Legal review overdue"),
    "legal_review.materials_requested": ("要求补充材料", "Materials requested"),
    "legal_review.materials_supplied": ("补充材料", "Materials supplied"),
    "legal_review.materials_overdue": ("补充材料超期", "Materials overdue"),
    "legal_review.extension_requested": ("申请延长审核期限", "Extension requested"),
    "legal_review.extension_approved": ("批准延长审核期限", "Extension approved"),
    "legal_review.disagreement": ("对审核意见有异议", "Disagreement with the opinion"),
    "legal_review.disagreement_resolved": ("审核异议已处理", "Disagreement resolved"),
    "legal_review.deadline_moved": ("审核期限随工作日历调整", "Review deadline moved"),
    # configuration
    "config.calendar_changed": ("修改工作日历", "Calendar changed"),
    "config.national_calendar_imported": ("导入全国节假日安排", "National holidays imported"),
    "config.major_decision_added": ("新增重大执法决定事项", "Major-decision item added"),
    "config.major_decision_changed": ("修改重大执法决定事项", "Major-decision item changed"),
    # disclosure and the yearly report
    "disclosure.content_saved": ("保存公示内容", "Disclosure content saved"),
    "disclosure.decision_prepared": ("处罚决定待公示", "Decision prepared for publication"),
    "disclosure.decision_edited": ("修改公示的处罚决定", "Published decision edited"),
    "disclosure.decision_blocked": (
        "公示前发现敏感信息，暂缓公示",
        "Publication held: sensitive text",
    ),
    "disclosure.decision_published": ("公示处罚决定", "Decision published"),
    "disclosure.decision_taken_down": ("撤下公示的处罚决定", "Decision taken down"),
    "disclosure.decision_expired": ("处罚决定公示期满", "Decision publication ended"),
    "disclosure.decision_takedown_overdue": ("撤下公示超期", "Take-down overdue"),
    "disclosure.decision_due_moved": ("公示期限随工作日历调整", "Publication date moved"),
    "disclosure.inspection_recorded": ("登记抽查结果", "Inspection result recorded"),
    "disclosure.inspection_edited": ("修改抽查结果", "Inspection result edited"),
    "disclosure.inspection_blocked": (
        "抽查结果含敏感信息，暂缓公示",
        "Publication held: sensitive text",
    ),
    "disclosure.inspection_published": ("公示抽查结果", "Inspection result published"),
    "disclosure.inspection_taken_down": ("撤下公示的抽查结果", "Inspection result taken down"),
    "disclosure.inspection_due_moved": ("公示期限随工作日历调整", "Publication date moved"),
    "report.drafted": ("生成年报草稿", "Report drafted"),
    "report.redrafted": ("重新生成年报草稿", "Report redrafted"),
    "report.narrative_edited": ("修改年报说明", "Report text edited"),
    "report.permits_entered": ("录入行政许可数据", "Permit figures entered"),
    "report.frozen": ("年报定稿", "Report frozen"),
    "report.published": ("公布年报", "Report published"),
    "report.reminder": ("年报定稿提醒", "Report reminder"),
    "remedy.recorded": ("登记复议诉讼结果", "Remedy outcome recorded"),
}

UNKNOWN_ACTION = ("其他操作", "Other action")


def action_words(action: str) -> dict[str, str]:
    """``{"zh": …, "en": …}`` for an audit action; never the code itself."""
    zh, en = ACTION_WORDS.get(action, UNKNOWN_ACTION)
    return {"zh": zh, "en": en}


# --- details --------------------------------------------------------------------------------

# Detail keys said in words, in the order they are said; other keys (ids, buckets, object keys,
# machine notes) stay in the API, the CSV and the chain, not in the sentence.
DETAIL_WORDS: dict[str, tuple[str, str]] = {
    "code": ("异常", "finding"),
    "filename": ("文件名", "file"),
    "length": ("大小", "size"),
    "size": ("大小", "size"),
    "sha256": ("哈希 SHA-256", "SHA-256"),
    "device_sha256": ("设备哈希", "device SHA-256"),
    "server_sha256": ("服务器哈希", "server SHA-256"),
    "fingerprint": ("回执指纹", "receipt fingerprint"),
    "from": ("原环节", "from"),
    "to": ("新环节", "to"),
    "stage": ("环节", "stage"),
    "chosen": ("执法人员所选环节", "chosen by the officer"),
    "activity": ("执法活动", "activity"),
    "duration_s": ("时长", "duration"),
    "width": ("宽", "width"),
    "height": ("高", "height"),
    "file_captured_at": ("文件内时间", "time in the file"),
    "retain_until": ("锁定至", "locked until"),
    "derivatives": ("生成", "made"),
    "at_s": ("时间点", "at"),
    "note": ("备注", "note"),
    "reason": ("理由", "reason"),
    "key": ("重要证据", "key evidence"),
    "offset": ("已接收", "received"),
    "seconds": ("相差", "difference"),
    "hours": ("相隔", "after"),
    "username": ("账号", "account"),
    "failures": ("连续失败次数", "failures in a row"),
}
STAGE_KEYS = {"from", "to", "stage", "chosen"}
DERIVATIVE_WORDS: dict[str, tuple[str, str]] = {
    "thumbnail": ("缩略图", "thumbnail"),
    "preview": ("预览图", "preview"),
    "poster": ("封面帧", "poster frame"),
    "strip": ("拖动预览条", "scrub strip"),
    "proxy": ("播放副本", "playback copy"),
    "waveform": ("波形", "waveform"),
}
_CJK = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uf900-\ufaff\uff00-\uffef]")
_CODE = re.compile(r"^[a-z]+(?:_[a-z0-9]+)+$")


def _local(value: str) -> str:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return ""
    if at.tzinfo is None:
        return ""
    return at.astimezone(clock.ZONE).strftime("%Y-%m-%d %H:%M:%S")


def _value(key: str, value: Any, lang: Lang) -> str:
    """One detail value in words; "" when it cannot be said without a code or the other
    language (it is then left out of the sentence)."""
    zh = lang == "zh"
    if value is None or value == "" or value == [] or isinstance(value, dict):
        return ""
    if key == "code":
        return flag_words(str(value))[lang]
    if key in STAGE_KEYS:
        label = STAGE_LABELS.get(str(value))
        return label[lang] if label else ""
    if key == "activity":
        label = ACTIVITY_LABELS.get(str(value))
        return label[lang] if label else ""
    if key == "derivatives" and isinstance(value, list):
        words = [DERIVATIVE_WORDS[d][0 if zh else 1] for d in value if d in DERIVATIVE_WORDS]
        return ("、" if zh else ", ").join(words)
    if isinstance(value, bool):
        return ("是" if value else "否") if zh else ("yes" if value else "no")
    if key in ("length", "size", "offset") and isinstance(value, int):
        return f"{value:,} 字节" if zh else f"{value:,} bytes"
    if key in ("duration_s", "at_s", "seconds") and isinstance(value, int | float):
        return f"{value:.1f} 秒" if zh else f"{value:.1f} s"
    if key == "hours" and isinstance(value, int | float):
        return f"{value:g} 小时" if zh else f"{value:g} h"
    if key in ("file_captured_at", "retain_until"):
        return _local(str(value))
    if isinstance(value, int | float):
        return f"{value:g}"
    if key == "key":
        return ""  # a storage object's key, not the key-evidence mark (a bool, said above)
    text = str(value)
    if _CODE.match(text):
        return ""  # a machine word without a label
    if zh or not _CJK.search(text) or key in ("filename", "note", "reason", "username"):
        # people's words (reasons, notes, file names) are shown as written
        return text
    return ""


def details_text(action: str, details: dict[str, Any] | None, lang: Lang) -> str:
    """The details of one entry as a short sentence in ``lang``: labelled values, with codes
    said by their labels and machine detail (buckets, ids, library messages) left out."""
    details = details or {}
    colon, sep = ("：", "；") if lang == "zh" else (": ", "; ")
    parts = []
    for key, (zh, en) in DETAIL_WORDS.items():
        if key not in details:
            continue
        said = _value(key, details[key], lang)
        if said:
            parts.append(f"{zh if lang == 'zh' else en}{colon}{said}")
    return sep.join(parts)
