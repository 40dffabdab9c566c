"""Shared fixtures: a real, migrated database per test (SQLite file, or PostgreSQL when TEST_DATABASE_URL is
set), the loopback arXiv and Slack fakes, and settings built without touching the process environment.

Migrating costs ~150 ms, so it happens once per test run (per xdist worker), not per test: SQLite tests get a
copy of a migrated template file; PostgreSQL tests share one migrated database per worker, emptied before each
test. tests/db/test_migrations.py still migrates from scratch.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, make_url, text

from bot import search_index
from bot.app import Services, Store, build_bolt_app, build_store, build_wsgi_app, make_http_server
from bot.config import Settings, normalise_database_url
from db.session import make_engine
from tests.fakes.arxiv_api import FakeArxiv
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.slack_requests import SIGNING_SECRET

FIXTURES = Path(__file__).parent / "fixtures"
SEED_FEED = FIXTURES / "seed_feed.atom.xml"
# Set by .ci/run for the PostgreSQL pass, e.g. postgresql://postgres@127.0.0.1:5432/papers_ci_123
PG_URL = os.environ.get("TEST_DATABASE_URL")
# xdist names its workers gw0, gw1, ...; with `-n 0` the tests run in this one process.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def pytest_xdist_auto_num_workers(config):
    """`-n auto` starts two workers a core, at most 8. A test spends most of its time waiting (on a socket, a
    subprocess, a retry back-off), so a core has room for a second worker: on 2 shared cores, in alternating
    runs, the suite took 74-92 s (mean 81) with 4 workers against 81-96 s (mean 89) with 2. Eight at most keeps
    the PostgreSQL pass (a database and connection pools per worker) well inside the server's connection limit.
    PYTEST_XDIST_AUTO_NUM_WORKERS still decides when set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    return min(2 * len(os.sched_getaffinity(0)), 8)


def pytest_report_header(config):
    if PG_URL:
        return f"database: PostgreSQL {make_url(PG_URL).database}_<worker> (one per xdist worker)"
    return "database: SQLite (a copy of one migrated template per test)"


class SqliteTemplate:
    """One migrated SQLite file; each test gets its own copy."""

    def __init__(self, directory: Path):
        self.path = directory / "template.db"
        store = build_store(Settings(database_url=f"sqlite:///{self.path}"))
        with store.engine.connect() as connection:
            # WAL: move every page into the main file, so copying that one file copies the whole database.
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        store.engine.dispose()  # the last connection closed deletes the -wal and -shm files
        assert not Path(f"{self.path}-wal").exists(), "the template's WAL outlived its connections"

    def fresh(self, tmp_path: Path) -> str:
        target = tmp_path / "papers.db"
        shutil.copyfile(self.path, target)
        return f"sqlite:///{target}"

    def close(self) -> None:
        pass


# (table, sequence) for each sequence a table owns (serial and identity columns), in the current schema.
SEQUENCES_OF_TABLES = """
    SELECT t.relname, s.relname FROM pg_class s
    JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
    JOIN pg_class t ON t.oid = d.refobjid
    WHERE s.relkind = 'S' AND s.relnamespace = current_schema()::regnamespace
"""


class PostgresPerWorker:
    """One migrated database per xdist worker (`<db>_gw0`, ...) on TEST_DATABASE_URL's server, dropped at the
    end; each test starts from empty tables (TRUNCATE ... RESTART IDENTITY, so ids start at 1 again).

    TRUNCATE costs ~10 ms a table even when the table is empty, so only the tables a test touched (rows in it,
    or its id sequence used) are truncated; the others are already as TRUNCATE would leave them."""

    def __init__(self, base_url: str, worker: str):
        base = make_url(normalise_database_url(base_url))
        self.name = f"{base.database}_{worker}"
        self.url = base.set(database=self.name).render_as_string(hide_password=False)
        self._server = make_engine(base.render_as_string(hide_password=False)).execution_options(
            isolation_level="AUTOCOMMIT")  # CREATE/DROP DATABASE cannot run in a transaction
        self._drop()  # left over from a run that was killed
        with self._server.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        build_store(Settings(database_url=self.url)).engine.dispose()
        self._engine: Engine = make_engine(self.url)
        # Every table the migrations made (so a new one is emptied too), except Alembic's own.
        tables = sorted(set(inspect(self._engine).get_table_names()) - {"alembic_version"})
        with self._engine.connect() as connection:
            sequences = connection.execute(text(SEQUENCES_OF_TABLES)).all()
        touched = [f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM {t})" for t in tables]
        touched += [f"SELECT '{t}' WHERE (SELECT is_called FROM {seq})" for t, seq in sequences if t in tables]
        self._touched_tables = text(" UNION ".join(touched))

    def fresh(self, tmp_path: Path) -> str:
        with self._engine.begin() as connection:
            touched = connection.execute(self._touched_tables).scalars().all()
            if touched:
                connection.execute(text(f"TRUNCATE {', '.join(touched)} RESTART IDENTITY CASCADE"))
        return self.url

    def _drop(self) -> None:
        with self._server.connect() as connection:
            # FORCE: a subprocess or an engine a test never disposed may still hold a connection.
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))

    def close(self) -> None:
        self._engine.dispose()
        self._drop()
        self._server.dispose()


@pytest.fixture(scope="session")
def _migrated(tmp_path_factory):
    database = PostgresPerWorker(PG_URL, WORKER) if PG_URL else SqliteTemplate(tmp_path_factory.mktemp("template"))
    yield database
    database.close()


@pytest.fixture
def database_url(tmp_path, _migrated) -> str:
    """The URL of a migrated database with no rows, for this test alone."""
    return _migrated.fresh(tmp_path)


@pytest.fixture
def env(database_url, monkeypatch, tmp_path) -> dict[str, str]:
    """The environment a deployment would set, applied to os.environ for CLI tests."""
    values = {
        "DATABASE_URL": database_url,
        "ARXIV_DELAY_SECONDS": "0.05",
        "ARXIV_TIMEOUT_SECONDS": "2",
        "DIGEST_CHANNEL": "C0DIGEST",
        # Slack's one-message-a-second pacing is waiting, not behaviour under test; the tests about
        # pacing set DIGEST_PACE_SECONDS themselves (tests/digest/test_digest_pace.py, test_faults_process.py).
        "DIGEST_PACE_SECONDS": "0",
        "SLACK_RETRY_BACKOFF_SECONDS": "0.01",
    }
    if PG_URL:
        # On SQLite the search index sits beside the test's own database file; on PostgreSQL its default folder
        # is per database (~/.cache/papers-bot/...), which a worker's tests, and the servers they start as
        # subprocesses, would all share.
        values["SEARCH_INDEX_DIR"] = str(tmp_path / "search-index")
    for name in list(os.environ):
        if name.startswith(("SLACK_", "DIGEST_", "ARXIV_", "SEARCH_")):
            monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def settings(env) -> Settings:
    return Settings.from_env(env)


@pytest.fixture(autouse=True)
def _stop_search_index_followers():
    """Every test's search-index followers stop with it: each polls its store, and so holds a connection, for as
    long as it runs (left running, a PostgreSQL pass of several workers ran out of server connections)."""
    yield
    search_index.close_all()


@pytest.fixture(autouse=True)
def _put_back_root_logging():
    """A test that runs the CLI in-process (`cli.main`) configures the root logger as a deployment would; the
    handlers our code added and the level it set go with the test, so later tests log as pytest set them up."""
    root = logging.getLogger()
    before, level = set(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in before and type(handler).__module__.split(".")[0] in {"bot", "handlers"}:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def store(settings) -> Store:
    store = build_store(settings, migrate=False)  # database_url is migrated already
    yield store
    store.engine.dispose()


@pytest.fixture
def fake_arxiv():
    fake = FakeArxiv().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_slack():
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def slack_env(env, fake_slack, monkeypatch) -> dict[str, str]:
    """Settings for a Slack-connected process whose Web API is the loopback fake."""
    extra = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": fake_slack.base_url}
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    return {**env, **extra}


@pytest.fixture
def slack_settings(slack_env) -> Settings:
    return Settings.from_env(slack_env)


class ListenerWork(Executor):
    """Bolt's listener executor, counting the work not yet finished. Bolt submits a request's lazy listeners
    before it answers the request, so once every answer is in, `wait_idle()` returning True means nothing those
    requests started is still running: a test can then assert that nothing (more) was sent, without sleeping."""

    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=5, thread_name_prefix="bolt-listener")  # Bolt's default size
        self._unfinished = 0
        self._changed = threading.Condition()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        with self._changed:
            self._unfinished += 1
        future = self._pool.submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future: Future) -> None:
        with self._changed:
            self._unfinished -= 1
            self._changed.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._unfinished == 0, timeout)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


@pytest.fixture
def listener_work():
    work = ListenerWork()
    yield work
    work.shutdown(wait=False)


@contextmanager
def serve_bolt(services: Services, listener_work: ListenerWork | None = None) -> Iterator[tuple[str, object]]:
    """The real HTTP server (waitress + Bolt's WSGI adapter) for `services` on a loopback port, stopped on exit;
    yields its base URL and its Bolt app, whose listeners run on `listener_work` when given."""
    bolt = build_bolt_app(services)
    if listener_work is not None:
        bolt.listener_runner.listener_executor = listener_work
        bolt.listener_runner.lazy_listener_runner.executor = listener_work
    server = make_http_server(build_wsgi_app(bolt, services.store), host="127.0.0.1", port=0)
    stop = run_server_in_thread(server)
    try:
        yield f"http://127.0.0.1:{server.effective_port}", bolt
    finally:
        stop()


@pytest.fixture
def slack_server(slack_settings, store, listener_work):
    """The real HTTP server on a loopback port (`serve_bolt`); yields its base URL."""
    with serve_bolt(Services(settings=slack_settings, store=store), listener_work) as (url, _):
        yield url


def run_server_in_thread(server):
    """Run a waitress server in a daemon thread; returns a stop function that closes it quietly."""
    closing = threading.Event()

    def run():
        try:
            server.run()
        except OSError:
            if not closing.is_set():  # closing the socket under select() raises EBADF; only that is expected
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def stop():
        closing.set()
        server.close()
        # close() leaves waitress's worker threads waiting for work that will never come (16 a server, for
        # the rest of the session); told to stop, the idle ones end now and a busy one after its request.
        server.task_dispatcher.set_thread_count(0)

    return stop
