"""执法统计年报: the yearly enforcement statistics of a unit, its archived snapshot and its
public renderings (HTML charts as SVG, PDF, CSV).

The figures are computed from the same rows the officers work in (cases, issued documents,
legal-review rounds, recordings, credentials) for one calendar year in Asia/Shanghai. A report
moves ``draft → frozen → published``: while a draft it is recomputed on request and its
narrative may be edited; freezing (归档存底) records the SHA-256 of the canonical JSON of
figures and narrative, and from then on neither changes (the model refuses it too); only a
frozen report can be published, and the public only ever sees published ones.

No Flask here: callers pass the session, the acting user and the client address; every state
change is written to the audit log in the caller's transaction.

>>> heaviest([{"kind": "warning"}, {"kind": "fine", "amount": "200"}])
'fine'
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from xml.sax.saxutils import escape

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import clock
from ..domain import MediaStatus
from ..errors import Conflict, Invalid, NotFound
from ..jobs import ChoreContext, chore
from ..models import Case, CaseStage, Credential, Document, LegalReview, MediaItem, Unit, User
from ..services import audit
from ..services import workflow as wf
from ..services.calendar import calendar as work_calendar
from ..services.units import display_name
from . import redact
from .inspections import RESULT_LABELS, InspectionStatus
from .models import RandomInspectionResult
from .report_models import AnnualReport, RemedyOutcome
from .service import hit_dict

log = logging.getLogger(__name__)

# 2: coercive measures counted from 查封(扣押)决定书; random-inspection results added.
FIGURES_VERSION = 2

# --- vocabulary -----------------------------------------------------------------------------

# Display order of the penalty kinds (as the yearly report lists them).
PENALTY_KINDS: tuple[str, ...] = (
    "warning",
    "fine",
    "confiscation",
    "suspension",
    "license_suspension",
    "license_revocation",
    "other",
)
PENALTY_LABELS: dict[str, str] = {
    "warning": "警告",
    "fine": "罚款",
    "confiscation": "没收违法所得",
    "suspension": "责令停产停业",
    "license_suspension": "暂扣许可证",
    "license_revocation": "吊销许可证",
    "other": "其他",
}
# Lightest to heaviest: a decision with several penalties counts once, under the heaviest.
# "other" (anything the law names besides these) ranks lowest.
SEVERITY: tuple[str, ...] = (
    "other",
    "warning",
    "fine",
    "confiscation",
    "license_suspension",
    "suspension",
    "license_revocation",
)
DECISION_TYPES: tuple[str, ...] = ("penalty_decision", "onsite_penalty_decision")
DECISION_LABELS = {
    "penalty_decision": "行政处罚决定书",
    "onsite_penalty_decision": "当场处罚决定书",
}
PROCEDURES: tuple[str, ...] = ("general", "simple")
PROCEDURE_LABELS = {"general": "一般程序", "simple": "简易程序"}
UNTYPED = "未分类"

REMEDY_KINDS: dict[str, str] = {"reconsideration": "行政复议", "litigation": "行政诉讼"}
REMEDY_OUTCOMES: dict[str, str] = {
    "upheld": "维持",
    "changed": "变更",
    "revoked": "撤销",
    "confirmed_illegal": "确认违法",
    "withdrawn": "撤回",
    "pending": "尚未审结",
}
REVIEW_OUTCOMES = ("agreed", "returned", "transfer")

NOT_RECORDED = "不在本系统中办理，未予统计"
PERMITS_NOTE = "行政许可未录入：" + NOT_RECORDED
PERMITS_NOT_ENTERED = "未录入"
# Figures of version 1 did not count coercive measures; kept to render their snapshots.
COERCIVE_NOTE = "行政强制措施（查封、扣押等）" + NOT_RECORDED
COERCIVE_COUNTED_NOTE = "以出具的《查封(扣押)决定书》计"
# Notes frozen into earlier snapshots with an English aside; shown in Chinese only (the
# snapshot and its hash stay as frozen).
FROZEN_NOTE_WORDS = {
    "以出具的《查封(扣押)决定书》计（counted from issued decisions）": COERCIVE_COUNTED_NOTE,
    "行政许可未录入：不在 Fieldtrace 中办理，未予统计（not recorded in Fieldtrace）": PERMITS_NOTE,
    "行政强制措施（查封、扣押等）不在 Fieldtrace 中办理，未予统计（not recorded in Fieldtrace）": (
        COERCIVE_NOTE
    ),
}


def note_words(note: str | None) -> str:
    """A figure's note as a reader sees it."""
    return FROZEN_NOTE_WORDS.get(note or "", note or "")


COERCIVE_MEASURES: dict[str, str] = {"seal": "查封", "seize": "扣押"}
RANDOM_INSPECTION_RESULTS: dict[str, str] = RESULT_LABELS

# The archived snapshot of year Y is due by 15 January of Y + 1.
FREEZE_DEADLINE = (1, 15)


class ReportStatus(StrEnum):
    DRAFT = "draft"
    FROZEN = "frozen"
    PUBLISHED = "published"


# --- dates ------------------------------------------------------------------------------------


def freeze_deadline(year: int) -> date:
    return date(year + 1, *FREEZE_DEADLINE)


def _in(column: Any, year: int) -> sa.ColumnElement[bool]:
    start, end = clock.year_bounds(year)
    return sa.and_(column >= start, column < end)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --- figures: penalties -----------------------------------------------------------------------


def _kind(raw: Any) -> str:
    kind = str(raw or "").strip()
    return kind if kind in PENALTY_LABELS else "other"


def heaviest(penalties: list[dict[str, Any]]) -> str | None:
    """The heaviest kind among a decision's penalties (None for no penalty)."""
    kinds = [_kind(p.get("kind")) for p in penalties if isinstance(p, dict)]
    return max(kinds, key=SEVERITY.index) if kinds else None


def _amount(raw: Any) -> Decimal:
    if raw in (None, ""):
        return Decimal(0)
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        log.warning("ignoring a fine amount that is not a number: %r", raw)
        return Decimal(0)


def issued_series(
    session: Session, unit_id: int, doc_types: tuple[str, ...], year: int
) -> list[tuple[Document, datetime]]:
    """The current issued version of each document series of these types decided in ``year``.

    A series is dated by its first issue (a correction re-issues the same decision under the
    same number and does not move it to another year); superseded versions never count, the
    current issued one does. Returns (document, first issued at), oldest first.
    """
    first = (
        sa.select(Document.series_id, sa.func.min(Document.issued_at).label("first_issued"))
        .where(
            Document.unit_id == unit_id,
            Document.doc_type.in_(doc_types),
            Document.issued_at.is_not(None),
        )
        .group_by(Document.series_id)
        .subquery()
    )
    rows = session.execute(
        sa.select(Document, first.c.first_issued)
        .join(first, Document.series_id == first.c.series_id)
        .where(Document.status == "issued", _in(first.c.first_issued, year))
        .order_by(first.c.first_issued, Document.id)
    ).all()
    return [(doc, first_issued) for doc, first_issued in rows]


def _penalty_figures(session: Session, unit_id: int, year: int) -> dict[str, Any]:
    by_kind = dict.fromkeys(PENALTY_KINDS, 0)
    by_document = dict.fromkeys(DECISION_TYPES, 0)
    by_month = [0] * 12
    fine_total = Decimal(0)
    fined = 0
    decisions = issued_series(session, unit_id, DECISION_TYPES, year)
    for doc, first_issued in decisions:
        penalties = [p for p in (doc.fields or {}).get("penalties") or [] if isinstance(p, dict)]
        by_document[doc.doc_type] += 1
        by_month[clock.local_date(first_issued).month - 1] += 1
        kind = heaviest(penalties)
        if kind is not None:
            by_kind[kind] += 1
        fines = [_amount(p.get("amount")) for p in penalties if _kind(p.get("kind")) == "fine"]
        if fines:
            fined += 1
            fine_total += sum(fines, Decimal(0))
    return {
        "decisions": len(decisions),
        "by_document": by_document,
        "by_kind": by_kind,
        "fined_decisions": fined,
        "fine_total": str(fine_total.quantize(Decimal("0.01"))),
        "by_month": by_month,
    }


# --- figures: the rest ------------------------------------------------------------------------


def _public_type(case_type: str | None) -> str:
    """A case type as the report may publish it. Officers type it freely, so one that holds
    personal data (a phone number, an ID number) is counted as 未分类, never printed."""
    name = (case_type or "").strip()
    return name if name and not redact.scan(name) else UNTYPED


def _case_figures(session: Session, unit_id: int, year: int) -> dict[str, Any]:
    rows = session.execute(
        sa.select(Case.case_type, Case.procedure, Case.created_at).where(
            Case.unit_id == unit_id, _in(Case.created_at, year)
        )
    ).all()
    by_type = Counter(_public_type(case_type) for case_type, _, _ in rows)
    by_procedure = dict.fromkeys(PROCEDURES, 0)
    by_month = [0] * 12
    for _, procedure, created_at in rows:
        by_procedure[procedure] = by_procedure.get(procedure, 0) + 1
        by_month[clock.local_date(created_at).month - 1] += 1
    return {
        "total": len(rows),
        "by_procedure": by_procedure,
        "by_type": [
            {"type": name, "count": n}
            for name, n in sorted(by_type.items(), key=lambda pair: (-pair[1], pair[0]))
        ],
        "by_month": by_month,
    }


def _legal_review_figures(session: Session, unit_id: int, year: int) -> dict[str, Any]:
    rounds = session.execute(
        sa.select(LegalReview.status, LegalReview.submitted_at, LegalReview.decided_at).where(
            LegalReview.unit_id == unit_id,
            LegalReview.status.in_(REVIEW_OUTCOMES),
            LegalReview.decided_at.is_not(None),
            _in(LegalReview.decided_at, year),
        )
    ).all()
    cal = work_calendar(session, unit_id)
    counts = Counter(status for status, _, _ in rounds)
    days = [
        cal.working_days_between(clock.local_date(submitted), clock.local_date(decided))
        for _, submitted, decided in rounds
    ]
    return {
        "decided": len(rounds),
        "agreed": counts["agreed"],
        "returned": counts["returned"],
        "transfer": counts["transfer"],
        "returned_share": _share(counts["returned"], len(rounds)),
        "average_working_days": round(sum(days) / len(days), 2) if days else None,
    }


def active_case_ids(session: Session, unit_id: int, year: int) -> list[int]:
    """Cases of the unit with any activity in the year: opened, a stage begun, a document
    issued or a recording captured."""
    queries = [
        sa.select(Case.id).where(Case.unit_id == unit_id, _in(Case.created_at, year)),
        sa.select(CaseStage.case_id)
        .join(Case, Case.id == CaseStage.case_id)
        .where(Case.unit_id == unit_id, _in(CaseStage.started_at, year)),
        sa.select(Document.case_id).where(
            Document.unit_id == unit_id,
            Document.issued_at.is_not(None),
            _in(Document.issued_at, year),
        ),
        sa.select(MediaItem.case_id).where(
            MediaItem.unit_id == unit_id, _in(MediaItem.captured_at, year)
        ),
    ]
    return sorted(set(session.execute(sa.union(*queries)).scalars()))


def _recording_figures(session: Session, unit_id: int, year: int) -> dict[str, Any]:
    """Share of the recording rules' checks (执法全过程记录) met, over every stage reached by
    the cases active in the year, judged by the same rules as the case workflow."""
    case_ids = active_case_ids(session, unit_id, year)
    by_code: dict[str, dict[str, int]] = {}
    total = met = 0
    for case_id in case_ids:
        case = session.get(Case, case_id)
        assert case is not None
        facts = wf.gather(session, case)
        for stage in facts.reached:
            for check in wf.recording_checks(facts, stage):
                entry = by_code.setdefault(check.code, {"checks": 0, "met": 0})
                entry["checks"] += 1
                total += 1
                if check.met:
                    entry["met"] += 1
                    met += 1
    return {
        "cases": len(case_ids),
        "checks": total,
        "met": met,
        "share": _share(met, total),
        "by_code": by_code,
    }


def _credential_figures(session: Session, unit_id: int, year: int) -> dict[str, Any]:
    """持证率 on 31 December: active officers holding an active credential valid that day.

    Who is active and a credential's status are taken as they are when computed, which is
    why the figures are frozen right after the year ends.
    """
    day = date(year, 12, 31)
    officers = list(
        session.execute(
            sa.select(User.id).where(
                User.unit_id == unit_id, User.role == "officer", User.active.is_(True)
            )
        ).scalars()
    )
    certified: set[int] = set()
    if officers:
        for user_id, valid_from, valid_to in session.execute(
            sa.select(Credential.user_id, Credential.valid_from, Credential.valid_to).where(
                Credential.user_id.in_(officers), Credential.status == "active"
            )
        ):
            if clock.local_date(valid_from) <= day <= clock.local_date(valid_to):
                certified.add(user_id)
    return {
        "as_of": day.isoformat(),
        "officers": len(officers),
        "certified": len(certified),
        "share": _share(len(certified), len(officers)),
    }


def _remedy_figures(session: Session, unit_id: int, year: int) -> dict[str, Any]:
    """Outcomes decided in the year; per case and kind only the latest entry of the year."""
    rows = session.execute(
        sa.select(RemedyOutcome)
        .where(
            RemedyOutcome.unit_id == unit_id,
            RemedyOutcome.decided_on >= date(year, 1, 1),
            RemedyOutcome.decided_on <= date(year, 12, 31),
        )
        .order_by(RemedyOutcome.decided_on, RemedyOutcome.id)
    ).scalars()
    latest = {(r.case_id, r.kind): r.outcome for r in rows}
    out: dict[str, Any] = {}
    for kind in REMEDY_KINDS:
        by_outcome = dict.fromkeys(REMEDY_OUTCOMES, 0)
        for (_, k), outcome in latest.items():
            if k == kind:
                by_outcome[outcome] = by_outcome.get(outcome, 0) + 1
        out[kind] = {"total": sum(by_outcome.values()), "by_outcome": by_outcome}
    return out


def _random_inspection_cases(session: Session, unit_id: int, year: int) -> int:
    return len(
        set(
            session.execute(
                sa.select(MediaItem.case_id).where(
                    MediaItem.unit_id == unit_id,
                    MediaItem.activity == "random_inspection",
                    MediaItem.status != MediaStatus.HASH_MISMATCH.value,
                    _in(MediaItem.captured_at, year),
                )
            ).scalars()
        )
    )


def _coercive_figures(session: Session, unit_id: int, year: int) -> dict[str, Any]:
    """查封、扣押 decided in the year: issued 查封(扣押)决定书, each series once (a correction
    counts under its first issue), by measure."""
    decisions = issued_series(session, unit_id, ("coercive_measure_decision",), year)
    by_measure = dict.fromkeys(COERCIVE_MEASURES, 0)
    for doc, _ in decisions:
        measure = (doc.fields or {}).get("measure")
        if measure in by_measure:
            by_measure[measure] += 1
    return {"count": len(decisions), "by_measure": by_measure, "note": COERCIVE_COUNTED_NOTE}


def _random_inspection_results(session: Session, unit_id: int, year: int) -> dict[str, Any]:
    """Random-inspection results recorded for inspections made in the year, by result.

    Every recorded result counts whether or not it is published yet; one taken down (it was
    wrong) does not.
    """
    rows = session.execute(
        sa.select(RandomInspectionResult.result, sa.func.count())
        .where(
            RandomInspectionResult.unit_id == unit_id,
            RandomInspectionResult.status != InspectionStatus.TAKEN_DOWN.value,
            RandomInspectionResult.inspected_on >= date(year, 1, 1),
            RandomInspectionResult.inspected_on <= date(year, 12, 31),
        )
        .group_by(RandomInspectionResult.result)
    ).all()
    by_result = dict.fromkeys(RANDOM_INSPECTION_RESULTS, 0)
    for result, n in rows:
        by_result[result] = by_result.get(result, 0) + n
    return {"total": sum(by_result.values()), "by_result": by_result}


def unit_public_name(session: Session, unit: Unit) -> str:
    return display_name(unit, session)


def compute_figures(session: Session, unit_id: int, year: int) -> dict[str, Any]:
    """The yearly figures of one unit as plain JSON-able data.

    Keys: ``cases`` (opened in the year: by procedure, type and month), ``penalties``
    (decisions first issued in the year, each once under its heaviest kind; fine total of all
    fines as a decimal string; by month), ``permits`` (not handled here: count null with a
    note; the admin may enter them into the draft, see ``enter_permits``),
    ``coercive_measures`` (issued 查封(扣押)决定书 by measure), ``evidence_preservation``,
    ``inspections`` (cases with an on-site inspection record; cases with random-inspection
    recordings; random-inspection results by result), ``legal_reviews``
    (rounds decided in the year: returned share, average working days), ``recording`` (share
    of recording-rule checks met over the cases active in the year), ``credentials`` (持证率
    on 31 December), ``hearings`` and ``remedies``. Shares are rounded to 4 places, null
    without data.
    """
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id} not found", code="unit_not_found")
    inspected = {
        doc.case_id
        for doc, _ in issued_series(session, unit_id, ("onsite_inspection_record",), year)
    }
    return {
        "version": FIGURES_VERSION,
        "unit": {"code": unit.code, "name": unit_public_name(session, unit)},
        "year": year,
        "period": {
            "from": date(year, 1, 1).isoformat(),
            "to": date(year, 12, 31).isoformat(),
            "timezone": "Asia/Shanghai",
        },
        "cases": _case_figures(session, unit_id, year),
        "penalties": _penalty_figures(session, unit_id, year),
        "permits": {"count": None, "note": PERMITS_NOTE},
        "coercive_measures": _coercive_figures(session, unit_id, year),
        "evidence_preservation": {
            "count": len(issued_series(session, unit_id, ("evidence_preservation_notice",), year))
        },
        "inspections": {
            "cases": len(inspected),
            "random_inspection_cases": _random_inspection_cases(session, unit_id, year),
            "random_inspections": _random_inspection_results(session, unit_id, year),
        },
        "legal_reviews": _legal_review_figures(session, unit_id, year),
        "recording": _recording_figures(session, unit_id, year),
        "credentials": _credential_figures(session, unit_id, year),
        "hearings": {"count": len(issued_series(session, unit_id, ("hearing_record",), year))},
        "remedies": _remedy_figures(session, unit_id, year),
    }


# --- narrative and snapshot -------------------------------------------------------------------


def percent(share: float | None) -> str:
    """``0.5 → "50.0%"``; no data → "—"."""
    return "—" if share is None else f"{share * 100:.1f}%"


def yuan(amount: str) -> str:
    value = Decimal(amount)
    return f"{value:,.2f}元"


def entered_permits(figures: dict[str, Any]) -> dict[str, Any] | None:
    """The permits the admin entered into the figures (None: not entered, "未录入")."""
    permits = figures.get("permits")
    return permits if isinstance(permits, dict) and "applications" in permits else None


def _keep_entered(figures: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """Recomputed figures with the permits entered by hand into the previous draft kept."""
    permits = entered_permits(previous or {})
    return {**figures, "permits": permits} if permits is not None else figures


def generate_narrative(figures: dict[str, Any]) -> str:
    """A short Chinese paragraph summarising the figures (the admin may rewrite it)."""
    c, p, lr = figures["cases"], figures["penalties"], figures["legal_reviews"]
    rec, cred, rem = figures["recording"], figures["credentials"], figures["remedies"]
    name, year = figures["unit"]["name"], figures["year"]
    parts = [
        f"{year}年，{name}共立案办理行政执法案件{c['total']}件，其中一般程序"
        f"{c['by_procedure'].get('general', 0)}件、简易程序{c['by_procedure'].get('simple', 0)}件。"
    ]
    kinds = "、".join(
        f"{PENALTY_LABELS[k]}{p['by_kind'][k]}件" for k in PENALTY_KINDS if p["by_kind"].get(k)
    )
    parts.append(
        f"作出行政处罚决定{p['decisions']}件"
        + (f"（按最重处罚种类计：{kinds}）" if kinds else "")
        + f"，罚款金额合计{yuan(p['fine_total'])}。"
    )
    ins, cm = figures["inspections"], figures["coercive_measures"]
    parts.append(
        f"开展现场检查的案件{ins['cases']}件，随机抽查涉及案件{ins['random_inspection_cases']}件，"
        f"随机抽查{ins['random_inspections']['total']}户次；"
        f"实施行政强制措施{cm['count']}次（"
        + "、".join(f"{COERCIVE_MEASURES[k]}{n}次" for k, n in cm["by_measure"].items())
        + f"），先行登记保存证据{figures['evidence_preservation']['count']}次，"
        f"举行听证{figures['hearings']['count']}次。"
    )
    if lr["decided"]:
        parts.append(
            f"法制审核办结{lr['decided']}件次，退回补正{lr['returned']}件次，退回率"
            f"{percent(lr['returned_share'])}，平均用时{lr['average_working_days']:g}个工作日。"
        )
    else:
        parts.append("本年度无办结的法制审核。")
    parts.append(
        f"执法全过程音像记录要求落实率{percent(rec['share'])}"
        f"（{rec['met']}/{rec['checks']}项），年末执法人员持证率{percent(cred['share'])}"
        f"（{cred['certified']}/{cred['officers']}人）。"
    )
    parts.append(
        f"行政复议{rem['reconsideration']['total']}件、行政诉讼{rem['litigation']['total']}件"
        "有结果记录。"
    )
    permits = entered_permits(figures)
    if permits is None:
        parts.append("行政许可不在本系统办理，未纳入统计。")
    else:
        parts.append(
            f"受理行政许可申请{permits['applications']}件，准予许可{permits['granted']}件、"
            f"不予许可{permits['refused']}件（数据来源：{permits['source']}）。"
        )
    return "".join(parts)


def canonical_json(figures: dict[str, Any], narrative: str) -> bytes:
    """The bytes the snapshot hash is taken over: sorted keys, no spaces, UTF-8."""
    body = {"figures": figures, "narrative": narrative}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def snapshot_hash(figures: dict[str, Any], narrative: str) -> str:
    return hashlib.sha256(canonical_json(figures, narrative)).hexdigest()


def snapshot_intact(report: AnnualReport) -> bool:
    return report.snapshot_sha256 == snapshot_hash(report.figures, report.narrative)


# --- lifecycle --------------------------------------------------------------------------------


def get_report(session: Session, unit_id: int, year: int) -> AnnualReport | None:
    return session.execute(
        sa.select(AnnualReport).where(AnnualReport.unit_id == unit_id, AnnualReport.year == year)
    ).scalar_one_or_none()


def require_report(session: Session, unit_id: int, year: int) -> AnnualReport:
    report = get_report(session, unit_id, year)
    if report is None:
        raise NotFound(f"no report for {year} yet; draft it first", code="report_not_found")
    return report


def unit_reports(session: Session, unit_id: int) -> list[AnnualReport]:
    return list(
        session.execute(
            sa.select(AnnualReport)
            .where(AnnualReport.unit_id == unit_id)
            .order_by(AnnualReport.year.desc())
        ).scalars()
    )


def _check_year(year: int, today: date) -> None:
    if not 2000 <= year <= today.year:
        raise Invalid(
            f"年份须在2000年至{today.year}年之间 / the year must be 2000..{today.year}",
            code="invalid_year",
        )


def _not_draft(report: AnnualReport) -> Conflict:
    words = {"frozen": "已归档存底", "published": "已公开发布"}
    return Conflict(
        f"{report.year}年度统计年报{words.get(report.status, report.status)}，不能再修改"
        f" / the report is {report.status} and can no longer change",
        code=f"report_{report.status}",
    )


def _audit(
    session: Session,
    report: AnnualReport,
    actor: User | None,
    action: str,
    client_addr: str,
    **details: Any,
) -> None:
    audit.record(
        session,
        actor=actor,
        action=f"report.{action}",
        object_type="annual_report",
        object_id=report.id,
        client_addr=client_addr,
        details={"unit_id": report.unit_id, "year": report.year, **details},
    )


def draft_report(
    session: Session,
    unit_id: int,
    year: int,
    *,
    actor: User | None = None,
    client_addr: str = "",
    now: datetime | None = None,
) -> AnnualReport:
    """Compute the figures into the unit's draft for ``year`` (created if missing).

    Re-drafting recomputes while the report is a draft (409 once frozen). A narrative the
    admin rewrote is kept, and so are permits entered by hand; otherwise the narrative is
    generated again from the new figures.
    """
    now = now or clock.now()
    _check_year(year, clock.today(now))
    report = get_report(session, unit_id, year)
    if report is not None and report.status != ReportStatus.DRAFT:
        raise _not_draft(report)
    figures = _keep_entered(
        compute_figures(session, unit_id, year), report.figures if report else None
    )
    created = report is None
    if report is None:
        report = AnnualReport(unit_id=unit_id, year=year, status=ReportStatus.DRAFT)
        session.add(report)
    report.figures = figures
    report.computed_at = now
    if not report.narrative_edited:
        report.narrative = generate_narrative(figures)
    session.flush()
    _audit(session, report, actor, "drafted" if created else "redrafted", client_addr)
    return report


def edit_narrative(
    session: Session,
    report: AnnualReport,
    actor: User,
    narrative: str | None,
    *,
    client_addr: str = "",
) -> AnnualReport:
    """The admin's narrative while the report is a draft; empty or None restores the generated
    one."""
    if report.status != ReportStatus.DRAFT:
        raise _not_draft(report)
    text = (narrative or "").strip()
    _refuse_personal_data({"narrative": text})
    report.narrative_edited = bool(text)
    report.narrative = text or generate_narrative(report.figures)
    session.flush()
    _audit(session, report, actor, "narrative_edited", client_addr, generated=not text)
    return report


def enter_permits(
    session: Session,
    report: AnnualReport,
    actor: User,
    data: dict[str, Any],
    *,
    client_addr: str = "",
    now: datetime | None = None,
) -> AnnualReport:
    """行政许可 entered by hand into a draft (Fieldtrace does not process permits).

    ``data``: applications, granted, refused (ints ≥ 0, granted + refused ≤ applications),
    source (where the numbers come from). Stored in the figures, so the snapshot hash covers
    them; a re-draft keeps them.
    """
    if report.status != ReportStatus.DRAFT:
        raise _not_draft(report)
    counts = {k: int(data[k]) for k in ("applications", "granted", "refused")}
    if min(counts.values()) < 0 or counts["granted"] + counts["refused"] > counts["applications"]:
        raise Invalid(
            "准予与不予许可之和不能超过申请数 / granted + refused must not exceed applications",
            code="invalid_permits",
        )
    source = str(data["source"]).strip()
    if not source:
        raise Invalid("请填写数据来源 / source is required", code="invalid_permits")
    _refuse_personal_data({"permits_source": source})
    permits = {
        **counts,
        "source": source,
        "entered_by": actor.id,
        "entered_at": (now or clock.now()).astimezone(UTC).isoformat(),
        "note": f"由管理员依据{source}录入",
    }
    report.figures = {**report.figures, "permits": permits}
    if not report.narrative_edited:
        report.narrative = generate_narrative(report.figures)
    session.flush()
    _audit(session, report, actor, "permits_entered", client_addr, **counts, source=source)
    return report


_TEXT_LABELS = {"narrative": "叙述", "permits_source": "行政许可数据来源"}


def _public_text(report: AnnualReport) -> dict[str, str | None]:
    """The admin's own words, published as typed: the narrative and the permits' source."""
    permits = entered_permits(report.figures) or {}
    return {"narrative": report.narrative, "permits_source": permits.get("source")}


def _refuse_personal_data(texts: dict[str, str | None]) -> None:
    """Refuse public text while the scanner finds personal data in it, saying where."""
    found = redact.scan_fields(texts)
    if found:
        raise Conflict(
            "公开内容含疑似个人信息，请修改 / personal data found; fix it and try again",
            code="personal_data_found",
            details={"hits": [hit_dict(h, _TEXT_LABELS) for h in found]},
        )


def freeze(
    session: Session,
    report: AnnualReport,
    actor: User | None,
    *,
    client_addr: str = "",
    now: datetime | None = None,
) -> AnnualReport:
    """归档存底: record the hash of figures and narrative; they never change afterwards.

    Only after the year is over, and only when the draft still matches the database (409
    ``figures_changed`` asks for a re-draft, so what is frozen is what the admin reviewed).
    """
    now = now or clock.now()
    if report.status != ReportStatus.DRAFT:
        raise _not_draft(report)
    today = clock.today(now)
    if today <= date(report.year, 12, 31):
        raise Conflict(
            f"{report.year}年尚未结束，不能归档存底 / the year is not over yet",
            code="year_not_over",
        )
    current = _keep_entered(compute_figures(session, report.unit_id, report.year), report.figures)
    if canonical_json(current, "") != canonical_json(report.figures, ""):
        raise Conflict(
            "起草后数据有变化，请重新起草并核对叙述后再归档"
            " / the figures changed since the draft; draft again and review it",
            code="figures_changed",
        )
    _refuse_personal_data(_public_text(report))
    report.snapshot_sha256 = snapshot_hash(report.figures, report.narrative)
    report.status = ReportStatus.FROZEN
    report.frozen_at = now
    report.frozen_by = actor.id if actor else None
    report.frozen_late = today > freeze_deadline(report.year)
    session.flush()
    _audit(
        session,
        report,
        actor,
        "frozen",
        client_addr,
        snapshot_sha256=report.snapshot_sha256,
        frozen_late=report.frozen_late,
    )
    return report


def publish(
    session: Session,
    report: AnnualReport,
    actor: User | None,
    *,
    client_addr: str = "",
    now: datetime | None = None,
) -> AnnualReport:
    """Publish a frozen report (the public pages show it from now on); immutable afterwards."""
    if report.status != ReportStatus.FROZEN:
        if report.status == ReportStatus.DRAFT:
            raise Conflict(
                "须先归档存底再公开 / freeze the report before publishing it",
                code="report_not_frozen",
            )
        raise _not_draft(report)
    if not snapshot_intact(report):
        raise Conflict(
            "归档快照与哈希不符 / the archived snapshot does not match its hash",
            code="snapshot_mismatch",
        )
    _refuse_personal_data(_public_text(report))  # clean when frozen, unless the scanner learnt more
    report.status = ReportStatus.PUBLISHED
    report.published_at = now or clock.now()
    report.published_by = actor.id if actor else None
    session.flush()
    _audit(session, report, actor, "published", client_addr, snapshot_sha256=report.snapshot_sha256)
    return report


def published_report(session: Session, unit_id: int, year: int) -> AnnualReport | None:
    report = get_report(session, unit_id, year)
    return report if report is not None and report.status == ReportStatus.PUBLISHED else None


def published_years(session: Session, unit_id: int) -> list[int]:
    return list(
        session.execute(
            sa.select(AnnualReport.year)
            .where(
                AnnualReport.unit_id == unit_id,
                AnnualReport.status == ReportStatus.PUBLISHED,
            )
            .order_by(AnnualReport.year.desc())
        ).scalars()
    )


def first_unit_with_published(session: Session, year: int) -> Unit | None:
    """The default unit of ``/public/reports/<year>``: the first (by code) that published it."""
    return session.execute(
        sa.select(Unit)
        .join(AnnualReport, AnnualReport.unit_id == Unit.id)
        .where(AnnualReport.year == year, AnnualReport.status == ReportStatus.PUBLISHED)
        .order_by(Unit.code)
        .limit(1)
    ).scalar_one_or_none()


# --- the scheduled job ------------------------------------------------------------------------


@dataclass(frozen=True)
class Reminder:
    """Admins to remind that a unit's report of ``year`` is not published yet."""

    unit_id: int
    unit_code: str
    year: int
    status: str
    admins: list[str]  # usernames
    deadline: date
    overdue: bool  # not frozen and past the deadline


def due_drafts(session: Session, today: date) -> list[Reminder]:
    """From 1 January: draft last year's report for every unit that has none, and return the
    admins to remind of each unpublished one, once a day per unit (audited
    ``report.reminder``). Safe to run every minute."""
    year = today.year - 1
    now = datetime.combine(today, time(0), clock.ZONE)
    reminders = []
    for unit in session.execute(sa.select(Unit).order_by(Unit.id)).scalars():
        report = get_report(session, unit.id, year)
        if report is None:
            report = draft_report(session, unit.id, year, now=max(now, clock.now()))
        if report.status == ReportStatus.PUBLISHED or report.last_reminded_on == today:
            continue
        admins = list(
            session.execute(
                sa.select(User.username)
                .where(User.unit_id == unit.id, User.role == "admin", User.active.is_(True))
                .order_by(User.username)
            ).scalars()
        )
        deadline = freeze_deadline(year)
        reminder = Reminder(
            unit_id=unit.id,
            unit_code=unit.code,
            year=year,
            status=report.status,
            admins=admins,
            deadline=deadline,
            overdue=report.status == ReportStatus.DRAFT and today > deadline,
        )
        report.last_reminded_on = today
        session.flush()
        _audit(
            session,
            report,
            None,
            "reminder",
            "",
            status=report.status,
            admins=admins,
            deadline=deadline.isoformat(),
            overdue=reminder.overdue,
        )
        reminders.append(reminder)
    return reminders


def run_due_drafts(session: Session, now: datetime | None = None) -> list[Reminder]:
    """The periodic sweep's hook: ``due_drafts`` for today (Asia/Shanghai), reminders logged.
    The caller commits."""
    reminders = due_drafts(session, clock.today(now))
    for r in reminders:
        log.warning(
            "yearly report %s of unit %s is %s (freeze by %s%s); reminding %s",
            r.year,
            r.unit_code,
            r.status,
            r.deadline,
            ", overdue" if r.overdue else "",
            ", ".join(r.admins) or "no admin",
        )
    return reminders


# --- remedy outcomes --------------------------------------------------------------------------


def record_remedy_outcome(
    session: Session, actor: User, data: dict[str, Any], *, client_addr: str = ""
) -> RemedyOutcome:
    """Record a reconsideration or litigation outcome about a case of the actor's unit.

    ``data``: case_id, kind, outcome, decided_on (date), note.
    """
    if data["kind"] not in REMEDY_KINDS:
        raise Invalid(f"kind must be one of {', '.join(REMEDY_KINDS)}", code="invalid_kind")
    if data["outcome"] not in REMEDY_OUTCOMES:
        raise Invalid(
            f"outcome must be one of {', '.join(REMEDY_OUTCOMES)}", code="invalid_outcome"
        )
    case = session.get(Case, int(data["case_id"]))
    if case is None or case.unit_id != actor.unit_id:
        raise NotFound(f"case {data['case_id']} not found", code="case_not_found")
    row = RemedyOutcome(
        unit_id=case.unit_id,
        case_id=case.id,
        kind=data["kind"],
        outcome=data["outcome"],
        decided_on=data["decided_on"],
        note=(data.get("note") or "").strip(),
        recorded_by=actor.id,
        recorded_at=clock.now(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="remedy.recorded",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={
            "remedy_outcome_id": row.id,
            "kind": row.kind,
            "outcome": row.outcome,
            "decided_on": row.decided_on.isoformat(),
        },
    )
    return row


def remedy_outcomes(
    session: Session, unit_id: int, *, year: int | None = None, case_id: int | None = None
) -> list[RemedyOutcome]:
    query = sa.select(RemedyOutcome).where(RemedyOutcome.unit_id == unit_id)
    if year is not None:
        query = query.where(
            RemedyOutcome.decided_on >= date(year, 1, 1),
            RemedyOutcome.decided_on <= date(year, 12, 31),
        )
    if case_id is not None:
        query = query.where(RemedyOutcome.case_id == case_id)
    return list(
        session.execute(query.order_by(RemedyOutcome.decided_on, RemedyOutcome.id)).scalars()
    )


# --- rendering: rows (tables and CSV) ---------------------------------------------------------


@dataclass(frozen=True)
class FigureRow:
    key: str
    section: str
    label: str
    value: str
    unit: str = ""
    note: str = ""


def _n(value: Any) -> str:
    return "" if value is None else str(value)


def _pct_value(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}"


def _coercive_rows(cm: dict[str, Any]) -> list[FigureRow]:
    """行政强制措施: a count with its measures, or (figures of version 1) the not-recorded note."""
    if cm.get("count") is None:
        note = note_words(cm.get("note"))
        return [FigureRow("coercive_measures.count", "行政强制", "行政强制措施", "", "", note)]
    return [
        FigureRow(
            "coercive_measures.count",
            "行政强制",
            "行政强制措施",
            _n(cm["count"]),
            "次",
            note_words(cm.get("note")),
        ),
        *(
            FigureRow(
                f"coercive_measures.by_measure.{k}",
                "行政强制",
                f"行政强制措施：{label}",
                _n(cm["by_measure"].get(k, 0)),
                "次",
            )
            for k, label in COERCIVE_MEASURES.items()
        ),
    ]


def _permit_rows(figures: dict[str, Any]) -> list[FigureRow]:
    """行政许可 as entered by the admin, or one empty row noting it was not entered."""
    permits = entered_permits(figures)
    if permits is None:
        note = note_words(figures["permits"].get("note")) or PERMITS_NOTE
        return [FigureRow("permits.count", "行政许可", "行政许可", "", "", note)]
    note = note_words(permits.get("note"))
    return [
        FigureRow(
            "permits.applications",
            "行政许可",
            "行政许可申请",
            _n(permits["applications"]),
            "件",
            note,
        ),
        FigureRow("permits.granted", "行政许可", "准予许可", _n(permits["granted"]), "件", note),
        FigureRow("permits.refused", "行政许可", "不予许可", _n(permits["refused"]), "件", note),
        FigureRow("permits.source", "行政许可", "数据来源", permits["source"], "", note),
    ]


def _random_inspection_rows(ri: dict[str, Any] | None) -> list[FigureRow]:
    """随机抽查结果 (absent from figures of version 1)."""
    if ri is None:
        return []
    return [
        FigureRow(
            "inspections.random_inspections.total", "检查", "随机抽查结果", _n(ri["total"]), "户次"
        ),
        *(
            FigureRow(
                f"inspections.random_inspections.{k}",
                "检查",
                f"随机抽查结果：{label}",
                _n(ri["by_result"].get(k, 0)),
                "户次",
            )
            for k, label in RANDOM_INSPECTION_RESULTS.items()
        ),
    ]


def figure_rows(figures: dict[str, Any]) -> list[FigureRow]:
    """Every figure as one row (the CSV; the HTML tables show the same values)."""
    c, p, lr = figures["cases"], figures["penalties"], figures["legal_reviews"]
    rec, cred = figures["recording"], figures["credentials"]
    rows = [FigureRow("cases.total", "案件", "立案总数", _n(c["total"]), "件")]
    rows += [
        FigureRow(f"cases.by_procedure.{k}", "案件", PROCEDURE_LABELS[k], _n(v), "件")
        for k, v in c["by_procedure"].items()
        if k in PROCEDURE_LABELS
    ]
    rows += [
        FigureRow(
            f"cases.by_type.{t['type']}", "案件", f"案件类型：{t['type']}", _n(t["count"]), "件"
        )
        for t in c["by_type"]
    ]
    rows += [
        FigureRow(f"cases.by_month.{m:02d}", "案件", f"{m}月立案", _n(n), "件")
        for m, n in enumerate(c["by_month"], start=1)
    ]
    rows.append(
        FigureRow("penalties.decisions", "行政处罚", "处罚决定总数", _n(p["decisions"]), "件")
    )
    rows += [
        FigureRow(
            f"penalties.by_kind.{k}",
            "行政处罚",
            f"按最重处罚计：{PENALTY_LABELS[k]}",
            _n(p["by_kind"].get(k, 0)),
            "件",
        )
        for k in PENALTY_KINDS
    ]
    rows += [
        FigureRow("penalties.fine_total", "行政处罚", "罚款金额合计", p["fine_total"], "元"),
        FigureRow(
            "penalties.fined_decisions", "行政处罚", "含罚款的决定", _n(p["fined_decisions"]), "件"
        ),
    ]
    rows += [
        FigureRow(f"penalties.by_document.{k}", "行政处罚", DECISION_LABELS[k], _n(v), "件")
        for k, v in p["by_document"].items()
        if k in DECISION_LABELS
    ]
    rows += [
        FigureRow(f"penalties.by_month.{m:02d}", "行政处罚", f"{m}月处罚决定", _n(n), "件")
        for m, n in enumerate(p["by_month"], start=1)
    ]
    rows += [
        *_permit_rows(figures),
        *_coercive_rows(figures["coercive_measures"]),
        FigureRow(
            "evidence_preservation.count",
            "行政强制",
            "先行登记保存证据",
            _n(figures["evidence_preservation"]["count"]),
            "次",
        ),
        FigureRow(
            "inspections.cases", "检查", "现场检查案件", _n(figures["inspections"]["cases"]), "件"
        ),
        FigureRow(
            "inspections.random_inspection_cases",
            "检查",
            "随机抽查案件",
            _n(figures["inspections"]["random_inspection_cases"]),
            "件",
        ),
        *_random_inspection_rows(figures["inspections"].get("random_inspections")),
        FigureRow("legal_reviews.decided", "法制审核", "办结件次", _n(lr["decided"]), "件次"),
        FigureRow("legal_reviews.agreed", "法制审核", "同意", _n(lr["agreed"]), "件次"),
        FigureRow("legal_reviews.returned", "法制审核", "退回补正", _n(lr["returned"]), "件次"),
        FigureRow("legal_reviews.transfer", "法制审核", "建议移送", _n(lr["transfer"]), "件次"),
        FigureRow(
            "legal_reviews.returned_share",
            "法制审核",
            "退回率",
            _pct_value(lr["returned_share"]),
            "%",
        ),
        FigureRow(
            "legal_reviews.average_working_days",
            "法制审核",
            "平均用时",
            _n(lr["average_working_days"]),
            "工作日",
        ),
        FigureRow("recording.cases", "音像记录", "涉及案件", _n(rec["cases"]), "件"),
        FigureRow("recording.checks", "音像记录", "须音像记录的事项", _n(rec["checks"]), "项"),
        FigureRow("recording.met", "音像记录", "已按要求记录", _n(rec["met"]), "项"),
        FigureRow("recording.share", "音像记录", "音像记录覆盖率", _pct_value(rec["share"]), "%"),
        FigureRow("credentials.officers", "执法人员", "执法人员", _n(cred["officers"]), "人"),
        FigureRow(
            "credentials.certified",
            "执法人员",
            f"持有效执法证（{cred['as_of']}）",
            _n(cred["certified"]),
            "人",
        ),
        FigureRow("credentials.share", "执法人员", "持证率", _pct_value(cred["share"]), "%"),
        FigureRow("hearings.count", "听证", "举行听证", _n(figures["hearings"]["count"]), "次"),
    ]
    for kind, label in REMEDY_KINDS.items():
        entry = figures["remedies"][kind]
        rows.append(
            FigureRow(f"remedies.{kind}.total", label, f"{label}结果", _n(entry["total"]), "件")
        )
        rows += [
            FigureRow(
                f"remedies.{kind}.{outcome}",
                label,
                f"{label}：{word}",
                _n(entry["by_outcome"].get(outcome, 0)),
                "件",
            )
            for outcome, word in REMEDY_OUTCOMES.items()
        ]
    return rows


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas: a cell never starts with = + - @."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value


CSV_HEADER = ("指标代码 key", "类别 section", "指标 figure", "数值 value", "单位 unit", "说明 note")


def to_csv(report: AnnualReport) -> bytes:
    """The report's figures, one row per figure, after three rows naming the report and its
    snapshot hash; UTF-8 with BOM so spreadsheet programs read the Chinese."""
    figures = report.figures
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    meta = [
        FigureRow("report.unit", "年报", "单位", figures["unit"]["name"]),
        FigureRow("report.year", "年报", "年度", str(report.year)),
        FigureRow(
            "report.snapshot_sha256", "年报", "快照哈希 SHA-256", report.snapshot_sha256 or ""
        ),
    ]
    for row in [*meta, *figure_rows(figures)]:
        writer.writerow(
            [_cell(row.key), row.section, _cell(row.label), _cell(row.value), row.unit, row.note]
        )
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


# --- rendering: charts ------------------------------------------------------------------------

CHART_NAMES: tuple[str, ...] = ("penalties", "case-types", "months", "shares")
CHART_TITLES = {
    "penalties": "行政处罚决定（按最重处罚种类）",
    "case-types": "立案案件（按案件类型）",
    "months": "各月立案与处罚决定",
    "shares": "音像记录、持证与法制审核退回",
}
_BLUE = "#0b4f9c"
_ORANGE = "#a34700"
_GRID = "#d0d0d0"
_INK = "#1b1b1b"
_WIDTH = 320
_TEXT = 13  # label size at 1:1 on a 360 px phone
_SMALL = 12
_SVG_FONTS = (
    "system-ui, -apple-system, 'PingFang SC', 'Hiragino Sans GB', 'Microsoft YaHei', "
    "'Noto Sans CJK SC', 'Source Han Sans SC', sans-serif"
)


def _nice_axis(top: int) -> tuple[int, int]:
    """(max, step) of a count axis with at most about five integer steps."""
    top = max(top, 1)
    step = max(1, -(-top // 5))
    return step * -(-top // step), step


def _fit(text: str, font: str, size: float, width: float) -> str:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _frame(title: str, height: float, font: str) -> Any:
    from reportlab.graphics.shapes import Drawing, Rect, String
    from reportlab.lib import colors

    d = Drawing(_WIDTH, height)
    d.add(Rect(0, 0, _WIDTH, height, fillColor=colors.white, strokeColor=None))
    d.add(
        String(10, height - 24, title, fontName=font, fontSize=16, fillColor=colors.HexColor(_INK))
    )
    return d


def _no_data(title: str, font: str) -> Any:
    from reportlab.graphics.shapes import String
    from reportlab.lib import colors

    d = _frame(title, 90, font)
    d.add(
        String(
            10, 36, "本年度无数据", fontName=font, fontSize=_TEXT, fillColor=colors.HexColor(_INK)
        )
    )
    return d


def _bars(title: str, labels: list[str], values: list[int], font: str, color: str) -> Any:
    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.lib import colors
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if not labels:
        return _no_data(title, font)
    labels = [_fit(label, font, _TEXT, 110) for label in labels]
    label_w = max(stringWidth(label, font, _TEXT) for label in labels) + 10
    row, top, bottom = 32, 42, 28
    height = top + row * len(labels) + bottom
    d = _frame(title, height, font)
    chart = HorizontalBarChart()
    chart.x, chart.y = label_w + 4, bottom
    chart.width, chart.height = _WIDTH - chart.x - 30, row * len(labels)
    chart.data = [values]
    chart.categoryAxis.categoryNames = labels
    chart.categoryAxis.reverseDirection = 1  # the first category at the top
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = _TEXT
    chart.categoryAxis.labels.boxAnchor = "e"
    chart.categoryAxis.labels.dx = -4
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax, chart.valueAxis.valueStep = _nice_axis(max(values))
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = _SMALL
    chart.valueAxis.visibleGrid = 1
    chart.valueAxis.gridStrokeColor = colors.HexColor(_GRID)
    chart.bars[0].fillColor = colors.HexColor(color)
    chart.bars[0].strokeColor = None
    chart.barLabelFormat = "%d"
    chart.barLabels.fontName = font
    chart.barLabels.fontSize = _SMALL
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 3
    d.add(chart)
    return d


def _months(figures: dict[str, Any], font: str) -> Any:
    from reportlab.graphics.charts.linecharts import HorizontalLineChart
    from reportlab.graphics.shapes import Line, String
    from reportlab.graphics.widgets.markers import makeMarker
    from reportlab.lib import colors

    cases, decisions = figures["cases"]["by_month"], figures["penalties"]["by_month"]
    height = 270
    d = _frame(CHART_TITLES["months"], height, font)
    chart = HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = 30, 44, _WIDTH - 50, height - 120
    chart.data = [cases, decisions]
    chart.categoryAxis.categoryNames = [str(m) for m in range(1, 13)]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = _SMALL
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax, chart.valueAxis.valueStep = _nice_axis(max(*cases, *decisions))
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = _SMALL
    chart.valueAxis.visibleGrid = 1
    chart.valueAxis.gridStrokeColor = colors.HexColor(_GRID)
    for i, (color, marker) in enumerate(((_BLUE, "FilledCircle"), (_ORANGE, "FilledSquare"))):
        chart.lines[i].strokeColor = colors.HexColor(color)
        chart.lines[i].strokeWidth = 2.5
        chart.lines[i].symbol = makeMarker(marker, size=6, fillColor=colors.HexColor(color))
    d.add(chart)
    d.add(String(_WIDTH - 6, 12, "（月）", fontName=font, fontSize=_SMALL, textAnchor="end"))
    y = height - 52  # the legend, under the title
    for x, color, label in ((12, _BLUE, "立案案件"), (130, _ORANGE, "处罚决定")):
        d.add(Line(x, y + 5, x + 24, y + 5, strokeColor=colors.HexColor(color), strokeWidth=3))
        d.add(String(x + 30, y, label, fontName=font, fontSize=_TEXT))
    return d


def _share_rows(figures: dict[str, Any]) -> list[tuple[str, float | None, str]]:
    rec, cred, lr = figures["recording"], figures["credentials"], figures["legal_reviews"]
    return [
        ("音像记录覆盖率", rec["share"], f"{rec['met']}/{rec['checks']}项"),
        ("执法人员持证率", cred["share"], f"{cred['certified']}/{cred['officers']}人"),
        ("法制审核退回率", lr["returned_share"], f"{lr['returned']}/{lr['decided']}件次"),
    ]


def _shares(figures: dict[str, Any], font: str) -> Any:
    from reportlab.graphics.shapes import Rect, String
    from reportlab.lib import colors

    rows = _share_rows(figures)
    row_h, top, bar_h = 60, 44, 18
    height = top + row_h * len(rows) + 6
    d = _frame(CHART_TITLES["shares"], height, font)
    bar_x, bar_w = 10, _WIDTH - 20
    for i, (label, share, detail) in enumerate(rows):
        y = height - top - row_h * (i + 1) + 10
        text = f"{label} {percent(share)}"
        d.add(String(bar_x, y + bar_h + 8, text, fontName=font, fontSize=_TEXT))
        d.add(
            String(
                bar_x + bar_w,
                y + bar_h + 8,
                detail,
                fontName=font,
                fontSize=_SMALL,
                textAnchor="end",
                fillColor=colors.HexColor("#404040"),
            )
        )
        track = colors.HexColor("#e6e9ee")
        edge = colors.HexColor("#767676")
        d.add(Rect(bar_x, y, bar_w, bar_h, fillColor=track, strokeColor=edge, strokeWidth=0.5))
        if share:
            filled = bar_w * min(share, 1.0)
            d.add(Rect(bar_x, y, filled, bar_h, fillColor=colors.HexColor(_BLUE), strokeColor=None))
    return d


def chart_drawing(figures: dict[str, Any], name: str, font: str) -> Any:
    """The reportlab Drawing of one chart (the same drawing goes to SVG and into the PDF)."""
    if name == "penalties":
        by_kind = figures["penalties"]["by_kind"]
        return _bars(
            CHART_TITLES[name],
            [PENALTY_LABELS[k] for k in PENALTY_KINDS],
            [int(by_kind.get(k, 0)) for k in PENALTY_KINDS],
            font,
            _BLUE,
        )
    if name == "case-types":
        types = figures["cases"]["by_type"][:12]
        return _bars(
            CHART_TITLES[name],
            [t["type"] for t in types],
            [int(t["count"]) for t in types],
            font,
            _BLUE,
        )
    if name == "months":
        return _months(figures, font)
    if name == "shares":
        return _shares(figures, font)
    raise NotFound(f"no chart {name!r}", code="chart_not_found")


def chart_alt(figures: dict[str, Any], name: str) -> str:
    """The text alternative of a chart: its title and every value it shows."""
    title = CHART_TITLES[name]
    if name == "penalties":
        by_kind = figures["penalties"]["by_kind"]
        body = "，".join(f"{PENALTY_LABELS[k]}{by_kind.get(k, 0)}件" for k in PENALTY_KINDS)
    elif name == "case-types":
        body = "，".join(f"{t['type']}{t['count']}件" for t in figures["cases"]["by_type"])
        body = body or "无"
    elif name == "months":
        cases, decisions = figures["cases"]["by_month"], figures["penalties"]["by_month"]
        body = "，".join(
            f"{m}月立案{c}件、处罚{p}件"
            for m, c, p in zip(range(1, 13), cases, decisions, strict=True)
        )
    else:
        body = "，".join(
            f"{label}{percent(share)}（{detail}）" for label, share, detail in _share_rows(figures)
        )
    return f"{title}：{body}"


def chart_svg(figures: dict[str, Any], name: str) -> str:
    """One chart as SVG for the HTML page, with a title, a description and CJK-capable fonts."""
    from reportlab.graphics import renderSVG

    from ..services.custody_export import pdf_font

    font = pdf_font(None)  # metrics for laying out the labels; the browser picks the face
    svg = renderSVG.drawToString(chart_drawing(figures, name, font))
    svg = re.sub(r"font-family: [^;\"]+", f"font-family: {_SVG_FONTS}", svg)
    svg = svg.replace("<title>...</title>", f"<title>{escape(CHART_TITLES[name])}</title>", 1)
    return svg.replace("<desc>...</desc>", f"<desc>{escape(chart_alt(figures, name))}</desc>", 1)


# --- rendering: PDF ---------------------------------------------------------------------------


def local_time(at: datetime | None) -> str:
    return at.astimezone(clock.ZONE).strftime("%Y-%m-%d %H:%M") if at else ""


def report_title(figures: dict[str, Any]) -> str:
    return f"{figures['unit']['name']}{figures['year']}年度行政执法统计年报"


def to_pdf(report: AnnualReport, *, font_path: str | None = None) -> bytes:
    """The published report as an A4 PDF: narrative, tables and the same charts as the page;
    every page carries the snapshot hash."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table
    from reportlab.platypus.tables import TableStyle

    from ..services.custody_export import pdf_font

    font = pdf_font(font_path)
    figures = report.figures
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=15, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=11)
    title = ParagraphStyle("title", fontName=font, fontSize=17, leading=24, spaceAfter=6)
    heading = ParagraphStyle(
        "heading", fontName=font, fontSize=12.5, leading=18, spaceBefore=10, spaceAfter=4
    )
    width = A4[0] - 36 * mm

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text), style)

    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    story: list[Any] = [
        p(report_title(figures), title),
        p(
            f"统计期间：{figures['period']['from']} 至 {figures['period']['to']}（北京时间）；"
            f"归档存底：{local_time(report.frozen_at)}；公开发布：{local_time(report.published_at)}",
            small,
        ),
        p(f"快照哈希 SHA-256：{report.snapshot_sha256}", small),
        p("概述", heading),
        *(p(line) for line in report.narrative.splitlines() if line.strip()),
    ]
    sections: dict[str, list[FigureRow]] = {}
    for row in figure_rows(figures):
        if ".by_month." in row.key:
            continue  # shown in the chart and the monthly table below
        sections.setdefault(row.section, []).append(row)
    for section, rows in sections.items():
        table = Table(
            [[p("指标"), p("数值"), p("说明")]]
            + [
                [p(r.label), p(f"{r.value} {r.unit}".strip() if r.value else "—"), p(r.note, small)]
                for r in rows
            ],
            colWidths=[width * 0.42, width * 0.2, width * 0.38],
            repeatRows=1,
        )
        table.setStyle(grid)
        story += [KeepTogether([p(section, heading), table])]
    months = Table(
        [[p("月份"), p("立案案件"), p("处罚决定")]]
        + [
            [p(f"{m}月"), p(str(c)), p(str(d))]
            for m, c, d in zip(
                range(1, 13),
                figures["cases"]["by_month"],
                figures["penalties"]["by_month"],
                strict=True,
            )
        ],
        colWidths=[width / 3] * 3,
        repeatRows=1,
    )
    months.setStyle(grid)
    story += [KeepTogether([p("各月情况", heading), months]), p("图表", heading)]
    for name in CHART_NAMES:
        story += [chart_drawing(figures, name, font), Spacer(1, 6 * mm)]

    stamp = f"快照哈希 SHA-256 {report.snapshot_sha256}"

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.drawString(18 * mm, 9 * mm, stamp)
        canvas.drawRightString(A4[0] - 18 * mm, 9 * mm, f"第 {doc.page} 页")
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=report_title(figures),
        author=figures["unit"]["name"],
        subject=f"SHA-256 {report.snapshot_sha256}",
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


@chore("report_reminders", order=30)
def _report_chore(ctx: ChoreContext) -> int:
    """执法统计年报: draft last year's on 1 January, remind daily until it is published."""
    return len(run_due_drafts(ctx.session, ctx.now))
