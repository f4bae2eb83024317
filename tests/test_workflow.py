"""Case workflow end to end through the API: procedures, documents, legal review, archive."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from server import clock
from server.archive.verify import verify_archive
from server.extensions import db
from server.models import AuditEntry, Case, LegalReview, MediaItem, User
from server.services import legal_review
from tests.conftest import open_case
from tests.workflow_helpers import API, Flow, fields, signature_png

CHECKLIST = [
    "authority",
    "credentials",
    "facts",
    "evidence",
    "law_applied",
    "procedure",
    "documents",
    "within_power",
    "no_crime",
]


@pytest.fixture
def mp4(tmp_path):
    """The clips directory for ``Flow.video`` (each upload is a fresh clip)."""
    return tmp_path


@pytest.fixture
def team(users):
    return {
        "officer": users.create("li"),
        "officer2": users.create("wang"),
        "sup": users.create("zhang", role="supervisor"),
        "legal": users.create("sun", role="legal"),
        "leader": users.create("zhao", role="leader"),
        "admin": users.create("admin1", role="admin"),
    }


def opinion(outcome: str, raised: dict[str, str] | None = None) -> dict:
    raised = raised or {}
    return {
        "outcome": outcome,
        "checklist": [
            {"item": c, "passed": c not in raised, "note": raised.get(c, "")} for c in CHECKLIST
        ],
        "opinion": "事实清楚，证据确凿。" if outcome == "agree" else "证据不足，请补充。",
        "signature": signature_png(7),
    }


def missing_codes(resp) -> list[str]:
    return [m["code"] for m in resp.json["error"]["details"]["missing"]]


def test_on_the_spot_penalty_under_the_simple_procedure(app, client, team, mp4):
    flow, officer, sup = Flow(client, mp4), team["officer"], team["sup"]
    case = open_case(client, officer, procedure="simple", officer_ids=[team["officer2"].id])
    cid = case["id"]
    assert case["procedure"] == "simple"
    # Not filmed yet: no decision on the spot before the on-site video, and it says why.
    blocked = flow.advance(officer, cid, "decision", expect=409)
    assert blocked.json["error"]["code"] == "stage_requirements_missing"
    assert missing_codes(blocked) == ["onsite_not_filmed"]
    assert "现场执法视频" in blocked.json["error"]["message"]
    flow.video(officer, cid, "filing", "onsite_inspection")
    flow.advance(officer, cid, "decision")  # simple: the officer decides on the spot
    doc = flow.full_doc(
        cid, "onsite_penalty_decision", {"officer": officer, "party": officer}, officer
    )
    assert re.fullmatch(r".+当〔\d{4}〕1号", doc["number"]) and doc["sha256"]
    # The on-site video of the filing stage films the decision made on the spot too.
    flow.advance(officer, cid, "service")
    flow.advance(officer, cid, "execution")
    refused = flow.advance(officer, cid, "archive", expect=403)
    assert refused.json["error"]["code"] == "transition_role_forbidden"
    no_payment = flow.advance(sup, cid, "archive", expect=409)
    assert missing_codes(no_payment) == ["execution_record_missing"]
    paid = client.post(
        f"{API}/cases/{cid}/execution",
        json={
            "kind": "payment",
            "on": "2026-11-27",
            "amount": 200,
            "reference": "当场收缴 No.0001",
        },
        headers=officer.headers,
    )
    assert paid.status_code == 201
    archived = flow.advance(sup, cid, "archive").json
    assert archived["archived_at"] and archived["current_stage"] == "archive"
    # Read-only from now on; the originals' retention was extended to the archive period.
    late = client.post(
        f"{API}/cases/{cid}/documents",
        json={"type": "closing_report", "fields": fields("closing_report")},
        headers=officer.headers,
    )
    assert late.status_code == 409 and late.json["error"]["code"] == "case_archived"
    with app.app_context():
        items = db.session.query(MediaItem).filter_by(case_id=cid).all()
        assert len(items) == 1 and all(
            i.locked_until > clock.now() + timedelta(days=365 * 29) for i in items
        )
    docs = client.get(f"{API}/cases/{cid}/documents", headers=officer.headers).json["items"]
    assert [d["type"] for d in docs] == ["onsite_penalty_decision", "case_catalogue"]
    # The decision waits for publication (事后公开) with the natural person's name masked.
    admin = team["admin"]
    [queued] = client.get(f"{API}/disclosure/decisions", headers=admin.headers).json["items"]
    assert queued["number"] == doc["number"] and queued["status"] == "pending"
    party = fields("onsite_penalty_decision")["party"]["name"]
    assert queued["party_display"] == party[0] + "某" and party not in str(queued)
    # The worker's daily chores publish it once due (at most 7 working days after the decision).
    # A local date against the local today (Beijing's date, not the UTC one).
    due = datetime.fromisoformat(queued["due_by"]).replace(hour=12, tzinfo=UTC)
    assert due.date() <= clock.today() + timedelta(days=11)
    with app.app_context():
        from server.services import housekeeping

        assert housekeeping.run(db.session, due)["decisions_published"] == 1
        db.session.commit()
    page = client.get(f"/public/decisions/{queued['id']}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and doc["number"] in text and party not in text
    # Revoked on reconsideration: it must come down within 5 working days; late is flagged.
    revoked = client.post(
        f"{API}/remedy-outcomes",
        json={
            "case_id": cid,
            "kind": "reconsideration",
            "outcome": "revoked",
            "decided_on": "2026-12-01",
        },
        headers=admin.headers,
    )
    assert revoked.status_code == 201, revoked.json
    [listed] = client.get(f"{API}/disclosure/decisions", headers=admin.headers).json["items"]
    assert listed["takedown_due_by"] == "2026-12-08"  # Tue 1 Dec + 5 working days
    late = datetime(2026, 12, 9, 12, tzinfo=UTC)
    with app.app_context():
        from server.services import housekeeping

        assert housekeeping.run(db.session, late)["takedowns_overdue"] == 1
        assert housekeeping.run(db.session, late)["takedowns_overdue"] == 0  # flagged once
        db.session.commit()
    down = client.post(
        f"{API}/disclosure/decisions/{queued['id']}/take-down",
        json={"notice": "该决定已被复议机关撤销。"},
        headers=admin.headers,
    )
    assert down.status_code == 200, down.json
    [after] = client.get(f"{API}/disclosure/decisions", headers=admin.headers).json["items"]
    assert after["takedown_due_by"] is None and after["status"] == "taken_down"


def _general_case_to_review(flow: Flow, client, team, mp4) -> int:
    officer, sup, leader = team["officer"], team["sup"], team["leader"]
    cid = open_case(client, officer, title="销售过期食品案", officer_ids=[team["officer2"].id])[
        "id"
    ]
    filing = flow.doc(officer, cid, "filing_approval")
    flow.sign(officer, filing, "officer", "李")
    flow.sign(officer, filing, "approver", "李", expect=403)  # approval is the supervisor's
    flow.sign(sup, filing, "approver", "张")
    flow.issue(officer, filing)
    refused = flow.advance(officer, cid, "investigation", expect=403)
    assert "执法机构负责人" in refused.json["error"]["message"]
    flow.advance(sup, cid, "investigation")
    blocked = flow.advance(officer, cid, "evidence", expect=409)
    assert "现场检查(勘验)笔录" in blocked.json["error"]["message"]
    flow.full_doc(cid, "onsite_inspection_record", {"officer": officer, "party": officer}, officer)
    # The record is there but the inspection was not filmed.
    assert missing_codes(flow.advance(officer, cid, "evidence", expect=409)) == [
        "document_not_filmed"
    ]
    flow.video(officer, cid, "investigation", "onsite_inspection")
    flow.advance(officer, cid, "evidence")
    flow.full_doc(cid, "investigation_report", {"officer": officer, "leader": leader}, officer)
    flow.advance(officer, cid, "review")
    return cid


def test_general_procedure_with_a_returned_then_agreed_legal_review(app, client, team, mp4):
    flow = Flow(client, mp4)
    officer, sup, legal, leader = team["officer"], team["sup"], team["legal"], team["leader"]
    cid = _general_case_to_review(flow, client, team, mp4)
    report = client.get(f"{API}/cases/{cid}/completeness", headers=officer.headers).json
    assert report["legal_review_required"] and report["next_stage"] == "decision"
    assert report["next_stage_roles"] == ["leader"] and not report["can_advance"]
    review_stage = next(s for s in report["stages"] if s["stage"] == "review")
    assert any("法制审核" in m for m in review_stage["missing"])

    # The decision cannot be made (nor its document signed) before the legal review.
    flow.full_doc(cid, "prior_notice", {"officer": officer}, officer)
    flow.full_doc(cid, "statement_record", {"officer": officer, "party": officer}, officer)
    early = flow.advance(leader, cid, "decision", expect=409)
    assert missing_codes(early) == ["legal_review_required"]
    override = flow.advance(leader, cid, "decision", expect=409, override_reason="领导要求尽快处理")
    assert missing_codes(override) == ["legal_review_required"]  # the gate cannot be overridden
    decision = flow.doc(officer, cid, "penalty_decision")
    signed = flow.sign(leader, decision, "leader", "赵", expect=409)
    assert signed.json["error"]["code"] == "legal_review_required"

    draft = {"penalties": [{"kind": "fine", "amount": 5000}], "summary": "罚款5000元"}
    sent = client.post(
        f"{API}/cases/{cid}/legal-reviews",
        json={"report": "审查报告：事实清楚。", "decision_draft": draft},
        headers=officer.headers,
    )
    assert sent.status_code == 201, sent.json
    first = sent.json
    package = first["package"]
    assert {d["type"] for d in package["documents"]} >= {"filing_approval", "investigation_report"}
    assert package["completeness"]["case_id"] == cid
    assert package["decision_draft"]["penalties"] == [
        {"kind": "fine", "amount": 5000.0, "description": ""}
    ]
    assert "credential_displays" in package and first["due_on"] > clock.now().date().isoformat()
    # The reviewer may not agree with a raised item, and an officer may not review.
    assert (
        client.post(
            f"{API}/legal-reviews/{first['id']}/opinion",
            json=opinion("agree"),
            headers=officer.headers,
        ).status_code
        == 403
    )
    bad = client.post(
        f"{API}/legal-reviews/{first['id']}/opinion",
        json={**opinion("agree", {"evidence": "缺少进货凭证"})},
        headers=legal.headers,
    )
    assert bad.status_code == 409 and bad.json["error"]["code"] == "checklist_not_passed"
    returned = client.post(
        f"{API}/legal-reviews/{first['id']}/opinion",
        json=opinion("returned", {"evidence": "缺少进货凭证"}),
        headers=legal.headers,
    )
    assert returned.status_code == 200 and returned.json["status"] == "returned"
    assert returned.json["opinion_document_id"]
    still = flow.advance(leader, cid, "decision", expect=409)
    assert "退回补正" in still.json["error"]["message"]

    # Corrected and resubmitted: round 2, history kept.
    second = client.post(
        f"{API}/cases/{cid}/legal-reviews",
        json={"report": "已补充进货凭证。", "decision_draft": draft},
        headers=officer.headers,
    ).json
    assert second["round"] == 2
    agreed = client.post(
        f"{API}/legal-reviews/{second['id']}/opinion", json=opinion("agree"), headers=legal.headers
    )
    assert agreed.status_code == 200 and agreed.json["status"] == "agreed"
    rounds = client.get(f"{API}/cases/{cid}/legal-reviews", headers=sup.headers).json["items"]
    assert [(r["round"], r["status"]) for r in rounds] == [(1, "returned"), (2, "agreed")]
    assert rounds[0]["case_title"] == "销售过期食品案" and rounds[1]["reviewer_name"] == "Sun"
    assert rounds[0]["submitted_by_name"] == "Li"
    labels = client.get(f"{API}/legal-reviews/checklist", headers=legal.headers).json["items"]
    assert [c["item"] for c in labels] == CHECKLIST and labels[1]["label"].startswith("执法人员")
    opinions = [
        d
        for d in client.get(f"{API}/cases/{cid}/documents", headers=sup.headers).json["items"]
        if d["type"] == "legal_review_opinion"
    ]
    assert [re.sub(r".*审〔\d{4}〕", "", d["number"]) for d in opinions] == ["1号", "2号"]

    flow.advance(leader, cid, "decision")
    flow.sign(leader, decision, "leader", "赵", shown=flow.shown(leader, decision))
    issued = flow.issue(officer, decision).json
    assert re.fullmatch(r".+罚〔\d{4}〕1号", issued["number"])
    flow.advance(officer, cid, "service")
    service_video = flow.video(officer, cid, "service", "service")
    flow.full_doc(
        cid,
        "service_receipt",
        {"officer": officer, "recipient": officer},
        officer,
        recording_media_id=service_video,
        served_at="2026-11-27",
        method="direct",
        witness="",
    )
    case = flow.advance(officer, cid, "execution").json
    assert case["service_date"] == "2026-11-27"
    assert case["remedy_windows"] == {
        "served_on": "2026-11-27",
        "reconsideration_until": "2027-01-26",
        "litigation_until": "2027-05-27",
    }
    client.post(
        f"{API}/cases/{cid}/execution",
        json={"kind": "payment", "on": "2026-12-01", "amount": 5000},
        headers=officer.headers,
    )
    flow.full_doc(cid, "closing_report", {"officer": officer, "leader": leader}, officer)
    flow.advance(sup, cid, "archive")

    # The case file verifies offline; one changed byte in one file is named.
    resp = client.get(f"{API}/cases/{cid}/archive.zip?originals=1", headers=sup.headers)
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    data = resp.data
    resp.close()  # releases the spooled archive file, as a WSGI server does
    report = verify_archive(io.BytesIO(data))
    assert report.ok, report.problems
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert {"manifest.json", "signature.json", "verify.py", "custody.json", "cover.pdf"} <= set(
            names
        )
        target = next(n for n in names if n.startswith("documents/penalty_decision"))
        assert any(n.startswith("originals/") for n in names)
        tampered = io.BytesIO()
        with zipfile.ZipFile(tampered, "w") as out:
            for info in zf.infolist():
                content = zf.read(info.filename)
                if info.filename == target:
                    content = content[:100] + bytes([content[100] ^ 1]) + content[101:]
                out.writestr(info, content)
    broken = verify_archive(io.BytesIO(tampered.getvalue()))
    assert not broken.ok and any(target in p for p in broken.problems)
    with app.app_context():
        actions = [
            a
            for (a,) in db.session.query(AuditEntry.action).filter_by(
                object_type="case", object_id=str(cid)
            )
        ]
        assert actions.count("case.stage_advanced") == 7 and "legal_review.decided" in actions


def test_major_property_case_blocked_for_missing_video_then_unblocked(client, team, mp4):
    flow, officer, sup = Flow(client, mp4), team["officer"], team["sup"]
    cid = open_case(client, officer, major_property=True, officer_ids=[team["officer2"].id])["id"]
    flow.full_doc(cid, "filing_approval", {"officer": officer, "approver": sup}, officer)
    blocked = flow.advance(sup, cid, "investigation", expect=409)
    assert missing_codes(blocked) == ["major_property_no_video"]
    assert "重大财产权益" in blocked.json["error"]["message"]
    flow.video(officer, cid, "filing", "onsite_inspection")
    flow.advance(sup, cid, "investigation")
    # The supervisor may override a gap with a written reason: recorded and counted.
    officer_try = flow.advance(officer, cid, "evidence", expect=409)
    assert set(missing_codes(officer_try)) == {"document_missing", "major_property_no_video"}
    assert (
        flow.advance(officer, cid, "evidence", expect=403, override_reason="执法记录仪故障").json[
            "error"
        ]["code"]
        == "override_forbidden"
    )
    moved = flow.advance(
        sup, cid, "evidence", override_reason="执法记录仪故障，已补写情况说明"
    ).json
    assert moved["override_count"] == 1
    assert moved["stages"][-1]["override_reason"] == "执法记录仪故障，已补写情况说明"
    gaps = client.get(f"{API}/cases/{cid}/gaps", headers=sup.headers).json["gaps"]
    assert [(g["code"], g["stage"]) for g in gaps] == [
        ("major_property_no_video", "investigation"),  # overridden, still shown as a gap
        ("major_property_no_video", "evidence"),  # the new stage is not filmed yet
    ]


def test_major_decision_needs_collective_discussion(client, team, mp4):
    flow = Flow(client, mp4)
    officer, legal, leader = team["officer"], team["legal"], team["leader"]
    added = client.post(
        f"{API}/major-decisions",
        json={"title": "较大数额罚款（一万元以上）", "min_fine": 10000},
        headers=leader.headers,
    )
    assert added.status_code == 201
    cid = _general_case_to_review(flow, client, team, mp4)
    draft = {"penalties": [{"kind": "fine", "amount": 20000}]}
    sent = client.post(
        f"{API}/cases/{cid}/legal-reviews",
        json={"report": "r", "decision_draft": draft},
        headers=officer.headers,
    ).json
    assert sent["package"]["major_items"] == ["较大数额罚款（一万元以上）"]
    client.post(
        f"{API}/legal-reviews/{sent['id']}/opinion", json=opinion("agree"), headers=legal.headers
    )
    flow.full_doc(cid, "prior_notice", {"officer": officer}, officer)
    flow.full_doc(cid, "statement_record", {"officer": officer, "party": officer}, officer)
    blocked = flow.advance(leader, cid, "decision", expect=409)
    assert missing_codes(blocked) == ["collective_discussion_required"]
    flow.full_doc(
        cid, "collective_discussion_record", {"leader": leader, "officer": officer}, officer
    )
    flow.advance(leader, cid, "decision")


def test_overdue_review_is_flagged_and_extension_moves_the_deadline(app, client, team, mp4):
    flow = Flow(client, mp4)
    officer, sup, legal, leader = team["officer"], team["sup"], team["legal"], team["leader"]
    cid = _general_case_to_review(flow, client, team, mp4)
    review = client.post(
        f"{API}/cases/{cid}/legal-reviews",
        json={"report": "r", "decision_draft": {"penalties": [{"kind": "warning"}]}},
        headers=officer.headers,
    ).json
    due = datetime.fromisoformat(review["due_on"]).date()
    with app.app_context():
        assert legal_review.flag_overdue(db.session, today=due) == []  # due day itself is fine
        flagged = legal_review.flag_overdue(db.session, today=due + timedelta(days=1))
        assert [r.id for r in flagged] == [review["id"]]
        assert legal_review.flag_overdue(db.session, today=due + timedelta(days=2)) == []  # once
        # Three working days ago (a plain date could be a holiday, which runs to the next
        # working day and would not be overdue yet).
        cal, today = (
            legal_review.calendar(db.session, db.session.get(User, sup.id).unit_id),
            clock.today(),
        )
        db.session.get(LegalReview, review["id"]).due_on = cal.add_working_days(today, -3)
        db.session.commit()
        assert db.session.get(Case, cid).review_overdue
    queue = client.get(f"{API}/legal-reviews?overdue=1", headers=sup.headers).json["items"]
    assert [r["id"] for r in queue] == [review["id"]] and queue[0]["overdue"]
    # Missing materials: due in 3 working days; late ones are marked once, supplied ones kept.
    asked = client.post(
        f"{API}/legal-reviews/{review['id']}/materials",
        json={"note": "请补充进货凭证"},
        headers=legal.headers,
    ).json
    [request] = asked["materials_requests"]
    with app.app_context():
        late_day = datetime.fromisoformat(request["due_on"]).date() + timedelta(days=1)
        legal_review.flag_overdue(db.session, today=late_day)
        db.session.commit()
    late = client.get(f"{API}/legal-reviews/{review['id']}", headers=sup.headers).json
    assert late["materials_requests"][0]["overdue"] is True
    supplied = client.post(
        f"{API}/legal-reviews/{review['id']}/materials/0/supplied",
        json={"note": "已补充"},
        headers=officer.headers,
    )
    assert supplied.status_code == 200 and supplied.json["materials_requests"][0]["supplied_at"]
    client.post(
        f"{API}/legal-reviews/{review['id']}/extension",
        json={"reason": "案情复杂"},
        headers=legal.headers,
    )
    assert (
        client.post(
            f"{API}/legal-reviews/{review['id']}/extension/approve", headers=sup.headers
        ).status_code
        == 403
    )
    extended = client.post(
        f"{API}/legal-reviews/{review['id']}/extension/approve", headers=leader.headers
    ).json
    assert extended["due_on"] > (clock.now().date() - timedelta(days=3)).isoformat()
    assert extended["extension"]["approved"]


def test_document_versions_and_party_handover(app, client, team):
    flow, officer, sup = Flow(client, mp4), team["officer"], team["sup"]
    cid = open_case(client, officer)["id"]
    issued = flow.full_doc(cid, "filing_approval", {"officer": officer, "approver": sup}, officer)
    corrected = client.post(
        f"{API}/documents/{issued['id']}/versions",
        json={"fields": fields("filing_approval", summary="更正：涉案酸奶12箱。")},
        headers=officer.headers,
    )
    assert corrected.status_code == 201 and corrected.json["version"] == 2
    v2 = corrected.json["id"]
    flow.sign(officer, v2, "officer", "李")
    flow.sign(sup, v2, "approver", "张")
    after = flow.issue(officer, v2).json
    assert after["number"] == issued["number"]  # a correction keeps the number
    assert [(v["version"], v["status"]) for v in after["versions"]] == [
        (1, "superseded"),
        (2, "issued"),
    ]
    # The 立案审批表 is the unit's own paper: no link for the party, in any version.
    assert not after["for_the_party"]
    for doc_id, code in ((v2, "not_for_the_party"), (issued["id"], "superseded")):
        refused = client.post(f"{API}/documents/{doc_id}/handover", headers=officer.headers)
        assert refused.status_code == 409 and refused.json["error"]["code"] == code

    order = flow.full_doc(
        cid, "rectification_order", {"officer": officer, "party": officer}, officer
    )
    fixed = client.post(
        f"{API}/documents/{order['id']}/versions",
        json={"fields": fields("rectification_order")},
        headers=officer.headers,
    ).json["id"]
    flow.sign(officer, fixed, "officer", "李")
    flow.sign(officer, fixed, "party", "当事人")
    after = flow.issue(officer, fixed).json
    assert after["for_the_party"]
    stale = client.post(f"{API}/documents/{order['id']}/handover", headers=officer.headers)
    assert stale.status_code == 409 and stale.json["error"]["code"] == "superseded"
    v2 = fixed
    pdf = client.get(f"{API}/documents/{v2}/pdf", headers=officer.headers)
    assert pdf.data.startswith(b"%PDF") and pdf.headers["X-Content-SHA256"] == after["sha256"]

    offered = client.post(f"{API}/documents/{v2}/handover", headers=officer.headers)
    assert offered.status_code == 201 and "<svg" in offered.json["qr_svg"]
    path = offered.json["url"].split("://", 1)[1].split("/", 1)[1]
    got = client.get("/" + path)  # no login: the party's phone
    assert got.status_code == 200 and got.data == pdf.data
    with app.app_context():
        handed = db.session.query(AuditEntry).filter_by(action="document.handed_over").one()
        assert handed.details["number"] == after["number"] and handed.object_id == str(cid)
    assert client.get("/public/documents/not-a-token").status_code == 404


def test_document_validation_and_roles(client, team, users):
    flow, officer = Flow(client), team["officer"]
    cid = open_case(client, officer)["id"]
    bad = client.post(
        f"{API}/cases/{cid}/documents",
        json={
            "type": "onsite_penalty_decision",
            "fields": fields(
                "onsite_penalty_decision", penalties=[{"kind": "fine", "amount": "500"}]
            ),
        },
        headers=officer.headers,
    )
    assert bad.status_code == 422 and bad.json["error"]["code"] == "invalid_document_fields"
    unknown = client.post(
        f"{API}/cases/{cid}/documents",
        json={"type": "arrest", "fields": {}},
        headers=officer.headers,
    )
    assert unknown.status_code == 422 and unknown.json["error"]["code"] == "unknown_document_type"
    doc = flow.doc(officer, cid, "filing_approval")
    missing = flow.issue(officer, doc, expect=409)
    assert missing.json["error"]["details"]["missing"] == ["officer", "approver"]
    blank = client.post(
        f"{API}/documents/{doc}/signatures",
        json={"role": "officer", "signer_name": "李", "image": "data:image/png;base64,AAAA" * 3},
        headers=officer.headers,
    )
    assert blank.status_code == 422 and blank.json["error"]["code"] == "invalid_signature"
    stranger = users.create("wu", unit="U2")
    assert client.get(f"{API}/documents/{doc}", headers=stranger.headers).status_code == 404
    types = client.get(f"{API}/document-types", headers=officer.headers).json["items"]
    assert len(types) == 19
