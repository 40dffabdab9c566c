"""The derived full-text index that answers `/papers`: tantivy (true top-k with block-max WAND), built from
the SQL store and following it.

SQL stays the source of truth; the index only says which papers, in which order, and how many. Hits are
loaded from SQL, reads come from SQL, and any doubt sends the query to SQL (db/fts.py):

- **Current or not at all.** Each search first asks the store for its newest `papers.revision` (one index
  lookup). If the index has not seen it, or has never been built, or a hit is missing from the store,
  the caller answers from SQL and the follower is woken. So a search never misses a stored paper.
- **Following.** A process that serves Slack (`follow`) runs a daemon thread that polls every few seconds
  for rows changed since its cursor (db/search_feed.py) and replaces them in the index; a paper stored by
  any process is searchable within one poll. A missing, unreadable or outdated index folder is rebuilt
  from the store in the background while SQL answers. Deleting the folder is always safe.
- **Processes.** Each process keeps its own index object; processes on one machine that point at the same
  folder share it: whoever holds tantivy's writer lock writes, the others read its commits (the cursor is
  a document committed with the papers, so a reader's watermark always matches what it searches). A
  process that does not follow (the CLI's `search`) uses the folder if it is current, else SQL.

`attach` (from bot.app.build_store) registers an index for an engine when SEARCH_ENGINE=index; bot.search
asks `index_for(session.get_bind())`. Disposing the engine stops its follower.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import tantivy
from sqlalchemy import Engine, event, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.search_index.documents import (
    FORMAT,
    ID,
    META_ID,
    PUBLISHED,
    TOKENIZER,
    Cursor,
    IndexState,
    build_analyzer,
    build_schema,
    paper_document,
    read_state,
    state_document,
)
from bot.search_index.queries import compile_query
from db import papers as paper_store
from db import search_feed
from db.fts import FtsPage, FtsQuery
from db.records import SearchHit
from db.session import describe_db_error

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0
BATCH = 2_000  # rows per read from the store
WRITER_HEAP_BYTES = 48_000_000  # per indexing thread; tantivy flushes a segment when it is full
IDLE_POLLS_PER_COUNT_CHECK = 12  # with nothing new, check for deleted papers about once a minute
OVERFETCH = 10  # extra hits ranked so ties at a page's edge break as on SQL (newest, then highest id)
MAX_BACKOFF_SECONDS = 300.0
T = TypeVar("T")


class _WriterBusy(Exception):
    """Another process (or thread) holds the index's writer lock; it is doing the work."""


class SearchIndex:
    """One process's view of the index folder for one database engine."""

    def __init__(self, engine: Engine, directory: Path, *, poll_seconds: float = POLL_SECONDS,
                 build_threads: int = 1):
        self._engine = weakref.ref(engine)  # the registry is keyed by the engine: never keep it alive
        self.directory = directory
        self.poll_seconds = poll_seconds
        self.build_threads = build_threads
        self._schema = build_schema()
        self._analyzer = build_analyzer()
        self._index: tantivy.Index | None = None
        self._open_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rebuild_wanted = False
        self._idle_polls = 0
        self.answered = 0  # searches the index answered
        self.declined = 0  # searches left to SQL (not built, behind, or a doubt)
        self.papers_followed = 0  # papers (re)indexed from the store's changes, builds aside

    @property
    def path(self) -> Path:
        return self.directory / FORMAT

    # -- answering ------------------------------------------------------------------------------------

    def search(self, session: Session, *, query: FtsQuery, limit: int, offset: int = 0,
               reader: tuple[str, str] | None = None, unread_only: bool = False) -> FtsPage | None:
        """The page from the index, or None: then the caller asks SQL (the index is not built or behind)."""
        try:
            page = self._answer(session, query=query, limit=limit, offset=offset, reader=reader,
                                unread_only=unread_only)
        except SQLAlchemyError:
            raise  # the store itself failed: SQL cannot answer either, and the caller says so
        except Exception:  # noqa: BLE001 - a failing derived index must never fail a search
            log.exception("search index: a search failed in %s; SQL answers it", self.path)
            page = None
        except BaseException as error:
            if not is_panic(error):
                raise
            log.error("search index: tantivy panicked reading %s (%s); SQL answers, the index is opened again",
                      self.path, error)
            self._forget_open_index()
            page = None
        if page is None:
            self.declined += 1
            self._wake.set()
        else:
            self.answered += 1
        return page

    def _answer(self, session: Session, *, query: FtsQuery, limit: int, offset: int,
                reader: tuple[str, str] | None, unread_only: bool) -> FtsPage | None:
        index = self._open(create=False)
        if index is None:
            return None
        searcher = index.searcher()
        state = read_state(searcher, self._schema)
        if state is None or search_feed.newest_revision(session) != state.newest:  # behind, or a replaced store
            return None
        leave_out = search_feed.read_ids(session, team_id=reader[0], user_id=reader[1]) \
            if reader and unread_only else ()
        compiled = compile_query(self._schema, self._analyzer, query, leave_out=leave_out)
        total, ranked = _ranked(searcher, compiled, wanted=offset + max(limit, 0), by_score=bool(query.all_of))
        window = ranked[offset : offset + max(limit, 0)]
        papers = paper_store.get_papers(session, [arxiv_id for arxiv_id, _ in window])
        if len(papers) < len(window):
            log.warning("search index: a hit is not in the store (papers deleted?); rebuilding")
            self._rebuild_wanted = True
            return None
        read = search_feed.read_among(session, team_id=reader[0], user_id=reader[1],
                                      arxiv_ids=papers) if reader else set()
        hits = tuple(SearchHit(paper=papers[arxiv_id], score=score, read=arxiv_id in read)
                     for arxiv_id, score in window)
        return FtsPage(total=total, hits=hits)

    # -- the folder -----------------------------------------------------------------------------------

    def _open(self, *, create: bool) -> tantivy.Index | None:
        """The index in the folder; a follower creates (or recreates) it, a search only opens what exists."""
        with self._open_lock:
            if self._index is not None and (self.path / "meta.json").exists():
                return self._index
            self._index = None
            if not create:
                if not (self.path / "meta.json").exists():
                    return None
                index = tantivy.Index.open(str(self.path))
            else:
                index = self._create()
            index.register_tokenizer(TOKENIZER, self._analyzer)
            self._index = index
            return index

    def _create(self) -> tantivy.Index:
        for older in self.directory.glob("tantivy-*"):  # an index another version of the app wrote
            if older != self.path:
                shutil.rmtree(older, ignore_errors=True)
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            return tantivy.Index(self._schema, path=str(self.path), reuse=True)
        except ValueError as error:  # a folder another version wrote, or damaged: it is only derived data
            log.warning("search index: %s is unreadable (%s); starting it again", self.path, error)
            shutil.rmtree(self.path, ignore_errors=True)
            self.path.mkdir(parents=True, exist_ok=True)
            return tantivy.Index(self._schema, path=str(self.path), reuse=False)

    def _writer(self, index: tantivy.Index, threads: int = 1) -> tantivy.IndexWriter:
        try:
            return index.writer(heap_size=WRITER_HEAP_BYTES * threads, num_threads=threads)
        except ValueError as error:
            if "LockBusy" in str(error):
                raise _WriterBusy from None
            raise

    def _commit(self, index: tantivy.Index, writer: tantivy.IndexWriter, state: IndexState) -> None:
        writer.delete_documents_by_term(ID, META_ID)
        writer.add_document(state_document(state))
        writer.commit()
        writer.wait_merging_threads()  # also releases the writer lock
        index.reload()

    # -- following ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Build (if needed) and follow the store in a daemon thread. Idempotent."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=_follow, args=(weakref.ref(self), self._wake, self._stop),
                                        name="search-index", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None
        with self._open_lock:
            self._index = None

    def sync(self) -> None:
        """One follower pass now: build the index if it has none, else apply the store's changes."""
        with self._sync_lock:
            # The store first: a store that cannot be read gets no folder (nor a SQLite file's parent folder).
            store_newest = self._read(search_feed.newest_revision)
            index = self._open(create=True)
            state = read_state(index.searcher(), self._schema)
            try:
                if state is None or self._rebuild_wanted or self._store_replaced(state, store_newest):
                    self._rebuild(index)
                else:
                    self._catch_up(index, state)
            except _WriterBusy:
                log.debug("search index: another process is writing %s", self.path)

    def is_current(self) -> bool:
        index = self._open(create=False)
        state = read_state(index.searcher(), self._schema) if index is not None else None
        return state is not None and self._read(search_feed.newest_revision) == state.newest

    def wait_until_current(self, timeout: float = 60.0) -> bool:
        """Sync until the index has seen the store's newest change (tests, the benchmark)."""
        deadline = time.monotonic() + timeout
        while True:
            self.sync()
            if self.is_current():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def _read(self, query: Callable[[Session], T]) -> T:
        """One short read transaction: a build never holds a snapshot open for minutes."""
        engine = self._engine()
        if engine is None:
            raise RuntimeError("the database engine of this search index is gone")
        with Session(engine) as session, session.begin():
            return query(session)

    def _store_replaced(self, state: IndexState, store_newest: int) -> bool:
        if store_newest < state.newest:
            log.info("search index: the store is older than the index (restored or replaced); rebuilding")
            return True
        return False

    def _rebuild(self, index: tantivy.Index) -> None:
        writer = self._writer(index, self.build_threads)
        began = time.perf_counter()
        log.info("search index: building %s from the store; SQL answers searches meanwhile", self.path)
        horizon = self._read(search_feed.horizon)  # before the scan: what commits during it is read again
        writer.delete_all_documents()
        after_id = newest = count = 0
        while True:
            rows = self._read(lambda s, after=after_id: search_feed.papers_after_id(s, after_id=after, limit=BATCH))
            for row in rows:
                writer.add_document(paper_document(row))
                newest = max(newest, row.revision)
            count += len(rows)
            if len(rows) < BATCH:
                break
            after_id = rows[-1].id
        self._commit(index, writer, IndexState(Cursor(horizon.next_revision, 0), newest, horizon.running))
        self._rebuild_wanted = False
        log.info("search index: %d papers indexed in %.1f s", count, time.perf_counter() - began)

    def _catch_up(self, index: tantivy.Index, state: IndexState) -> None:
        horizon = self._read(search_feed.horizon)  # before reading changes (db/search_feed.py)
        writer, newest, last = None, state.newest, None
        for rows in self._change_batches(state.cursor):
            writer = writer or self._writer(index)
            newest, last = max(newest, self._replace(writer, rows)), rows[-1]
        finished = self._read(lambda s: search_feed.changes_in(s, revisions=state.pending))
        if finished:
            writer = writer or self._writer(index)
            newest = max(newest, self._replace(writer, finished))
        cursor = state.cursor  # moved past what was read, but never past the horizon
        if last is not None:
            cursor = min(Cursor(horizon.next_revision, 0), Cursor(last.revision, last.id + 1))
        pending = tuple(revision for revision in horizon.running if revision < cursor.revision)
        if writer is None and pending == state.pending:
            self._idle_polls += 1
            if self._idle_polls >= IDLE_POLLS_PER_COUNT_CHECK:
                self._check_count(index)
            return
        self._commit(index, writer or self._writer(index), IndexState(cursor, newest, pending))
        self._check_count(index)

    def _change_batches(self, cursor: Cursor) -> Iterator[list[search_feed.IndexRow]]:
        """Rows at or after the cursor in (revision, id) order, a batch (one short transaction) at a time."""
        while True:
            batch = self._read(lambda s, c=cursor: search_feed.changes_from(s, revision=c.revision,
                                                                            paper_id=c.paper_id, limit=BATCH))
            if batch:
                yield batch
            if len(batch) < BATCH:
                return
            cursor = Cursor(batch[-1].revision, batch[-1].id + 1)

    def _replace(self, writer: tantivy.IndexWriter, rows: list[search_feed.IndexRow]) -> int:
        """Each paper's document replaced by its row; returns the newest revision among them."""
        self.papers_followed += len(rows)
        for row in rows:
            writer.delete_documents_by_term(ID, row.arxiv_id)
            writer.add_document(paper_document(row))
        return max(row.revision for row in rows)

    def _check_count(self, index: tantivy.Index) -> None:
        """Papers are never deleted by the app, but a store can be emptied or restored under the index."""
        self._idle_polls = 0
        indexed = index.searcher().num_docs - 1  # the state document
        if indexed > self._read(search_feed.paper_count):
            log.info("search index: it holds papers the store no longer has; rebuilding")
            self._rebuild_wanted = True
            self._wake.set()

    def _sync_logged(self) -> bool:
        try:
            self.sync()
            return True
        except SQLAlchemyError as error:
            log.warning("search index: cannot read the store (%s); trying again later", describe_db_error(error))
            return False
        except Exception:  # noqa: BLE001 - the index is derived: log, let SQL answer, and try again later
            log.exception("search index: updating %s failed; SQL answers until it works", self.path)
            self._forget_open_index()
            return False
        except BaseException as error:
            if not is_panic(error):
                raise
            log.error("search index: tantivy panicked updating %s (%s); SQL answers until it works", self.path,
                      error)
            self._forget_open_index()
            return False

    def _forget_open_index(self) -> None:
        with self._open_lock:
            self._index = None


def is_panic(error: BaseException) -> bool:
    """A Rust panic inside tantivy, as pyo3 raises it: a BaseException, so `except Exception` lets it through and
    it would end the Slack listener or the follower thread. Seen reading a folder another process was rewriting
    (two processes on one machine and database share it)."""
    return type(error).__name__ == "PanicException"


def _follow(ref: weakref.ref[SearchIndex], wake: threading.Event, stop: threading.Event) -> None:
    """The follower thread. It holds the index only while working, so a dropped store ends it."""
    failures = 0
    while not stop.is_set():
        index = ref()
        if index is None:
            return
        failures = 0 if index._sync_logged() else failures + 1
        wait = min(index.poll_seconds * (2**failures), MAX_BACKOFF_SECONDS)
        del index
        wake.wait(wait)
        wake.clear()


def _ranked(searcher: tantivy.Searcher, query: tantivy.Query, *, wanted: int,
            by_score: bool) -> tuple[int, list[tuple[str, float]]]:
    """(exact count, [(arxiv id, score)] best first): the top `wanted` plus a few, ties broken as SQL does."""
    fetch = wanted + OVERFETCH
    if by_score:
        result = searcher.search(query, fetch, count=True)
        addresses = [address for _, address in result.hits]
        published = searcher.fast_field_values(PUBLISHED, addresses)
        keyed = [(score, moment, searcher.doc(address).get_first(ID))
                 for (score, address), moment in zip(result.hits, published, strict=True)]
    else:  # filters only: newest first
        result = searcher.search(query, fetch, count=True, order_by_field=PUBLISHED, order=tantivy.Order.Desc)
        keyed = [(0.0, moment, searcher.doc(address).get_first(ID)) for moment, address in result.hits]
    keyed.sort(reverse=True)
    return result.count, [(arxiv_id, score) for score, _, arxiv_id in keyed]


# -- one index per engine, per process ------------------------------------------------------------------

_indexes: weakref.WeakKeyDictionary[Engine, SearchIndex] = weakref.WeakKeyDictionary()


def index_directory(settings: Settings) -> Path | None:
    """SEARCH_INDEX_DIR, else beside the SQLite file, else a per-user cache folder named after the database.
    None for an in-memory SQLite database (nothing to follow across connections)."""
    if settings.search_index_dir:
        return Path(settings.search_index_dir).expanduser()
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return None
        database = Path(url.database).expanduser().resolve()
        return database.with_name(database.name + ".search")
    where = f"{url.host}:{url.port}/{url.database}?user={url.username}"  # never the password
    digest = hashlib.sha256(where.encode()).hexdigest()[:12]
    return Path.home() / ".cache" / "papers-bot" / f"search-{url.database}-{digest}"


def attach(engine: Engine, settings: Settings, *, poll_seconds: float = POLL_SECONDS) -> SearchIndex | None:
    """Register the index for this engine when SEARCH_ENGINE=index. Nothing is opened or built yet."""
    directory = index_directory(settings) if settings.search_engine == "index" else None
    if directory is None:
        _indexes.pop(engine, None)
        return None
    index = SearchIndex(engine, directory, poll_seconds=poll_seconds)
    _indexes[engine] = index
    # Disposing the engine (a process or a test done with its store) stops its follower: left running, it would
    # poll, and so hold a database connection, for as long as anything keeps the store alive.
    event.listen(engine, "engine_disposed", _stop_following(index))
    return index


def _stop_following(index: SearchIndex) -> Callable[[Engine], None]:
    def on_dispose(_engine: Engine) -> None:
        index.close()

    return on_dispose


def index_for(bind) -> SearchIndex | None:
    """The index registered for a session's bind (an Engine), if any."""
    try:
        return _indexes.get(bind)
    except TypeError:  # a bind that cannot be weakly referenced (a Connection) has none
        return None


def follow(engine: Engine) -> SearchIndex | None:
    """Start building and following the index in this process (a process that answers `/papers`)."""
    index = index_for(engine)
    if index is not None:
        index.start()
    return index


def close_all() -> None:
    """Stop every index this process follows (a shutting-down process, or a test done with its stores): a
    follower left running keeps polling, and so keeps a database connection, for as long as its engine lives."""
    for index in list(_indexes.values()):
        index.close()
