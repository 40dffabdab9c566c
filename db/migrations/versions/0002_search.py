"""PostgreSQL: keep papers.search_vector in the row (compressed) instead of out-of-line TOAST.

Ranking (`ts_rank_cd`) reads the tsvector of every matching paper; out of line, a common word at 20,000
papers meant ~57,000 buffer reads and 230-300 ms, in line it takes a third of that. SQLite is unchanged.

Revision ID: 0002_search
Revises: 0001
"""

from alembic import op

revision = "0002_search"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE papers ALTER COLUMN search_vector SET STORAGE MAIN")
    # SET STORAGE applies to rows written from now on; rewriting the title recomputes the stored
    # generated column, so the existing rows move in line too.
    op.execute("UPDATE papers SET title = title")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE papers ALTER COLUMN search_vector SET STORAGE EXTENDED")
