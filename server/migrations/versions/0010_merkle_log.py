"""the audit log as an RFC 6962 Merkle tree: stored subtree hashes and signed tree heads

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 01:30:00

Both tables start empty: the first signed tree head (the worker's sweep, within a minute)
builds the tree over every existing audit entry.
"""

from alembic import op
import sqlalchemy as sa


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "merkle_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_merkle_nodes")),
    )
    op.create_table(
        "tree_heads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tree_heads")),
        sa.UniqueConstraint("tree_size", name=op.f("uq_tree_heads_tree_size")),
    )


def downgrade():
    op.drop_table("tree_heads")
    op.drop_table("merkle_nodes")
