"""receipts the officer holds (存证回执): the signed receipt of each verified item, as issued

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 03:40:00

Starts empty: items verified before it get their receipt on first request
(``GET /api/v1/media/<id>/receipt``).
"""

from alembic import op
import sqlalchemy as sa


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "media_receipts",
        sa.Column("media_item_id", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_item_id"],
            ["media_items.id"],
            name=op.f("fk_media_receipts_media_item_id_media_items"),
        ),
        sa.PrimaryKeyConstraint("media_item_id", name=op.f("pk_media_receipts")),
    )


def downgrade():
    op.drop_table("media_receipts")
