"""Search arXiv from `/papers`: a query with few local results, sent to arXiv's API, its hits stored and shown.

The user's text is parsed by bot.search first, so only what the parser kept reaches arXiv: words of letters
and digits, never quotes, parentheses, colons or operators. Each part becomes arXiv syntax we write
ourselves: a word or phrase is `all:"…"` (quoted, so `AND` or `andnot` typed by the user is a word, never an
operator), its synonyms and spelling variants are OR-ed, `author:` is `au:"…"`, `cat:` is `cat:cs.CL` (a
whole archive `cat:cs.*`), `-exclusions` are `ANDNOT`, and `since:` is a submittedDate range. What arXiv
cannot filter the way we do (`since:` to the day, `cat:` by our archive rule, `unread`) is checked again on
the hits. An arXiv id or link asks arXiv for that paper by id.

The hits go through the normal ingest path (bot.ingest: the same rows, vectors and search index as a
digest's papers), so a later `/papers` finds them locally.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.arxiv_ids import category_matches, parse_arxiv_id
from bot.arxiv_source import ArxivQueryRefused, ArxivSource, ArxivUnavailable
from bot.ingest import ingest_records
from bot.search import BadQuery, ParsedQuery, SearchError, SearchUnavailable, parse_query
from db import papers as paper_store
from db import search_feed
from db.fts import Phrase
from db.records import PaperRecord, SearchHit

log = logging.getLogger(__name__)

OFFER_BELOW = 3  # a local search with fewer results than this offers Search arXiv
ARXIV_RESULTS = 10  # hits asked of arXiv and shown: one request, 40 blocks of the 50 a message may hold


class ArxivSearchFailed(SearchError):
    """arXiv did not answer usefully; the message says so (nothing was stored)."""


@dataclass(frozen=True)
class ArxivSearchResult:
    query: ParsedQuery
    total_on_arxiv: int  # what arXiv says matches (before our own since:/cat:/unread checks)
    hits: tuple[SearchHit, ...]  # in arXiv's order, as now stored
    new: int  # papers the store did not have before


def can_search_arxiv(query: ParsedQuery) -> bool:
    """Whether arXiv can be asked: it needs words, an author or a category (not only `since:` or `unread`)."""
    return bool(query.clauses or query.authors or query.categories)


def _quoted(field: str, phrase: Phrase) -> str:
    # Phrase words are letters and digits only (bot.search.words_of): nothing in them can close the quotes.
    return f'{field}:"{" ".join(phrase)}"'


def _any_of(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def arxiv_query(query: ParsedQuery) -> str | None:
    """The arXiv API search_query for a parsed `/papers` query, or None when arXiv cannot be asked."""
    if not can_search_arxiv(query):
        return None
    parts = [_any_of([_quoted("all", alternative) for alternative in clause]) for clause in query.clauses]
    parts += [_quoted("au", author) for author in query.authors]
    if query.categories:
        parts.append(_any_of([f"cat:{c}" if "." in c else f"cat:{c}.*" for c in query.categories]))
    if query.since is not None:
        until = datetime.now(UTC) + timedelta(days=1)
        parts.append(f"submittedDate:[{query.since:%Y%m%d}0000 TO {until:%Y%m%d}2359]")
    expression = " AND ".join(parts)
    if query.excluded:
        expression = f"({expression}) ANDNOT " + _any_of([_quoted("all", phrase) for phrase in query.excluded])
    return expression


def _ask_arxiv(arxiv: ArxivSource, text: str, parsed: ParsedQuery) -> tuple[int, tuple[PaperRecord, ...]]:
    paper_id = parse_arxiv_id(text)  # an id or link: that paper, by id (a search would look for its digits)
    try:
        if paper_id is not None:
            found = tuple(r for r in arxiv.fetch_by_ids([paper_id.id]) if r.arxiv_id == paper_id.id)
            return len(found), found
        query = arxiv_query(parsed)
        if query is None:
            raise BadQuery("To search arXiv, add words, an author or a category, e.g. `kv cache` or `author:Hinton`.")
        log.info("Search arXiv: %s", query)
        answer = arxiv.search(query, max_results=ARXIV_RESULTS, newest_first=not parsed.clauses)
    except ArxivQueryRefused:
        log.warning("arXiv refused a search query built from %r", text, exc_info=True)
        raise ArxivSearchFailed("arXiv couldn't read that query; try fewer or plainer words.") from None
    except ArxivUnavailable as err:
        log.warning("Search arXiv: %s", err)
        raise ArxivSearchFailed("arXiv isn't answering just now; nothing was stored. "
                                "Try Search arXiv again in a few minutes.") from None
    if answer.skipped:
        log.warning("Search arXiv: %d entries of arXiv's answer lacked a field and were skipped", answer.skipped)
    return answer.total, answer.records


def _wanted(paper: PaperRecord, parsed: ParsedQuery, read: set[str]) -> bool:
    """Our own filters on arXiv's hits: what arXiv's syntax cannot say exactly as `/papers` means it."""
    if parsed.since is not None and paper.published.astimezone(UTC).date() < parsed.since:
        return False
    if parsed.unread and paper.arxiv_id in read:
        return False
    return category_matches(paper.categories, parsed.categories)


def _stored_hits(session: Session, records: tuple[PaperRecord, ...], parsed: ParsedQuery, *,
                 team_id: str | None, user_id: str | None) -> tuple[SearchHit, ...]:
    papers = paper_store.get_papers(session, [record.arxiv_id for record in records])
    read = search_feed.read_among(session, team_id=team_id, user_id=user_id, arxiv_ids=papers) \
        if team_id and user_id else set()
    kept = [papers[r.arxiv_id] for r in records if r.arxiv_id in papers and _wanted(papers[r.arxiv_id], parsed, read)]
    return tuple(SearchHit(paper=paper, score=0.0, read=paper.arxiv_id in read) for paper in kept)


def search_arxiv(factory: sessionmaker[Session], arxiv: ArxivSource, *, query: str, team_id: str | None = None,
                 user_id: str | None = None) -> ArxivSearchResult:
    """Ask arXiv for `query` (the `/papers` syntax), store what it has, and return the hits as now stored.

    Raises BadQuery (a query that cannot be searched), ArxivSearchFailed (arXiv down, or it refused the
    query; nothing stored) or SearchUnavailable (the database failed)."""
    parsed = ParsedQuery(text=query.strip()) if parse_arxiv_id(query) else parse_query(query)
    total, records = _ask_arxiv(arxiv, query, parsed)
    try:
        with factory.begin() as session:
            known = set(paper_store.get_papers(session, [record.arxiv_id for record in records]))
        if records:
            ingest_records(factory, records)
        with factory.begin() as session:
            hits = _stored_hits(session, records, parsed, team_id=team_id, user_id=user_id)
    except SQLAlchemyError:
        log.exception("database error while storing arXiv's search results")
        raise SearchUnavailable("Sorry, I couldn't store arXiv's results just now. Please try again.") from None
    return ArxivSearchResult(query=parsed, total_on_arxiv=total, hits=hits,
                             new=sum(record.arxiv_id not in known for record in records))
