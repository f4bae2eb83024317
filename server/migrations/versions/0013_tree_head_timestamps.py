"""trusted time for tree heads: the RFC 3161 token over each head's signature and its time

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 04:00:00

Existing heads stay without a token; the next head signed with a TSA configured gets one.
"""

from alembic import op
import sqlalchemy as sa


revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tree_heads") as batch:
        batch.add_column(sa.Column("tsa_token", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("tsa_time", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("tree_heads") as batch:
        batch.drop_column("tsa_time")
        batch.drop_column("tsa_token")
