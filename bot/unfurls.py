"""arXiv links people share: which papers a message's links name, and those papers for an unfurl.

Every link form bot.arxiv_ids reads works (`abs/`, `pdf/` with or without `.pdf`, `html/`, versions, old-style
ids). A paper not stored is fetched from arXiv by id through the process's polite client (its pacing and
retries) and stored; arXiv unreachable means no unfurl for it, one log line, nothing said in the channel.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.arxiv_ids import parse_arxiv_id
from bot.arxiv_source import ArxivSource, ArxivUnavailable
from bot.ingest import ingest_records
from bot.reading import _database
from db import papers as paper_store
from db.records import PaperRecord

log = logging.getLogger(__name__)

MAX_LINKS = 10  # a message with more arXiv links than this unfurls the first ten
# Slack writes links in message text as <url> or <url|label>; words around them are split off here.
_SEPARATORS = re.compile(r"[\s<>|]+")
_TRAILING = ".,;:!?)]}\"'"  # sentence punctuation after a link or id: "see arXiv:2503.14881, and"


@dataclass(frozen=True)
class LinkedPaper:
    url: str  # the link as shared: chat.unfurl keys its answer by it
    paper: PaperRecord


def arxiv_ids_in_text(text: str) -> list[str]:
    """The canonical ids of every arXiv paper the text names (links, `arXiv:` ids), in order, once each."""
    words = (word.rstrip(_TRAILING) for word in _SEPARATORS.split(text or ""))
    found = (parse_arxiv_id(word) for word in words if word)
    return list(dict.fromkeys(parsed.id for parsed in found if parsed is not None))


def papers_for_links(factory: sessionmaker[Session], urls: Iterable[str], *,
                     arxiv: ArxivSource | None) -> list[LinkedPaper]:
    """The paper behind each arXiv link (stored, or fetched by id from arXiv in one request and stored).
    Links that name no paper, or papers arXiv does not know or did not give, are left out."""
    wanted: dict[str, str] = {}  # url -> canonical id
    for url in urls:
        parsed = parse_arxiv_id(url)
        if parsed is not None and url not in wanted and len(wanted) < MAX_LINKS:
            wanted[url] = parsed.id
    if not wanted:
        return []
    ids = list(dict.fromkeys(wanted.values()))
    with _database("looking up shared papers"), factory.begin() as session:
        papers = dict(paper_store.get_papers(session, ids))
    missing = [arxiv_id for arxiv_id in ids if arxiv_id not in papers]
    if missing and arxiv is not None:
        papers.update(_fetch(factory, missing, arxiv))
    return [LinkedPaper(url=url, paper=papers[arxiv_id]) for url, arxiv_id in wanted.items() if arxiv_id in papers]


def _fetch(factory: sessionmaker[Session], arxiv_ids: list[str], arxiv: ArxivSource) -> dict[str, PaperRecord]:
    try:
        records = [r for r in arxiv.fetch_by_ids(arxiv_ids) if r.arxiv_id in arxiv_ids]
    except ArxivUnavailable as err:
        log.warning("no unfurl for %s: arXiv unavailable (%s)", ", ".join(arxiv_ids), err)
        return {}
    if records:
        with _database("storing shared papers fetched from arXiv"):
            ingest_records(factory, records)
    return {r.arxiv_id: r for r in records}
