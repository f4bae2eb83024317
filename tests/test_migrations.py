"""Alembic migrations build exactly the schema the models describe (SQLite and PostgreSQL)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from server import create_app
from server.cli import _migrations_dir_for_tests
from server.extensions import db


def test_upgrade_matches_models(app_config):
    app = create_app(**app_config)
    with app.app_context():
        upgrade(directory=_migrations_dir_for_tests())
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        # Column-type noise of the UTC TypeDecorator aside, nothing may differ.
        assert diff == [], diff
        db.engine.dispose()
