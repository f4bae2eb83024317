"""Concurrent writers keep the audit chain linear and an upload single-writer."""

import threading
from concurrent.futures import ThreadPoolExecutor

from server.extensions import db
from server.services import audit


def test_parallel_audit_appends_keep_one_valid_chain(app):
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                with app.app_context():
                    audit.record(
                        db.session,
                        actor=None,
                        action="test.parallel",
                        object_type="t",
                        object_id=f"{n}-{i}",
                    )
                    db.session.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with app.app_context():
        report = audit.verify_chain(db.session)
    assert report.ok, [str(p) for p in report.problems]
    assert report.checked == 40


def _simple_case_in_execution(client, users):
    from tests.conftest import open_case
    from tests.workflow_helpers import API, Flow, move_case_to

    officer, sup = users.create("li"), users.create("zhang", role="supervisor")
    cid = open_case(client, officer, procedure="simple")["id"]
    move_case_to(client, sup, cid, "execution")
    paid = client.post(
        f"{API}/cases/{cid}/execution",
        json={"kind": "payment", "on": "2026-11-27", "amount": 200, "reference": "No.1"},
        headers=officer.headers,
    )
    assert paid.status_code == 201, paid.json
    return Flow(client), officer, sup, cid


def test_moves_to_the_same_stage_at_once_give_one_move_and_409s(client, users, live_server):
    import requests

    from tests.conftest import open_case
    from tests.workflow_helpers import API

    sup = users.create("zhang", role="supervisor")
    cid = open_case(client, sup)["id"]

    def move(_: int) -> requests.Response:
        return requests.post(
            f"{live_server}{API}/cases/{cid}/stage",
            json={
                "to_stage": "investigation",
                "reason": "并发",
                "override_reason": "测试准备：越过缺项",
            },
            headers=sup.headers,
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(move, range(4)))
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409], [r.text for r in results]
    assert {r.json()["error"]["code"] for r in results if r.status_code == 409} == {
        "stage_not_forward"
    }


def test_no_document_is_issued_into_a_case_archived_at_the_same_moment(
    app, client, users, live_server
):
    import requests

    from server.models import Case, Document
    from tests.workflow_helpers import API

    flow, officer, sup, cid = _simple_case_in_execution(client, users)
    flow.full_doc(cid, "rectification_order", {"officer": officer, "party": officer}, officer)
    late = flow.doc(officer, cid, "rectification_order")
    flow.sign(officer, late, "officer", "李")
    flow.sign(officer, late, "party", "当事人")
    calls = [
        (f"{API}/cases/{cid}/stage", {"to_stage": "archive", "reason": "结案"}, sup),
        (f"{API}/documents/{late}/issue", None, officer),
    ]

    def send(call) -> requests.Response:
        path, body, actor = call
        return requests.post(f"{live_server}{path}", json=body, headers=actor.headers, timeout=60)

    with ThreadPoolExecutor(max_workers=2) as pool:
        archived, issued = pool.map(send, calls)
    assert archived.status_code == 200, archived.text
    assert issued.status_code in (200, 409), issued.text
    with app.app_context():
        case = db.session.get(Case, cid)
        doc = db.session.get(Document, late)
        if issued.status_code == 409:
            assert issued.json()["error"]["code"] == "case_archived" and doc.status == "draft"
        else:  # issued first: it is in the file the archive closed
            assert doc.issued_at <= case.archived_at
