"""foryou_dm_subscribers and foryou_dm_sent: the opt-in morning For you DM, and what it already sent to whom.

Revision ID: 0009_foryou_dm
Revises: 0008_search_watermark
"""

import sqlalchemy as sa
from alembic import op

# The column type db.models.UTCDateTime stores as (see 0001).
UTCDateTime = sa.DateTime(timezone=True)

revision = "0009_foryou_dm"
down_revision = "0008_search_watermark"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "foryou_dm_subscribers",
        sa.Column("team_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("since", UTCDateTime, nullable=False),
    )
    op.create_table(
        "foryou_dm_sent",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("arxiv_id", sa.String(64), nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("team_id", "user_id", "arxiv_id", name="uq_foryou_dm_sent_team_user_paper"),
    )


def downgrade() -> None:
    op.drop_table("foryou_dm_sent")
    op.drop_table("foryou_dm_subscribers")
