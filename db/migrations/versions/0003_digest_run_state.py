"""The digest run's state as explicit columns: `planned_at` and `notice_posted_at` replace `note`.

`note` was a hidden state machine (None -> "arxiv-unavailable-notice" -> "planned"); existing rows carry
over with their start time as the moment (the old column kept no time): 'planned' sets `planned_at`,
'arxiv-unavailable-notice' sets `notice_posted_at`. The downgrade writes the strings back ('planned' wins,
as it did when both had happened).

Plain ALTER TABLE (SQLite >= 3.35 drops columns natively): a batch copy of `digest_runs` would drop the
old table, and with foreign keys on that deletes every `digest_items` row through ON DELETE CASCADE.

Revision ID: 0003_digest_run_state
Revises: 0002_search
"""

import sqlalchemy as sa
from alembic import op

# db.models.UTCDateTime's column type, copied so this migration never changes when the model does.
UTCDateTime = sa.DateTime(timezone=True)

revision = "0003_digest_run_state"
down_revision = "0002_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("digest_runs", sa.Column("planned_at", UTCDateTime))
    op.add_column("digest_runs", sa.Column("notice_posted_at", UTCDateTime))
    op.execute("UPDATE digest_runs SET planned_at = started_at WHERE note = 'planned'")
    op.execute("UPDATE digest_runs SET notice_posted_at = started_at WHERE note = 'arxiv-unavailable-notice'")
    op.drop_column("digest_runs", "note")


def downgrade() -> None:
    op.add_column("digest_runs", sa.Column("note", sa.Text))
    op.execute("UPDATE digest_runs SET note = 'arxiv-unavailable-notice' WHERE notice_posted_at IS NOT NULL")
    op.execute("UPDATE digest_runs SET note = 'planned' WHERE planned_at IS NOT NULL")
    op.drop_column("digest_runs", "notice_posted_at")
    op.drop_column("digest_runs", "planned_at")
