"""backfill_windows: what `papers-bot backfill` harvested through OAI-PMH, and where a running harvest resumes.

One row per (OAI set, window of datestamps): a running window holds arXiv's resumption token and the newest
datestamp stored so far; a done window says which days need no request again (db/backfill.py).

Revision ID: 0010_backfill_state
Revises: 0009_foryou_dm
"""

import sqlalchemy as sa
from alembic import op

# The column type db.models.UTCDateTime stores as (see 0001).
UTCDateTime = sa.DateTime(timezone=True)

revision = "0010_backfill_state"
down_revision = "0009_foryou_dm"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backfill_windows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("set_spec", sa.String(64), nullable=False),
        sa.Column("from_date", sa.Date, nullable=False),
        sa.Column("until_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resumption_token", sa.Text, nullable=True),
        sa.Column("resume_from", sa.Date, nullable=True),
        sa.Column("covered_through", sa.Date, nullable=True),
        sa.Column("pages", sa.Integer, nullable=False),
        sa.Column("papers", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("set_spec", "from_date", "until_date", name="uq_backfill_windows_set_window"),
    )


def downgrade() -> None:
    op.drop_table("backfill_windows")
