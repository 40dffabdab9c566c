"""Engine and session lifecycle, and bringing the schema to the latest migration.

SQLite gets WAL and a busy timeout so a reader never blocks the digest writer and a second writer
waits instead of failing; PostgreSQL gets pool pre-ping so dropped connections are replaced.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
_upgrade_lock = threading.Lock()
# Alembic announces every context at INFO; only its warnings matter to an operator.
logging.getLogger("alembic").setLevel(logging.WARNING)


class DatabaseUnavailable(Exception):
    """The database cannot be reached or opened; the message says which and why."""


def make_engine(url: str, *, echo: bool = False, connect_timeout: float = 5.0) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every test
            cursor = dbapi_conn.cursor()
            if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
                cursor.execute("PRAGMA journal_mode=WAL")
                # In WAL mode NORMAL never corrupts the file; it only skips an fsync per commit.
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # connect_timeout keeps a dead server from hanging a Slack request past its 3 s budget.
    # prepare_threshold=None: psycopg never prepares server-side, so PostgreSQL plans every search for its own
    # words (a prepared full-text query soon gets a generic plan: "learning" at 100k took 588 ms, not 305).
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        pool_timeout=connect_timeout,
        connect_args={"connect_timeout": max(1, round(connect_timeout)), "prepare_threshold": None},
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Units of work are `with factory.begin() as session:` (commit on success, roll back on error);
    records leave the session after commit, so nothing expires on commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)



def _alembic_config(connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the latest migration (idempotent; safe from several processes)."""
    with _upgrade_lock:
        try:
            with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    # Serialise concurrent upgrades from several web processes starting at once.
                    connection.execute(text("SELECT pg_advisory_xact_lock(727274)"))
                if _is_current(connection):
                    return
                command.upgrade(_alembic_config(connection), "head")
        except Exception as exc:  # noqa: BLE001 - turned into one clear message
            if _is_connection_error(exc):
                where = f" {engine.url.database}" if engine.dialect.name == "sqlite" and engine.url.database else ""
                raise DatabaseUnavailable(f"cannot open the database{where}: {describe_db_error(exc)}") from exc
            raise


def _is_current(connection) -> bool:
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    return MigrationContext.configure(connection).get_current_revision() == head


def _is_connection_error(exc: Exception) -> bool:
    return isinstance(exc, OperationalError)


def describe_db_error(exc: Exception) -> str:
    """The driver's first line, for an operator; never the URL."""
    # The first line of the driver's message, never the URL (it may carry a password).
    orig = getattr(exc, "orig", exc)
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def check_database(engine: Engine) -> None:
    """Raise DatabaseUnavailable unless a trivial query succeeds; used by /healthz."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        raise DatabaseUnavailable(f"database check failed: {describe_db_error(exc)}") from exc
