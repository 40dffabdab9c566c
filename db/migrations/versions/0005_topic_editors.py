"""Who changed a channel's topic, and pausing a channel Slack keeps refusing: three columns on `channel_topics`.

- `updated_by`: the Slack user id of the last editor (NULL for topics stored before this revision);
- `consecutive_failures`: digest runs in a row that Slack stopped for good (not_in_channel, …); 0 for
  existing rows;
- `paused_at`: when the channel was paused after too many of those; NULL means it gets its digest.

Plain ADD/DROP COLUMN (SQLite >= 3.35 drops columns natively), no batch copy of the table.

Revision ID: 0005_topic_editors
Revises: 0004_arxiv_pacing
"""

import sqlalchemy as sa
from alembic import op

# db.models.UTCDateTime's column type, copied so this migration never changes when the model does.
UTCDateTime = sa.DateTime(timezone=True)

revision = "0005_topic_editors"
down_revision = "0004_arxiv_pacing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("channel_topics", sa.Column("updated_by", sa.String(64)))
    op.add_column("channel_topics", sa.Column("consecutive_failures", sa.Integer, nullable=False,
                                              server_default="0"))
    op.add_column("channel_topics", sa.Column("paused_at", UTCDateTime))


def downgrade() -> None:
    op.drop_column("channel_topics", "paused_at")
    op.drop_column("channel_topics", "consecutive_failures")
    op.drop_column("channel_topics", "updated_by")
