"""The derived search index (bot/search_index): it follows the SQL store, rebuilds what is missing or stale,
and leaves a search to SQL whenever it is not current, so a search never misses a stored paper.

Run on SQLite, and on PostgreSQL with TEST_DATABASE_URL; the late-commit test is PostgreSQL's own.
"""

from __future__ import annotations

import gc
import shutil
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot import search_index
from bot.app import build_store
from bot.arxiv_source import read_feed_file
from bot.config import ConfigError, Settings
from bot.ingest import ingest_feed_file, ingest_records
from bot.search import run_search
from db import papers as paper_store
from db import reads as read_store
from db import search_feed
from db.models import Paper
from tests.conftest import SEED_FEED

FAST_POLL = 0.05
KV_CACHE_TOTAL = 9


def seed_records():
    return [item for item in read_feed_file(SEED_FEED) if hasattr(item, "arxiv_id")]


def new_paper(arxiv_id: str, title: str, **changes):
    return replace(seed_records()[0], arxiv_id=arxiv_id, title=title, **changes)


def ids(page) -> list[str]:
    return [hit.paper.arxiv_id for hit in page.hits]


def eventually(check, timeout: float = 20.0):
    """Poll `check` until it returns something truthy (a follower works in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(FAST_POLL)


@pytest.fixture
def seeded(store):
    ingest_feed_file(store.session_factory, SEED_FEED)
    return store


@pytest.fixture
def index(seeded, settings, tmp_path):
    """The seeded store's index, in a folder of this test, followed by a fast-polling thread."""
    index = search_index.attach(seeded.engine, replace(settings, search_index_dir=str(tmp_path / "index")),
                                poll_seconds=FAST_POLL)
    index.start()
    assert eventually(index.is_current)
    yield index
    index.close()


def search(store, query: str, **kwargs):
    return run_search(store.session_factory, query=query, limit=kwargs.pop("limit", 20), **kwargs)


def test_the_index_answers_once_built(seeded, index):
    page = search(seeded, "kv cache")
    assert page.total == KV_CACHE_TOTAL
    assert index.answered == 1 and index.declined == 0


def test_a_paper_stored_after_the_build_is_found_once_the_follower_catches_up(seeded, index):
    ingest_records(seeded.session_factory, [new_paper("2599.00001", "Zebrafish hematopoiesis under pruning")])
    # Straight after the store: the index is behind, so SQL answers, and already finds it.
    assert ids(search(seeded, "zebrafish")) == ["2599.00001"]
    assert index.declined == 1
    # The follower catches up within a few polls (well within the minute the issue allows).
    began = time.monotonic()
    assert eventually(index.is_current, timeout=10)
    assert time.monotonic() - began < 10
    assert ids(search(seeded, "zebrafish")) == ["2599.00001"]
    assert index.answered == 1
    assert search(seeded, "pruning").total == search(seeded, "pruning", limit=1).total


def test_a_revised_paper_is_found_by_its_new_words_and_not_its_old_ones(seeded, index):
    paper = paper_store_get(seeded, "2503.14881")
    ingest_records(seeded.session_factory, [replace(paper, version=paper.version + 1, title="Xylophonic caches")])
    assert eventually(index.is_current)
    assert ids(search(seeded, "xylophonic")) == ["2503.14881"]
    ingest_records(seeded.session_factory, [replace(paper, version=paper.version + 2, title="Plain caches")])
    assert eventually(index.is_current)
    assert search(seeded, "xylophonic").total == 0
    assert index.declined == 0 and index.answered == 2


def paper_store_get(store, arxiv_id: str):
    with store.session_factory.begin() as session:
        return paper_store.get_paper(session, arxiv_id)


def revision_of(store, arxiv_id: str) -> int:
    with store.session_factory.begin() as session:
        return session.scalar(select(Paper.revision).where(Paper.arxiv_id == arxiv_id))


def test_revision_moves_on_insert_and_on_a_change_search_reads_only(seeded):
    before = revision_of(seeded, "2503.14881")
    paper = paper_store_get(seeded, "2503.14881")
    ingest_records(seeded.session_factory, [paper])  # seen again, same version: last_seen_at only
    assert revision_of(seeded, "2503.14881") == before
    ingest_records(seeded.session_factory, [new_paper("2599.00002", "A new paper")])
    assert revision_of(seeded, "2599.00002") > before
    ingest_records(seeded.session_factory, [replace(paper, version=paper.version + 1, title="New title")])
    assert revision_of(seeded, "2503.14881") > revision_of(seeded, "2599.00002") > before
    with seeded.session_factory.begin() as session:  # any write path, even one the app does not have
        session.execute(update(Paper).where(Paper.arxiv_id == "2599.00002").values(categories="math.CO"))
        assert search_feed.newest_revision(session) == revision_of_in(session, "2599.00002")


def revision_of_in(session, arxiv_id: str) -> int:
    return session.scalar(select(Paper.revision).where(Paper.arxiv_id == arxiv_id))


def test_a_deleted_index_folder_is_rebuilt_while_sql_answers(seeded, index):
    # The follower pauses while the folder goes: running, it may notice the missing folder and create it again
    # under rmtree ("Directory not empty"), or rebuild it before the search below.
    index.close()
    shutil.rmtree(index.directory)
    assert search(seeded, "kv cache").total == KV_CACHE_TOTAL  # SQL: the folder is gone
    assert index.declined == 1
    index.start()
    assert eventually(index.is_current)
    assert search(seeded, "kv cache").total == KV_CACHE_TOTAL
    assert index.answered == 1
    assert (index.path / "meta.json").exists()


def held_build(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """A build's first read of the store waits: (set once a build is waiting, set it to let the build go on)."""
    building, release = threading.Event(), threading.Event()
    real_read = search_feed.papers_after_id

    def slow_read(session, **kwargs):
        building.set()
        assert release.wait(20)
        return real_read(session, **kwargs)

    monkeypatch.setattr(search_feed, "papers_after_id", slow_read)
    return building, release


def test_a_fresh_process_answers_from_sql_while_it_builds(seeded, settings, tmp_path, monkeypatch):
    expected = {query: ids(search(seeded, query)) for query in ("kv cache", "pruning", "author:Wang")}
    building, release = held_build(monkeypatch)
    index = search_index.attach(seeded.engine, replace(settings, search_index_dir=str(tmp_path / "fresh")),
                                poll_seconds=FAST_POLL)
    index.start()
    try:
        assert building.wait(10)
        for query, found in expected.items():
            assert ids(search(seeded, query)) == found
        assert index.declined == len(expected) and index.answered == 0
        release.set()
        assert eventually(index.is_current)
        for query, found in expected.items():
            assert set(ids(search(seeded, query))) == set(found)
        assert index.answered == len(expected)
    finally:
        release.set()
        index.close()


def test_an_emptied_store_makes_the_index_rebuild(seeded, index):
    with seeded.session_factory.begin() as session:
        session.execute(delete(Paper))
    ingest_records(seeded.session_factory, [new_paper("2599.00003", "Only paper left")])

    def the_index_answers_none():  # the index itself, not SQL (which answers 0 as soon as the papers are gone)
        answered = index.answered
        return search(seeded, "kv cache").total == 0 and index.answered == answered + 1

    assert eventually(the_index_answers_none)
    answered = index.answered
    assert search(seeded, "kv cache").total == 0 and ids(search(seeded, "only paper")) == ["2599.00003"]
    assert index.answered == answered + 2


def test_a_second_process_reads_the_folder_the_first_one_writes(seeded, settings, index):
    # Another engine on the same database and folder: another process's view of the same index.
    other = build_store(replace(settings, search_index_dir=str(index.directory)), migrate=False)
    reader = search_index.index_for(other.engine)
    try:
        assert ids(search(other, "kv cache")) and reader.answered == 1
        ingest_records(seeded.session_factory, [new_paper("2599.00004", "Quokka inference")])
        assert ids(search(other, "quokka")) == ["2599.00004"]  # SQL, until the writer catches up
        assert eventually(reader.is_current)
        assert ids(search(other, "quokka")) == ["2599.00004"]
        assert reader.answered == 2 and reader.declined == 1  # it never wrote: the first one's follower did
    finally:
        other.engine.dispose()


def test_unread_pages_stay_full_on_the_index(seeded, index):
    everything = ids(search(seeded, "kv cache", limit=5))
    with seeded.session_factory.begin() as session:
        for arxiv_id in everything[:3]:
            read_store.upsert_read(session, team_id="T1", user_id="U1", arxiv_id=arxiv_id, source="button",
                                   read_at=datetime.now(UTC))
    page = search(seeded, "kv cache unread", limit=5, team_id="T1", user_id="U1")
    assert page.total == KV_CACHE_TOTAL - 3 and len(page.hits) == 5
    assert not set(ids(page)) & set(everything[:3]) and not any(hit.read for hit in page.hits)
    flagged = search(seeded, "kv cache", limit=5, team_id="T1", user_id="U1")
    assert [hit.read for hit in flagged.hits] == [True, True, True, False, False]
    assert index.declined == 0


def test_a_transaction_that_commits_late_is_still_indexed(seeded, index, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers: there a commit never lands behind a later one")
    late = Session(seeded.engine)
    try:
        paper_store.upsert_papers(late, [new_paper("2599.00005", "Wombat quantization")],
                                  seen_at=datetime.now(UTC))
        ingest_records(seeded.session_factory, [new_paper(f"2599.{n:05d}", "Numbat quantization")
                                                for n in range(100, 150)])
        assert eventually(lambda: index.is_current() and search(seeded, "numbat").total == 50)
        # A follower pass whose horizon was read before the 50 committed reads them once more, by design
        # (db/search_feed.py); one more pass, and what is read from then on is what the test is about.
        index.sync()
        followed = index.papers_followed
        for _ in range(3):  # while the old transaction stays open, the papers after it are not read again
            index.sync()
        assert index.papers_followed == followed
        late.commit()  # an older transaction id, committed after newer ones were indexed
    finally:
        late.close()
    assert eventually(lambda: index.is_current() and search(seeded, "wombat").total == 1)
    # The late paper is read, and not the 50 again. Twice at most: a pass that read its horizon just before the
    # late commit landed reads the paper and keeps its transaction to read again (db/search_feed.py).
    assert index.answered >= 2 and followed + 1 <= index.papers_followed <= followed + 2


def test_sql_engine_never_touches_an_index_folder(seeded, settings, tmp_path):
    folder = tmp_path / "unused"
    store = build_store(replace(settings, search_engine="sql", search_index_dir=str(folder)), migrate=False)
    try:
        assert search_index.index_for(store.engine) is None
        assert search(store, "kv cache").total == KV_CACHE_TOTAL
        assert not folder.exists()
    finally:
        store.engine.dispose()


def test_search_settings_and_the_default_folder(tmp_path):
    assert Settings.from_env({}).search_engine == "index"
    assert Settings.from_env({"SEARCH_ENGINE": "SQL"}).search_engine == "sql"
    with pytest.raises(ConfigError, match="SEARCH_ENGINE"):
        Settings.from_env({"SEARCH_ENGINE": "elastic"})
    sqlite = Settings(database_url=f"sqlite:///{tmp_path / 'papers.db'}")
    assert search_index.index_directory(sqlite) == tmp_path / "papers.db.search"
    assert search_index.index_directory(Settings(database_url="sqlite://")) is None
    given = Settings(database_url="sqlite:///x.db", search_index_dir=str(tmp_path / "here"))
    assert search_index.index_directory(given) == tmp_path / "here"
    postgres = search_index.index_directory(Settings(database_url="postgresql+psycopg://u:s3cret@db:5432/papers"))
    assert postgres.parent.name == "papers-bot" and "s3cret" not in str(postgres)


def test_the_follower_thread_ends_with_its_store(seeded, settings, tmp_path):
    store = build_store(replace(settings, search_index_dir=str(tmp_path / "gone")), migrate=False)
    before = set(threading.enumerate())
    index = search_index.follow(store.engine)
    assert eventually(index.is_current)
    (thread,) = set(threading.enumerate()) - before
    store.engine.dispose()
    del store, index
    gc.collect()
    thread.join(10)
    assert not thread.is_alive()


def test_disposing_a_stores_engine_stops_its_follower(seeded, settings, tmp_path):
    store = build_store(replace(settings, search_index_dir=str(tmp_path / "disposed")), migrate=False)
    before = set(threading.enumerate())
    index = search_index.follow(store.engine)
    assert eventually(index.is_current)
    (thread,) = set(threading.enumerate()) - before
    store.engine.dispose()  # the store itself is still referenced: only its disposal can end the follower
    thread.join(10)
    assert not thread.is_alive()
    assert search(store, "kv cache").total == KV_CACHE_TOTAL  # the store still answers (a disposed engine reconnects)
    ingest_records(store.session_factory, [new_paper("2599.00006", "Okapi sparsity")])
    time.sleep(3 * FAST_POLL)
    assert not index.is_current()  # nobody follows any more: SQL answers what the index has not seen
    assert ids(search(store, "okapi")) == ["2599.00006"]
    store.engine.dispose()


def test_deleting_the_folder_in_the_middle_of_a_build_is_safe(seeded, settings, tmp_path, monkeypatch):
    expected = ids(search(seeded, "kv cache"))
    building, release = held_build(monkeypatch)
    index = search_index.attach(seeded.engine, replace(settings, search_index_dir=str(tmp_path / "doomed")),
                                poll_seconds=FAST_POLL)
    index.start()
    try:
        assert building.wait(10)
        shutil.rmtree(index.directory)  # while the build holds the writer and has written nothing yet
        release.set()
        assert eventually(index.is_current)
        assert set(ids(search(seeded, "kv cache"))) == set(expected) and index.answered == 1  # ranks differ on PG
        assert (index.path / "meta.json").exists()
    finally:
        release.set()
        index.close()


class PanicException(BaseException):
    """What pyo3 raises for a Rust panic inside tantivy (a BaseException, named so)."""


def test_a_panic_inside_tantivy_leaves_the_search_to_sql_and_the_follower_running(seeded, index, monkeypatch):
    expected = ids(search(seeded, "kv cache"))
    declined = index.declined

    def panics(*, create):
        raise PanicException("called `Result::unwrap()` on an `Err` value: Reach end of buffer while reading VInt")

    monkeypatch.setattr(index, "_open", panics)
    assert set(ids(search(seeded, "kv cache"))) == set(expected)  # SQL answered; the request did not die
    assert index.declined == declined + 1
    assert index._sync_logged() is False  # the follower logs it and tries again later, instead of ending
    with pytest.raises(KeyboardInterrupt):  # anything else that is not an Exception still goes through
        # Only in this thread: the follower would die of it meanwhile (pytest warned of an unhandled exception).
        asking = threading.get_ident()

        def interrupted(*, create):
            if threading.get_ident() == asking:
                raise KeyboardInterrupt
            raise PanicException("the follower meets a panic instead")

        monkeypatch.setattr(index, "_open", interrupted)
        search(seeded, "kv cache")
