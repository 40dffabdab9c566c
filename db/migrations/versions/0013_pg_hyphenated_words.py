"""PostgreSQL: index a hyphenated word as its parts only, as the query side and the other indexes read it.

PostgreSQL's parser turns `kv-cache` into three lexemes, the compound then its parts (`kv-cach`:2 `kv`:3
`cach`:4), so every word after it sits one position further on. Queries are parsed into words (bot.search splits
on anything that is not a letter or a digit, as SQLite's unicode61 and the search index do), so a quoted phrase
that runs into a hyphenated word ("efficient kv-cache", "SMILE a Scale-aware") looked for `kv` right after
`effici` and found nothing on PostgreSQL only. The generated column now reads hyphens as spaces.

The column is recomputed for every row (a table rewrite, then a second one to keep it in line as 0002 does), and
the GIN index rebuilt: minutes at a million papers.

Revision ID: 0013_pg_hyphenated_words
Revises: 0012_slack_installations
"""

from alembic import op

revision = "0013_pg_hyphenated_words"
down_revision = "0012_slack_installations"
branch_labels = None
depends_on = None


def _search_vector(text_of) -> str:
    return (
        f"setweight(to_tsvector('english', {text_of('title')}), 'A') || "
        f"setweight(to_tsvector('english', {text_of('abstract')}), 'B') || "
        f"setweight(to_tsvector('simple', {text_of('author_names')}), 'C')"
    )


def _hyphens_as_spaces(column: str) -> str:
    return f"translate(coalesce({column}, ''), '-', ' ')"


def _as_stored(column: str) -> str:
    return f"coalesce({column}, '')"


def _replace_column(expression: str) -> None:
    op.execute("DROP INDEX IF EXISTS ix_papers_search_vector")
    op.execute("ALTER TABLE papers DROP COLUMN search_vector")
    op.execute(f"ALTER TABLE papers ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({expression}) STORED")
    op.execute("ALTER TABLE papers ALTER COLUMN search_vector SET STORAGE MAIN")
    op.execute("UPDATE papers SET title = title")  # rows move in line (see 0002_search)
    op.execute("CREATE INDEX ix_papers_search_vector ON papers USING GIN (search_vector)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _replace_column(_search_vector(_hyphens_as_spaces))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _replace_column(_search_vector(_as_stored))
