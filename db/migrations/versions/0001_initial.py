"""Initial schema: papers with their full-text index, topics, digest ledger, reads.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

# The column type db.models.UTCDateTime stores as, copied here so this migration never changes when the
# model does (its UTC conversions happen in Python and do not reach the DDL).
UTCDateTime = sa.DateTime(timezone=True)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "papers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("arxiv_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("author_names", sa.Text, nullable=False),
        sa.Column("primary_category", sa.String(64), nullable=False),
        sa.Column("categories", sa.Text, nullable=False),
        sa.Column("published", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
        sa.Column("pdf_url", sa.Text),
        sa.Column("comment", sa.Text),
        sa.Column("journal_ref", sa.Text),
        sa.Column("doi", sa.Text),
        sa.Column("first_seen_at", UTCDateTime, nullable=False),
        sa.Column("last_seen_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("arxiv_id", name="uq_papers_arxiv_id"),
    )
    op.create_index("ix_papers_published", "papers", ["published"])

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # External-content FTS5 index kept in sync by triggers; porter stemming makes
        # prune/pruning and quantized/quantization meet.
        op.execute(
            "CREATE VIRTUAL TABLE papers_fts USING fts5("
            "title, abstract, author_names, content='papers', content_rowid='id', "
            "tokenize='porter unicode61')"
        )
        op.execute(
            "CREATE TRIGGER papers_fts_ai AFTER INSERT ON papers BEGIN "
            "INSERT INTO papers_fts(rowid, title, abstract, author_names) "
            "VALUES (new.id, new.title, new.abstract, new.author_names); END"
        )
        op.execute(
            "CREATE TRIGGER papers_fts_ad AFTER DELETE ON papers BEGIN "
            "INSERT INTO papers_fts(papers_fts, rowid, title, abstract, author_names) "
            "VALUES ('delete', old.id, old.title, old.abstract, old.author_names); END"
        )
        op.execute(
            "CREATE TRIGGER papers_fts_au AFTER UPDATE OF title, abstract, author_names ON papers BEGIN "
            "INSERT INTO papers_fts(papers_fts, rowid, title, abstract, author_names) "
            "VALUES ('delete', old.id, old.title, old.abstract, old.author_names); "
            "INSERT INTO papers_fts(rowid, title, abstract, author_names) "
            "VALUES (new.id, new.title, new.abstract, new.author_names); END"
        )
    elif dialect == "postgresql":
        # A stored generated tsvector: title weighted A, abstract B, authors C.
        op.execute(
            "ALTER TABLE papers ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
            "setweight(to_tsvector('english', coalesce(abstract, '')), 'B') || "
            "setweight(to_tsvector('simple', coalesce(author_names, '')), 'C')) STORED"
        )
        op.execute("CREATE INDEX ix_papers_search_vector ON papers USING GIN (search_vector)")

    op.create_table(
        "channel_topics",
        sa.Column("channel", sa.String(64), primary_key=True),
        sa.Column("keywords", sa.JSON, nullable=False),
        sa.Column("exclude", sa.JSON, nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "digest_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("digest_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parent_ts", sa.String(32)),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", UTCDateTime),
        sa.Column("paper_count", sa.Integer, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime),
        sa.UniqueConstraint("channel", "digest_date", name="uq_digest_runs_channel_date"),
    )
    op.create_table(
        "digest_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("digest_runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("arxiv_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("posted_at", UTCDateTime),
        sa.Column("error", sa.Text),
        sa.UniqueConstraint("channel", "arxiv_id", name="uq_digest_items_channel_paper"),
    )
    op.create_index("ix_digest_items_run_id", "digest_items", ["run_id"])
    op.create_table(
        "reads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column(
            "arxiv_id", sa.String(64), sa.ForeignKey("papers.arxiv_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("read_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("team_id", "user_id", "arxiv_id", name="uq_reads_team_user_paper"),
    )
    op.create_index("ix_reads_team_user_read_at", "reads", ["team_id", "user_id", "read_at"])


def downgrade() -> None:
    op.drop_table("reads")
    op.drop_table("digest_items")
    op.drop_table("digest_runs")
    op.drop_table("channel_topics")
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("papers_fts_ai", "papers_fts_ad", "papers_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS papers_fts")
    op.drop_table("papers")
