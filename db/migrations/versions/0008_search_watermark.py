"""papers.revision: a change counter the derived search index follows; SQLite's narrow filter table.

Every insert, and every update that changes what search reads (title, abstract, authors, categories,
published), gives the row a new `revision`, set by the database itself so that every write path
(upsert, content repair, bulk load, a hand-run UPDATE) is seen without app code:

- SQLite: one past the highest revision, by trigger. Writers are serialised, so revisions grow in commit
  order and "everything up to the highest revision seen" is a safe watermark.
- PostgreSQL: the writing transaction's id (`pg_current_xact_id()`). Transactions commit out of order, so a
  follower reads changes from the oldest transaction still running (`pg_snapshot_xmin`), never from the
  highest id seen (db/search_feed.py).

SQLite also gets `papers_fts_filters` (id, published, categories), kept by triggers: `cat:` and `since:`
check full-text matches against this narrow table instead of the wide `papers` rows. It lives only in
the migrations, like the FTS5 table it serves.

Revision ID: 0008_search_watermark
Revises: 0007_paper_vectors
"""

from alembic import op

revision = "0008_search_watermark"
down_revision = "0007_paper_vectors"
branch_labels = None
depends_on = None

# The columns the search index reads; a change to any of them is a new revision.
_INDEXED = ("title", "abstract", "author_names", "categories", "published")


def _changed(old: str, new: str, distinct: str) -> str:
    return " OR ".join(f"{old}.{c} {distinct} {new}.{c}" for c in _INDEXED)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _upgrade_sqlite()
    elif dialect == "postgresql":
        _upgrade_postgresql()


def _upgrade_sqlite() -> None:
    op.execute("ALTER TABLE papers ADD COLUMN revision BIGINT NOT NULL DEFAULT 0")
    op.execute("UPDATE papers SET revision = id")
    op.execute("CREATE INDEX ix_papers_revision ON papers (revision, id)")
    next_revision = "(SELECT max(revision) FROM papers) + 1"
    op.execute(
        "CREATE TRIGGER papers_revision_ai AFTER INSERT ON papers BEGIN "
        f"UPDATE papers SET revision = {next_revision} WHERE id = new.id; END"
    )
    op.execute(
        f"CREATE TRIGGER papers_revision_au AFTER UPDATE OF {', '.join(_INDEXED)} ON papers "
        f"WHEN {_changed('old', 'new', 'IS NOT')} BEGIN "
        f"UPDATE papers SET revision = {next_revision} WHERE id = new.id; END"
    )
    op.execute(
        "CREATE TABLE papers_fts_filters (paper_id INTEGER PRIMARY KEY, published DATETIME NOT NULL, "
        "categories TEXT NOT NULL)"
    )
    op.execute("INSERT INTO papers_fts_filters (paper_id, published, categories) "
               "SELECT id, published, categories FROM papers")
    op.execute(
        "CREATE TRIGGER papers_fts_filters_ai AFTER INSERT ON papers BEGIN "
        "INSERT INTO papers_fts_filters (paper_id, published, categories) "
        "VALUES (new.id, new.published, new.categories); END"
    )
    op.execute(
        "CREATE TRIGGER papers_fts_filters_au AFTER UPDATE OF published, categories ON papers BEGIN "
        "UPDATE papers_fts_filters SET published = new.published, categories = new.categories "
        "WHERE paper_id = new.id; END"
    )
    op.execute(
        "CREATE TRIGGER papers_fts_filters_ad AFTER DELETE ON papers BEGIN "
        "DELETE FROM papers_fts_filters WHERE paper_id = old.id; END"
    )


def _upgrade_postgresql() -> None:
    # A constant default first (no table rewrite), then the per-transaction default for new rows.
    op.execute("ALTER TABLE papers ADD COLUMN revision BIGINT NOT NULL DEFAULT 0")
    op.execute("ALTER TABLE papers ALTER COLUMN revision SET DEFAULT (pg_current_xact_id()::text::bigint)")
    op.execute("CREATE INDEX ix_papers_revision ON papers (revision, id)")
    op.execute(
        "CREATE FUNCTION papers_touch_revision() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN NEW.revision := pg_current_xact_id()::text::bigint; RETURN NEW; END $$"
    )
    op.execute(
        f"CREATE TRIGGER papers_revision_bu BEFORE UPDATE OF {', '.join(_INDEXED)} ON papers "
        f"FOR EACH ROW WHEN ({_changed('OLD', 'NEW', 'IS DISTINCT FROM')}) "
        "EXECUTE FUNCTION papers_touch_revision()"
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("papers_revision_ai", "papers_revision_au", "papers_fts_filters_ai",
                        "papers_fts_filters_au", "papers_fts_filters_ad"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS papers_fts_filters")
        op.execute("DROP INDEX IF EXISTS ix_papers_revision")
        op.execute("ALTER TABLE papers DROP COLUMN revision")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS papers_revision_bu ON papers")
        op.execute("DROP FUNCTION IF EXISTS papers_touch_revision()")
        op.execute("DROP INDEX IF EXISTS ix_papers_revision")
        op.execute("ALTER TABLE papers DROP COLUMN revision")
