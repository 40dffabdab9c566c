"""arxiv_pacing: one row saying when the next arXiv request may start, shared by every process.

arXiv asks for one request every 3 s from a client; the web and clock processes (and any CLI run) are one
client to it, so they take turns through this row (db/arxiv_pacing.py).

Revision ID: 0004_arxiv_pacing
Revises: 0003_digest_run_state
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_arxiv_pacing"
down_revision = "0003_digest_run_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pacing = op.create_table(
        "arxiv_pacing",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("next_request_at", sa.Double(), nullable=False),
    )
    op.bulk_insert(pacing, [{"id": 1, "next_request_at": 0.0}])


def downgrade() -> None:
    op.drop_table("arxiv_pacing")
