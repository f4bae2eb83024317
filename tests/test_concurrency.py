"""Concurrent writers keep the audit chain linear and an upload single-writer."""

import threading

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
