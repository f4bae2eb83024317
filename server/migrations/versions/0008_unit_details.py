"""unit address and contact phone

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 00:20:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("address", sa.String(length=300), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("contact_phone", sa.String(length=40), server_default="", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_column("contact_phone")
        batch_op.drop_column("address")
