"""Case workflow: what each stage needs, the completeness report, and moving a case on.

The rules are data (``server/workflow``); this module gathers the facts of one case once and
evaluates every requirement against them, so the completeness report, the stage gate and the
console's gap list all say the same thing in the same words.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, object_session

from .. import clock
from ..domain import ACTIVITY_LABELS, PROCEDURE_LABELS, STAGE_LABELS, MediaStatus, Stage
from ..errors import Conflict, Forbidden, Invalid
from ..models import (
    Case,
    CaseStage,
    Document,
    LegalReview,
    MajorDecisionItem,
    MediaItem,
    User,
)
from ..workflow.coverage import Interval, minutes_and_seconds, recording_interval, uncovered
from ..workflow.rules import OVERRIDE_ROLES, Requirement, path, recording_rules, transition_from
from . import audit

ROLE_LABELS = {
    "officer": "执法人员",
    "supervisor": "执法机构负责人",
    "legal": "法制审核人员",
    "leader": "机关负责人",
    "admin": "管理员",
}
MEDIA_LABELS = {"video": "视频", "audio": "录音", "photo": "照片"}


def doc_title_en(code: str) -> str:
    from ..documents.registry import DOCUMENT_TYPES

    doc_type = DOCUMENT_TYPES.get(code)
    return f"“{doc_type.title['en']}”" if doc_type else code


def doc_title(code: str) -> str:
    from ..documents.registry import DOCUMENT_TYPES

    doc_type = DOCUMENT_TYPES.get(code)
    return f"《{doc_type.title['zh']}》" if doc_type else f"《{code}》"


@dataclass
class CaseFacts:
    """Everything the rules look at, gathered with a few queries."""

    case: Case
    reached: list[str]
    # (stage, activity) -> media kinds present; stage -> kinds present.
    kinds: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    stage_kinds: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    recordings: dict[str, str] = field(default_factory=dict)  # media id -> kind
    # kind -> when each recording of that kind ran, whatever stage it is attached to.
    timeline: dict[str, list[Interval]] = field(default_factory=lambda: defaultdict(list))
    issued: dict[str, list[Document]] = field(default_factory=lambda: defaultdict(list))
    review: LegalReview | None = None
    # stage -> when its first recording of an on-site activity began (执法人员不得少于两人),
    # and the case's officers' standing then: (met, message zh, message en).
    onsite_first: dict[str, datetime] = field(default_factory=dict)
    team: dict[str, tuple[bool, str, str]] = field(default_factory=dict)


def item_stage(chosen: str | None, attached: str | None, steps: dict | None) -> str | None:
    """Where an item counts: the pipeline's placement once done, else the officer's choice."""
    attach_done = (steps or {}).get("attach", {}).get("state") == "done"
    return attached if attach_done else chosen


def gather(session: Session, case: Case) -> CaseFacts:
    reached = list(
        session.execute(
            sa.select(CaseStage.stage)
            .where(CaseStage.case_id == case.id)
            .order_by(CaseStage.started_at, CaseStage.id)
        ).scalars()
    )
    facts = CaseFacts(case=case, reached=reached)
    rows = session.execute(
        sa.select(
            MediaItem.id,
            MediaItem.kind,
            MediaItem.activity,
            MediaItem.stage,
            MediaItem.attached_stage,
            MediaItem.steps,
            MediaItem.captured_at,
            MediaItem.duration_s,
            MediaItem.captured_end_at,
        ).where(MediaItem.case_id == case.id, MediaItem.status != MediaStatus.HASH_MISMATCH)
    )
    onsite = set(recording_rules()["officers"]["activities"])
    for item_id, kind, activity, chosen, attached, steps, start, duration, end in rows:
        facts.recordings[item_id] = kind
        facts.timeline[kind].append(recording_interval(start, duration, end))
        stage = item_stage(chosen, attached, steps)
        if stage is None:
            continue
        facts.kinds[(stage, activity)].add(kind)
        facts.stage_kinds[stage].add(kind)
        first = facts.onsite_first.get(stage)
        if activity in onsite and (first is None or start < first):
            facts.onsite_first[stage] = start
    if facts.onsite_first:
        from . import case_team

        required = case_team.credential_required()
        for stage, at in facts.onsite_first.items():
            found = case_team.team(session, case, at, required=required)
            facts.team[stage] = (found["enough"], found["message"], found["message_en"])
    for doc in session.execute(
        sa.select(Document)
        .where(Document.case_id == case.id, Document.status == "issued")
        .order_by(Document.issued_at)
    ).scalars():
        facts.issued[doc.doc_type].append(doc)
    facts.review = latest_review(session, case.id)
    return facts


def latest_review(session: Session, case_id: int) -> LegalReview | None:
    return session.execute(
        sa.select(LegalReview)
        .where(LegalReview.case_id == case_id)
        .order_by(LegalReview.round.desc())
        .limit(1)
    ).scalar_one_or_none()


# --- major decisions and the legal-review obligation ------------------------------------------


def penalty_kinds(draft: dict[str, Any] | None) -> set[str]:
    return {p.get("kind", "") for p in (draft or {}).get("penalties", [])}


def fine_total(draft: dict[str, Any] | None) -> float:
    return sum(float(p.get("amount") or 0) for p in (draft or {}).get("penalties", []))


def matching_major_items(session: Session, case: Case) -> list[MajorDecisionItem]:
    """The unit's major-decision list entries this case's draft decision falls under."""
    items = session.execute(
        sa.select(MajorDecisionItem).where(
            MajorDecisionItem.unit_id == case.unit_id, MajorDecisionItem.active.is_(True)
        )
    ).scalars()
    kinds, fine = penalty_kinds(case.decision_draft), fine_total(case.decision_draft)
    found = []
    for item in items:
        if (
            (item.penalty_kinds and kinds & set(item.penalty_kinds))
            or (item.min_fine is not None and fine >= item.min_fine)
            or (item.case_types and case.case_type in item.case_types)
        ):
            found.append(item)
    return found


def needs_legal_review(case: Case) -> bool:
    """Any penalty under the general procedure, and every major decision."""
    if case.is_major:
        return True
    if case.procedure != "general":
        return False
    draft = case.decision_draft
    return draft is None or bool(draft.get("penalties"))


# --- requirements -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    code: str
    kind: str
    met: bool
    message: str
    message_en: str
    overridable: bool = True
    activity: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "activity": self.activity,
            "kind": self.kind,
            "met": self.met,
            "message": self.message,
            "message_en": self.message_en,
            "overridable": self.overridable,
        }


def _check_requirement(req: Requirement, facts: CaseFacts) -> Check:
    overridable = req.get("overridable", True)
    kind = req["kind"]
    if kind == "document":
        # What is met is said as met (已出具…), what is missing as missing (须出具…).
        if "any_of" in req:
            issued = [t for t in req["any_of"] if facts.issued.get(t)]
            if issued:
                return Check(
                    "document_missing",
                    kind,
                    True,
                    "已出具" + "、".join(doc_title(t) for t in issued),
                    "issued: " + ", ".join(doc_title_en(t) for t in issued),
                    overridable,
                )
            return Check(
                "document_missing",
                kind,
                False,
                "须出具" + "或".join(doc_title(t) for t in req["any_of"]),
                "issue one of: " + " or ".join(doc_title_en(t) for t in req["any_of"]),
                overridable,
            )
        missing = [t for t in req["types"] if not facts.issued.get(t)]
        if not missing:
            return Check(
                "document_missing",
                kind,
                True,
                "已出具" + "、".join(doc_title(t) for t in req["types"]),
                "issued: " + ", ".join(doc_title_en(t) for t in req["types"]),
                overridable,
            )
        return Check(
            "document_missing",
            kind,
            False,
            "须出具" + "、".join(doc_title(t) for t in missing),
            "issue: " + ", ".join(doc_title_en(t) for t in missing),
            overridable,
        )
    if kind == "legal_review":
        required = needs_legal_review(facts.case)
        status = facts.review.status if facts.review else None
        if not required:
            return Check(
                "legal_review", kind, True, "无需法制审核", "no legal review needed", False
            )
        words = {
            None: ("尚未提交法制审核", "not submitted"),
            "submitted": ("法制审核尚在进行中", "under review"),
            "returned": ("法制审核退回补正，须修改后重新提交", "returned for correction"),
            "transfer": ("法制审核建议移送司法机关", "transfer to judicial authorities advised"),
        }
        if status == "agreed":
            return Check(
                "legal_review_required", kind, True, "法制审核已同意", "legal review agreed", False
            )
        # Only a case on the major-decision list is a 重大执法决定; the others need the review
        # because the unit reviews every penalty of the general procedure.
        if facts.case.is_major:
            zh, en = "重大执法决定须经法制审核同意", "a major decision needs an agreed legal review"
        else:
            zh, en = "作出行政处罚决定前须经法制审核同意", "an agreed legal review is required"
        now_zh, now_en = words.get(status, ("法制审核未同意", "not agreed"))
        return Check(
            "legal_review_required", kind, False, f"{zh}：{now_zh}", f"{en} (now: {now_en})", False
        )
    if kind == "collective_discussion":
        record = doc_title("collective_discussion_record")
        if not facts.case.is_major:
            zh, en = "非重大执法决定，无需集体讨论", "not a major decision: no discussion needed"
        elif facts.issued.get("collective_discussion_record"):
            zh, en = f"已出具{record}", "the collective discussion record is issued"
        else:
            zh = f"重大执法决定须经集体讨论：须出具{record}"
            en = "a major decision needs the collective discussion record"
        met = not facts.case.is_major or bool(facts.issued.get("collective_discussion_record"))
        return Check("collective_discussion_required", kind, met, zh, en, False)
    if kind == "recording":
        # 简易程序: the on-the-spot penalty is filmed before the decision is made.
        have = facts.stage_kinds.get(req["stage"], set()) & set(req["needs"])
        return Check(
            "onsite_not_filmed",
            kind,
            bool(have),
            req["message"]["zh"],
            req["message"]["en"],
            overridable,
        )
    if kind == "execution_record":
        if facts.case.execution_records:
            return Check(
                "execution_record_missing",
                kind,
                True,
                "已登记执行情况",
                "the execution is recorded",
                overridable,
            )
        return Check(
            "execution_record_missing",
            kind,
            False,
            "须登记执行情况（缴纳罚款或申请强制执行）",
            "record the execution (payment or compulsory execution application)",
            overridable,
        )
    raise ValueError(f"unknown requirement kind {kind!r}")


def recording_checks(facts: CaseFacts, stage: str) -> list[Check]:
    """The recording rules (执法全过程记录) applied to one stage."""
    rules = recording_rules()
    label = STAGE_LABELS[stage]["zh"]
    checks: list[Check] = []
    for rule in rules["activities"]:
        activity = rule["activity"]
        found = facts.kinds.get((stage, activity))
        if found is None:
            continue  # nothing recorded for this activity in this stage
        met = bool(found & set(rule["needs"]))
        what = f"{label}环节的{ACTIVITY_LABELS[activity]['zh']}"
        checks.append(
            Check(
                "activity_not_filmed",
                "recording",
                met,
                f"{what}已有音像记录" if met else f"{what}须全程音像记录，但只有照片或文书",
                f"{activity} in {stage} is filmed or audio-recorded"
                if met
                else f"{activity} in {stage} must be filmed or audio-recorded",
                True,
                activity,
            )
        )
    for rule in rules["documents"]:
        for doc in facts.issued.get(rule["document"], []):
            if doc.stage != stage:
                continue
            needs = set(rule["needs"])
            linked = (doc.fields or {}).get(rule.get("link_field") or "", None)
            if linked:
                met = facts.recordings.get(linked) in needs
            elif rule["activity"]:
                met = bool(facts.kinds.get((stage, rule["activity"]), set()) & needs)
            else:
                # "stages": recordings of these stages count too (the on-the-spot penalty is
                # filmed from the first contact, before the case reaches its decision).
                kinds = set(facts.stage_kinds.get(stage, set()))
                for other in rule.get("stages", []):
                    kinds |= facts.stage_kinds.get(other, set())
                met = bool(kinds & needs)
            number = doc.number or "草稿"
            checks.append(
                Check(
                    "document_not_filmed",
                    "recording",
                    met,
                    f"{doc_title(rule['document'])}已附音像记录（{number}）"
                    if met
                    else f"{rule['message']['zh']}（{number}）",
                    f"{doc_title_en(rule['document'])} has its recording"
                    if met
                    else rule["message"]["en"],
                    True,
                )
            )
    checks += continuity_checks(facts, stage)
    major = rules["major_property"]
    if facts.case.major_property and stage in major["stages"]:
        met = bool(facts.stage_kinds.get(stage, set()) & set(major["needs"]))
        checks.append(
            Check(
                "major_property_no_video",
                "recording",
                met,
                f"{label}环节已有视频记录（涉及重大财产权益）"
                if met
                else major["message"]["zh"].format(stage=label),
                f"{stage} has video (major property interests)"
                if met
                else major["message"]["en"].format(stage=stage),
                True,
            )
        )
    return checks


def team_checks(facts: CaseFacts, stage: str) -> list[Check]:
    """执法人员不得少于两人: a stage with on-site recordings needs two certified officers.

    Kept apart from recording_checks: the yearly report's recording coverage (音像记录覆盖率)
    counts the recording rules only; the gate and the gap list count both."""
    if stage not in facts.team:
        return []
    enough, zh, en = facts.team[stage]
    label = STAGE_LABELS[stage]["zh"]
    return [
        Check(
            "too_few_officers",
            "officers",
            enough,
            zh or f"{label}环节的现场执法有至少两名持有效执法证的执法人员",
            en or "enough certified officers on site",
            True,
        )
    ]


def _field_time(value: Any) -> datetime | None:
    """A document's time field (ISO 8601); without a zone it is Beijing time."""
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=clock.ZONE)


def _clock(at: datetime) -> str:
    return at.astimezone(clock.ZONE).strftime("%H:%M:%S")


def continuity_checks(facts: CaseFacts, stage: str) -> list[Check]:
    """Records that state when an activity began and ended, against when the recordings ran.

    Recordings count by their time, whatever stage they were attached to: a hearing filmed
    from start to end is recorded even if a clip sits under another stage.
    """
    rules = recording_rules()["continuous"]
    tolerance = timedelta(seconds=rules["max_gap_s"])
    checks: list[Check] = []
    for rule in rules["documents"]:
        if rule["major_property_only"] and not facts.case.major_property:
            continue
        recorded = [span for kind in rule["needs"] for span in facts.timeline.get(kind, [])]
        for doc in facts.issued.get(rule["document"], []):
            if doc.stage != stage:
                continue
            values = doc.fields or {}
            start, end = _field_time(values.get(rule["from"])), _field_time(values.get(rule["to"]))
            label = f"{rule['message']['zh']}（{doc.number or doc_title(doc.doc_type)}）"
            if start is None or end is None or end <= start:
                met, zh, en = (
                    False,
                    f"{label}：笔录未写明起止时间，无法核对",
                    "no start and end time",
                )
            else:
                holes = uncovered((start, end), recorded, tolerance=tolerance)
                met = not holes
                span = f"{_clock(start)}至{_clock(end)}"
                if holes:
                    zh = (
                        f"{label}：{span}间"
                        + "、".join(
                            f"{_clock(a)}–{_clock(b)}（{minutes_and_seconds(b - a)}）"
                            for a, b in holes
                        )
                        + "无音像记录"
                    )
                    en = "unrecorded " + ", ".join(f"{_clock(a)}–{_clock(b)}" for a, b in holes)
                else:
                    zh, en = f"{label}：{span}已全程记录", "recorded throughout"
            checks.append(
                Check(
                    "recording_not_continuous",
                    "recording",
                    met,
                    zh,
                    f"{rule['message']['en']} ({en})",
                    True,
                )
            )
    return checks


CASE_FILE_EMPTY = {
    "zh": "案卷中没有任何已出具的执法文书或音像记录，不能归档：请先出具《结案报告》写明结案情况",
    "en": "the case file holds no issued document and no recording: issue the closing report",
}


def case_file_check(facts: CaseFacts) -> Check:
    """Archiving seals the case file and issues its catalogue (案卷目录) of the issued
    documents and recordings; with neither there is nothing to seal or list. Not overridable:
    a reason given at the stage move would be all the file holds, so the 结案报告 says it."""
    met = any(facts.issued.values()) or bool(facts.recordings)
    return Check(
        "case_file_empty",
        "case_file",
        met,
        "案卷中已有执法文书或音像记录" if met else CASE_FILE_EMPTY["zh"],
        "the case file holds documents or recordings" if met else CASE_FILE_EMPTY["en"],
        False,
    )


def stage_checks(facts: CaseFacts, stage: str) -> list[Check]:
    """Everything that must be in place before the case may leave ``stage``."""
    transition = transition_from(facts.case.procedure, stage)
    checks = [_check_requirement(r, facts) for r in (transition.needs if transition else ())]
    if transition and transition.target == Stage.ARCHIVE:
        checks.append(case_file_check(facts))
    return checks + recording_checks(facts, stage) + team_checks(facts, stage)


def completeness(session: Session, case: Case) -> dict[str, Any]:
    facts = gather(session, case)
    stages = []
    for stage in path(case.procedure):
        checks = stage_checks(facts, stage)
        stages.append(
            {
                "stage": stage,
                "label": STAGE_LABELS[stage],
                "reached": stage in facts.reached,
                "current": stage == case.current_stage,
                "requirements": [c.as_dict() for c in checks],
                "missing": [c.message for c in checks if not c.met],
            }
        )
    transition = transition_from(case.procedure, case.current_stage)
    current = (
        next(s for s in stages if s["current"])
        if case.current_stage in path(case.procedure)
        else None
    )
    return {
        "case_id": case.id,
        "procedure": case.procedure,
        "procedure_label": PROCEDURE_LABELS[case.procedure],
        "current_stage": case.current_stage,
        "next_stage": transition.target if transition else None,
        "next_stage_roles": sorted(transition.roles) if transition else [],
        "can_advance": bool(transition and current and not current["missing"]),
        "legal_review_required": needs_legal_review(case),
        "stages": stages,
    }


def gaps(session: Session, case: Case) -> list[dict[str, Any]]:
    """Unmet recording rules over every stage the case has reached (the console's gaps)."""
    facts = gather(session, case)
    found = []
    for stage in facts.reached:
        for check in recording_checks(facts, stage) + team_checks(facts, stage):
            if not check.met:
                found.append(
                    {
                        "code": check.code,
                        "stage": stage,
                        "activity": check.activity,
                        "message": check.message,
                        "message_en": check.message_en,
                    }
                )
    return found


# --- moving the case -----------------------------------------------------------------------------


def ensure_open(case: Case) -> None:
    """Refuse a write to an archived case.

    First locks the case row until the transaction ends (``FOR UPDATE`` on PostgreSQL; on
    SQLite every transaction already writes alone) and re-reads it, so writers to one case
    take turns and each sees what the one before committed: a document cannot be issued
    into a case archived a moment ago, and two moves to the same stage give one 409, not a
    500. Every write path calls this before anything else, before the audit chain's lock.
    """
    session = object_session(case)
    if session is not None:
        session.refresh(case, with_for_update=True)
    if case.archived_at is not None:
        raise Conflict(
            f"案件 {case.number} 已归档，不能再修改 / the case is archived and read-only",
            code="case_archived",
        )


def _may_act(user: User, case: Case) -> bool:
    if user.role == "officer":
        return any(o.id == user.id for o in case.officers)
    return case.unit_id == user.unit_id


def advance_stage(
    session: Session,
    user: User,
    case: Case,
    to_stage: str,
    reason: str,
    *,
    override_reason: str | None = None,
    client_addr: str = "",
) -> Case:
    """Move the case to its next stage if the user's role may and nothing is missing."""
    ensure_open(case)
    if not _may_act(user, case):
        raise Forbidden("you may not change this case", code="not_assigned")
    try:
        target = Stage(to_stage)
    except ValueError:
        raise Invalid(f"unknown stage {to_stage!r}", code="invalid_stage") from None
    current = Stage(case.current_stage)
    if target.order <= current.order:
        raise Conflict(
            f"the case is already at {current.value}; stages only move forward",
            code="stage_not_forward",
        )
    transition = transition_from(case.procedure, current.value)
    if transition is None or transition.target != target.value:
        allowed = transition.target if transition else "—"
        raise Conflict(
            f"{PROCEDURE_LABELS[case.procedure]['zh']}中，{STAGE_LABELS[current]['zh']}之后是"
            f"{STAGE_LABELS[allowed]['zh'] if transition else '结束'} / next stage is {allowed}",
            code="transition_not_allowed",
            details={"next_stage": transition.target if transition else None},
        )
    if user.role not in transition.roles:
        who = "、".join(ROLE_LABELS[r] for r in sorted(transition.roles))
        raise Forbidden(
            f"只有{who}可以将案件从{STAGE_LABELS[current]['zh']}推进到"
            f"{STAGE_LABELS[target]['zh']} / only {', '.join(sorted(transition.roles))} may",
            code="transition_role_forbidden",
            details={"roles": sorted(transition.roles)},
        )
    facts = gather(session, case)
    missing = [c for c in stage_checks(facts, current.value) if not c.met]
    if missing and not override_reason:
        raise Conflict(
            "还缺少：" + "；".join(c.message for c in missing),
            code="stage_requirements_missing",
            details={"missing": [c.as_dict() for c in missing]},
        )
    if missing:
        hard = [c for c in missing if not c.overridable]
        if hard:
            raise Conflict(
                "以下要求不能越过：" + "；".join(c.message for c in hard),
                code="stage_requirements_missing",
                details={"missing": [c.as_dict() for c in hard]},
            )
        if user.role not in OVERRIDE_ROLES:
            raise Forbidden(
                "只有执法机构负责人可以书面说明理由后越过缺项 / only a supervisor may override",
                code="override_forbidden",
            )
    now = clock.now()
    open_stage = session.execute(
        sa.select(CaseStage).where(CaseStage.case_id == case.id, CaseStage.ended_at.is_(None))
    ).scalar_one_or_none()
    if open_stage:
        open_stage.ended_at = now
    overridden = [c.as_dict() for c in missing] if missing else None
    session.add(
        CaseStage(
            case_id=case.id,
            stage=target.value,
            started_at=now,
            opened_by_id=user.id,
            reason=reason,
            override_reason=override_reason if missing else None,
            overridden_missing=overridden,
        )
    )
    case.current_stage = target.value
    if missing:
        case.override_count += 1
        audit.record(
            session,
            actor=user,
            action="case.stage_override",
            object_type="case",
            object_id=case.id,
            client_addr=client_addr,
            details={
                "from": current.value,
                "to": target.value,
                "reason": override_reason,
                "missing": [c.message for c in missing],
            },
        )
    session.flush()
    from .rules import refresh_gaps

    refresh_gaps(session, case)
    audit.record(
        session,
        actor=user,
        action="case.stage_advanced",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={"from": current.value, "to": target.value, "reason": reason},
    )
    if target == Stage.ARCHIVE:
        from .archive import archive_case

        archive_case(session, user, case, client_addr=client_addr)
    return case
