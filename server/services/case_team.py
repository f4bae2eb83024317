"""The officers who handle a case (办案人员): who may be assigned, who holds a valid 执法证, and
the rule that on-site enforcement needs at least two of them.

《行政处罚法》第四十二条: 行政处罚应当由具有行政执法资格的执法人员实施。执法人员不得少于两人，
法律另有规定的除外。 The minimum and the activities it applies to are data
(``server/workflow/recording_rules.json``, ``officers``); the completeness report and the stage
gate (``server.services.workflow``) and the phone's capture screen all ask this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..domain import Role
from ..errors import Forbidden, Invalid
from ..models import Case, Credential, User
from ..workflow.rules import recording_rules
from . import audit
from .credentials import LACKING_TEXT, Lacking, valid_credential_at


def team_rule() -> dict[str, Any]:
    """``{min, activities, message}`` from the recording rules."""
    return recording_rules()["officers"]


def minimum() -> int:
    return int(team_rule()["min"])


def credential_required() -> bool:
    """FIELDTRACE_REQUIRE_CREDENTIAL, the one switch of 持证上岗 (uploads read it too).

    Read here rather than passed down: the completeness report is computed from many places
    (routes, the pipeline's rules step) that all run inside the app. Outside an app (a bare
    script) the safe answer: required.
    """
    from flask import current_app, has_app_context  # the only Flask touch in services

    if not has_app_context():
        return True
    return bool(current_app.config.get("REQUIRE_CREDENTIAL", True))


def standing(session: Session, user: User, at: datetime, *, required: bool) -> dict[str, Any]:
    """One officer's standing at ``at``: ``{certified, reason, message, message_en, number}``.

    With 持证上岗 switched off every active officer counts as certified (reason ``None``).
    """
    if not user.active:
        return {
            "certified": False,
            "reason": "inactive",
            "message": "账号已停用",
            "message_en": "account disabled",
            "credential_number": None,
        }
    found: Credential | Lacking = valid_credential_at(session, user, at)
    if isinstance(found, Credential):
        return {
            "certified": True,
            "reason": None,
            "message": "持有效执法证",
            "message_en": "holds a valid credential",
            "credential_number": found.number,
        }
    if not required:
        return {
            "certified": True,
            "reason": None,
            "message": "未核验执法证（本系统未启用持证上岗核验）",
            "message_en": "credential not checked (checking is switched off)",
            "credential_number": None,
        }
    zh, en = LACKING_TEXT[found]
    return {
        "certified": False,
        "reason": found.value,
        "message": zh,
        "message_en": en,
        "credential_number": None,
    }


def _officer_row(session: Session, user: User, at: datetime, required: bool) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "username": user.username} | standing(
        session, user, at, required=required
    )


def unit_officers(
    session: Session, actor: User, at: datetime, *, required: bool
) -> list[dict[str, Any]]:
    """The actor's unit's active enforcement officers, each with their credential standing."""
    if actor.role not in (Role.OFFICER, Role.SUPERVISOR, Role.LEADER):
        raise Forbidden("your role assigns no officers", code="role_forbidden")
    users = session.execute(
        sa.select(User)
        .where(User.unit_id == actor.unit_id, User.role == Role.OFFICER, User.active.is_(True))
        .order_by(User.name, User.id)
    ).scalars()
    return [_officer_row(session, u, at, required) for u in users]


def team(session: Session, case: Case, at: datetime, *, required: bool) -> dict[str, Any]:
    """The case's officers with their standing, and whether they are enough for on-site work."""
    rows = [_officer_row(session, u, at, required) for u in case.officers]
    certified = sum(1 for r in rows if r["certified"])
    need = minimum()
    enough = certified >= need
    return {
        "case_id": case.id,
        "items": rows,
        "certified": certified,
        "minimum": need,
        "enough": enough,
        "message": shortfall_message(rows, need)[0] if not enough else "",
        "message_en": shortfall_message(rows, need)[1] if not enough else "",
    }


def shortfall_message(rows: list[dict[str, Any]], need: int) -> tuple[str, str]:
    """In words: how many certified officers the case has, and who does not count, why."""
    certified = sum(1 for r in rows if r["certified"])
    lacking = [r for r in rows if not r["certified"]]
    zh = (
        f"现场执法的执法人员不得少于{need}人（《行政处罚法》第四十二条），"
        f"本案持有效执法证的执法人员只有{certified}人"
    )
    en = (
        f"on-site enforcement needs at least {need} officers with a valid credential; "
        f"this case has {certified}"
    )
    if lacking:
        zh += "（" + "；".join(f"{r['name']}：{r['message']}" for r in lacking) + "）"
        en += " (" + "; ".join(f"{r['name']}: {r['message_en']}" for r in lacking) + ")"
    return zh, en


def assign(
    session: Session,
    actor: User,
    case: Case,
    officer_ids: list[int],
    at: datetime,
    *,
    required: bool,
    client_addr: str = "",
) -> Case:
    """A supervisor (or leader) names the case's handling officers: at least two, each an
    active officer of the unit holding a valid credential today (持证上岗)."""
    from .workflow import ensure_open

    if actor.role not in (Role.SUPERVISOR, Role.LEADER) or actor.unit_id != case.unit_id:
        raise Forbidden(
            "只有执法机构负责人可以指派办案人员 / only a supervisor assigns the officers",
            code="role_forbidden",
        )
    ensure_open(case)
    wanted = list(dict.fromkeys(officer_ids))
    need = minimum()
    if len(wanted) < need:
        raise Invalid(
            f"须指派至少{need}名执法人员（《行政处罚法》第四十二条） / "
            f"assign at least {need} officers",
            code="too_few_officers",
            details={"minimum": need},
        )
    users = {
        u.id: u
        for u in session.execute(
            sa.select(User).where(
                User.id.in_(wanted),
                User.unit_id == case.unit_id,
                User.role == Role.OFFICER,
                User.active.is_(True),
            )
        ).scalars()
    }
    unknown = [i for i in wanted if i not in users]
    if unknown:
        raise Invalid(
            f"不是本单位在岗的执法人员 / not an active officer of your unit: {unknown}",
            code="invalid_officers",
            details={"ids": unknown},
        )
    rows = [_officer_row(session, users[i], at, required) for i in wanted]
    lacking = [r for r in rows if not r["certified"]]
    if lacking:
        raise Invalid(
            "持证上岗：以下人员不能办案——"
            + "；".join(f"{r['name']}：{r['message']}" for r in lacking)
            + " / only officers with a valid credential may handle a case",
            code="officer_not_certified",
            details={"officers": [{"id": r["id"], "reason": r["reason"]} for r in lacking]},
        )
    before = sorted(o.id for o in case.officers)
    case.officers = [users[i] for i in wanted]
    audit.record(
        session,
        actor=actor,
        action="case.officers_assigned",
        object_type="case",
        object_id=case.id,
        client_addr=client_addr,
        details={"from": before, "to": sorted(wanted)},
    )
    return case
