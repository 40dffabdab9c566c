"""Ranked full-text search over papers: the one function that hides the SQL dialect.

`search_papers_fts` takes an already-parsed query (words and phrases, never raw user text) and runs it
on SQLite's FTS5 table `papers_fts` (porter stemming, `bm25()`) or PostgreSQL's generated
`papers.search_vector` (english stemming, `ts_rank_cd`, or `ts_rank` for one word). Both rank the title
above the authors above the abstract, and every piece of user text reaches the database as a bound
parameter. On SQLite, `cat:`, `since:` and `unread` are checked against `papers_fts_filters`, a narrow copy of
(id, published, categories), not the wide `papers` rows (2-5x faster at 100k papers, BENCHMARKS.md), with words
or without.

This is the SQL path: with SEARCH_ENGINE=index (bot/search_index) it answers only while the index is not
current; with SEARCH_ENGINE=sql it answers every search.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Integer,
    Text,
    and_,
    bindparam,
    column,
    exists,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy.orm import Session

from db.models import Paper, Read, UTCDateTime
from db.papers import to_record
from db.records import SearchHit

Phrase = tuple[str, ...]  # one word, or several that must be adjacent and in order

# bm25 column weights for (title, abstract, author_names): a title hit outweighs several abstract hits.
SQLITE_BM25_WEIGHTS = (5.0, 1.0, 2.0)
# ts_rank(_cd) weights for {D, C, B, A}: authors are C, abstract B, title A (see migration 0001).
POSTGRES_RANK_WEIGHTS = "{0.1, 0.4, 0.25, 1.0}"
# ts_rank(_cd) normalisation 1: divide by 1 + log(document length), so a long abstract does not win by size.
POSTGRES_RANK_NORMALISATION = 1


@dataclass(frozen=True)
class FtsQuery:
    """What to look for. `all_of` clauses must each match (a clause matches if any alternative does)."""

    all_of: tuple[tuple[Phrase, ...], ...] = ()
    none_of: tuple[Phrase, ...] = ()
    authors: tuple[Phrase, ...] = ()  # each must match the author names, in order
    categories: tuple[str, ...] = ()  # any of: "cs.CL" exactly, or "cs" for the whole archive
    since: datetime | None = None


@dataclass(frozen=True)
class FtsPage:
    total: int
    hits: tuple[SearchHit, ...]


def search_papers_fts(
    session: Session,
    *,
    query: FtsQuery,
    limit: int,
    offset: int = 0,
    reader: tuple[str, str] | None = None,
    unread_only: bool = False,
) -> FtsPage:
    """Matching papers best first (newest first when the query has no words), with the total count.

    `reader` is (team_id, user_id): each hit says whether that user read it, and `unread_only` drops the
    papers they did read.
    """
    dialect = session.bind.dialect.name
    match = fts5_match(query) if dialect == "sqlite" else None
    if match is not None and query.all_of and not (query.since or query.categories or unread_only):
        return _sqlite_words_only(session, match=match, limit=limit, offset=offset, reader=reader)
    if dialect == "sqlite" and (query.since or query.categories or unread_only):
        return _sqlite_filtered(session, match=match, query=query, limit=limit, offset=offset, reader=reader,
                                unread_only=unread_only)
    build = _postgres_parts if dialect == "postgresql" else _sqlite_parts
    joined, conditions, score = build(query)

    conditions = list(conditions)
    conditions.extend(_filter_conditions(query))
    read_flag = _read_flag(reader)
    if reader is not None and unread_only:
        conditions.append(not_(read_flag))

    where = and_(true(), *conditions)
    total = session.scalar(select(func.count()).select_from(joined).where(where)) or 0
    if total == 0 or limit <= 0:
        return FtsPage(total=total, hits=())
    # Rank narrow rows (id, score, tie-breakers), then load whole papers for this page only.
    best = (
        select(Paper.id.label("paper_id"), score.label("score"), Paper.published, Paper.arxiv_id)
        .select_from(joined)
        .where(where)
        .order_by(score.desc(), Paper.published.desc(), Paper.arxiv_id.desc())
        .limit(limit)
        .offset(max(offset, 0))
        .subquery()
    )
    rows = session.execute(
        select(Paper, best.c.score, read_flag)
        .join(best, best.c.paper_id == Paper.id)
        .order_by(best.c.score.desc(), best.c.published.desc(), best.c.arxiv_id.desc())
    ).all()
    hits = tuple(SearchHit(paper=to_record(paper), score=float(s or 0.0), read=bool(r)) for paper, s, r in rows)
    return FtsPage(total=total, hits=hits)


def _read_flag(reader: tuple[str, str] | None) -> ColumnElement:
    if reader is None:
        return literal(False)
    team_id, user_id = reader
    return exists().where(Read.team_id == team_id, Read.user_id == user_id, Read.arxiv_id == Paper.arxiv_id)


# Built once: the words-only path is the common one, and building SQLAlchemy expressions per request cost
# more CPU than running them. Only bound parameters change between calls.
_PAPER_COLUMNS = ", ".join(f"papers.{c.name}" for c in Paper.__table__.columns)
_SQLITE_COUNT = text("SELECT count(*) FROM papers_fts WHERE papers_fts MATCH :fts_match")
_SQLITE_PAGE = text(
    f"SELECT {_PAPER_COLUMNS}, best.rank AS rank, EXISTS (SELECT 1 FROM reads WHERE reads.team_id = :team_id "
    "AND reads.user_id = :user_id AND reads.arxiv_id = papers.arxiv_id) AS read "
    "FROM (SELECT rowid AS paper_id, bm25(papers_fts, "
    + ", ".join(str(w) for w in SQLITE_BM25_WEIGHTS)
    + ") AS rank FROM papers_fts WHERE papers_fts MATCH :fts_match "
    "ORDER BY rank, rowid DESC LIMIT :limit OFFSET :offset) AS best "
    "JOIN papers ON papers.id = best.paper_id ORDER BY best.rank, papers.id DESC"
).columns(*Paper.__table__.columns, column("rank", Float), column("read", Boolean))


def _sqlite_words_only(session: Session, *, match: str, limit: int, offset: int,
                       reader: tuple[str, str] | None) -> FtsPage:
    """Words without column filters: count and rank inside the FTS5 table, then load only the page.

    Joining `papers` to every match first costs a row lookup per match; for a common word at 20,000
    papers that is 40 ms against 1 ms (count) and 18 ms (rank) inside the index.
    """
    total = session.scalar(_SQLITE_COUNT, {"fts_match": match}) or 0
    if total == 0 or limit <= 0:
        return FtsPage(total=total, hits=())
    team_id, user_id = reader or ("", "")  # no reader: no row matches, so nothing reads as read
    rows = session.execute(_SQLITE_PAGE, {"fts_match": match, "team_id": team_id, "user_id": user_id,
                                          "limit": limit, "offset": max(offset, 0)}).all()
    # bm25 is lower-is-better; negated so every dialect's score is higher-is-better.
    hits = tuple(SearchHit(paper=to_record(row), score=-float(row.rank or 0.0), read=bool(row.read)) for row in rows)
    return FtsPage(total=total, hits=hits)


# SQLite's narrow copy of (id, published, categories), kept by triggers (migration 0006): `cat:` and `since:`
# check each full-text match there instead of in the wide `papers` row with its abstract.
_SQLITE_FILTERS = table("papers_fts_filters", column("paper_id", Integer), column("published", UTCDateTime()),
                        column("categories", Text))


def _sqlite_filtered(session: Session, *, match: str | None, query: FtsQuery, limit: int, offset: int,
                     reader: tuple[str, str] | None, unread_only: bool) -> FtsPage:
    """`cat:`, `since:` or `unread`, with or without words (or authors): matched, filtered and ranked without
    `papers`; the page's papers are loaded last. Ties go to the newest, then the latest stored."""
    narrow = _SQLITE_FILTERS.c
    fts = literal_column("papers_fts")
    fts_table = table("papers_fts", column("rowid", Integer))
    conditions = _filter_conditions(query, published=narrow.published, categories=narrow.categories)
    if match is not None:
        joined = fts_table.join(_SQLITE_FILTERS, narrow.paper_id == fts_table.c.rowid)
        conditions.insert(0, fts.op("MATCH")(bindparam("fts_match", match)))
    else:  # filters alone (`cat:cs.LG -survey`): the narrow table is all there is to read
        joined = _SQLITE_FILTERS
        if query.none_of:
            excluded = " OR ".join(fts5_string(p) for p in query.none_of)
            matching = select(fts_table.c.rowid).where(fts.op("MATCH")(bindparam("fts_excluded", excluded)))
            conditions.append(narrow.paper_id.not_in(matching.scalar_subquery()))
    if reader is not None and unread_only:
        read_papers = (select(Paper.id).join(Read, Read.arxiv_id == Paper.arxiv_id)
                       .where(Read.team_id == reader[0], Read.user_id == reader[1]))
        conditions.append(narrow.paper_id.not_in(read_papers.scalar_subquery()))
    where = and_(*conditions)
    total = session.scalar(select(func.count()).select_from(joined).where(where)) or 0
    if total == 0 or limit <= 0:
        return FtsPage(total=total, hits=())
    score = -func.bm25(fts, *SQLITE_BM25_WEIGHTS) if query.all_of else literal(0.0)
    best = (
        select(narrow.paper_id, score.label("score"), narrow.published)
        .select_from(joined)
        .where(where)
        .order_by(score.desc(), narrow.published.desc(), narrow.paper_id.desc())
        .limit(limit)
        .offset(max(offset, 0))
        .subquery()
    )
    rows = session.execute(
        select(Paper, best.c.score, _read_flag(reader))
        .join(best, best.c.paper_id == Paper.id)
        .order_by(best.c.score.desc(), best.c.published.desc(), Paper.id.desc())
    ).all()
    hits = tuple(SearchHit(paper=to_record(paper), score=float(s or 0.0), read=bool(r)) for paper, s, r in rows)
    return FtsPage(total=total, hits=hits)


def _filter_conditions(query: FtsQuery, *, published=Paper.published, categories=Paper.categories
                       ) -> list[ColumnElement]:
    conditions: list[ColumnElement] = []
    if query.since is not None:
        conditions.append(published >= query.since)
    if query.categories:
        # bot.arxiv_ids.category_matches in SQL (the same rule, kept here so it runs in the index query):
        # a wanted category matches exactly, without case; a bare archive (`cs`) takes all its subjects.
        padded = literal(" ") + categories + literal(" ")
        options = []
        for category in query.categories:
            escaped = category.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            options.append(padded.ilike(f"% {escaped} %", escape="\\"))
            if "." not in category:  # an archive: cs matches cs.CL, cs.LG, ...
                options.append(padded.ilike(f"% {escaped}.%", escape="\\"))
        conditions.append(or_(*options))
    return conditions


# -- SQLite: FTS5 ---------------------------------------------------------------------------------


def fts5_string(phrase: Phrase) -> str:
    """One FTS5 string token: double quotes around, inner quotes doubled. Never FTS5 syntax."""
    return '"' + " ".join(phrase).replace('"', '""') + '"'


def fts5_match(query: FtsQuery) -> str | None:
    """The MATCH expression, built only from quoted strings and our own operators."""
    parts = []
    for clause in query.all_of:
        parts.append("(" + " OR ".join(fts5_string(alt) for alt in clause) + ")")
    for author in query.authors:
        parts.append("(author_names : " + fts5_string(author) + ")")
    if not parts:
        return None
    expression = " AND ".join(parts)
    if query.none_of:
        expression = f"({expression}) NOT (" + " OR ".join(fts5_string(p) for p in query.none_of) + ")"
    return expression


def _sqlite_parts(query: FtsQuery):
    match = fts5_match(query)
    if match is None:
        conditions = []
        if query.none_of:
            excluded = " OR ".join(fts5_string(p) for p in query.none_of)
            fts_table = table("papers_fts", column("rowid"))
            matching = (
                select(fts_table.c.rowid)
                .where(literal_column("papers_fts").op("MATCH")(bindparam("fts_excluded", excluded)))
            )
            conditions.append(Paper.id.not_in(matching.scalar_subquery()))
        return Paper.__table__, conditions, literal(0.0)
    fts = literal_column("papers_fts")
    fts_table = table("papers_fts", column("rowid"))
    joined = Paper.__table__.join(fts_table, fts_table.c.rowid == Paper.id)
    condition = fts.op("MATCH")(bindparam("fts_match", match))
    # bm25 is lower-is-better; negate so every dialect sorts by score descending. Authors alone are a
    # filter, listed newest first as on PostgreSQL.
    score = -func.bm25(fts, *SQLITE_BM25_WEIGHTS) if query.all_of else literal(0.0)
    return joined, [condition], score


# -- PostgreSQL: tsvector -------------------------------------------------------------------------


_PG_CONFIGS = {name: literal_column(f"'{name}'::regconfig") for name in ("english", "simple")}  # constants


def _pg_phrase(phrase: Phrase, name: str, config: str = "english") -> ColumnElement:
    return func.phraseto_tsquery(_PG_CONFIGS[config], bindparam(name, " ".join(phrase), type_=Text))


def _pg_any(phrases: Sequence[Phrase], prefix: str) -> ColumnElement:
    """Alternatives OR-ed; each phrase also in the 'simple' config, because authors are indexed unstemmed."""
    combined = None
    for index, phrase in enumerate(phrases):
        for config in ("english", "simple"):
            piece = _pg_phrase(phrase, f"{prefix}_{index}_{config}", config)
            combined = piece if combined is None else func.tsquery_or(combined, piece)
    return combined


def _postgres_parts(query: FtsQuery):
    vector = literal_column("papers.search_vector")
    positive = None
    for index, clause in enumerate(query.all_of):
        piece = _pg_any(clause, f"q{index}")
        positive = piece if positive is None else func.tsquery_and(positive, piece)
    conditions: list[ColumnElement] = []
    for index, author in enumerate(query.authors):
        name = bindparam(f"author_{index}", " ".join(author), type_=Text)
        wanted = func.phraseto_tsquery(_PG_CONFIGS["simple"], name)
        # The indexed vector narrows the rows; the exact check keeps the match to the author names.
        conditions.append(vector.op("@@")(wanted))
        conditions.append(func.to_tsvector(_PG_CONFIGS["simple"], Paper.author_names).op("@@")(wanted))
    if query.none_of:
        conditions.append(not_(vector.op("@@")(_pg_any(query.none_of, "not"))))
    if positive is None:
        return Paper.__table__, conditions, literal(0.0)
    conditions.insert(0, vector.op("@@")(positive))
    weights = literal_column(f"'{POSTGRES_RANK_WEIGHTS}'::float4[]")  # a constant, never user text
    # Cover density (how close the query's words sit) is what ranks a several-word query well; for one
    # word (or its variants) plain ts_rank judged as well on the seed corpus and costs half as much on a word
    # matching most of the corpus (20,000 papers, `data`: ~40 ms against ~80 ms).
    rank = func.ts_rank_cd if len(query.all_of) > 1 else func.ts_rank
    score = rank(weights, vector, positive, POSTGRES_RANK_NORMALISATION)
    return Paper.__table__, conditions, score
