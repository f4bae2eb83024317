"""The legal review binds the decision (未经法制审核或审核未通过的，不得作出决定).

A decision document may be signed by the leader and issued only with the operative content
the legal review agreed to: the party, the facts found, the legal basis, each penalty or
measure with its amount and items, and the discretion applied. A document that differs was
never reviewed, so nobody can override the check; a new round agreed on the new content is
the way on.

What was reviewed is frozen in the round's package when it is submitted: the operative fields
of every decision document drafted by then (``package["decision_documents"]``), else the
decision draft itself (``decision_draft``: penalties, legal basis and, when given, party,
facts and discretion). A field the review did not state counts as a difference as soon as the
document states it.

    >>> match = review_match(session, case, doc)
    >>> match.consistent, [d["field"] for d in match.differences]
    (False, ['penalties'])
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from marshmallow import fields as mf
from sqlalchemy.orm import Session

from ..documents.registry import DOCUMENT_TYPES
from ..errors import Conflict, Invalid
from ..models import Case, Document, LegalReview

# The operative content of each decision type: what the legal review decides on.
OPERATIVE_FIELDS: dict[str, tuple[str, ...]] = {
    "penalty_decision": ("party", "facts", "legal_basis", "penalties", "discretion"),
    "onsite_penalty_decision": ("party", "facts", "legal_basis", "penalties"),
    "coercive_measure_decision": (
        "party",
        "measure",
        "reason",
        "legal_basis",
        "items",
        "period_days",
    ),
}
# Decision types that always need an agreed review when the case needs one; the others are
# bound once a round has frozen them (e.g. a 查封扣押决定 sent along for review).
GATED_TYPES = frozenset({"penalty_decision"})
# Which key pairs list entries for a "changed" rather than "removed + added" difference.
_PAIR_KEY = {"penalties": "kind", "items": "name"}
_NOT_STATED = {"zh": "审核时未载明", "en": "not stated at review"}


@dataclass
class Match:
    """The result of comparing a decision document with the agreed review."""

    document: Document
    bound: bool
    consistent: bool
    review: LegalReview | None = None
    source: str | None = None  # "document" or "draft": what the round froze
    differences: list[dict[str, Any]] = field(default_factory=list)

    @property
    def state(self) -> str:
        """not_needed, consistent, pending (no agreed round yet) or differs."""
        if not self.bound:
            return "not_needed"
        if self.consistent:
            return "consistent"
        return "differs" if self.review and self.review.status == "agreed" else "pending"

    def as_dict(self) -> dict[str, Any]:
        review = self.review
        return {
            "document_id": self.document.id,
            "type": self.document.doc_type,
            "version": self.document.version,
            "status": self.document.status,
            # The content the hash is of, read together: what the signing dialog shows.
            "fields": self.document.fields,
            "content_sha256": content_sha256(self.document),
            "bound": self.bound,
            "consistent": self.consistent,
            "state": self.state,
            "review_id": review.id if review else None,
            "round": review.round if review else None,
            "review_status": review.status if review else None,
            "reviewed_source": self.source,
            "differences": self.differences,
            "resubmit_url": (
                f"/api/v1/cases/{self.document.case_id}/legal-reviews"
                if self.bound and not self.consistent and review and review.status == "agreed"
                else None
            ),
        }


def content_sha256(doc: Document) -> str:
    """A hash of exactly this version's content: what a dialog showed, to compare at signing."""
    canonical = json.dumps(
        {"document_id": doc.id, "version": doc.version, "fields": doc.fields},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- freezing ---------------------------------------------------------------------------------


def operative(doc_type: str, values: dict[str, Any]) -> dict[str, Any]:
    """The operative fields of a decision's field values, as they are (normalised later)."""
    return {name: values.get(name) for name in OPERATIVE_FIELDS[doc_type]}


def freeze_decision_documents(session: Session, case: Case) -> list[dict[str, Any]]:
    """For the package of a round: the operative content of the latest version of every
    decision document of the case, with the version's content hash."""
    docs = session.execute(
        sa.select(Document)
        .where(Document.case_id == case.id, Document.doc_type.in_(list(OPERATIVE_FIELDS)))
        .order_by(Document.created_at, Document.version)
    ).scalars()
    latest: dict[str, Document] = {}
    for doc in docs:
        if doc.series_id not in latest or doc.version > latest[doc.series_id].version:
            latest[doc.series_id] = doc
    return [
        {
            "id": doc.id,
            "series_id": doc.series_id,
            "type": doc.doc_type,
            "version": doc.version,
            "status": doc.status,
            "content_sha256": content_sha256(doc),
            "fields": operative(doc.doc_type, doc.fields),
        }
        for doc in latest.values()
    ]


# --- comparing --------------------------------------------------------------------------------


_CJK = "\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"
_SPACE_NEAR_CJK = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")


def _text(value: Any) -> str | None:
    """Text as compared: NFKC (full-width digits and letters), runs of white space as one
    space, none around Chinese characters; empty is None."""
    text = unicodedata.normalize("NFKC", str(value))
    text = " ".join(text.split())
    text = _SPACE_NEAR_CJK.sub("", text)
    return text or None


def _amount(value: Any) -> str | None:
    if value is None or value == "":
        return None
    try:
        return str(Decimal(str(value).replace(",", "").strip()).quantize(Decimal("0.01")))
    except InvalidOperation:
        return _text(value)


def _normalise(schema_field: mf.Field, value: Any, *, display: bool = False) -> Any:
    """The value as compared (``display``: as shown, text kept as written, only trimmed)."""
    if value is None:
        return None
    if isinstance(schema_field, mf.Nested) and isinstance(value, dict):
        nested = schema_field.schema.fields
        out = {
            k: _normalise(nested[k], v, display=display) for k, v in value.items() if k in nested
        }
        out = {k: v for k, v in out.items() if v is not None}
        return out or None
    if isinstance(schema_field, mf.List):
        if not isinstance(value, list):
            return _shown(value) if display else _text(value)
        items = [_normalise(schema_field.inner, v, display=display) for v in value]
        return [i for i in items if i is not None]
    if isinstance(schema_field, mf.Decimal):
        return _amount(value)
    if isinstance(schema_field, mf.Boolean):
        return bool(value)
    if isinstance(schema_field, mf.Integer):
        try:
            return int(str(value).strip())
        except ValueError:
            pass
    return _shown(value) if display else _text(value)


def _shown(value: Any) -> str | None:
    return str(value).strip() or None


def _label(schema_field: mf.Field) -> dict[str, str]:
    return {"zh": schema_field.metadata.get("zh", ""), "en": schema_field.metadata.get("en", "")}


def _entries(spec: mf.Field, value: Any) -> list[tuple[Any, Any]]:
    """A list field's entries as (compared, shown) pairs."""
    if not isinstance(value, list):
        value = [] if value is None else [value]
    inner = spec.inner if isinstance(spec, mf.List) else spec
    pairs = [(_normalise(inner, v), _normalise(inner, v, display=True)) for v in value]
    return [(norm, shown) for norm, shown in pairs if norm is not None]


def _list_differences(
    name: str, label: dict[str, str], reviewed: list[tuple[Any, Any]], now: list[tuple[Any, Any]]
) -> list[dict[str, Any]]:
    """Entries only on one side (order does not count); an entry changed (same kind or name)
    shows as one row."""
    left, right = list(reviewed), list(now)
    for entry in list(left):
        same = next((r for r in right if r[0] == entry[0]), None)
        if same is not None:
            left.remove(entry)
            right.remove(same)
    key = _PAIR_KEY.get(name)

    def pairs(a: Any, b: Any) -> bool:
        return (
            bool(key) and isinstance(a, dict) and isinstance(b, dict) and a.get(key) == b.get(key)
        )

    rows = []
    for entry in left:
        partner = next((r for r in right if pairs(r[0], entry[0])), None)
        if partner is not None:
            right.remove(partner)
        now_shown = partner[1] if partner is not None else None
        rows.append({"field": name, "label": label, "reviewed": entry[1], "now": now_shown})
    rows.extend({"field": name, "label": label, "reviewed": None, "now": r[1]} for r in right)
    return rows


def differences(
    doc_type: str, reviewed: dict[str, Any], now: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every operative field of ``now`` (document fields) that differs from ``reviewed``;
    compared normalised, shown as written."""
    schema_fields = DOCUMENT_TYPES[doc_type].schema().fields
    rows: list[dict[str, Any]] = []
    for name in OPERATIVE_FIELDS[doc_type]:
        spec = schema_fields[name]
        label = _label(spec)
        if isinstance(spec, mf.List):
            was_l, is_l = _entries(spec, reviewed.get(name)), _entries(spec, now.get(name))
            rows.extend(_list_differences(name, label, was_l, is_l))
            continue
        was, is_ = _normalise(spec, reviewed.get(name)), _normalise(spec, now.get(name))
        if was == is_:
            continue
        was_shown = _normalise(spec, reviewed.get(name), display=True)
        is_shown = _normalise(spec, now.get(name), display=True)
        if isinstance(spec, mf.Nested):
            nested = spec.schema.fields
            was_d, is_d = was or {}, is_ or {}
            for sub in nested:
                if was_d.get(sub) != is_d.get(sub):
                    sub_label = _label(nested[sub])
                    rows.append(
                        {
                            "field": f"{name}.{sub}",
                            "label": {
                                "zh": f"{label['zh']}·{sub_label['zh']}",
                                "en": f"{label['en']}: {sub_label['en']}",
                            },
                            "reviewed": (was_shown or {}).get(sub),
                            "now": (is_shown or {}).get(sub),
                        }
                    )
        else:
            rows.append({"field": name, "label": label, "reviewed": was_shown, "now": is_shown})
    return rows


def _latest_round(session: Session, case_id: int) -> LegalReview | None:
    return session.execute(
        sa.select(LegalReview)
        .where(LegalReview.case_id == case_id)
        .order_by(LegalReview.round.desc())
        .limit(1)
    ).scalar_one_or_none()


def _frozen_entry(review: LegalReview, doc: Document) -> dict[str, Any] | None:
    frozen = (review.package or {}).get("decision_documents") or []
    same_series = [e for e in frozen if e.get("series_id") == doc.series_id]
    same_type = [e for e in frozen if e.get("type") == doc.doc_type]
    found = same_series or same_type
    return found[-1] if found else None


def _from_draft(draft: dict[str, Any]) -> dict[str, Any]:
    """The decision draft of a round as 行政处罚决定书 fields."""
    return {
        "party": draft.get("party"),
        "facts": draft.get("facts"),
        "legal_basis": draft.get("legal_basis"),
        "penalties": draft.get("penalties"),
        "discretion": draft.get("discretion"),
    }


def is_bound(session: Session, case: Case, doc: Document, review: LegalReview | None) -> bool:
    if doc.doc_type not in OPERATIVE_FIELDS:
        return False
    from .workflow import needs_legal_review

    if doc.doc_type in GATED_TYPES and needs_legal_review(case):
        return True
    return review is not None and _frozen_entry(review, doc) is not None


def review_match(session: Session, case: Case, doc: Document) -> Match:
    """Compare ``doc`` with the content the case's latest round agreed to."""
    review = _latest_round(session, case.id)
    if not is_bound(session, case, doc, review):
        return Match(doc, bound=False, consistent=True, review=review)
    if review is None or review.status != "agreed":
        return Match(doc, bound=True, consistent=False, review=review)
    entry = _frozen_entry(review, doc)
    if entry is not None:
        reviewed, source = entry.get("fields") or {}, "document"
    elif doc.doc_type == "penalty_decision":
        reviewed, source = _from_draft(review.decision_draft or {}), "draft"
    else:
        reviewed, source = {}, None
    found = differences(doc.doc_type, reviewed, doc.fields)
    for row in found:
        if row["reviewed"] is None and source == "draft":
            row["reviewed_note"] = _NOT_STATED
    return Match(
        doc, bound=True, consistent=not found, review=review, source=source, differences=found
    )


def _describe(rows: list[dict[str, Any]]) -> tuple[str, str]:
    zh = "、".join(dict.fromkeys(r["label"]["zh"] for r in rows))
    en = ", ".join(dict.fromkeys(r["label"]["en"] for r in rows))
    return zh, en


def require_match(
    session: Session,
    case: Case,
    doc: Document,
    *,
    shown_content_sha256: str | None = None,
    signing: bool = False,
) -> Match:
    """Refuse (409) a decision document that differs from the agreed review; for the leader's
    signature also one that changed since the dialog showed it. No role overrides either.

    The document row is locked first (on PostgreSQL) so an edit cannot slip in between the
    check and the commit."""
    session.refresh(doc, with_for_update=True)
    match = review_match(session, case, doc)
    if signing and match.bound and not shown_content_sha256:
        raise Invalid(
            "请在案件页「本案文书」中点「负责人签名」，在对话框中核对文书与法制审核结果后签名"
            " / sign from the dialog that shows the document and its review check: send "
            "shown_content_sha256 from review-match",
            code="shown_content_required",
        )
    if shown_content_sha256 and shown_content_sha256 != content_sha256(doc):
        raise Conflict(
            "文书在您查看后已被修改，请重新核对后再签名"
            " / the document changed after it was shown to you: check it again",
            code="document_changed_since_shown",
            details={
                "document_id": doc.id,
                "version": doc.version,
                "content_sha256": content_sha256(doc),
            },
        )
    if match.bound and (match.review is None or match.review.status != "agreed"):
        raise Conflict(
            "此决定须经法制审核同意后才能签发 / an agreed legal review is required first",
            code="legal_review_required",
            details={"review_status": match.review.status if match.review else None},
        )
    if match.bound and match.review is not None and match.differences:
        zh, en = _describe(match.differences)
        raise Conflict(
            f"文书内容与第{match.review.round}轮法制审核同意的内容不一致（{zh}），"
            "不得签发；请重新提交法制审核"
            f" / the decision differs from what legal review round {match.review.round} "
            f"agreed ({en}): submit it for a new review",
            code="decision_differs_from_review",
            details={
                "document_id": doc.id,
                "review_id": match.review.id,
                "round": match.review.round,
                "differences": match.differences,
                "resubmit_url": f"/api/v1/cases/{case.id}/legal-reviews",
            },
        )
    return match


def differing_decisions(session: Session, case: Case) -> list[Match]:
    """Draft decision documents of the case that differ from the agreed round: the reason a
    new round may follow an agreed one."""
    drafts = session.execute(
        sa.select(Document).where(
            Document.case_id == case.id,
            Document.status == "draft",
            Document.doc_type.in_(list(OPERATIVE_FIELDS)),
        )
    ).scalars()
    found = [review_match(session, case, doc) for doc in drafts]
    return [m for m in found if m.bound and m.differences]
