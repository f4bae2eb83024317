"""how the phone took a photo (method, size, camera, facing, zoom), kept on the media item

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 03:55:00

Items received before it have none (NULL): the upload's metadata of those was not kept.
"""

from alembic import op
import sqlalchemy as sa


revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("media_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("capture", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("media_items", schema=None) as batch_op:
        batch_op.drop_column("capture")
