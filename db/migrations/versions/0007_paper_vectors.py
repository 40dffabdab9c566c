"""paper_vectors: each paper's term vector for For you, similar papers and the morning DM.

Vectors are computed when a page of papers is stored (and by a backfill for papers stored before), so a
recommendation request is a lookup and dot products. The row goes with its paper (ON DELETE CASCADE).
`computed_at` is indexed because its maximum is part of the key that tells a process its cached window of
candidate vectors is stale.

Revision ID: 0007_paper_vectors
Revises: 0006_conversations
"""

import sqlalchemy as sa
from alembic import op

# The column type db.models.UTCDateTime stores as (see 0001).
UTCDateTime = sa.DateTime(timezone=True)

revision = "0007_paper_vectors"
down_revision = "0006_conversations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_vectors",
        sa.Column("paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True,
                  autoincrement=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("paper_version", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("computed_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_paper_vectors_computed_at", "paper_vectors", ["computed_at"])


def downgrade() -> None:
    op.drop_table("paper_vectors")
