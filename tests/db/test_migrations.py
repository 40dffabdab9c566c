"""The Alembic migrations and db/models.py describe the same schema, and the migration chain runs both ways.

Runs on a fresh SQLite file, or, with TEST_DATABASE_URL, in a throwaway PostgreSQL schema (so the shared
test database the other tests use is never downgraded). The full-text objects live only in the
migrations (SQLite's `papers_fts*` FTS5 tables, PostgreSQL's `search_vector` column and its index), so
the comparison leaves them out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from db.models import Base
from db.session import MIGRATIONS_DIR, make_engine
from tests.conftest import PG_URL

FTS_ONLY_COLUMNS = {"search_vector"}
FTS_ONLY_INDEXES = {"ix_papers_search_vector"}


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@contextmanager
def fresh_database(tmp_path) -> Iterator[Connection]:
    """A connection to an empty database: a new SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if not PG_URL:
        engine = make_engine(f"sqlite:///{tmp_path / 'migrations.db'}")
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            engine.dispose()
        return
    from bot.config import normalise_database_url

    schema = f"migrations_{uuid.uuid4().hex[:12]}"
    engine = make_engine(normalise_database_url(PG_URL))
    try:
        with engine.connect() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
            connection.execute(text(f"SET search_path TO {schema}"))
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                connection.commit()
    finally:
        engine.dispose()


def upgrade(connection: Connection, revision: str = "head") -> None:
    command.upgrade(_config(connection), revision)
    connection.commit()


def downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(_config(connection), revision)
    connection.commit()


def _include_name(name, type_, parent_names) -> bool:
    return not (type_ == "table" and name and name.startswith("papers_fts"))


def _include_object(obj, name, type_, reflected, compare_to) -> bool:
    if type_ == "column" and name in FTS_ONLY_COLUMNS:
        return False
    return not (type_ == "index" and name in FTS_ONLY_INDEXES)


def model_differences(connection: Connection) -> list:
    context = MigrationContext.configure(connection, opts={
        "compare_type": True,
        "include_name": _include_name,
        "include_object": _include_object,
    })
    return compare_metadata(context, Base.metadata)


def user_tables(connection: Connection) -> set[str]:
    names = set(inspect(connection).get_table_names())
    return {n for n in names if n != "alembic_version" and not n.startswith("papers_fts")}


def test_the_migrated_schema_matches_the_models(tmp_path):
    with fresh_database(tmp_path) as connection:
        upgrade(connection)
        assert user_tables(connection) == set(Base.metadata.tables)
        assert model_differences(connection) == []


def test_the_revision_chain_is_linear_with_one_head():
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    assert len(scripts.get_heads()) == 1
    revisions = list(scripts.walk_revisions())  # head first
    assert [r.down_revision for r in revisions][-1] is None
    for newer, older in zip(revisions, revisions[1:], strict=False):
        assert newer.down_revision == older.revision, f"{newer.revision} does not follow {older.revision}"
    assert all(not r.is_merge_point and not r.is_branch_point for r in revisions)


def test_downgrade_to_base_then_upgrade_to_head_gives_the_same_schema(tmp_path):
    with fresh_database(tmp_path) as connection:
        upgrade(connection)
        downgrade(connection, "base")
        assert user_tables(connection) == set()
        if connection.dialect.name == "sqlite":
            assert not [n for n in inspect(connection).get_table_names() if n.startswith("papers_fts")]
        upgrade(connection)
        assert MigrationContext.configure(connection).get_current_revision() == \
            ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
        assert user_tables(connection) == set(Base.metadata.tables)
        assert model_differences(connection) == []


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL full-text column")
def test_postgresql_keeps_its_search_vector_after_a_round_trip(tmp_path):
    with fresh_database(tmp_path) as connection:
        upgrade(connection)
        downgrade(connection, "base")
        upgrade(connection)
        columns = {c["name"] for c in inspect(connection).get_columns("papers")}
        assert "search_vector" in columns


def test_0003_carries_the_digest_run_note_over_to_explicit_columns_and_back(tmp_path):
    with fresh_database(tmp_path) as connection:
        upgrade(connection, "0002_search")
        connection.execute(text(
            "INSERT INTO digest_runs (channel, digest_date, status, paper_count, note, started_at) VALUES "
            "('C1', '2025-03-20', 'done', 3, 'planned', '2025-03-20 09:00:00'), "
            "('C1', '2025-03-21', 'running', 0, 'arxiv-unavailable-notice', '2025-03-21 09:00:00'), "
            "('C1', '2025-03-22', 'running', 0, NULL, '2025-03-22 09:00:00')"))
        connection.commit()
        upgrade(connection, "0003_digest_run_state")
        rows = connection.execute(text(
            "SELECT digest_date, planned_at IS NOT NULL, notice_posted_at IS NOT NULL FROM digest_runs "
            "ORDER BY digest_date")).all()
        assert [tuple(bool(v) for v in row[1:]) for row in rows] == [(True, False), (False, True), (False, False)]
        assert "note" not in {c["name"] for c in inspect(connection).get_columns("digest_runs")}
        downgrade(connection, "0002_search")
        notes = connection.execute(text("SELECT note FROM digest_runs ORDER BY digest_date")).scalars().all()
        assert notes == ["planned", "arxiv-unavailable-notice", None]
