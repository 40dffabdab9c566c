"""Recommendations from what people read: For you, similar papers, what the workspace reads most.

Every function takes the session factory and keyword-only arguments and returns frozen records. A request
loads the candidate window's stored vectors (papers first published within `window_days` of the newest paper
in the store, so a restored old archive works too), the reader's read vectors and the workspace's read
counts, all from SQL, and ranks with dot products (bot/recommend/ranking.py); no model is fitted on the
request path. Vectors are computed when papers are stored (`index_papers`, called by bot.ingest) or by
`backfill_vectors` for papers stored before.

Two caches save reloading, and both are keyed by the state of the store they were built from, so a process
never serves what SQL no longer says: the window (by newest paper, number of vectors and the time the last
one was computed) and each reader's profile (by window, number of reads and the latest read_at).

A user's recommendations and their reasons are only ever returned to that user's own request; `popular`
returns counts of distinct readers, never who they are.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from scipy import sparse
from sqlalchemy.orm import Session, sessionmaker

from bot.database_errors import apology_on_database_error
from bot.recommend import ranking
from bot.recommend.vectors import DIM, MODEL, encode, query_vector
from bot.search import ParsedQuery, parse_query
from bot.topics import Topic
from db import papers as paper_store
from db import vectors as vector_store
from db.fts import search_papers_fts
from db.records import PaperRecord

log = logging.getLogger(__name__)

DEFAULT_WINDOW_DAYS = 30
MAX_PAGE = 10  # three blocks a paper: ten fit an ephemeral message's 50 with room for the header and More
PROFILE_READS = 500  # the latest reads that shape a profile; every read is still left out of the list
FILTER_POOL = 500  # with words in the filters, the best full-text matches that For you then re-ranks
POPULAR_WINDOWS = {"week": 7, "month": 30}
READERS_DAYS = 30  # the workspace's reads that count towards the popularity part of the score
_BACKFILL_BATCH = 500


class RecommendError(Exception):
    """Something to tell the user in one short sentence (plain text; may hold their input)."""


class RecommendUnavailable(RecommendError):
    pass


class UnknownPaper(RecommendError):
    pass


class BadPopularWindow(RecommendError):
    pass


@dataclass(frozen=True)
class Recommendation:
    paper: PaperRecord
    score: float
    because: PaperRecord | None  # the read paper it is most like (only for the reader themself)
    readers: int  # distinct readers in the workspace in the last READERS_DAYS days
    topic_match: bool  # it matches one of the topics given (what a cold start leans on)


@dataclass(frozen=True)
class ForYouPage:
    items: tuple[Recommendation, ...]
    offset: int
    limit: int
    total: int  # candidates ranked: unread, in the window, through the filters
    cold_start: bool  # no reads with vectors yet: topics and the workspace's reads rank the list
    window_start: datetime | None
    window_end: datetime | None
    filters: str = ""  # the filters as understood, for display and the More button

    @property
    def next_offset(self) -> int | None:
        following = self.offset + len(self.items)
        return following if self.items and following < self.total else None


@dataclass(frozen=True)
class SimilarPaper:
    paper: PaperRecord
    score: float


@dataclass(frozen=True)
class SimilarPage:
    paper: PaperRecord
    items: tuple[SimilarPaper, ...]
    window_start: datetime | None


@dataclass(frozen=True)
class PopularPaper:
    paper: PaperRecord
    readers: int
    last_read_at: datetime


@dataclass(frozen=True)
class PopularPage:
    window: str  # "week" | "month"
    since: datetime
    items: tuple[PopularPaper, ...]


@dataclass(frozen=True)
class _Reader:
    read_ids: frozenset[str]
    profile_ids: tuple[str, ...]  # the reads in `rows`, in row order
    rows: ranking.Rows
    profile: sparse.csr_matrix | None


class _LRU:
    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


_windows = _LRU(2)  # the current window, and the one before while requests that began on it finish
_readers = _LRU(1024)


def clear_caches() -> None:
    """Forget every cached window and profile (the benchmark's cold requests; tests)."""
    _windows.clear()
    _readers.clear()


def _database(action: str):
    return apology_on_database_error(action, lambda: RecommendUnavailable(
        "Sorry, I couldn't reach the papers just now. Please try again in a moment."))


# -- vectors ------------------------------------------------------------------------------------------


def index_papers(factory: sessionmaker[Session], arxiv_ids: Sequence[str]) -> int:
    """Compute and store the vectors of these papers that lack a current one (bot.ingest calls it after each
    page). Returns how many were stored."""
    stored = 0
    ids = list(dict.fromkeys(arxiv_ids))
    for start in range(0, len(ids), _BACKFILL_BATCH):
        chunk = ids[start : start + _BACKFILL_BATCH]
        with factory.begin() as session:
            texts = vector_store.texts_needing_vectors(session, model=MODEL, arxiv_ids=chunk, limit=len(chunk))
            stored += _store(session, texts)
    return stored


def backfill_vectors(factory: sessionmaker[Session], *, batch: int = _BACKFILL_BATCH) -> int:
    """Compute every missing or stale vector (papers stored before vectors existed, a new MODEL), a batch
    per transaction, so it can be stopped and run again. Returns how many were stored."""
    stored, after_id = 0, 0
    while True:
        with factory.begin() as session:
            texts = vector_store.texts_needing_vectors(session, model=MODEL, after_id=after_id, limit=batch)
            if not texts:
                return stored
            stored += _store(session, texts)
        after_id = texts[-1].paper_id


def _store(session: Session, texts: Sequence[vector_store.PaperText]) -> int:
    vectors = [(t.paper_id, t.version, encode(t.title, t.abstract)) for t in texts]
    return vector_store.upsert_vectors(session, model=MODEL, dim=DIM, computed_at=datetime.now(UTC), vectors=vectors)


# -- the window and the reader --------------------------------------------------------------------------


def _window(session: Session, window_days: int) -> ranking.Window | None:
    newest = vector_store.newest_published(session)
    if newest is None:
        return None
    key = (MODEL, newest, window_days, vector_store.vectors_state(session))
    window = _windows.get(key)
    if window is None:
        start = newest - timedelta(days=window_days)
        rows = vector_store.window_vectors(session, model=MODEL, start=start)
        window = ranking.build_window(key, start=start, end=newest, arxiv_ids=[r.arxiv_id for r in rows],
                                      published=[r.published for r in rows], blobs=[r.vector for r in rows])
        _windows.put(key, window)
    return window


def _reader(session: Session, window: ranking.Window, *, team_id: str, user_id: str) -> _Reader:
    key = (team_id, user_id, vector_store.reads_key(session, team_id=team_id, user_id=user_id), window.key)
    reader = _readers.get(key)
    if reader is None:
        reads = vector_store.read_vectors(session, team_id=team_id, user_id=user_id, model=MODEL,
                                          limit=PROFILE_READS)
        rows = ranking.weigh([r.vector for r in reads], window.idf)
        reader = _Reader(
            read_ids=frozenset(vector_store.read_ids(session, team_id=team_id, user_id=user_id)),
            profile_ids=tuple(r.arxiv_id for r in reads), rows=rows,
            profile=ranking.centroid(rows) if reads else None,
        )
        _readers.put(key, reader)
    return reader


def _readers_per_row(session: Session, window: ranking.Window, *, team_id: str, now: datetime) -> np.ndarray:
    readers = np.zeros(len(window.arxiv_ids), dtype=np.float32)
    for count in vector_store.read_counts(session, team_id=team_id, since=now - timedelta(days=READERS_DAYS)):
        row = window.row_of.get(count.arxiv_id)
        if row is not None:
            readers[row] = count.readers
    return readers


def _topics_vector(window: ranking.Window, topics: Sequence[Topic]) -> sparse.csr_matrix | None:
    keywords = [k for topic in topics for k in topic.keywords]
    if not keywords:
        return None
    return ranking.centroid(ranking.weigh([query_vector(keywords)], window.idf))


def _filtered_rows(session: Session, window: ranking.Window, parsed: ParsedQuery, *, team_id: str,
                   user_id: str) -> np.ndarray:
    """The window rows that pass the search-style filters (full-text words, cat:, since:, author:)."""
    query = parsed.to_fts()
    since = max(window.start, query.since) if query.since else window.start
    page = search_papers_fts(session, query=dataclasses.replace(query, since=since), limit=FILTER_POOL,
                             reader=(team_id, user_id), unread_only=True)
    rows = [window.row_of[hit.paper.arxiv_id] for hit in page.hits if hit.paper.arxiv_id in window.row_of]
    return np.asarray(rows, dtype=np.int64)


# -- For you ------------------------------------------------------------------------------------------


def for_you(factory: sessionmaker[Session], *, team_id: str, user_id: str, limit: int, offset: int = 0,
            filters: str | None = None, now: datetime | None = None, topics: Sequence[Topic] = (),
            window_days: int = DEFAULT_WINDOW_DAYS, exclude: Collection[str] = ()) -> ForYouPage:
    """The user's unread papers of the window, best first, each with why.

    `filters` are search's (`cat:cs.CL since:2025-03-01 words`; a bad one raises bot.search.BadQuery before
    any database work). `topics` are the user's channels' digest topics: with no reads they rank the list
    (with what the workspace reads most), and with reads they add a little. `exclude` names papers to leave
    out besides the reads (the morning DM's papers already sent).
    """
    parsed = parse_query(filters) if filters and filters.strip() else None
    now = now or datetime.now(UTC)
    limit, offset = max(1, min(limit, MAX_PAGE)), max(0, offset)
    with _database("ranking papers for a reader"), factory.begin() as session:
        window = _window(session, window_days)
        if window is None or not window.arxiv_ids:
            return ForYouPage(items=(), offset=offset, limit=limit, total=0, cold_start=True,
                              window_start=window.start if window else None,
                              window_end=window.end if window else None, filters=parsed.text if parsed else "")
        reader = _reader(session, window, team_id=team_id, user_id=user_id)
        readers = _readers_per_row(session, window, team_id=team_id, now=now)
        topics_vector = _topics_vector(window, topics)
        eligible = _eligible(session, window, reader, parsed, exclude, team_id=team_id, user_id=user_id)
        scores = ranking.hybrid_scores(window, profile=reader.profile, topics=topics_vector, readers=readers)
        shown = ranking.top_rows(scores, eligible, window.published, offset + limit)[offset:]
        items = _recommendations(session, window, reader, shown, scores, readers, topics_vector)
    return ForYouPage(items=items, offset=offset, limit=limit, total=int(eligible.sum()),
                      cold_start=reader.profile is None, window_start=window.start, window_end=window.end,
                      filters=parsed.text if parsed else "")


def for_you_by_reads(factory: sessionmaker[Session], *, topics: Sequence[Topic], **kwargs) -> ForYouPage:
    """For you as the handlers ask for it: ranked by the reader's own reads alone, and by their channels'
    `topics` only while they have no reads (a cold start). Through the server, a token-pruning reader with
    topics added got 3 of 5 papers in their field, and 4 of 5 without (tests/recommend/test_recommend_e2e.py)."""
    page = for_you(factory, topics=(), **kwargs)
    return for_you(factory, topics=topics, **kwargs) if page.cold_start else page


def _eligible(session: Session, window: ranking.Window, reader: _Reader, parsed: ParsedQuery | None,
              exclude: Collection[str], *, team_id: str, user_id: str) -> np.ndarray:
    if parsed is None:
        eligible = np.ones(len(window.arxiv_ids), dtype=bool)
    else:
        eligible = np.zeros(len(window.arxiv_ids), dtype=bool)
        eligible[_filtered_rows(session, window, parsed, team_id=team_id, user_id=user_id)] = True
    for arxiv_id in (*reader.read_ids, *exclude):
        row = window.row_of.get(arxiv_id)
        if row is not None:
            eligible[row] = False
    return eligible


def _recommendations(session: Session, window: ranking.Window, reader: _Reader, shown: np.ndarray,
                     scores: np.ndarray, readers: np.ndarray,
                     topics_vector: sparse.csr_matrix | None) -> tuple[Recommendation, ...]:
    closest = ranking.closest_rows(window, shown, reader.rows) if reader.profile is not None else []
    because_ids = [reader.profile_ids[i] if similarity > 0 else None for i, similarity in closest]
    ids = [window.arxiv_ids[i] for i in shown]
    papers = paper_store.get_papers(session, ids + [i for i in because_ids if i])
    topic_scores = (ranking.similarities(window.rows[shown], topics_vector) if topics_vector is not None and len(shown)
                    else np.zeros(len(shown)))
    return tuple(
        Recommendation(
            paper=papers[arxiv_id], score=float(scores[row]),
            because=papers.get(because_ids[n]) if because_ids and because_ids[n] else None,
            readers=int(readers[row]), topic_match=bool(topic_scores[n] > 0),
        )
        for n, (arxiv_id, row) in enumerate(zip(ids, shown, strict=True))
        if arxiv_id in papers
    )


# -- similar and popular --------------------------------------------------------------------------------


def similar(factory: sessionmaker[Session], *, arxiv_id: str, limit: int,
            window_days: int = DEFAULT_WINDOW_DAYS) -> SimilarPage:
    """The window's papers nearest to this one (a version-less id; bot.reading.parse_paper_ref makes one
    from any form a user types), nearest first. Raises UnknownPaper for a paper not in the store."""
    limit = max(1, min(limit, MAX_PAGE))
    with _database("finding similar papers"), factory.begin() as session:
        paper = paper_store.get_paper(session, arxiv_id)
        if paper is None:
            raise UnknownPaper(f"There is no paper `{arxiv_id}` here.")
        window = _window(session, window_days)
        if window is None or not window.arxiv_ids:
            return SimilarPage(paper=paper, items=(), window_start=None)
        # A paper whose vector is not stored yet (the ingest hook failed) is vectorised here, from its text.
        blob = vector_store.paper_vectors(session, model=MODEL, arxiv_ids=[arxiv_id]).get(arxiv_id) \
            or encode(paper.title, paper.abstract)
        scores = ranking.window_similarities(window, ranking.weigh([blob], window.idf))
        eligible = scores > 0
        own_row = window.row_of.get(arxiv_id)
        if own_row is not None:
            eligible[own_row] = False
        shown = ranking.top_rows(scores, eligible, window.published, limit)
        papers = paper_store.get_papers(session, [window.arxiv_ids[i] for i in shown])
    items = tuple(SimilarPaper(paper=papers[window.arxiv_ids[i]], score=float(scores[i])) for i in shown
                  if window.arxiv_ids[i] in papers)
    return SimilarPage(paper=paper, items=items, window_start=window.start)


def parse_popular_window(text: str | None) -> str:
    """`/papers popular [week|month]`: week when left out."""
    word = (text or "").strip().lower() or "week"
    if word not in POPULAR_WINDOWS:
        raise BadPopularWindow("`/papers popular` takes `week` or `month`, e.g. `/papers popular month`.")
    return word


def popular(factory: sessionmaker[Session], *, team_id: str, window: str, limit: int,
            now: datetime | None = None) -> PopularPage:
    """The workspace's most read papers of the last week or month: most distinct readers first, the most
    recently read first among equals. Counts only."""
    window = parse_popular_window(window)
    since = (now or datetime.now(UTC)) - timedelta(days=POPULAR_WINDOWS[window])
    limit = max(1, min(limit, MAX_PAGE))
    with _database("counting the workspace's reads"), factory.begin() as session:
        counts = vector_store.read_counts(session, team_id=team_id, since=since, limit=limit)
        papers = paper_store.get_papers(session, [c.arxiv_id for c in counts])
    items = tuple(PopularPaper(paper=papers[c.arxiv_id], readers=c.readers, last_read_at=c.last_read_at)
                  for c in counts if c.arxiv_id in papers)
    return PopularPage(window=window, since=since, items=items)
