"""Storage under stress: a locked SQLite file, dropped PostgreSQL connections, a fetch killed mid-way."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import text

from bot import ingest
from bot.cli import main
from db import papers as paper_store
from tests.arxiv.test_ingest import count_rows
from tests.conftest import SEED_FEED


def test_sqlite_writer_waits_for_a_concurrent_writer_instead_of_failing(store, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite locking")
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock, as a second process would
    releaser = threading.Timer(1.0, lambda: other.execute("COMMIT"))
    releaser.start()
    started = time.monotonic()
    report = ingest.ingest_feed_file(store.session_factory, SEED_FEED)
    waited = time.monotonic() - started
    releaser.join(10)
    other.close()
    assert report.counts.new == 87
    assert waited >= 0.9  # it waited for the lock rather than raising "database is locked"


def test_postgres_connections_dropped_under_the_pool_are_replaced(store, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL connection pool")
    ingest.ingest_feed_file(store.session_factory, SEED_FEED)
    with store.session_factory.begin() as session:  # puts a live connection in the pool
        assert paper_store.count_papers(session) == 87
    with store.engine.connect() as admin:
        pid = admin.execute(text("SELECT pg_backend_pid()")).scalar()
        admin.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE datname = current_database() AND pid <> :me"),
            {"me": pid},
        )
    with store.session_factory.begin() as session:
        assert paper_store.count_papers(session) == 87


def test_fetch_killed_mid_way_leaves_only_whole_papers_and_a_rerun_completes(
    store, env, fake_arxiv, monkeypatch, capsys
):
    # Pages of 30: the third request stalls, and the process is killed while it waits.
    fake_arxiv.faults = [None, None, "stall:30"]
    child_env = {**os.environ, **env, "ARXIV_API_URL": fake_arxiv.url, "ARXIV_PAGE_SIZE": "30",
                 "ARXIV_TIMEOUT_SECONDS": "60"}
    argv = [sys.executable, "-m", "bot", "fetch", "--since", "2025-03-14", "--until", "2025-03-21"]
    child = subprocess.Popen(argv, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while len(fake_arxiv.requests) < 2 or count_rows(store) < 60:
        assert time.monotonic() < deadline, "the fetch never reached its third page"
        time.sleep(0.05)
    while fake_arxiv.requests_started < 3:  # killed while it waits for the stalled third page
        assert time.monotonic() < deadline, "the fetch never asked for its third page"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert count_rows(store) == 60  # two whole pages; nothing of the third
    with store.session_factory.begin() as session:
        stored = paper_store.get_papers(session, [e.arxiv_id for e in fake_arxiv.entries])
    assert all(p.title and p.abstract and p.authors for p in stored.values())

    fake_arxiv.faults = []
    # The rerun only needs to be another process than the killed one: the test's own, with the child's settings.
    for name in ("ARXIV_API_URL", "ARXIV_PAGE_SIZE", "ARXIV_TIMEOUT_SECONDS"):
        monkeypatch.setenv(name, child_env[name])
    capsys.readouterr()
    assert main(argv[3:]) == 0
    out = capsys.readouterr().out
    assert "27 new" in out and "60 unchanged" in out
    assert count_rows(store) == 87
