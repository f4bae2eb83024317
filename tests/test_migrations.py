"""Alembic migrations build exactly the schema the models describe (SQLite and PostgreSQL)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from server import create_app
from server.cli import _migrations_dir_for_tests
from server.extensions import db


def test_upgrade_matches_models(app_config):
    import logging

    app = create_app(**app_config)
    with app.app_context():
        upgrade(directory=_migrations_dir_for_tests())
        # alembic's logging setup must leave the app's own loggers on (it disabled them,
        # silencing "unhandled error" and the worker's job lines after an in-process upgrade)
        for name in ("server.api", "server.queue", "server.jobs"):
            assert not logging.getLogger(name).disabled, name
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        # Column-type noise of the UTC TypeDecorator aside, nothing may differ.
        assert diff == [], diff
        db.engine.dispose()


def test_0007_takes_the_last_status_change_from_the_audit_trail(app_config):
    from datetime import UTC, datetime

    import sqlalchemy as sa

    app = create_app(**app_config)
    with app.app_context():
        upgrade(directory=_migrations_dir_for_tests(), revision="0006")
        t0, t1 = datetime(2026, 3, 1, 8, tzinfo=UTC), datetime(2026, 5, 2, 9, tzinfo=UTC)
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO units (id, code, name, created_at, short_name)"
                    " VALUES (1, 'U', 'u', :t, '')"
                ),
                {"t": t0},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, username, name, role, unit_id,"
                    " password_hash, active, created_at) VALUES"
                    " (1, 'li', 'Li', 'officer', 1, 'x', :yes, :t)"
                ),
                {"t": t0, "yes": True},
            )
            for cid, number in ((1, "A"), (2, "B")):
                conn.execute(
                    sa.text(
                        "INSERT INTO credentials (id, user_id, number,"
                        " issuing_authority, categories, area, valid_from,"
                        " valid_to, status) VALUES (:id, 1, :n, 'x', '[]', '', :t,"
                        " :t, 'suspended')"
                    ),
                    {"id": cid, "n": number, "t": t0},
                )
            for seq, at in ((1, t0), (2, t1)):
                conn.execute(
                    sa.text(
                        "INSERT INTO audit_entries (seq, at, actor, action,"
                        " object_type, object_id, client_addr, details, prev_hash,"
                        " entry_hash) VALUES (:seq, :at, 'a',"
                        " 'credential.status_changed', 'credential', '1', '', '{}',"
                        " 'p', 'h')"
                    ),
                    {"seq": seq, "at": at},
                )
        upgrade(directory=_migrations_dir_for_tests())
        with db.engine.connect() as conn:
            rows = dict(
                conn.execute(sa.text("SELECT id, status_changed_at FROM credentials")).all()
            )
        assert rows[2] is None
        changed = rows[1] if isinstance(rows[1], datetime) else datetime.fromisoformat(rows[1])
        assert changed.replace(tzinfo=None) == t1.replace(tzinfo=None)
        db.engine.dispose()


def test_0015_puts_published_penalty_kinds_in_words(app_config):
    from datetime import UTC, date, datetime

    import sqlalchemy as sa

    app = create_app(**app_config)
    with app.app_context():
        upgrade(directory=_migrations_dir_for_tests(), revision="0014")
        t0 = datetime(2026, 3, 1, 8, tzinfo=UTC)
        old = "fine200000元；warning；confiscation480元"
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO units (id, code, name, created_at, short_name)"
                    " VALUES (1, 'U', 'u', :t, '')"
                ),
                {"t": t0},
            )
            for pid, summary in ((1, old), (2, "罚款5000元")):
                conn.execute(
                    sa.text(
                        "INSERT INTO published_decisions (id, unit_id, number, title,"
                        " party_kind, party_display, decided_at, penalty_summary,"
                        " penalty_kinds, body, status, withheld_reason, block_hits, due_by,"
                        " takedown_notice, created_at, updated_at) VALUES (:id, 1, 'N',"
                        " 'T', 'legal', '某公司', :d, :s, ',fine,', :b, 'published', '',"
                        " '[]', :d, '', :t, :t)"
                    ),
                    {
                        "id": pid,
                        "d": date(2026, 3, 1),
                        "s": summary,
                        "b": f"当事人：某公司。处罚内容：{summary}。fine print stays",
                        "t": t0,
                    },
                )
        upgrade(directory=_migrations_dir_for_tests())
        with db.engine.connect() as conn:
            rows = dict(
                (i, (s, b))
                for i, s, b in conn.execute(
                    sa.text("SELECT id, penalty_summary, body FROM published_decisions")
                )
            )
        fixed = "罚款200000元；警告；没收违法所得、没收非法财物480元"
        assert rows[1] == (fixed, f"当事人：某公司。处罚内容：{fixed}。fine print stays")
        assert rows[2][0] == "罚款5000元"
        db.engine.dispose()
