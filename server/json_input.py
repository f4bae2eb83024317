"""JSON request bodies the database can store and the server can walk, refused in one place.

Every ``request.get_json`` goes through ``app.json.loads``; this provider refuses, with 422 and
a code, what would otherwise be stored on one database and fail on another, or crash later:

- the NUL character (PostgreSQL cannot store it; SQLite would),
- a lone UTF-16 surrogate (``"\\ud800"``): valid JSON, but not UTF-8 — it breaks the case
  archive and every page that shows the text,
- nesting deeper than ``MAX_DEPTH`` (no form here nests more than a few levels; a deep one
  would reach Python's recursion limit in the parser, the schemas or the audit log).

The refusal is a ``DomainError``, not a ``ValueError``, so ``get_json(silent=True)`` does not
swallow it into "send a JSON object body".
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask.json.provider import DefaultJSONProvider

from .errors import DomainError

MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, whose ``loads`` refuses text and shapes nothing here can hold."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            data = json.loads(s, **kwargs)
        except RecursionError:
            raise too_deep() from None
        check_json_value(data)
        return data


def too_deep() -> DomainError:
    return DomainError(
        f"JSON 嵌套过深（最多 {MAX_DEPTH} 层）"
        f" / JSON is nested too deeply (at most {MAX_DEPTH} levels)",
        code="json_too_deep",
        status=422,
    )


def check_json_value(data: Any) -> None:
    """Raise 422 for NUL, a lone surrogate or nesting beyond ``MAX_DEPTH``; iterative, so a
    deep value cannot exhaust the stack here."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            check_text(value)
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise too_deep()
            if isinstance(value, dict):
                for key, item in value.items():
                    check_text(key)
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)


def check_text(text: str) -> None:
    if "\x00" in text:  # PostgreSQL cannot store it; SQLite would: refuse it on both alike
        raise DomainError(
            "文字不能包含 NUL 字符（\\u0000）/ text must not contain the NUL character (\\u0000)",
            code="nul_character",
            status=422,
        )
    if _SURROGATE.search(text):
        raise DomainError(
            "文字包含无效字符（孤立的 UTF-16 代理项）/ text contains an invalid character "
            "(a lone UTF-16 surrogate such as \\ud800)",
            code="invalid_character",
            status=422,
        )
