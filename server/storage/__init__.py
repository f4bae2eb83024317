"""Object storage behind one interface; ``s3`` is the only module that imports boto3."""

from .base import (
    AccessDenied,
    ObjectLocked,
    ObjectNotFound,
    ObjectStat,
    Storage,
    StorageError,
)

__all__ = [
    "AccessDenied",
    "ObjectLocked",
    "ObjectNotFound",
    "ObjectStat",
    "Storage",
    "StorageError",
]
