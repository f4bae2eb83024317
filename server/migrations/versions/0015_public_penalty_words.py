"""public decision pages: penalty kinds in words (罚款200000元), not codes (fine200000元)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 04:10:00

Decisions queued or published before penalty kinds were put in words kept their codes in the
summary and the body the public reads. Only the summary, and the same text inside the body,
are rewritten; the labels are the ones the code uses (documents/registry.py PENALTY_KINDS).
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

LABELS = {
    "warning": "警告",
    "fine": "罚款",
    "confiscation": "没收违法所得、没收非法财物",
    "suspension": "责令停产停业",
    "license_revocation": "吊销许可证件",
    "license_suspension": "暂扣许可证件",
    "other": "其他",
}
# A code at the start of one "；"-separated part, followed by its amount or nothing.
_CODE = re.compile(r"(^|；)(" + "|".join(sorted(LABELS, key=len, reverse=True)) + r")(?=\d|；|$)")


def in_words(summary: str) -> str:
    return _CODE.sub(lambda m: m.group(1) + LABELS[m.group(2)], summary)


def upgrade():
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, penalty_summary, body FROM published_decisions"))
    for row_id, summary, body in list(rows):
        fixed = in_words(summary or "")
        if fixed == (summary or ""):
            continue
        conn.execute(
            sa.text("UPDATE published_decisions SET penalty_summary = :s, body = :b WHERE id = :i"),
            {"s": fixed, "b": (body or "").replace(summary, fixed), "i": row_id},
        )


def downgrade():
    pass  # the codes were never meant for the public
