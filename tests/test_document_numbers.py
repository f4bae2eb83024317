"""Document numbers: per unit, type and year, gapless under concurrent issue requests."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.conftest import open_case
from tests.workflow_helpers import API, Flow


def test_twenty_parallel_issues_get_numbers_one_to_twenty(client, users, live_server):
    officer = users.create("li")
    other_unit = users.create("wu", unit="U2")
    flow = Flow(client)
    cid = open_case(client, officer)["id"]
    drafts = []
    for _ in range(20):
        doc = flow.doc(officer, cid, "prior_notice")
        flow.sign(officer, doc, "officer", "李")
        drafts.append(doc)

    def issue(doc_id: str) -> requests.Response:
        return requests.post(
            f"{live_server}{API}/documents/{doc_id}/issue", headers=officer.headers, timeout=60
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(issue, drafts))
    assert [r.status_code for r in results] == [200] * 20, [
        r.text for r in results if r.status_code != 200
    ]
    numbers = [r.json()["number"] for r in results]
    seqs = sorted(int(re.fullmatch(r".+告〔\d{4}〕(\d+)号", n).group(1)) for n in numbers)
    assert seqs == list(range(1, 21))
    # Another unit's series starts at 1; another type of this unit too.
    other_case = open_case(client, other_unit)["id"]
    first_other = flow.doc(other_unit, other_case, "prior_notice")
    flow.sign(other_unit, first_other, "officer", "吴")
    assert flow.issue(other_unit, first_other).json["number"].endswith("〕1号")
    hearing = flow.doc(officer, cid, "hearing_notice")
    flow.sign(officer, hearing, "officer", "李")
    assert flow.issue(officer, hearing).json["number"].endswith("〕1号")
