"""Procedures and transitions (who may move a case, and what must exist first) as data.

Each requirement is a small dict evaluated by ``server.services.workflow``; the recording
rules live in ``recording_rules.json`` next to this file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

Requirement = dict[str, Any]


@dataclass(frozen=True)
class Transition:
    procedure: str
    source: str
    target: str
    roles: frozenset[str]
    needs: tuple[Requirement, ...]


def _t(
    procedure: str, source: str, target: str, roles: set[str], *needs: Requirement
) -> Transition:
    return Transition(procedure, source, target, frozenset(roles), needs)


OFFICERS = {"officer", "supervisor"}

TRANSITIONS: tuple[Transition, ...] = (
    # 一般程序
    _t(
        "general",
        "filing",
        "investigation",
        {"supervisor"},
        {"kind": "document", "types": ["filing_approval"]},
    ),
    _t(
        "general",
        "investigation",
        "evidence",
        OFFICERS,
        {"kind": "document", "any_of": ["onsite_inspection_record", "inquiry_record"]},
    ),
    _t(
        "general",
        "evidence",
        "review",
        OFFICERS,
        {"kind": "document", "types": ["investigation_report"]},
    ),
    _t(
        "general",
        "review",
        "decision",
        {"leader"},
        {"kind": "document", "types": ["prior_notice"]},
        {"kind": "document", "any_of": ["statement_record", "hearing_record"]},
        {"kind": "legal_review", "overridable": False},
        {"kind": "collective_discussion", "overridable": False},
    ),
    _t(
        "general",
        "decision",
        "service",
        OFFICERS,
        {"kind": "document", "types": ["penalty_decision"]},
    ),
    _t(
        "general",
        "service",
        "execution",
        OFFICERS,
        {"kind": "document", "types": ["service_receipt"]},
    ),
    _t(
        "general",
        "execution",
        "archive",
        {"supervisor"},
        {"kind": "execution_record"},
        {"kind": "document", "types": ["closing_report"]},
    ),
    # 简易程序: the decision is made and handed over on the spot, on video.
    _t(
        "simple",
        "filing",
        "decision",
        OFFICERS,
        {
            "kind": "recording",
            "stage": "filing",
            "needs": ["video"],
            "message": {
                "zh": "当场处罚须先录制现场执法视频"
                "（出示执法证、告知违法事实和权利、听取陈述申辩）",
                "en": "film the on-site enforcement first (credential shown, facts and rights "
                "told, statement heard)",
            },
        },
    ),
    _t(
        "simple",
        "decision",
        "service",
        OFFICERS,
        {"kind": "document", "types": ["onsite_penalty_decision"]},
    ),
    _t("simple", "service", "execution", OFFICERS),
    _t("simple", "execution", "archive", {"supervisor"}, {"kind": "execution_record"}),
)

# Who may override missing records with a written reason (never the legal-review gate).
OVERRIDE_ROLES = frozenset({"supervisor", "leader"})


def transition_from(procedure: str, source: str) -> Transition | None:
    return next((t for t in TRANSITIONS if t.procedure == procedure and t.source == source), None)


def path(procedure: str) -> list[str]:
    """The stages of a procedure in order, starting at filing."""
    stages = ["filing"]
    while (t := transition_from(procedure, stages[-1])) is not None:
        stages.append(t.target)
    return stages


@cache
def recording_rules() -> dict[str, Any]:
    return json.loads((Path(__file__).with_name("recording_rules.json")).read_text("utf-8"))
