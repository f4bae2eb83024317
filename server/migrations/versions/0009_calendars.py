"""per-unit calendar days and imported national holiday notices

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 01:00:00

Days entered before this revision changed every unit's deadlines, so each becomes a day of
every unit: no deadline moves on upgrade. From here on a unit's days move only its own.
"""

from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "unit_calendar_days",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_workday", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_unit_calendar_days_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("unit_id", "day", name=op.f("pk_unit_calendar_days")),
    )
    op.execute(
        "INSERT INTO unit_calendar_days (unit_id, day, is_workday, note)"
        " SELECT u.id, c.day, c.is_workday, c.note FROM calendar_days c CROSS JOIN units u"
    )
    op.drop_table("calendar_days")
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["imported_by_id"], ["users.id"], name=op.f("fk_calendar_years_imported_by_id_users")
        ),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_years")),
    )


def downgrade():
    op.drop_table("calendar_years")
    op.create_table(
        "calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_workday", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_calendar_days")),
    )
    op.execute(
        "INSERT INTO calendar_days (day, is_workday, note)"
        # Lossy by nature: one unit's days stand for all again.
        " SELECT day, is_workday, note FROM unit_calendar_days"
        " WHERE unit_id = (SELECT MIN(unit_id) FROM unit_calendar_days)"
    )
    op.drop_table("unit_calendar_days")
