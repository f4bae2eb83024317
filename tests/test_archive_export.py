"""The exported case file names every document apart, even when numbers restart each year."""

from __future__ import annotations

import io
import zipfile

from server.archive.verify import verify_archive
from server.extensions import db
from server.models import Document
from tests.conftest import open_case
from tests.workflow_helpers import API, Flow, move_case_to


def test_same_number_in_two_years_gets_two_files(app, client, users):
    officer, sup = users.create("li"), users.create("zhang", role="supervisor")
    flow = Flow(client)
    cid = open_case(client, officer, procedure="simple")["id"]
    move_case_to(client, sup, cid, "execution")
    first = flow.full_doc(cid, "prior_notice", {"officer": officer}, officer)
    second = flow.full_doc(cid, "prior_notice", {"officer": officer}, officer)
    with app.app_context():  # 〔2025〕2号 issued on 31 December, then 〔2026〕1号
        old = db.session.get(Document, first["id"])
        old.year, old.seq = old.year - 1, 2
        db.session.get(Document, second["id"]).seq = 2
        db.session.commit()
    assert (
        client.post(
            f"{API}/cases/{cid}/execution",
            json={"kind": "payment", "on": "2026-11-27", "amount": 200},
            headers=officer.headers,
        ).status_code
        == 201
    )
    flow.advance(sup, cid, "archive")
    resp = client.get(f"{API}/cases/{cid}/archive.zip", headers=sup.headers)
    data = resp.data
    resp.close()
    report = verify_archive(io.BytesIO(data))
    assert report.ok, report.problems
    # every custody entry is proven in the public log's signed tree
    assert report.summary["inclusion_proofs_checked"] == report.summary["custody_entries"] > 0
    assert report.summary["tree_size"] >= report.summary["custody_last_seq"]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        notices = sorted(n for n in zf.namelist() if n.startswith("documents/prior_notice"))
    year = first["number"].split("〔")[1][:4]
    assert notices == [
        f"documents/prior_notice-{int(year) - 1}-2-v1.pdf",
        f"documents/prior_notice-{year}-2-v1.pdf",
    ]
