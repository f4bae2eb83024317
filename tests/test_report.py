"""执法统计年报: the figures against a hand count of a seeded year, the snapshot's lifecycle
(draft → frozen → published, immutable), the public HTML/PDF/CSV, and the yearly job."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from server import clock
from server.disclosure import report
from server.disclosure.report_models import AnnualReport, ImmutableReport
from server.documents.registry import DOCUMENT_TYPES
from server.extensions import db
from server.models import (
    AuditEntry,
    Case,
    CaseStage,
    Document,
    LegalReview,
    MediaItem,
    Unit,
    User,
)
from tests.conftest import Actor, open_case
from tests.workflow_helpers import API, Flow, fields

YEAR = 2025
UNIT_NAME = "某市市场监督管理局"


def at(text: str) -> datetime:
    """A wall-clock time in Asia/Shanghai: ``at("2025-03-10 09:00")``."""
    return datetime.fromisoformat(text).replace(tzinfo=clock.ZONE)


# --- seeding ----------------------------------------------------------------------------------


@dataclass
class Seed:
    unit_id: int
    other_unit_id: int
    admin: Actor
    leader: Actor
    officer: Actor
    other_admin: Actor
    cases: dict[str, int]


class Rows:
    """Direct inserts for what the API cannot back-date (times of a past year)."""

    def __init__(self, app) -> None:
        self.app = app

    def backdate_case(self, case_id: int, created: datetime) -> None:
        with self.app.app_context():
            case = db.session.get(Case, case_id)
            case.created_at = created
            for stage in db.session.execute(
                sa.select(CaseStage).where(CaseStage.case_id == case_id)
            ).scalars():
                stage.started_at = created
            db.session.commit()

    def stages(self, case_id: int, *stages: tuple[str, datetime]) -> None:
        with self.app.app_context():
            case = db.session.get(Case, case_id)
            for stage, started in stages:
                db.session.add(
                    CaseStage(case_id=case_id, stage=stage, started_at=started, reason="测试")
                )
                case.current_stage = stage
            db.session.commit()

    def media(
        self,
        case_id: int,
        uploader: Actor,
        stage: str | None,
        activity: str,
        kind: str,
        captured: datetime,
        status: str = "verified",
    ) -> None:
        content_type = {"video": "video/mp4", "audio": "audio/mp4", "photo": "image/jpeg"}[kind]
        with self.app.app_context():
            db.session.add(
                MediaItem(
                    case_id=case_id,
                    stage=stage,
                    activity=activity,
                    kind=kind,
                    claimed_content_type=content_type,
                    size=1024,
                    bucket="originals",
                    object_key=f"seed/{uuid.uuid4().hex}",
                    device_sha256=hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
                    server_sha256=None,
                    captured_at=captured,
                    device_id="phone-seed",
                    uploader_id=uploader.id,
                    status=status,
                )
            )
            db.session.commit()

    def doc(
        self,
        case_id: int,
        creator: Actor,
        doc_type: str,
        issued: datetime | None,
        *,
        penalties: list[dict[str, Any]] | None = None,
        status: str = "issued",
        series: str | None = None,
        version: int = 1,
        extra: dict[str, Any] | None = None,
    ) -> str:
        doc_id = uuid.uuid4().hex
        doc_fields = {"penalties": penalties} if penalties is not None else {}
        with self.app.app_context():
            case = db.session.get(Case, case_id)
            db.session.add(
                Document(
                    id=doc_id,
                    series_id=series or doc_id,
                    version=version,
                    case_id=case_id,
                    unit_id=case.unit_id,
                    doc_type=doc_type,
                    stage=str(DOCUMENT_TYPES[doc_type].stage.value),
                    fields={**doc_fields, **(extra or {})},
                    status=status,
                    number=f"seed-{doc_id[:6]}" if issued else None,
                    created_by_id=creator.id,
                    created_at=issued or at("2025-06-01 00:00"),
                    issued_at=issued,
                    issued_by_id=creator.id if issued else None,
                )
            )
            db.session.commit()
        return doc_id

    def review(
        self,
        case_id: int,
        submitter: Actor,
        n: int,
        status: str,
        submitted: datetime,
        decided: datetime | None,
    ) -> None:
        with self.app.app_context():
            case = db.session.get(Case, case_id)
            db.session.add(
                LegalReview(
                    case_id=case_id,
                    unit_id=case.unit_id,
                    round=n,
                    status=status,
                    submitted_by_id=submitter.id,
                    submitted_at=submitted,
                    due_on=submitted.date(),
                    decided_at=decided,
                )
            )
            db.session.commit()


def credential(client, admin: Actor, user: Actor, number: str, first: str, last: str) -> int:
    resp = client.post(
        f"{API}/credentials",
        json={
            "user_id": user.id,
            "number": number,
            "issuing_authority": "某市人民政府",
            "categories": ["市场监管"],
            "area": "某市",
            "valid_from": first,
            "valid_to": last,
        },
        headers=admin.headers,
    )
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


INSPECTION_LIST = {
    "items": [
        {
            "item": "食品经营者检查",
            "basis": "《食品安全法》第一百一十条",
            "object": "辖区食品经营者",
            "method": "现场检查",
            "frequency": "每年不少于一次",
        }
    ]
}


def inspection(client, actor: Actor, on: str, result: str, **extra: Any) -> int:
    body = {
        "item": "食品经营者检查",
        "object_name": "某某食品有限公司",
        "object_kind": "legal",
        "inspected_on": on,
        "inspectors": ["王五", "赵六"],
        "result": result,
        **extra,
    }
    resp = client.post(f"{API}/disclosure/inspections", json=body, headers=actor.headers)
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


def remedy(client, actor: Actor, case_id: int, kind: str, outcome: str, on: str, expect=201):
    resp = client.post(
        f"{API}/remedy-outcomes",
        json={"case_id": case_id, "kind": kind, "outcome": outcome, "decided_on": on},
        headers=actor.headers,
    )
    assert resp.status_code == expect, resp.json
    return resp


@pytest.fixture
def seed(app, client, users, tmp_path) -> Seed:
    """One unit's year 2025 (plus edges in 2024 and 2026, and another unit's data)."""
    rows, flow = Rows(app), Flow(client, tmp_path)
    admin = users.create("rp_admin", role="admin", unit="RP")
    leader = users.create("rp_leader", role="leader", unit="RP")
    sup = users.create("rp_sup", role="supervisor", unit="RP")
    o = {n: users.create(f"rp_o{n}", unit="RP") for n in range(1, 8)}
    other_admin = users.create("ot_admin", role="admin", unit="OT")
    other_officer = users.create("ot_o1", unit="OT")
    o1 = o[1]

    resp = client.put(
        f"{API}/disclosure/unit_info",
        json={
            "name": UNIT_NAME,
            "address": "某市人民路1号",
            "duties": "市场监管。",
            "complaint_contact": {"phone": "12315"},
        },
        headers=admin.headers,
    )
    assert resp.status_code == 200, resp.json
    resp = client.put(
        f"{API}/calendar",
        json={
            "items": [
                {"day": "2025-01-01", "is_workday": False, "note": "元旦"},
                {"day": "2025-04-04", "is_workday": False, "note": "清明节"},
            ]
        },
        headers=admin.headers,
    )
    assert resp.status_code == 200, resp.json

    def case(title: str, case_type: str, procedure: str, created: str, **extra: Any) -> int:
        cid = open_case(client, o1, title=title, case_type=case_type, procedure=procedure, **extra)[
            "id"
        ]
        rows.backdate_case(cid, at(created))
        return cid

    c1 = case("销售过期食品案", "食品安全", "general", "2025-03-10 09:00")
    c2 = case(
        "无照经营案", "市场监管", "general", "2025-01-01 01:00", major_property=True
    )  # 2024-12-31 17:00 UTC: January 2025 in Shanghai
    c3 = case("占道经营案", "市场监管", "simple", "2025-06-05 09:00")
    c4 = case("流动摊贩案", "食品安全", "simple", "2025-06-20 09:00")
    c5 = case("跨年立案", "市场监管", "general", "2026-01-01 00:30")  # 2025-12-31 UTC
    c6 = case("上年立案本年处罚", "市场监管", "general", "2024-11-05 09:00")
    c7 = case("上年决定本年更正", "市场监管", "general", "2024-10-01 09:00")
    c8 = case("年末立案", "食品安全", "general", "2025-12-31 23:00")
    other = open_case(client, other_officer, title="外单位案件", case_type="食品安全")["id"]
    rows.backdate_case(other, at("2025-05-01 09:00"))

    # Stages reached (the recording rules are checked stage by stage).
    rows.stages(
        c1,
        ("investigation", at("2025-03-11 09:00")),
        ("evidence", at("2025-03-15 09:00")),
        ("review", at("2025-03-20 09:00")),
        ("decision", at("2025-04-10 09:00")),
    )
    rows.stages(
        c2,
        ("investigation", at("2025-01-05 09:00")),
        ("evidence", at("2025-01-10 09:00")),
        ("review", at("2025-01-15 09:00")),
        ("decision", at("2025-01-25 09:00")),
    )
    rows.stages(c3, ("decision", at("2025-06-05 10:00")))
    rows.stages(c4, ("decision", at("2025-06-20 10:00")))
    rows.stages(c6, ("decision", at("2025-12-20 09:00")))

    # Recordings.
    rows.media(c1, o1, "investigation", "onsite_inspection", "video", at("2025-03-11 09:30"))
    rows.media(c1, o1, "evidence", "evidence_preservation", "photo", at("2025-03-15 09:30"))
    rows.media(c1, o1, "decision", "hearing", "audio", at("2025-04-05 10:00"))
    rows.media(c2, o1, "filing", "other", "video", at("2025-01-01 02:00"))
    rows.media(c2, o1, "investigation", "evidence_collection", "photo", at("2025-01-05 10:00"))
    rows.media(c2, o1, None, "random_inspection", "video", at("2024-12-31 23:00"))
    rows.media(c3, o1, "filing", "random_inspection", "video", at("2025-06-05 09:10"))
    rows.media(c3, o1, "filing", "random_inspection", "photo", at("2025-06-05 09:12"))
    rows.media(c3, o1, "decision", "other", "video", at("2025-06-05 10:05"))
    rows.media(c4, o1, "filing", "onsite_inspection", "photo", at("2025-06-20 09:10"))
    rows.media(c4, o1, "decision", "other", "video", at("2025-06-20 10:05"), status="hash_mismatch")
    rows.media(c6, o1, "filing", "onsite_inspection", "audio", at("2024-11-05 10:00"))
    rows.media(other, other_officer, "filing", "random_inspection", "video", at("2025-05-01 10:00"))

    # Documents. C3's decision goes through the real API: issued, corrected, issued again.
    d1 = flow.full_doc(
        c3,
        "onsite_penalty_decision",
        {"officer": o1, "party": o1},
        o1,
        penalties=[{"kind": "fine", "amount": "150"}],
    )
    resp = client.post(
        f"{API}/documents/{d1['id']}/versions",
        json={"fields": fields("onsite_penalty_decision", penalties=[{"kind": "warning"}])},
        headers=o1.headers,
    )
    assert resp.status_code == 201, resp.json
    d2 = resp.json["id"]
    flow.sign(o1, d2, "officer", name="rp_o1")
    flow.sign(o1, d2, "party", name="当事人")
    flow.issue(o1, d2)
    with app.app_context():
        for doc_id, issued in ((d1["id"], "2025-06-05 10:10"), (d2, "2025-06-06 09:00")):
            db.session.get(Document, doc_id).issued_at = at(issued)
        db.session.commit()
        assert db.session.get(Document, d1["id"]).status == "superseded"

    rows.doc(c1, o1, "onsite_inspection_record", at("2025-03-11 11:00"))
    rows.doc(c1, o1, "evidence_preservation_notice", at("2025-03-15 11:00"))
    rows.doc(c1, o1, "hearing_record", at("2025-04-05 12:00"))
    first = rows.doc(
        c1,
        o1,
        "penalty_decision",
        at("2025-04-10 10:00"),
        penalties=[{"kind": "fine", "amount": "5000.00"}],
        status="superseded",
    )
    rows.doc(
        c1,
        o1,
        "penalty_decision",
        at("2025-04-12 10:00"),
        penalties=[
            {"kind": "other", "amount": None},
            {"kind": "warning", "amount": None},
            {"kind": "fine", "amount": "3000.50"},
            {"kind": "confiscation", "amount": "1200.00"},
        ],
        series=first,
        version=2,
    )
    rows.doc(c2, o1, "onsite_inspection_record", at("2025-01-05 11:00"))
    rows.doc(
        c2,
        o1,
        "penalty_decision",
        at("2025-01-25 10:00"),
        penalties=[
            {"kind": "fine", "amount": "10000"},
            {"kind": "license_suspension", "amount": None},
        ],
    )
    rows.doc(c2, o1, "hearing_record", None, status="draft")
    rows.doc(
        c4,
        o1,
        "onsite_penalty_decision",
        at("2025-06-20 10:00"),
        penalties=[{"kind": "fine", "amount": "200"}],
    )
    rows.doc(c5, o1, "penalty_decision", at("2026-01-02 10:00"), penalties=[{"kind": "warning"}])
    rows.doc(c6, o1, "onsite_inspection_record", at("2024-11-06 10:00"))
    rows.doc(
        c6,
        o1,
        "penalty_decision",
        at("2025-12-31 23:50"),  # 15:50 UTC: still 2025 in Shanghai
        penalties=[{"kind": "suspension"}, {"kind": "fine", "amount": "20000"}],
    )
    rows.doc(
        c6,
        o1,
        "penalty_decision",
        None,
        penalties=[{"kind": "license_revocation"}],
        status="draft",
    )
    old = rows.doc(
        c7,
        o1,
        "penalty_decision",
        at("2024-12-28 10:00"),
        penalties=[{"kind": "fine", "amount": "999"}],
        status="superseded",
    )
    rows.doc(
        c7,
        o1,
        "penalty_decision",
        at("2025-01-03 10:00"),
        penalties=[{"kind": "fine", "amount": "888"}],
        series=old,
        version=2,
    )
    rows.doc(
        c8,
        o1,
        "penalty_decision",
        at("2025-12-31 23:30"),
        penalties=[{"kind": "other"}, {"kind": "warning"}],
    )
    rows.doc(
        other,
        other_officer,
        "penalty_decision",
        at("2025-05-02 10:00"),
        penalties=[{"kind": "license_revocation"}],
    )

    # Legal review rounds.
    # 查封(扣押)决定书 (coercive measures).
    measure = "coercive_measure_decision"
    rows.doc(c1, o1, measure, at("2025-03-16 10:00"), extra={"measure": "seal"})
    wrong = rows.doc(
        c2, o1, measure, at("2025-01-06 10:00"), status="superseded", extra={"measure": "seal"}
    )
    rows.doc(
        c2, o1, measure, at("2025-01-08 10:00"), series=wrong, version=2, extra={"measure": "seize"}
    )
    rows.doc(c4, o1, measure, at("2025-12-31 23:59"), extra={"measure": "seize"})
    rows.doc(c5, o1, measure, at("2026-01-01 00:10"), extra={"measure": "seal"})
    rows.doc(c6, o1, measure, at("2024-11-06 11:00"), extra={"measure": "seize"})
    rows.doc(c8, o1, measure, None, status="draft", extra={"measure": "seal"})
    rows.doc(other, other_officer, measure, at("2025-05-01 11:00"), extra={"measure": "seal"})

    # Random-inspection results (随机抽查结果), recorded through the API.
    for actor in (admin, other_admin):
        resp = client.put(
            f"{API}/disclosure/random_inspection_list", json=INSPECTION_LIST, headers=actor.headers
        )
        assert resp.status_code == 200, resp.json
    inspection(client, sup, "2025-03-02", "no_problem")
    inspection(client, admin, "2025-09-09", "no_problem", object_name="张三", object_kind="natural")
    inspection(client, sup, "2025-06-10", "rectification_ordered")
    inspection(client, sup, "2025-06-11", "case_opened", case_id=c3)
    blocked = inspection(client, sup, "2025-12-31", "not_operating", detail="电话13812345678")
    assert (
        client.get(f"{API}/disclosure/inspections/{blocked}", headers=admin.headers).json["status"]
        == "blocked"
    )
    withdrawn = inspection(client, sup, "2025-07-01", "no_problem")
    resp = client.post(
        f"{API}/disclosure/inspections/{withdrawn}/take-down",
        json={"notice": "录入错误，已撤下"},
        headers=admin.headers,
    )
    assert resp.status_code == 200, resp.json
    inspection(client, sup, "2024-12-31", "no_problem")
    inspection(client, sup, "2026-01-02", "case_opened")
    inspection(client, other_admin, "2025-05-01", "no_problem")

    rows.review(c1, o1, 1, "returned", at("2025-03-20 10:00"), at("2025-03-25 16:00"))
    rows.review(c1, o1, 2, "agreed", at("2025-03-27 10:00"), at("2025-04-08 16:00"))
    rows.review(c2, o1, 1, "agreed", at("2025-01-02 09:00"), at("2025-01-03 15:00"))
    rows.review(c6, o1, 1, "returned", at("2024-12-30 09:00"), at("2025-01-06 15:00"))
    rows.review(c6, o1, 2, "submitted", at("2025-12-22 09:00"), None)
    rows.review(c7, o1, 1, "agreed", at("2024-12-10 09:00"), at("2024-12-20 15:00"))
    rows.review(c7, o1, 2, "transfer", at("2025-02-03 09:00"), at("2025-02-05 15:00"))
    rows.review(c8, o1, 1, "agreed", at("2025-12-31 10:00"), at("2026-01-01 00:30"))
    rows.review(other, other_officer, 1, "returned", at("2025-05-01 09:00"), at("2025-05-02 09:00"))

    # Credentials.
    credential(client, admin, o[1], "RP-0001", "2024-01-01", "2027-12-31")
    credential(client, admin, o[2], "RP-0002", "2023-01-01", "2025-06-30")
    credential(client, admin, o[3], "RP-0003", "2025-01-01", "2025-12-31")
    suspended = credential(client, admin, o[4], "RP-0004", "2025-01-01", "2028-12-31")
    resp = client.post(
        f"{API}/credentials/{suspended}/status",
        json={"status": "suspended", "reason": "停职"},
        headers=admin.headers,
    )
    assert resp.status_code == 200, resp.json
    credential(client, admin, o[5], "RP-0005", "2025-01-01", "2028-12-31")
    credential(client, admin, o[6], "RP-0006", "2026-01-01", "2028-12-31")
    credential(client, admin, sup, "RP-0100", "2024-01-01", "2028-12-31")
    with app.app_context():
        db.session.get(User, o[5].id).active = False
        db.session.commit()

    # Reconsideration and litigation outcomes.
    remedy(client, leader, c1, "reconsideration", "upheld", "2025-08-01")
    remedy(client, admin, c2, "reconsideration", "pending", "2025-03-01")
    remedy(client, admin, c2, "reconsideration", "changed", "2025-09-01")
    remedy(client, leader, c6, "litigation", "pending", "2025-12-01")
    remedy(client, leader, c3, "litigation", "revoked", "2026-02-01")
    remedy(client, leader, c4, "litigation", "withdrawn", "2025-07-15")
    remedy(client, leader, c4, "reconsideration", "confirmed_illegal", "2024-12-01")

    with app.app_context():
        unit_id = db.session.execute(sa.select(Unit.id).where(Unit.code == "RP")).scalar_one()
        other_id = db.session.execute(sa.select(Unit.id).where(Unit.code == "OT")).scalar_one()
    return Seed(
        unit_id=unit_id,
        other_unit_id=other_id,
        admin=admin,
        leader=leader,
        officer=o1,
        other_admin=other_admin,
        cases={"c1": c1, "c2": c2, "c3": c3, "c4": c4, "c5": c5, "c6": c6, "c7": c7, "c8": c8},
    )


# --- the hand count -----------------------------------------------------------------------------

# Worked out by hand from the seed above (see the comments), never by the code under test.
EXPECTED: dict[str, Any] = {
    "version": 2,
    "unit": {"code": "RP", "name": UNIT_NAME},
    "year": 2025,
    "period": {"from": "2025-01-01", "to": "2025-12-31", "timezone": "Asia/Shanghai"},
    # Opened in 2025 (Shanghai): c1 (Mar), c2 (1 Jan 01:00 = 31 Dec UTC), c3 (Jun), c4 (Jun),
    # c8 (31 Dec 23:00). Not c5 (1 Jan 2026 00:30), c6/c7 (2024) nor the other unit's.
    "cases": {
        "total": 5,
        "by_procedure": {"general": 3, "simple": 2},
        "by_type": [{"type": "食品安全", "count": 3}, {"type": "市场监管", "count": 2}],
        "by_month": [1, 0, 1, 0, 0, 2, 0, 0, 0, 0, 0, 1],
    },
    # Decided in 2025, current issued version, heaviest kind once:
    #   c1 v2 other+warning+fine 3000.50+confiscation → confiscation (v1 fine 5000 superseded)
    #   c2 fine 10000+license_suspension → license_suspension
    #   c3 v2 warning (v1 fine 150 superseded, via the API) → warning
    #   c4 fine 200 → fine;  c6 suspension+fine 20000 (31 Dec 23:50) → suspension
    #   c8 other+warning → warning
    # Not: c5 (2026), c7 (first issued 2024, corrected 2025), drafts, the other unit's.
    "penalties": {
        "decisions": 6,
        "by_document": {"penalty_decision": 4, "onsite_penalty_decision": 2},
        "by_kind": {
            "warning": 2,
            "fine": 1,
            "confiscation": 1,
            "suspension": 1,
            "license_suspension": 1,
            "license_revocation": 0,
            "other": 0,
        },
        "fined_decisions": 4,
        "fine_total": "33200.50",  # 3000.50 + 10000 + 200 + 20000
        "by_month": [1, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 2],  # c2; c1; c3, c4; c6, c8
    },
    "permits": {"count": None},
    # 查封(扣押)决定书 first issued in 2025: c1 seal; c2 seize (v1 seal superseded, same
    # series); c4 seize (31 Dec 23:59). Not c5 (1 Jan 2026), c6 (2024), c8 (draft), the other
    # unit's.
    "coercive_measures": {
        "count": 3,
        "by_measure": {"seal": 1, "seize": 2},
        "note": report.COERCIVE_COUNTED_NOTE,
    },
    "evidence_preservation": {"count": 1},  # c1
    # Cases: c1, c2; c3 (twice). Results inspected in 2025: 2 Mar and 9 Sep no problem,
    # 10 Jun rectification, 11 Jun case opened, 31 Dec not operating (blocked, still counted).
    # Not: 1 Jul (taken down), 31 Dec 2024, 2 Jan 2026, the other unit's.
    "inspections": {
        "cases": 2,
        "random_inspection_cases": 1,
        "random_inspections": {
            "total": 5,
            "by_result": {
                "no_problem": 2,
                "rectification_ordered": 1,
                "case_opened": 1,
                "not_operating": 1,
            },
        },
    },
    # Decided in 2025: c1 r1 returned Thu 20 → Tue 25 Mar = 3 working days;
    # c1 r2 agreed Thu 27 Mar → Tue 8 Apr, 4 Apr a holiday = 7; c2 r1 agreed 2 → 3 Jan = 1;
    # c6 r1 returned Mon 30 Dec 2024 → Mon 6 Jan, 1 Jan a holiday = 4;
    # c7 r2 transfer Mon 3 → Wed 5 Feb, Tue 4 Feb the last day of the 2025 春节 holiday (the
    # shipped national calendar) = 1. (c8 r1 was decided 1 Jan 2026 Shanghai.) 16 / 5 = 3.2.
    "legal_reviews": {
        "decided": 5,
        "agreed": 2,
        "returned": 2,
        "transfer": 1,
        "returned_share": 0.4,
        "average_working_days": 3.2,
    },
    # Active in 2025: c1 c2 c3 c4 c6 c7 c8. Checks per reached stage:
    #   c1 investigation: on-site video ✓, inspection record ✓; evidence: preservation photo ✗,
    #      preservation notice ✗, 查封决定书 unfilmed ✗; decision: hearing audio ✓,
    #      hearing record ✓, hearing recorded throughout ✗ (the record states no
    #      start and end time)                                                   → 4/8
    #   c2 (major property) filing video ✓; investigation: evidence photo ✗, inspection
    #      record without video ✗, inspection filmed throughout ✗ (no times stated),
    #      no video ✗; evidence: no video ✗, 扣押决定书 v2 unfilmed ✗ (the superseded
    #      v1 is not checked)                                                     → 1/7
    #   c3 filing random inspection video ✓; decision: on-site decision filmed ✓ → 2/2
    #   c4 filing on-site photo ✗; decision: its only video failed its hash ✗     → 0/2
    #   c6 filing on-site audio ✓                                                 → 1/1
    "recording": {
        "cases": 7,
        "checks": 20,
        "met": 8,
        "share": 0.4,
        "by_code": {
            "activity_not_filmed": {"checks": 7, "met": 4},
            "document_not_filmed": {"checks": 8, "met": 3},
            "recording_not_continuous": {"checks": 2, "met": 0},
            "major_property_no_video": {"checks": 3, "met": 1},
        },
    },
    # Active officers o1 o2 o3 o4 o6 o7 (o5 inactive; supervisors are not counted);
    # valid on 31 Dec 2025: o1, o3 (o2 expired, o4 suspended, o6 from 2026, o7 none).
    "credentials": {"as_of": "2025-12-31", "officers": 6, "certified": 2, "share": 0.3333},
    "hearings": {"count": 1},  # c1 (c2's is a draft)
    # c1 upheld; c2 pending then changed → changed; c6 pending; c4 withdrawn.
    # Not: c3 revoked (2026), c4 confirmed_illegal (2024).
    "remedies": {
        "reconsideration": {
            "total": 2,
            "by_outcome": {
                "upheld": 1,
                "changed": 1,
                "revoked": 0,
                "confirmed_illegal": 0,
                "withdrawn": 0,
                "pending": 0,
            },
        },
        "litigation": {
            "total": 2,
            "by_outcome": {
                "upheld": 0,
                "changed": 0,
                "revoked": 0,
                "confirmed_illegal": 0,
                "withdrawn": 1,
                "pending": 1,
            },
        },
    },
}


def test_figures_equal_the_hand_count(app, seed):
    with app.app_context():
        figures = report.compute_figures(db.session, seed.unit_id, YEAR)
    for key, expected in EXPECTED.items():
        got = figures[key]
        if key == "permits":
            assert got["count"] is None and got["note"] == report.PERMITS_NOTE, key
            continue
        assert got == expected, key
    assert set(figures) == set(EXPECTED)
    json.dumps(figures)  # plain JSON


def test_other_unit_sees_only_its_own(app, seed):
    with app.app_context():
        figures = report.compute_figures(db.session, seed.other_unit_id, YEAR)
    assert figures["cases"]["total"] == 1
    assert figures["penalties"]["by_kind"]["license_revocation"] == 1
    assert figures["penalties"]["decisions"] == 1
    assert figures["inspections"]["random_inspection_cases"] == 1
    assert figures["inspections"]["random_inspections"]["total"] == 1
    assert figures["coercive_measures"]["by_measure"] == {"seal": 1, "seize": 0}
    assert figures["legal_reviews"]["returned"] == 1
    assert figures["remedies"]["reconsideration"]["total"] == 0


# --- lifecycle through the API ------------------------------------------------------------------


def canonical_sha256(figures: dict[str, Any], narrative: str) -> str:
    body = json.dumps(
        {"figures": figures, "narrative": narrative},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def test_freeze_publish_and_public_renderings(app, client, seed):
    leader, admin = seed.leader, seed.admin
    assert (
        client.post(f"{API}/reports/{YEAR}/draft", headers=seed.officer.headers).status_code == 403
    )
    assert client.get(f"{API}/reports/{YEAR}", headers=admin.headers).status_code == 404

    drafted = client.post(f"{API}/reports/{YEAR}/draft", headers=leader.headers)
    assert drafted.status_code == 201, drafted.json
    body = drafted.json
    assert body["status"] == "draft" and body["snapshot_sha256"] is None
    assert body["figures"]["penalties"] == EXPECTED["penalties"]
    assert "2025年" in body["narrative"] and UNIT_NAME in body["narrative"]
    assert "罚款金额合计33,200.50元" in body["narrative"]
    assert "实施行政强制措施3次（查封1次、扣押2次）" in body["narrative"]
    assert "随机抽查5户次" in body["narrative"]
    assert body["freeze_deadline"] == "2026-01-15"
    # Not public while a draft.
    assert client.get(f"/public/reports/{YEAR}?unit=RP").status_code == 404
    assert client.get(f"/public/units/RP/reports/{YEAR}.csv").status_code == 404

    leaky = client.put(
        f"{API}/reports/{YEAR}",
        json={"narrative": "举报人李四，身份证11010519491231002X，已核实。"},
        headers=admin.headers,
    )
    assert leaky.status_code == 409 and leaky.json["error"]["code"] == "personal_data_found"
    assert leaky.json["error"]["details"]["hits"][0]["message"].startswith("叙述第1行")
    narrative = "2025年，本局依法履行市场监管职责。\n全年数据见下表。"
    edited = client.put(
        f"{API}/reports/{YEAR}", json={"narrative": narrative}, headers=admin.headers
    )
    assert edited.status_code == 200 and edited.json["narrative"] == narrative
    redrafted = client.post(f"{API}/reports/{YEAR}/draft", headers=admin.headers)
    assert redrafted.status_code == 200 and redrafted.json["narrative"] == narrative

    # Data changed after the draft: freezing asks for a re-draft first.
    remedy(client, leader, seed.cases["c8"], "reconsideration", "revoked", "2025-12-30")
    stale = client.post(f"{API}/reports/{YEAR}/freeze", headers=admin.headers)
    assert stale.status_code == 409 and stale.json["error"]["code"] == "figures_changed"
    assert client.post(f"{API}/reports/{YEAR}/draft", headers=admin.headers).status_code == 200

    assert client.post(f"{API}/reports/{YEAR}/publish", headers=admin.headers).status_code == 409
    frozen = client.post(f"{API}/reports/{YEAR}/freeze", headers=admin.headers)
    assert frozen.status_code == 200, frozen.json
    figures, digest = frozen.json["figures"], frozen.json["snapshot_sha256"]
    assert figures["remedies"]["reconsideration"]["by_outcome"]["revoked"] == 1
    assert digest == canonical_sha256(figures, narrative)
    assert frozen.json["status"] == "frozen" and frozen.json["frozen_late"] is True  # 2026 > 15 Jan
    for method, path in (
        ("post", f"{API}/reports/{YEAR}/draft"),
        ("put", f"{API}/reports/{YEAR}"),
        ("post", f"{API}/reports/{YEAR}/freeze"),
    ):
        resp = getattr(client, method)(path, json={"narrative": "改"}, headers=admin.headers)
        assert resp.status_code == 409 and resp.json["error"]["code"] == "report_frozen", path
    assert client.get(f"/public/reports/{YEAR}?unit=RP").status_code == 404  # frozen, not public

    published = client.post(f"{API}/reports/{YEAR}/publish", headers=leader.headers)
    assert published.status_code == 200 and published.json["status"] == "published"
    assert published.json["public_url"] == f"/public/units/RP/reports/{YEAR}"
    for method, path in (
        ("post", f"{API}/reports/{YEAR}/draft"),
        ("put", f"{API}/reports/{YEAR}"),
        ("post", f"{API}/reports/{YEAR}/freeze"),
        ("post", f"{API}/reports/{YEAR}/publish"),
    ):
        resp = getattr(client, method)(path, json={"narrative": "改"}, headers=admin.headers)
        assert resp.status_code == 409 and resp.json["error"]["code"] == "report_published", path
    assert client.get(f"{API}/reports/{YEAR}", headers=admin.headers).json["figures"] == figures
    # Another unit's admin sees nothing of it.
    assert client.get(f"{API}/reports/{YEAR}", headers=seed.other_admin.headers).status_code == 404
    with app.app_context():
        actions = [
            a
            for (a,) in db.session.execute(
                sa.select(AuditEntry.action).where(AuditEntry.object_type == "annual_report")
            )
        ]
    assert actions == [
        "report.drafted",
        "report.narrative_edited",
        "report.redrafted",
        "report.redrafted",
        "report.frozen",
        "report.published",
    ]

    # HTML: the default unit is the one that published the year.
    page = client.get(f"/public/reports/{YEAR}")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "public, max-age=300"
    html = page.get_data(as_text=True)
    assert digest in html and "本局依法履行市场监管职责" in html
    assert f"{UNIT_NAME}2025年度行政执法统计年报" in html
    assert "33,200.50元" in html and "33.3%" in html and "40.0%" in html
    assert re.search(r"音像记录覆盖率</dt><dd>40\.0%", html), "recording share"
    # Coercive measures are counted from the issued 查封(扣押)决定书: 3, of which 1 sealing.
    assert re.search(r"行政强制措施</t[hd]>\s*<td[^>]*>3 次", html), "coercive measures row"
    assert re.search(r"其中：查封</t[hd]>\s*<td[^>]*>1 次", html)
    assert re.search(r"行政许可</t[hd]>\s*<td[^>]*>未录入", html), "permits not entered"
    assert "rp_o1" not in html
    from tests.test_language_words import HEXISH, english_in, page_text

    leaked = [w for w in english_in(page_text(html), ("RP", "CSV")) if not HEXISH.fullmatch(w)]
    assert leaked == [], leaked  # the page speaks Chinese (the unit's code and hashes aside)
    assert client.get(f"/public/units/RP/reports/{YEAR}").get_data(as_text=True) == html
    again = client.get(f"/public/reports/{YEAR}?unit=RP", headers={"If-None-Match": f'"{digest}"'})
    assert again.status_code == 304
    for name in report.CHART_NAMES:
        src = f"/public/units/RP/reports/{YEAR}/charts/{name}.svg"
        assert src in html
        svg = client.get(src)
        assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
        assert svg.headers["Cache-Control"] == "public, max-age=300"
        assert b"<svg" in svg.data and "<title>" in svg.get_data(as_text=True)
    assert client.get(f"/public/units/RP/reports/{YEAR}/charts/nope.svg").status_code == 404
    index = client.get("/public/units/RP/reports/")
    assert index.status_code == 200 and f'href="/public/units/RP/reports/{YEAR}"' in index.get_data(
        as_text=True
    )
    assert (
        "/reports/"
        not in client.get("/public/units/OT/reports/").get_data(as_text=True).split("<main")[1]
    )
    assert client.get(f"/public/units/NOPE/reports/{YEAR}").status_code == 404
    assert client.get(f"/public/reports/{YEAR - 1}").status_code == 404

    # PDF: opens, and carries the hash.
    pdf = client.get(f"/public/reports/{YEAR}.pdf?unit=RP")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Cache-Control"] == "public, max-age=300"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert digest in text.replace("\n", "").replace(" ", "")
    # and it speaks Chinese: no English words, no codes (the unit's code and hashes aside)
    leaked = [w for w in english_in(text, ("RP", UNIT_NAME)) if not HEXISH.fullmatch(w)]
    assert leaked == [], leaked

    # CSV: UTF-8 with BOM, one row per figure.
    got = client.get(f"/public/units/RP/reports/{YEAR}.csv")
    assert got.status_code == 200 and got.mimetype == "text/csv"
    assert got.data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(got.data.decode("utf-8-sig"))))
    header, rows = table[0], table[1:]
    assert header[0].startswith("指标代码")
    values = {row[0]: row[3] for row in rows}
    assert len(values) == len(rows)  # one row per figure, keys unique
    assert values["report.snapshot_sha256"] == digest
    assert values["cases.total"] == "5"
    assert values["cases.by_type.食品安全"] == "3"
    assert values["cases.by_month.06"] == "2"
    assert values["penalties.by_kind.warning"] == "2"
    assert values["penalties.fine_total"] == "33200.50"
    assert values["legal_reviews.returned_share"] == "40.0"
    assert values["legal_reviews.average_working_days"] == "3.2"
    assert values["recording.share"] == "40.0"
    assert values["credentials.share"] == "33.3"
    assert values["hearings.count"] == "1"
    assert values["remedies.litigation.withdrawn"] == "1"
    assert values["permits.count"] == ""
    assert values["coercive_measures.count"] == "3"
    assert values["coercive_measures.by_measure.seize"] == "2"
    assert values["inspections.random_inspections.total"] == "5"
    assert values["inspections.random_inspections.no_problem"] == "2"


PERMITS = {"applications": 40, "granted": 35, "refused": 3, "source": "行政许可审批系统"}


def test_permits_entered_by_hand(app, client, seed):
    admin = seed.admin
    put = f"{API}/reports/{YEAR}"
    assert client.put(put, json={"permits": PERMITS}, headers=admin.headers).status_code == 404
    assert client.post(f"{API}/reports/{YEAR}/draft", headers=admin.headers).status_code == 201
    for bad in (
        {**PERMITS, "granted": 38},  # 38 + 3 > 40
        {**PERMITS, "refused": -1},
        {**PERMITS, "applications": "40"},
        {**PERMITS, "source": "  "},
        {k: v for k, v in PERMITS.items() if k != "source"},
    ):
        resp = client.put(put, json={"permits": bad}, headers=admin.headers)
        assert resp.status_code == 422, (bad, resp.json)
    leaky = {**PERMITS, "source": "审批科王五13812345678提供"}
    resp = client.put(put, json={"permits": leaky}, headers=admin.headers)
    assert resp.status_code == 409 and resp.json["error"]["code"] == "personal_data_found"
    assert client.put(put, json={}, headers=admin.headers).status_code == 422

    entered = client.put(put, json={"permits": PERMITS}, headers=seed.leader.headers)
    assert entered.status_code == 200, entered.json
    permits = entered.json["figures"]["permits"]
    assert {k: permits[k] for k in PERMITS} == PERMITS
    assert permits["entered_by"] == seed.leader.id and permits["entered_at"]
    assert permits["note"] == "由管理员依据行政许可审批系统录入"
    assert "受理行政许可申请40件，准予许可35件、不予许可3件" in entered.json["narrative"]

    redrafted = client.post(f"{API}/reports/{YEAR}/draft", headers=admin.headers)
    assert redrafted.status_code == 200 and redrafted.json["figures"]["permits"] == permits

    frozen = client.post(f"{API}/reports/{YEAR}/freeze", headers=admin.headers)
    assert frozen.status_code == 200, frozen.json
    assert frozen.json["figures"]["permits"] == permits
    digest = frozen.json["snapshot_sha256"]
    assert digest == canonical_sha256(frozen.json["figures"], frozen.json["narrative"])
    late = client.put(put, json={"permits": PERMITS}, headers=admin.headers)
    assert late.status_code == 409 and late.json["error"]["code"] == "report_frozen"
    assert client.post(f"{API}/reports/{YEAR}/publish", headers=admin.headers).status_code == 200

    html = client.get(f"/public/units/RP/reports/{YEAR}").get_data(as_text=True)
    assert re.search(r"行政许可</t[hd]>\s*<td[^>]*>申请 40 件，准予 35 件，不予许可 3 件", html)
    assert "由管理员依据行政许可审批系统录入" in html and "未录入" not in html
    got = client.get(f"/public/units/RP/reports/{YEAR}.csv")
    rows = list(csv.reader(io.StringIO(got.data.decode("utf-8-sig"))))[1:]
    values = {row[0]: row[3] for row in rows}
    assert values["permits.applications"] == "40"
    assert values["permits.granted"] == "35"
    assert values["permits.refused"] == "3"
    assert values["permits.source"] == "行政许可审批系统"
    assert "permits.count" not in values
    pdf = client.get(f"/public/units/RP/reports/{YEAR}.pdf")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "行政许可审批系统" in text.replace("\n", "")
    with app.app_context():
        audited = db.session.execute(
            sa.select(AuditEntry.details).where(AuditEntry.action == "report.permits_entered")
        ).scalar_one()
    assert audited["applications"] == 40 and audited["source"] == "行政许可审批系统"


def test_personal_data_typed_into_cases_or_the_draft_is_never_published(app, client, seed):
    # Officers type case types freely: one holding a phone number is counted, not printed.
    assert report._public_type("投诉人电话138-1234-5678") == report.UNTYPED
    assert report._public_type(" 食品安全 ") == "食品安全"
    admin = seed.admin
    assert client.post(f"{API}/reports/{YEAR}/draft", headers=admin.headers).status_code == 201
    with app.app_context():  # past the API's own check, as an old draft might be
        row = report.require_report(db.session, seed.unit_id, YEAR)
        row.narrative = "当事人张三，电话13812345678。"
        db.session.commit()
    frozen = client.post(f"{API}/reports/{YEAR}/freeze", headers=admin.headers)
    assert frozen.status_code == 409 and frozen.json["error"]["code"] == "personal_data_found"
    assert client.get(f"{API}/reports/{YEAR}", headers=admin.headers).json["status"] == "draft"


def test_published_report_cannot_change_underneath(app, seed):
    with app.app_context():
        r = report.draft_report(db.session, seed.unit_id, YEAR)
        report.freeze(db.session, r, None)
        report.publish(db.session, r, None)
        db.session.commit()
        r.figures = {**r.figures, "year": 1999}
        with pytest.raises(ImmutableReport):
            db.session.flush()
        db.session.rollback()
        r = db.session.get(AnnualReport, r.id)
        r.status = "draft"
        with pytest.raises(ImmutableReport):
            db.session.flush()
        db.session.rollback()


def test_current_and_future_years(client, seed):
    this_year = clock.today().year
    assert (
        client.post(f"{API}/reports/{this_year}/draft", headers=seed.admin.headers).status_code
        == 201
    )
    early = client.post(f"{API}/reports/{this_year}/freeze", headers=seed.admin.headers)
    assert early.status_code == 409 and early.json["error"]["code"] == "year_not_over"
    future = client.post(f"{API}/reports/{this_year + 1}/draft", headers=seed.admin.headers)
    assert future.status_code == 422


# --- remedy outcomes ----------------------------------------------------------------------------


def test_remedy_outcomes_api(client, seed):
    c1 = seed.cases["c1"]
    remedy(client, seed.officer, c1, "litigation", "upheld", "2025-10-01", expect=403)
    remedy(client, seed.other_admin, c1, "litigation", "upheld", "2025-10-01", expect=404)
    bad = remedy(client, seed.admin, c1, "litigation", "lost", "2025-10-01", expect=422)
    assert "outcome" in bad.json["error"]["details"]["fields"]
    listed = client.get(f"{API}/remedy-outcomes?year=2025", headers=seed.admin.headers).json
    assert [(i["kind"], i["outcome"], i["decided_on"]) for i in listed["items"]] == [
        ("reconsideration", "pending", "2025-03-01"),
        ("litigation", "withdrawn", "2025-07-15"),
        ("reconsideration", "upheld", "2025-08-01"),
        ("reconsideration", "changed", "2025-09-01"),
        ("litigation", "pending", "2025-12-01"),
    ]
    by_case = client.get(
        f"{API}/remedy-outcomes?case_id={seed.cases['c4']}", headers=seed.leader.headers
    ).json
    assert {i["outcome"] for i in by_case["items"]} == {"withdrawn", "confirmed_illegal"}
    assert client.get(f"{API}/remedy-outcomes", headers=seed.other_admin.headers).json == {
        "items": []
    }


# --- the yearly job ----------------------------------------------------------------------------


def reminder_count(app) -> int:
    with app.app_context():
        return db.session.execute(
            sa.select(sa.func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "report.reminder")
        ).scalar_one()


def test_due_drafts_on_new_year(app, users):
    users.create("a_admin", role="admin", unit="AA")
    users.create("a_admin2", role="admin", unit="AA")
    users.create("a_officer", unit="AA")
    users.create("b_admin", role="admin", unit="BB")
    with app.app_context():
        reminders = report.due_drafts(db.session, date(2027, 1, 1))
        db.session.commit()
        assert [(r.unit_code, r.year, r.status, r.admins, r.overdue) for r in reminders] == [
            ("AA", 2026, "draft", ["a_admin", "a_admin2"], False),
            ("BB", 2026, "draft", ["b_admin"], False),
        ]
        drafts = db.session.execute(sa.select(AnnualReport)).scalars().all()
        assert [(r.year, r.status) for r in drafts] == [(2026, "draft"), (2026, "draft")]
        assert drafts[0].figures["credentials"]["officers"] == 1
    assert reminder_count(app) == 2

    with app.app_context():  # the sweep runs every minute: once a day per unit
        assert report.due_drafts(db.session, date(2027, 1, 1)) == []
        db.session.commit()
    assert reminder_count(app) == 2

    with app.app_context():
        assert len(report.due_drafts(db.session, date(2027, 1, 2))) == 2
        db.session.commit()
    assert reminder_count(app) == 4

    with app.app_context():  # AA freezes late (after 15 January) and publishes
        aa = db.session.execute(
            sa.select(AnnualReport)
            .join(Unit, Unit.id == AnnualReport.unit_id)
            .where(Unit.code == "AA")
        ).scalar_one()
        report.freeze(db.session, aa, None, now=at("2027-01-16 10:00"))
        assert aa.frozen_late is True
        report.publish(db.session, aa, None, now=at("2027-01-16 11:00"))
        db.session.commit()
        later = report.due_drafts(db.session, date(2027, 1, 17))
        db.session.commit()
        assert [(r.unit_code, r.status, r.overdue) for r in later] == [("BB", "draft", True)]
        assert (
            db.session.execute(sa.select(sa.func.count()).select_from(AnnualReport)).scalar_one()
            == 2
        )
    assert reminder_count(app) == 5


def test_the_periodic_sweep_drafts_last_years_report(app, users):
    users.create("s_admin", role="admin", unit="SW")
    result = app.extensions["fieldtrace"].jobs.sweep()
    assert result["report_reminders"] == 1
    with app.app_context():
        (row,) = db.session.execute(sa.select(AnnualReport)).scalars().all()
        assert (row.year, row.status) == (clock.today().year - 1, "draft")
    assert app.extensions["fieldtrace"].jobs.sweep()["report_reminders"] == 0  # once a day
