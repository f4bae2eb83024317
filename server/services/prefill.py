"""Forms that know the case: suggested values for a new enforcement document (执法文书).

An officer should confirm what the case already knows, not type it again: the party from the
case or an earlier document, the place, the officers with their credential numbers, the
cause, the facts and the penalties from the investigation report or the reviewed decision
draft, the times of the on-site recording. Each suggestion says where it came from, so the
form can mark it 「已自动填写，请核对」 and name its source.

    >>> suggestion = suggest(session, user, case, "onsite_inspection_record")
    >>> suggestion["fields"]["inspectors"]
    [{'name': '李明', 'badge_number': 'SH-0001'}, ...]
    >>> suggestion["sources"]["inspectors"]["kind"]
    'officers'

Nothing here writes; the document is created by ``documents.create_document`` as before,
with whatever the officer confirmed or changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import clock
from ..documents.registry import DOCUMENT_TYPES, PENALTY_KINDS, PartySchema
from ..errors import Invalid
from ..models import Case, Document, LegalReview, MediaItem, User
from .credentials import Lacking, valid_credential_at
from .decision_binding import differing_decisions
from .documents import case_documents

Source = dict[str, Any]
Suggestion = tuple[Any, Source]

# Documents whose facts, evidence, legal basis and penalties carry into the next one of the
# same penalty line (调查终结报告 → 事先告知书 → 处罚决定书), newest first.
_PENALTY_LINE = ("penalty_decision", "prior_notice", "investigation_report")
_PARTY_FIELDS = tuple(PartySchema().fields)


def suggest(session: Session, user: User, case: Case, doc_type: str) -> dict[str, Any]:
    """Suggested ``fields`` for a new ``doc_type`` document of ``case`` and, per top-level
    field, its ``sources`` entry ``{kind, label: {zh, en}, document_id?, media_id?}``."""
    if doc_type not in DOCUMENT_TYPES:
        raise Invalid(f"unknown document type {doc_type!r}", code="unknown_document_type")
    known = _Known(session, user, case)
    names = DOCUMENT_TYPES[doc_type].schema().fields
    fields: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for name, _field in names.items():
        rules = (
            _RULES[(doc_type, name)] if (doc_type, name) in _RULES else _RULES.get(("*", name), ())
        )
        for rule in rules:
            found = rule(known, doc_type)
            if found is None:
                continue
            value, source = found
            if value in (None, "", [], {}):
                continue
            fields[name], sources[name] = value, source
            break
    return {"type": doc_type, "fields": fields, "sources": sources}


class _Known:
    """What the case knows, read once per suggestion."""

    def __init__(self, session: Session, user: User, case: Case) -> None:
        self.session, self.user, self.case = session, user, case
        # The current version of each document, newest first: issued before drafts.
        latest: dict[str, Document] = {}
        for doc in case_documents(session, case):
            if doc.status == "superseded":
                continue
            here = latest.get(doc.series_id)
            if here is None or doc.version > here.version:
                latest[doc.series_id] = doc
        self.documents = sorted(
            latest.values(),
            key=lambda d: (d.status == "issued", d.issued_at or d.created_at),
            reverse=True,
        )
        self._agreed: LegalReview | bool | None = False

    def documents_of(self, types: Iterable[str] | None = None) -> list[Document]:
        wanted = set(types) if types is not None else None
        return [d for d in self.documents if wanted is None or d.doc_type in wanted]

    def agreed_review(self) -> LegalReview | None:
        if self._agreed is False:
            self._agreed = self.session.execute(
                sa.select(LegalReview)
                .where(LegalReview.case_id == self.case.id, LegalReview.status == "agreed")
                .order_by(LegalReview.round.desc())
                .limit(1)
            ).scalar_one_or_none()
        return self._agreed  # type: ignore[return-value]

    def officers(self) -> list[dict[str, str]]:
        """The case's officers, the signed-in one first, each with the number of the
        credential valid today (none when it lapsed: the officer sees the gap)."""
        people = sorted(self.case.officers, key=lambda o: (o.id != self.user.id, o.id))
        now = clock.now()
        rows = []
        for officer in people:
            found = valid_credential_at(self.session, officer, now)
            number = "" if isinstance(found, Lacking) else found.number
            rows.append({"name": officer.name, "badge_number": number})
        return rows

    def recordings(self, activity: str) -> list[MediaItem]:
        return list(
            self.session.execute(
                sa.select(MediaItem)
                .where(
                    MediaItem.case_id == self.case.id,
                    MediaItem.activity == activity,
                    MediaItem.kind.in_(("video", "audio")),
                    MediaItem.status != "hash_mismatch",
                )
                .order_by(MediaItem.captured_at)
            ).scalars()
        )


# --- sources ------------------------------------------------------------------------------


def _doc_title(doc: Document) -> dict[str, str]:
    title = DOCUMENT_TYPES[doc.doc_type].title
    number = f" {doc.number}" if doc.number else ""
    draft = ("（草稿）", " (draft)") if doc.status == "draft" else ("", "")
    return {"zh": f"《{title['zh']}》{number}{draft[0]}", "en": f"{title['en']}{number}{draft[1]}"}


def _from_document(doc: Document) -> Source:
    return {"kind": "document", "document_id": doc.id, "label": _doc_title(doc)}


def _case_source(what_zh: str, what_en: str) -> Source:
    return {"kind": "case", "label": {"zh": f"案件信息（{what_zh}）", "en": f"Case ({what_en})"}}


def _same_field(
    name: str, types: Iterable[str] | None = None, *, check: Callable[[Any], bool] | None = None
) -> Callable[[_Known, str], Suggestion | None]:
    """The field ``name`` of the newest earlier document (of ``types``) that has it."""

    def rule(known: _Known, doc_type: str) -> Suggestion | None:
        for doc in known.documents_of(types):
            value = (doc.fields or {}).get(name)
            if value in (None, "", [], {}) or (check and not check(value)):
                continue
            return value, _from_document(doc)
        return None

    return rule


def _field_of(source_name: str, types: Iterable[str]) -> Callable[[_Known, str], Suggestion | None]:
    """Another field's value, e.g. 拟作出的行政处罚 → 行政处罚."""
    return _same_field(source_name, types)


def _party_from_documents(known: _Known, doc_type: str) -> Suggestion | None:
    for doc in known.documents_of():
        party = (doc.fields or {}).get("party")
        if isinstance(party, dict) and party.get("name"):
            return _clean_party(party), _from_document(doc)
    return None


def _clean_party(party: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in party.items() if k in _PARTY_FIELDS and v not in (None, "")}


def _party_from_case(known: _Known, doc_type: str) -> Suggestion | None:
    parties = known.case.parties or []
    if not parties or not parties[0].get("name"):
        return None
    first = parties[0]
    party: dict[str, Any] = {"name": first["name"]}
    if first.get("kind") == "organisation":
        party["type"] = "legal"
    elif first.get("kind") == "person":
        party["type"] = "natural"
    if first.get("id_number"):
        party["id_number"] = first["id_number"]
    return party, _case_source("当事人", "party")


def _party_from_review(known: _Known, doc_type: str) -> Suggestion | None:
    review = known.agreed_review()
    party = (review.decision_draft or {}).get("party") if review else None
    if isinstance(party, dict) and party.get("name"):
        return _clean_party(party), _review_source(review)  # type: ignore[arg-type]
    return None


def _review_source(review: LegalReview) -> Source:
    return {
        "kind": "legal_review",
        "review_id": review.id,
        "label": {
            "zh": f"经法制审核同意的决定草案（第{review.round}轮）",
            "en": f"Decision draft agreed by legal review (round {review.round})",
        },
    }


def _draft_value(name: str) -> Callable[[_Known, str], Suggestion | None]:
    """A field of the decision draft the legal review agreed to: the decision follows it."""

    def rule(known: _Known, doc_type: str) -> Suggestion | None:
        review = known.agreed_review()
        if review is None:
            return None
        value = (review.decision_draft or {}).get(name)
        if name == "penalties" and isinstance(value, list):
            value = [_document_penalty(p) for p in value]
        return (value, _review_source(review)) if value not in (None, "", []) else None

    return rule


def _document_penalty(penalty: dict[str, Any]) -> dict[str, Any]:
    """A draft penalty (amount as a number) as a document's penalty (amount as a string)."""
    row: dict[str, Any] = {"kind": penalty.get("kind")}
    amount = penalty.get("amount")
    if amount not in (None, ""):
        with contextlib.suppress(InvalidOperation):
            row["amount"] = str(Decimal(str(amount)).quantize(Decimal("0.01")))
    if penalty.get("description"):
        row["description"] = penalty["description"]
    return row


def _case_location(known: _Known, doc_type: str) -> Suggestion | None:
    return (known.case.location, _case_source("地点", "place")) if known.case.location else None


def _case_title(known: _Known, doc_type: str) -> Suggestion | None:
    return known.case.title, _case_source("案件名称", "title")


def _officers_list(known: _Known, doc_type: str) -> Suggestion | None:
    rows = known.officers()
    return rows, {
        "kind": "officers",
        "label": {
            "zh": "本案执法人员及其执法证号",
            "en": "The case's officers and their credential numbers",
        },
    }


def _officers_text(known: _Known, doc_type: str) -> Suggestion | None:
    rows = known.officers()
    text = "、".join(
        f"{o['name']}（执法证号{o['badge_number']}）" if o["badge_number"] else o["name"]
        for o in rows
    )
    return text, {
        "kind": "officers",
        "label": {"zh": "本案执法人员及其执法证号", "en": "The case's officers and credentials"},
    }


def _signed_in_officer(known: _Known, doc_type: str) -> Suggestion | None:
    return known.user.name, {
        "kind": "user",
        "label": {"zh": "当前登录的执法人员", "en": "The signed-in officer"},
    }


def _second_officer(known: _Known, doc_type: str) -> Suggestion | None:
    others = [o for o in known.officers()[1:]]
    if not others:
        return None
    return others[0]["name"], {
        "kind": "officers",
        "label": {"zh": "本案另一名执法人员", "en": "The case's other officer"},
    }


def _recording_time(activity: str, end: bool) -> Callable[[_Known, str], Suggestion | None]:
    """When the recordings of ``activity`` began (or ended): 全过程记录 says when it was."""

    def rule(known: _Known, doc_type: str) -> Suggestion | None:
        items = known.recordings(activity)
        if not items:
            return None
        if end:
            spans = [(_end_of(i), i) for i in items]
            spans = [(at, i) for at, i in spans if at is not None]
            if not spans:
                return None
            at, item = max(spans, key=lambda pair: pair[0])
        else:
            item = items[0]
            at = clock.aware(item.captured_at)
        local = clock.local(at).replace(second=0, microsecond=0)
        what = ("录像结束", "ended") if end else ("录像开始", "began")
        return local.isoformat(), {
            "kind": "media",
            "media_id": item.id,
            "label": {
                "zh": f"音像记录{what[0]}时间（{local:%Y-%m-%d %H:%M}）",
                "en": f"Time the recording {what[1]} ({local:%Y-%m-%d %H:%M})",
            },
        }

    return rule


def _end_of(item: MediaItem) -> datetime | None:
    if item.duration_s:
        return clock.aware(item.captured_at) + timedelta(seconds=item.duration_s)
    return clock.aware(item.captured_end_at) if item.captured_end_at else None


def _filed_on(known: _Known, doc_type: str) -> Suggestion | None:
    return clock.local_date(known.case.created_at).isoformat(), _case_source(
        "登记日期", "date registered"
    )


def _today(known: _Known, doc_type: str) -> Suggestion | None:
    return clock.today().isoformat(), {
        "kind": "clock",
        "label": {"zh": "今天的日期", "en": "Today's date"},
    }


def _served_document(known: _Known, doc_type: str) -> Suggestion | None:
    """The newest issued document meant for the party: what is being served."""
    for doc in known.documents_of():
        kind = DOCUMENT_TYPES[doc.doc_type]
        if doc.status == "issued" and kind.for_the_party and doc.doc_type != "service_receipt":
            return {"name": kind.title["zh"], "number": doc.number or ""}, _from_document(doc)
    return None


def _party_name(known: _Known, doc_type: str) -> Suggestion | None:
    found = _party_from_documents(known, doc_type) or _party_from_case(known, doc_type)
    return (found[0]["name"], found[1]) if found else None


def _party_address(known: _Known, doc_type: str) -> Suggestion | None:
    found = _party_from_documents(known, doc_type)
    if found and found[0].get("address"):
        return found[0]["address"], found[1]
    return None


def _service_recording(known: _Known, doc_type: str) -> Suggestion | None:
    items = known.recordings("service")
    if not items:
        return None
    item = items[-1]
    local = clock.local(item.captured_at)
    return item.id, {
        "kind": "media",
        "media_id": item.id,
        "label": {
            "zh": f"送达录像（{local:%Y-%m-%d %H:%M}）",
            "en": f"Service recording ({local:%Y-%m-%d %H:%M})",
        },
    }


def _execution_text(known: _Known, doc_type: str) -> Suggestion | None:
    records = known.case.execution_records or []
    if not records:
        return None
    kinds = {
        "payment": "已缴纳罚款",
        "compulsory_application": "已申请法院强制执行",
        "performed": "已履行",
        "other": "其他",
    }
    lines = []
    for r in records:
        amount = f"{r['amount']}元" if r.get("amount") else ""
        ref = f"（{r['reference']}）" if r.get("reference") else ""
        lines.append(f"{r.get('on', '')} {kinds.get(r.get('kind', ''), '')}{amount}{ref}".strip())
    return "；".join(lines), {
        "kind": "case",
        "label": {"zh": "已登记的执行情况", "en": "The recorded execution"},
    }


def penalty_words(penalties: Iterable[dict[str, Any]]) -> str:
    """罚款5000元；警告 — the penalties in a line."""
    words = []
    for p in penalties:
        kind = PENALTY_KINDS.get(p.get("kind", ""), ("", ""))[0]
        amount = f"{_yuan(p['amount'])}元" if p.get("amount") not in (None, "") else ""
        words.append(
            f"{kind}{amount}{'（' + p['description'] + '）' if p.get('description') else ''}"
        )
    return "；".join(w for w in words if w)


def _yuan(amount: Any) -> str:
    """5000.00 and 5000.0 as 5000, 12.50 as 12.5."""
    try:
        return format(Decimal(str(amount)).normalize(), "f")
    except InvalidOperation:
        return str(amount)


def _decision_summary(known: _Known, doc_type: str) -> Suggestion | None:
    for doc in known.documents_of(("penalty_decision", "onsite_penalty_decision")):
        words = penalty_words((doc.fields or {}).get("penalties") or [])
        if words:
            return words, _from_document(doc)
    return None


def suggest_draft(session: Session, user: User, case: Case) -> dict[str, Any]:
    """The decision draft to submit for legal review, as far as the case knows it: the draft
    saved on the case, else the 调查终结报告's party, facts, legal basis, circumstances
    (discretion) and proposed penalties. ``sources`` name where each part came from.

    After an agreed round, a 行政处罚决定书 drafted differently (a higher fine, another party)
    can be signed only once a new round agrees to it as it now reads: its operative content
    is then the draft, ahead of the one saved with the agreed round."""
    known = _Known(session, user, case)
    saved = dict(case.decision_draft or {})
    saved_source_for: dict[str, Source] = {}
    changed = next(
        (
            m.document
            for m in differing_decisions(session, case)
            if m.document.doc_type == "penalty_decision"
        ),
        None,
    )
    if changed is not None:
        source = _from_document(changed)
        for name in ("party", "facts", "legal_basis", "penalties", "discretion"):
            value = (changed.fields or {}).get(name)
            if value in (None, "", [], {}):
                continue
            if name == "penalties":
                value = [_draft_penalty(p) for p in value]
            elif name == "party":
                value = _clean_party(value)
            saved[name] = value
            saved_source_for[name] = source
        saved.pop("summary", None)  # said of the reviewed penalties: worded again below
    draft: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    saved_source = {
        "kind": "case",
        "label": {"zh": "案件已保存的决定草案", "en": "The draft saved on the case"},
    }
    reports = known.documents_of(("investigation_report",))
    report = reports[0] if reports else None
    rfields = report.fields if report else {}
    for name, from_report in (
        ("party", "party"),
        ("facts", "facts"),
        ("legal_basis", "legal_basis"),
        ("discretion", "circumstances"),
        ("penalties", "proposed_penalties"),
    ):
        if saved.get(name) not in (None, "", [], {}):
            draft[name] = saved[name]
            sources[name] = saved_source_for.get(name, saved_source)
        elif rfields.get(from_report) not in (None, "", [], {}):
            value = rfields[from_report]
            if name == "penalties":
                value = [_draft_penalty(p) for p in value]
            elif name == "party":
                value = _clean_party(value)
            draft[name], sources[name] = value, _from_document(report)  # type: ignore[arg-type]
    if "party" not in draft and (found := _party_from_case(known, "")):
        draft["party"], sources["party"] = found
    for name in ("summary", "withhold_reason"):
        if saved.get(name):
            draft[name] = saved[name]
    draft.setdefault("penalties", [])
    if not draft.get("summary") and draft["penalties"]:
        draft["summary"] = penalty_words(draft["penalties"])
    report_text = ""
    if report is not None:
        report_text = "\n".join(
            part
            for part in (
                f"案由：{rfields.get('cause', '')}" if rfields.get("cause") else "",
                f"调查经过：{rfields.get('investigation', '')}"
                if rfields.get("investigation")
                else "",
                f"违法事实：{rfields.get('facts', '')}" if rfields.get("facts") else "",
                f"证据：{rfields.get('evidence', '')}" if rfields.get("evidence") else "",
            )
            if part
        )
    return {
        "decision_draft": draft,
        "sources": sources,
        "report": report_text,
        "report_source": _from_document(report) if report is not None else None,
    }


def _draft_penalty(penalty: dict[str, Any]) -> dict[str, Any]:
    """A document's penalty (amount as a string) as a draft penalty (amount as a number)."""
    row: dict[str, Any] = {
        "kind": penalty.get("kind"),
        "description": penalty.get("description") or "",
    }
    amount = penalty.get("amount")
    if amount not in (None, ""):
        with contextlib.suppress(InvalidOperation):
            row["amount"] = float(Decimal(str(amount)))
    return row


_PARTY = (_party_from_review, _party_from_documents, _party_from_case)
_PENALTIES = (
    _draft_value("penalties"),
    _same_field("penalties", ("penalty_decision",)),
    _field_of("proposed_penalties", ("prior_notice", "investigation_report")),
)

# (document type or "*", field) → the sources to try, in order.
_RULES: dict[tuple[str, str], tuple[Callable[[_Known, str], Suggestion | None], ...]] = {
    ("*", "party"): _PARTY,
    ("inquiry_record", "interviewee"): (_party_from_documents, _party_from_case),
    ("*", "place"): (_same_field("place"), _case_location),
    ("service_receipt", "place"): (_party_address, _case_location),
    ("*", "cause"): (_same_field("cause"), _case_title),
    ("*", "received_on"): (_filed_on,),
    ("*", "inspectors"): (_officers_list,),
    ("onsite_penalty_decision", "officers"): (_officers_list,),
    ("*", "officers"): (_officers_text,),
    ("*", "investigators"): (_officers_text,),
    ("*", "interviewer"): (_signed_in_officer,),
    ("*", "recorder"): (_second_officer,),
    ("onsite_inspection_record", "inspected_at"): (_recording_time("onsite_inspection", False),),
    ("onsite_inspection_record", "ended_at"): (_recording_time("onsite_inspection", True),),
    ("hearing_record", "started_at"): (_recording_time("hearing", False),),
    ("hearing_record", "ended_at"): (_recording_time("hearing", True),),
    ("*", "facts"): (_draft_value("facts"), _same_field("facts", _PENALTY_LINE)),
    ("*", "evidence"): (_same_field("evidence", _PENALTY_LINE),),
    ("*", "legal_basis"): (_draft_value("legal_basis"), _same_field("legal_basis", _PENALTY_LINE)),
    ("sampling_notice", "legal_basis"): (),
    ("evidence_preservation_notice", "legal_basis"): (),
    ("coercive_measure_decision", "legal_basis"): (),
    ("rectification_order", "legal_basis"): (),
    ("*", "penalties"): _PENALTIES,
    ("*", "proposed_penalties"): (
        _same_field("proposed_penalties", ("investigation_report",)),
        _draft_value("penalties"),
    ),
    ("*", "circumstances"): (_draft_value("discretion"),),
    ("*", "discretion"): (
        _draft_value("discretion"),
        _field_of("circumstances", ("investigation_report",)),
    ),
    ("*", "remedy"): (_same_field("remedy"),),
    ("*", "payment"): (_same_field("payment"),),
    ("*", "contact"): (_same_field("contact"),),
    ("service_receipt", "document"): (_served_document,),
    ("service_receipt", "recipient"): (_party_name,),
    ("service_receipt", "served_at"): (_today,),
    ("service_receipt", "recording_media_id"): (_service_recording,),
    ("closing_report", "case_summary"): (_same_field("facts", _PENALTY_LINE),),
    ("closing_report", "decision_summary"): (_decision_summary,),
    ("closing_report", "execution"): (_execution_text,),
}
