"""The legal review binds the decision: a 行政处罚决定书 that differs from what the agreed round
reviewed is never signed by the leader nor issued, whoever asks; a new round agreed on the new
content lets it through. Runs on SQLite and (FIELDTRACE_TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from server.extensions import db
from server.models import AuditEntry, Document
from tests.conftest import Actor, open_case
from tests.test_workflow import opinion
from tests.workflow_helpers import API, Flow, fields, move_case_to, signature_png

PARTY = {
    "type": "legal",
    "name": "某某食品有限公司",
    "id_type": "统一社会信用代码",
    "id_number": "91110000MA01234567",
    "address": "某市某区工业园8号",
    "legal_representative": "李四",
}
FINE = {"kind": "fine", "amount": "50000", "description": "罚款人民币伍万元"}
CONFISCATION = {"kind": "confiscation", "amount": "480", "description": "没收违法所得480元"}
FACTS = "当事人销售超过保质期的酸奶12箱，违法所得480元。"
BASIS = "《中华人民共和国食品安全法》第一百二十四条"
DISCRETION = "首次违法，主动配合调查，依裁量基准从轻处罚。"


@pytest.fixture
def team(users) -> dict[str, Actor]:
    return {
        "officer": users.create("db_li"),
        "sup": users.create("db_zhang", role="supervisor"),
        "legal": users.create("db_sun", role="legal"),
        "leader": users.create("db_zhao", role="leader"),
        "admin": users.create("db_admin", role="admin"),
    }


def decision_fields(**overrides: Any) -> dict[str, Any]:
    operative: dict[str, Any] = {
        "party": copy.deepcopy(PARTY),
        "facts": FACTS,
        "legal_basis": BASIS,
        "penalties": [dict(FINE), dict(CONFISCATION)],
        "discretion": DISCRETION,
    }
    return fields("penalty_decision", **{**operative, **overrides})


def draft(**overrides: Any) -> dict[str, Any]:
    """The decision draft submitted with a round, stating the same operative content."""
    return {
        "penalties": [
            {"kind": "fine", "amount": 50000, "description": "罚款人民币伍万元"},
            {"kind": "confiscation", "amount": 480, "description": "没收违法所得480元"},
        ],
        "summary": "罚款5万元，没收违法所得480元",
        "party": copy.deepcopy(PARTY),
        "facts": FACTS,
        "legal_basis": BASIS,
        "discretion": DISCRETION,
        **overrides,
    }


class Binding:
    """A general-procedure case at 审查 with its steps over the API."""

    def __init__(self, client, team: dict[str, Actor], title: str = "销售过期食品案") -> None:
        self.client, self.team, self.flow = client, team, Flow(client)
        officer, sup = team["officer"], team["sup"]
        self.case_id = open_case(client, officer, title=title)["id"]
        move_case_to(client, sup, self.case_id, "review")

    def new_decision(self, **overrides: Any) -> str:
        resp = self.client.post(
            f"{API}/cases/{self.case_id}/documents",
            json={"type": "penalty_decision", "fields": decision_fields(**overrides)},
            headers=self.team["officer"].headers,
        )
        assert resp.status_code == 201, resp.json
        return resp.json["id"]

    def edit(self, doc_id: str, **overrides: Any) -> None:
        resp = self.client.put(
            f"{API}/documents/{doc_id}",
            json={"fields": decision_fields(**overrides)},
            headers=self.team["officer"].headers,
        )
        assert resp.status_code == 200, resp.json

    def submit(self, who: Actor | None = None, expect: int = 201, **draft_overrides: Any):
        resp = self.client.post(
            f"{API}/cases/{self.case_id}/legal-reviews",
            json={"report": "审查报告：事实清楚。", "decision_draft": draft(**draft_overrides)},
            headers=(who or self.team["officer"]).headers,
        )
        assert resp.status_code == expect, resp.json
        return resp.json

    def agree(self, review_id: int) -> None:
        resp = self.client.post(
            f"{API}/legal-reviews/{review_id}/opinion",
            json=opinion("agree"),
            headers=self.team["legal"].headers,
        )
        assert resp.status_code == 200, resp.json

    def to_decision_stage(self) -> None:
        officer, leader = self.team["officer"], self.team["leader"]
        self.flow.full_doc(self.case_id, "prior_notice", {"officer": officer}, officer)
        self.flow.full_doc(
            self.case_id, "statement_record", {"officer": officer, "party": officer}, officer
        )
        self.flow.advance(leader, self.case_id, "decision")

    def match(self, doc_id: str, who: Actor | None = None) -> dict[str, Any]:
        resp = self.client.get(
            f"{API}/documents/{doc_id}/review-match",
            headers=(who or self.team["leader"]).headers,
        )
        assert resp.status_code == 200, resp.json
        return resp.json

    def leader_sign(self, doc_id: str, shown: str | None, **extra: Any):
        body = {"role": "leader", "signer_name": "赵", "image": signature_png(3), **extra}
        if shown is not None:
            body["shown_content_sha256"] = shown
        return self.client.post(
            f"{API}/documents/{doc_id}/signatures", json=body, headers=self.team["leader"].headers
        )

    def issue(self, doc_id: str, who: Actor | None = None, **body: Any):
        return self.client.post(
            f"{API}/documents/{doc_id}/issue",
            json=body or None,
            headers=(who or self.team["officer"]).headers,
        )


@pytest.fixture
def case(client, team) -> Binding:
    return Binding(client, team)


def agreed_with_decision(case: Binding, *, advance: bool = True) -> str:
    """The decision drafted, reviewed (frozen in the round) and agreed; case at 决定."""
    doc_id = case.new_decision()
    review = case.submit()
    frozen = review["package"]["decision_documents"]
    assert [(d["id"], d["version"]) for d in frozen] == [(doc_id, 1)]
    assert frozen[0]["fields"]["penalties"][0]["amount"] == "50000.00"
    case.agree(review["id"])
    if advance:
        case.to_decision_stage()
    return doc_id


def codes(resp) -> str:
    return resp.json["error"]["code"]


def test_consistent_decision_signs_and_issues(app, case):
    doc_id = agreed_with_decision(case)
    match = case.match(doc_id)
    assert match["bound"] and match["consistent"] and match["differences"] == []
    assert match["round"] == 1 and match["reviewed_source"] == "document"
    signed = case.leader_sign(doc_id, match["content_sha256"])
    assert signed.status_code == 201, signed.json
    issued = case.issue(doc_id)
    assert issued.status_code == 200 and issued.json["status"] == "issued"
    with app.app_context():
        viewed = db.session.query(AuditEntry).filter_by(action="document.review_match_viewed")
        assert [e.details["consistent"] for e in viewed] == [True]


def test_a_changed_fine_is_refused_with_the_difference_listed(case):
    doc_id = agreed_with_decision(case)
    # Reviewed: 50,000 plus confiscation of 480; typed into the decision: 200,000.
    case.edit(doc_id, penalties=[{**FINE, "amount": "200000"}, dict(CONFISCATION)])
    match = case.match(doc_id)
    assert match["bound"] and not match["consistent"]
    assert match["differences"] == [
        {
            "field": "penalties",
            "label": {"zh": "行政处罚", "en": "Penalties"},
            "reviewed": {"kind": "fine", "amount": "50000.00", "description": "罚款人民币伍万元"},
            "now": {"kind": "fine", "amount": "200000.00", "description": "罚款人民币伍万元"},
        }
    ]
    assert match["resubmit_url"] == f"/api/v1/cases/{case.case_id}/legal-reviews"
    refused = case.leader_sign(doc_id, match["content_sha256"])
    assert refused.status_code == 409 and codes(refused) == "decision_differs_from_review"
    error = refused.json["error"]
    assert "第1轮法制审核" in error["message"] and "行政处罚" in error["message"]
    assert error["details"]["differences"] == match["differences"]
    assert error["details"]["round"] == 1
    assert case.match(doc_id)["differences"] == match["differences"]  # nothing was signed
    unsigned = case.client.get(f"{API}/documents/{doc_id}", headers=case.team["sup"].headers)
    assert unsigned.json["signatures"] == []


def change_behind_the_api(app, doc_id: str, **overrides: Any) -> None:
    """A change the API would refuse after the leader signed (e.g. a direct database write):
    the issue checks again."""
    with app.app_context():
        doc = db.session.get(Document, doc_id)
        doc.fields = {**doc.fields, **decision_fields(**overrides)}
        db.session.commit()


def test_what_the_leader_signed_stays_and_the_issue_checks_again(app, case):
    doc_id = agreed_with_decision(case)
    assert case.leader_sign(doc_id, case.match(doc_id)["content_sha256"]).status_code == 201
    raised = [{**FINE, "amount": "200000"}, dict(CONFISCATION)]
    edit = case.client.put(
        f"{API}/documents/{doc_id}",
        json={"fields": decision_fields(penalties=raised)},
        headers=case.team["officer"].headers,
    )
    assert edit.status_code == 409 and codes(edit) == "signed_by_leader"
    change_behind_the_api(app, doc_id, penalties=raised)
    refused = case.issue(doc_id)
    assert refused.status_code == 409 and codes(refused) == "decision_differs_from_review"
    assert [d["field"] for d in refused.json["error"]["details"]["differences"]] == ["penalties"]
    with app.app_context():
        entries = db.session.query(AuditEntry).filter_by(action="document.signed")
        [signed] = [e for e in entries if e.details["document_id"] == doc_id]
        assert signed.details["role"] == "leader"
        assert signed.details["content_sha256"] != case.match(doc_id)["content_sha256"]


def test_a_changed_party_and_an_added_item_are_listed(case):
    doc_id = agreed_with_decision(case)
    case.edit(
        doc_id,
        party={**PARTY, "name": "某某商贸有限公司"},
        penalties=[dict(FINE), dict(CONFISCATION), {"kind": "warning", "description": "警告"}],
    )
    diffs = case.match(doc_id)["differences"]
    assert [(d["field"], d["reviewed"], d["now"]) for d in diffs] == [
        ("party.name", "某某食品有限公司", "某某商贸有限公司"),
        ("penalties", None, {"kind": "warning", "description": "警告"}),
    ]
    assert diffs[0]["label"] == {"zh": "当事人·姓名/名称", "en": "Party: Name"}
    refused = case.leader_sign(doc_id, case.match(doc_id)["content_sha256"])
    assert refused.status_code == 409
    assert [d["field"] for d in refused.json["error"]["details"]["differences"]] == [
        "party.name",
        "penalties",
    ]


def test_formatting_is_not_a_change_but_every_word_is(case):
    """Against the round's decision draft (no decision document existed yet): 50000 is
    50000.00, white space and full-width digits do not count, a changed word does."""
    review = case.submit(
        legal_basis="  《中华人民共和国食品安全法》 第一百二十四条 ",
        facts="当事人销售超过保质期的酸奶１２箱，\n违法所得480元。",
    )
    assert review["package"]["decision_documents"] == []
    case.agree(review["id"])
    case.to_decision_stage()
    doc_id = case.new_decision()
    match = case.match(doc_id)
    assert match["reviewed_source"] == "draft"
    assert match["consistent"], match["differences"]
    case.edit(doc_id, facts=FACTS.replace("12箱", "21箱"))
    [diff] = case.match(doc_id)["differences"]
    assert (diff["field"], diff["now"]) == ("facts", FACTS.replace("12箱", "21箱"))


def test_what_the_draft_did_not_state_was_not_reviewed(case):
    review = case.submit(party=None, discretion=None)
    case.agree(review["id"])
    case.to_decision_stage()
    doc_id = case.new_decision()
    diffs = case.match(doc_id)["differences"]
    assert ("party.name", None, "某某食品有限公司") in [
        (d["field"], d["reviewed"], d["now"]) for d in diffs
    ]
    assert {d["field"] for d in diffs} >= {"party.name", "party.id_number", "discretion"}
    assert all(d["reviewed_note"]["zh"] == "审核时未载明" for d in diffs)


def test_a_new_round_agreed_on_the_new_content_lets_it_through(case):
    doc_id = agreed_with_decision(case)
    raised = [{**FINE, "amount": "200000"}, dict(CONFISCATION)]
    case.edit(doc_id, penalties=raised)
    # The case is at 决定 and its round was agreed: a new round is allowed because the
    # decision differs, and the leader who found it may send it.
    second = case.submit(
        who=case.team["leader"],
        penalties=[
            {"kind": "fine", "amount": 200000, "description": "罚款人民币伍万元"},
            {"kind": "confiscation", "amount": 480, "description": "没收违法所得480元"},
        ],
    )
    assert second["round"] == 2
    assert second["package"]["decision_documents"][0]["fields"]["penalties"][0]["amount"] == (
        "200000.00"
    )
    pending = case.match(doc_id)
    assert not pending["consistent"] and pending["review_status"] == "submitted"
    waiting = case.leader_sign(doc_id, pending["content_sha256"])
    assert waiting.status_code == 409 and codes(waiting) == "legal_review_required"
    case.agree(second["id"])
    match = case.match(doc_id)
    assert match["consistent"] and match["round"] == 2
    assert case.leader_sign(doc_id, match["content_sha256"]).status_code == 201
    assert case.issue(doc_id).status_code == 200


def test_the_new_round_is_drafted_from_the_decision_as_it_now_reads(case):
    doc_id = agreed_with_decision(case)
    case.edit(doc_id, penalties=[{**FINE, "amount": "200000"}, dict(CONFISCATION)])
    resp = case.client.get(
        f"{API}/cases/{case.case_id}/legal-reviews/draft", headers=case.team["officer"].headers
    )
    assert resp.status_code == 200, resp.json
    suggested, sources = resp.json["decision_draft"], resp.json["sources"]
    assert [(p["kind"], p["amount"]) for p in suggested["penalties"]] == [
        ("fine", 200000),
        ("confiscation", 480),
    ]
    assert suggested["summary"].startswith("罚款200000元")
    assert suggested["party"]["name"] == PARTY["name"]
    assert sources["penalties"] == {
        "kind": "document",
        "document_id": doc_id,
        "label": {
            "zh": "《行政处罚决定书》（草稿）",
            "en": "Administrative penalty decision (draft)",
        },
    }
    second = case.submit(who=case.team["officer"], penalties=suggested["penalties"])
    case.agree(second["id"])
    assert case.match(doc_id)["consistent"]


def test_no_new_round_while_the_decision_matches(case):
    agreed_with_decision(case, advance=False)
    again = case.submit(who=case.team["officer"], expect=409)
    assert again["error"]["code"] == "review_agreed"
    leader = case.submit(who=case.team["leader"], expect=403)
    assert leader["error"]["code"] == "role_forbidden"


def test_no_role_can_override(app, case):
    doc_id = agreed_with_decision(case)
    shown = case.match(doc_id)["content_sha256"]
    assert case.leader_sign(doc_id, shown).status_code == 201
    change_behind_the_api(app, doc_id, penalties=[{**FINE, "amount": "200000"}])
    team = case.team
    for who in ("officer", "sup", "leader"):
        refused = case.issue(doc_id, team[who], override_reason="领导同意，特事特办")
        assert refused.status_code == 409, (who, refused.json)
        assert codes(refused) == "decision_differs_from_review"
    assert case.issue(doc_id, team["admin"]).status_code == 403
    assert case.issue(doc_id, team["legal"]).status_code == 409
    # An override field on the signature is not part of the contract at all.
    unknown = case.leader_sign(doc_id, shown, override_reason="领导同意")
    assert unknown.status_code == 422
    doc = case.client.get(f"{API}/documents/{doc_id}", headers=team["sup"].headers).json
    assert doc["status"] == "draft" and doc["number"] is None


def test_edited_between_the_dialog_and_the_click_is_refused(case):
    doc_id = agreed_with_decision(case)
    shown = case.match(doc_id)
    assert shown["consistent"]
    # Someone edits the draft while the leader's dialog is open: still as reviewed (only the
    # payment instructions change), yet not what the leader was shown.
    case.edit(doc_id, payment="自收到本决定书之日起十五日内缴至某银行。")
    raced = case.leader_sign(doc_id, shown["content_sha256"])
    assert raced.status_code == 409 and codes(raced) == "document_changed_since_shown"
    assert raced.json["error"]["details"]["content_sha256"] != shown["content_sha256"]
    # …and without saying what was shown, the leader's signature of a decision is refused.
    blind = case.leader_sign(doc_id, None)
    assert blind.status_code == 422 and codes(blind) == "shown_content_required"
    fresh = case.match(doc_id)
    assert fresh["consistent"] and fresh["content_sha256"] != shown["content_sha256"]
    assert case.leader_sign(doc_id, fresh["content_sha256"]).status_code == 201


def test_the_leader_lists_every_document_waiting_for_the_signature(case):
    report = case.flow.doc(case.team["officer"], case.case_id, "investigation_report")
    doc_id = agreed_with_decision(case)
    client, team = case.client, case.team
    listed = client.get(f"{API}/documents/awaiting-signature", headers=team["leader"].headers)
    assert listed.status_code == 200, listed.json
    rows = {r["id"]: r for r in listed.json["items"]}
    assert set(rows) == {report, doc_id}
    decision = rows[doc_id]
    assert decision["title"]["zh"] == "行政处罚决定书" and decision["version"] == 1
    assert decision["case"]["id"] == case.case_id and decision["case"]["number"]
    assert decision["created_at"] and decision["bound"] and decision["consistent"]
    assert not rows[report]["bound"]
    for who in ("officer", "sup", "legal", "admin"):
        resp = client.get(f"{API}/documents/awaiting-signature", headers=team[who].headers)
        assert resp.status_code == 403
    assert case.leader_sign(doc_id, case.match(doc_id)["content_sha256"]).status_code == 201
    after = client.get(f"{API}/documents/awaiting-signature", headers=team["leader"].headers)
    assert [r["id"] for r in after.json["items"]] == [report]
