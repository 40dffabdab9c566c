"""Every row knows its workspace: `team_id` on channel_topics, digest_runs and digest_items, keys per team, and
the `workspaces` table.

- `channel_topics`: primary key (team_id, channel); `digest_runs`: unique (team_id, channel, digest_date);
  `digest_items`: unique (team_id, channel, arxiv_id). Two workspaces may both have a channel C123: each has its
  own topic, its own runs and its own "never posted twice" ledger.
- `workspaces`: one row per Slack workspace the app has served (team_id, name, installed_at, uninstalled_at).

Existing rows get team_id '' (the empty team): the mark of a row from before workspaces, which the first start
that knows the install's workspace (SLACK_TEAM_ID, else `auth.test` with SLACK_BOT_TOKEN) hands to that
workspace (bot.workspaces.adopt_unassigned_rows, through db.workspaces.assign_unassigned). The migration itself
never calls Slack: it runs in `papers-bot db upgrade`, in a release phase or a test, possibly offline, and the
alembic environment has no settings; a marker resolved by a process that has them works offline the same way.
The tables that had team_id already (reads, saved_papers, follows, follow_alerts, foryou_dm_*) may hold '' from
older code paths (a request without a team); the same start-up step assigns those.

SQLite cannot change a primary key or drop a table constraint in place, so it rebuilds the three tables. The
digest ledger is rebuilt child first: `digest_items` is copied aside and dropped before `digest_runs` is replaced,
because dropping a parent with foreign keys on deletes its children through ON DELETE CASCADE (see 0003).
PostgreSQL alters the tables in place.

The downgrade keeps one row per old key where several workspaces share a channel id: the row of the smallest
team_id (the others' topics and ledger rows are deleted, as the single-workspace schema cannot hold them).

Revision ID: 0011_workspace_scope
Revises: 0009_foryou_dm
"""

import sqlalchemy as sa
from alembic import op

# db.models.UTCDateTime's column type, copied so this migration never changes when the model does.
UTCDateTime = sa.DateTime(timezone=True)

revision = "0011_workspace_scope"
down_revision = "0010_backfill_state"
branch_labels = None
depends_on = None

TOPIC_COLUMNS = "channel, keywords, exclude, categories, updated_at, updated_by, consecutive_failures, paused_at"
RUN_COLUMNS = ("id, channel, digest_date, status, parent_ts, lease_owner, lease_expires_at, paper_count, planned_at, "
               "notice_posted_at, started_at, finished_at")
ITEM_COLUMNS = "id, run_id, channel, arxiv_id, position, message_ts, posted_at, error"


def _topic_columns(with_team: bool) -> list:
    team = [sa.Column("team_id", sa.String(64), primary_key=True)] if with_team else []
    return [*team,
            sa.Column("channel", sa.String(64), primary_key=True),
            sa.Column("keywords", sa.JSON, nullable=False),
            sa.Column("exclude", sa.JSON, nullable=False),
            sa.Column("categories", sa.JSON, nullable=False),
            sa.Column("updated_at", UTCDateTime, nullable=False),
            sa.Column("updated_by", sa.String(64)),
            sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
            sa.Column("paused_at", UTCDateTime)]


def _run_columns(with_team: bool) -> list:
    team = [sa.Column("team_id", sa.String(64), nullable=False)] if with_team else []
    unique = (sa.UniqueConstraint("team_id", "channel", "digest_date", name="uq_digest_runs_team_channel_date")
              if with_team else sa.UniqueConstraint("channel", "digest_date", name="uq_digest_runs_channel_date"))
    return [sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), *team,
            sa.Column("channel", sa.String(64), nullable=False),
            sa.Column("digest_date", sa.Date, nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("parent_ts", sa.String(32)),
            sa.Column("lease_owner", sa.String(64)),
            sa.Column("lease_expires_at", UTCDateTime),
            sa.Column("paper_count", sa.Integer, nullable=False),
            sa.Column("planned_at", UTCDateTime),
            sa.Column("notice_posted_at", UTCDateTime),
            sa.Column("started_at", UTCDateTime, nullable=False),
            sa.Column("finished_at", UTCDateTime),
            unique]


def _item_columns(with_team: bool) -> list:
    team = [sa.Column("team_id", sa.String(64), nullable=False)] if with_team else []
    unique = (sa.UniqueConstraint("team_id", "channel", "arxiv_id", name="uq_digest_items_team_channel_paper")
              if with_team else sa.UniqueConstraint("channel", "arxiv_id", name="uq_digest_items_channel_paper"))
    return [sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.Integer, sa.ForeignKey("digest_runs.id", ondelete="CASCADE"), nullable=False),
            *team,
            sa.Column("channel", sa.String(64), nullable=False),
            sa.Column("arxiv_id", sa.String(64), nullable=False),
            sa.Column("position", sa.Integer, nullable=False),
            sa.Column("message_ts", sa.String(32)),
            sa.Column("posted_at", UTCDateTime),
            sa.Column("error", sa.Text),
            unique]


def _sqlite_rebuild(*, with_team: bool) -> None:
    """Replace the three tables by ones with (or without) team_id, keeping every row and id."""
    team_select = "'' AS team_id, " if with_team else ""
    team_insert = "team_id, " if with_team else ""
    op.execute("CREATE TABLE digest_items_keep AS SELECT * FROM digest_items")
    op.drop_index("ix_digest_items_run_id", table_name="digest_items")
    op.drop_table("digest_items")  # the child first: nothing cascades from dropping it
    for table, columns, names in (("channel_topics", _topic_columns(with_team), TOPIC_COLUMNS),
                                  ("digest_runs", _run_columns(with_team), RUN_COLUMNS)):
        op.create_table(f"{table}_new", *columns)
        op.execute(f"INSERT INTO {table}_new ({team_insert}{names}) SELECT {team_select}{names} FROM {table}")
        op.drop_table(table)
        op.rename_table(f"{table}_new", table)
    op.create_table("digest_items", *_item_columns(with_team))
    op.execute(f"INSERT INTO digest_items ({team_insert}{ITEM_COLUMNS}) "
               f"SELECT {team_select}{ITEM_COLUMNS} FROM digest_items_keep")
    op.drop_table("digest_items_keep")
    op.create_index("ix_digest_items_run_id", "digest_items", ["run_id"])


def _postgresql_add_team() -> None:
    for table in ("channel_topics", "digest_runs", "digest_items"):
        op.add_column(table, sa.Column("team_id", sa.String(64), nullable=False, server_default=""))
        op.alter_column(table, "team_id", server_default=None)  # every new row names its team
    op.drop_constraint("channel_topics_pkey", "channel_topics", type_="primary")
    op.create_primary_key("channel_topics_pkey", "channel_topics", ["team_id", "channel"])
    op.drop_constraint("uq_digest_runs_channel_date", "digest_runs", type_="unique")
    op.create_unique_constraint("uq_digest_runs_team_channel_date", "digest_runs",
                                ["team_id", "channel", "digest_date"])
    op.drop_constraint("uq_digest_items_channel_paper", "digest_items", type_="unique")
    op.create_unique_constraint("uq_digest_items_team_channel_paper", "digest_items",
                                ["team_id", "channel", "arxiv_id"])


def _postgresql_drop_team() -> None:
    op.drop_constraint("uq_digest_items_team_channel_paper", "digest_items", type_="unique")
    op.create_unique_constraint("uq_digest_items_channel_paper", "digest_items", ["channel", "arxiv_id"])
    op.drop_constraint("uq_digest_runs_team_channel_date", "digest_runs", type_="unique")
    op.create_unique_constraint("uq_digest_runs_channel_date", "digest_runs", ["channel", "digest_date"])
    op.drop_constraint("channel_topics_pkey", "channel_topics", type_="primary")
    op.create_primary_key("channel_topics_pkey", "channel_topics", ["channel"])
    for table in ("digest_items", "digest_runs", "channel_topics"):
        op.drop_column(table, "team_id")


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("team_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255)),
        sa.Column("installed_at", UTCDateTime, nullable=False),
        sa.Column("uninstalled_at", UTCDateTime),
    )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild(with_team=True)
    else:
        _postgresql_add_team()


def _keep_one_team_per_old_key() -> None:
    """Before the keys lose team_id: where several workspaces share one, keep the smallest team's row."""
    op.execute("DELETE FROM digest_items WHERE EXISTS (SELECT 1 FROM digest_items o WHERE o.channel = "
               "digest_items.channel AND o.arxiv_id = digest_items.arxiv_id AND o.team_id < digest_items.team_id)")
    shadowed_runs = ("SELECT r.id FROM digest_runs r WHERE EXISTS (SELECT 1 FROM digest_runs o WHERE "
                     "o.channel = r.channel AND o.digest_date = r.digest_date AND o.team_id < r.team_id)")
    op.execute(f"DELETE FROM digest_items WHERE run_id IN ({shadowed_runs})")
    op.execute(f"DELETE FROM digest_runs WHERE id IN ({shadowed_runs})")
    op.execute("DELETE FROM channel_topics WHERE EXISTS (SELECT 1 FROM channel_topics o WHERE "
               "o.channel = channel_topics.channel AND o.team_id < channel_topics.team_id)")


def downgrade() -> None:
    _keep_one_team_per_old_key()
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild(with_team=False)
    else:
        _postgresql_drop_team()
    op.drop_table("workspaces")
