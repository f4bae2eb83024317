"""process heartbeats: leases and pipeline runs name their process, taken over once it dies

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 03:30:00

Existing leases and runs name no process: they keep lapsing on their timers as before.
"""

from alembic import op
import sqlalchemy as sa


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "process_heartbeats",
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("beat_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("holder", name=op.f("pk_process_heartbeats")),
    )
    with op.batch_alter_table("upload_sessions") as batch:
        batch.add_column(sa.Column("lock_holder", sa.String(length=100), nullable=True))
    with op.batch_alter_table("media_items") as batch:
        batch.add_column(sa.Column("processing_holder", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("processing_run", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("media_items") as batch:
        batch.drop_column("processing_run")
        batch.drop_column("processing_holder")
    with op.batch_alter_table("upload_sessions") as batch:
        batch.drop_column("lock_holder")
    op.drop_table("process_heartbeats")
