"""Papers where people talk: saved papers, follows, and the follow alerts sent by DM.

- `saved_papers`: one row per (team, user, paper) the user saved for later; marking it read removes it;
- `follows`: a user's saved searches (`kv cache`, `author:"Song Han"`), at most 20 each (checked in bot/);
- `follow_alerts`: one row per (team, user, paper) a follow matched; `sent_at` is set once the DM with it went
  out, so a paper is never sent to the same user twice.

Revision ID: 0006_conversations
Revises: 0005_topic_editors
"""

import sqlalchemy as sa
from alembic import op

# db.models.UTCDateTime's column type, copied so this migration never changes when the model does.
UTCDateTime = sa.DateTime(timezone=True)

revision = "0006_conversations"
down_revision = "0005_topic_editors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_papers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("arxiv_id", sa.String(64), sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"), nullable=False),
        sa.Column("saved_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("team_id", "user_id", "arxiv_id", name="uq_saved_papers_team_user_paper"),
    )
    op.create_index("ix_saved_papers_team_user_saved_at", "saved_papers", ["team_id", "user_id", "saved_at"])
    op.create_table(
        "follows",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("team_id", "user_id", "query", name="uq_follows_team_user_query"),
    )
    op.create_table(
        "follow_alerts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("arxiv_id", sa.String(64), sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("matched_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime),
        sa.UniqueConstraint("team_id", "user_id", "arxiv_id", name="uq_follow_alerts_team_user_paper"),
    )
    op.create_index("ix_follow_alerts_unsent", "follow_alerts", ["team_id", "user_id", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_follow_alerts_unsent", table_name="follow_alerts")
    op.drop_table("follow_alerts")
    op.drop_table("follows")
    op.drop_index("ix_saved_papers_team_user_saved_at", table_name="saved_papers")
    op.drop_table("saved_papers")
