"""Domain vocabulary: roles, case stages, activities and media states, with zh-CN/en labels."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    LEGAL = "legal"
    LEADER = "leader"
    ADMIN = "admin"


# Roles that see every case of their unit (officers see the cases they are assigned to).
UNIT_WIDE_ROLES: frozenset[str] = frozenset({"supervisor", "legal", "leader"})


class Procedure(StrEnum):
    """一般程序 (the full path) or 简易程序 (an on-the-spot decision)."""

    GENERAL = "general"
    SIMPLE = "simple"


PROCEDURE_LABELS: dict[str, dict[str, str]] = {
    "general": {"zh": "一般程序", "en": "General procedure"},
    "simple": {"zh": "简易程序", "en": "Simple (on-the-spot) procedure"},
}


class Stage(StrEnum):
    """Case stages in their legal order (全过程)."""

    FILING = "filing"
    INVESTIGATION = "investigation"
    EVIDENCE = "evidence"
    REVIEW = "review"
    DECISION = "decision"
    SERVICE = "service"
    EXECUTION = "execution"
    ARCHIVE = "archive"

    @property
    def order(self) -> int:
        return STAGE_ORDER.index(self)


STAGE_ORDER: list[Stage] = list(Stage)

STAGE_LABELS: dict[str, dict[str, str]] = {
    "filing": {"zh": "立案", "en": "Filing"},
    "investigation": {"zh": "调查", "en": "Investigation"},
    "evidence": {"zh": "取证", "en": "Evidence collection"},
    "review": {"zh": "审查", "en": "Review"},
    "decision": {"zh": "决定", "en": "Decision"},
    "service": {"zh": "送达", "en": "Service"},
    "execution": {"zh": "执行", "en": "Execution"},
    "archive": {"zh": "归档", "en": "Archive"},
}


class Activity(StrEnum):
    ONSITE_INSPECTION = "onsite_inspection"
    RANDOM_INSPECTION = "random_inspection"
    EVIDENCE_COLLECTION = "evidence_collection"
    EVIDENCE_PRESERVATION = "evidence_preservation"
    HEARING = "hearing"
    SERVICE = "service"
    OTHER = "other"


ACTIVITY_LABELS: dict[str, dict[str, str]] = {
    "onsite_inspection": {"zh": "现场检查", "en": "On-site inspection"},
    "random_inspection": {"zh": "随机抽查", "en": "Random inspection"},
    "evidence_collection": {"zh": "调查取证", "en": "Evidence collection"},
    "evidence_preservation": {"zh": "证据保全", "en": "Evidence preservation"},
    "hearing": {"zh": "听证", "en": "Hearing"},
    "service": {"zh": "送达", "en": "Service"},
    "other": {"zh": "其他", "en": "Other"},
}

# Activities that the law requires to be filmed (执法全过程记录).
MUST_FILM: frozenset[Activity] = frozenset(
    {
        Activity.ONSITE_INSPECTION,
        Activity.RANDOM_INSPECTION,
        Activity.EVIDENCE_COLLECTION,
        Activity.EVIDENCE_PRESERVATION,
        Activity.HEARING,
        Activity.SERVICE,
    }
)


class MediaKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"


class MediaStatus(StrEnum):
    """Integrity state of an original: received → verified, or received → hash_mismatch."""

    RECEIVED = "received"
    VERIFIED = "verified"
    HASH_MISMATCH = "hash_mismatch"


class CredentialStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class UploadStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    TERMINATED = "terminated"
    EXPIRED = "expired"


def kind_for_content_type(content_type: str) -> MediaKind | None:
    """Map a claimed MIME type to a media kind, or None when it is not evidence we accept."""
    major = content_type.split("/", 1)[0].lower()
    if major == "image":
        return MediaKind.PHOTO
    if major == "video":
        return MediaKind.VIDEO
    if major == "audio":
        return MediaKind.AUDIO
    if content_type.lower() == "application/pdf":
        return MediaKind.DOCUMENT
    return None
