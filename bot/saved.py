"""Saved for later: reading state's "saved" beside "read". Save, Remove, the list (`/papers saved`, the Home).

Per (team, user), like reads; saving twice keeps the first save. Marking a saved paper read takes it off
the list (bot.reading.mark_read calls `db.saved.remove` in the same transaction as the read).
A paper not stored yet is fetched from arXiv through the process's polite client, as `/papers read` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.arxiv_source import ArxivSource
from bot.reading import _database, _find_or_fetch, parse_paper_ref
from db import papers as paper_store
from db import saved as saved_store
from db.records import PaperRecord, SavedRecord

DEFAULT_SAVED = 20  # one ephemeral message: a header, a paper per block, a footer; well under 50 blocks
HOME_SAVED = 5


@dataclass(frozen=True)
class SaveOutcome:
    paper: PaperRecord
    newly_saved: bool  # False: it was on the list already


@dataclass(frozen=True)
class RemoveOutcome:
    arxiv_id: str
    paper: PaperRecord | None
    was_saved: bool


@dataclass(frozen=True)
class SavedPage:
    saved: list[SavedRecord]
    total: int


def save_paper(factory: sessionmaker[Session], *, team_id: str, user_id: str, arxiv_id: str,
               arxiv: ArxivSource | None = None, now: datetime | None = None) -> SaveOutcome:
    """Put the paper (any id form) on the user's list; fetched from `arxiv` first when it is not stored."""
    arxiv_id = parse_paper_ref(arxiv_id)
    paper = _find_or_fetch(factory, arxiv_id, arxiv)
    with _database("saving a paper"), factory.begin() as session:
        newly = saved_store.save(session, team_id=team_id, user_id=user_id, arxiv_id=arxiv_id,
                                 saved_at=now or datetime.now(UTC))
    return SaveOutcome(paper=paper, newly_saved=newly)


def save_papers(factory: sessionmaker[Session], *, team_id: str, user_id: str, arxiv_ids: list[str],
                arxiv: ArxivSource | None = None) -> list[SaveOutcome]:
    """Save several papers (the message shortcut): each one fetched when needed, in the order given."""
    return [save_paper(factory, team_id=team_id, user_id=user_id, arxiv_id=arxiv_id, arxiv=arxiv)
            for arxiv_id in dict.fromkeys(arxiv_ids)]


def remove_paper(factory: sessionmaker[Session], *, team_id: str, user_id: str, arxiv_id: str) -> RemoveOutcome:
    arxiv_id = parse_paper_ref(arxiv_id)
    with _database("removing a saved paper"), factory.begin() as session:
        was_saved = saved_store.remove(session, team_id=team_id, user_id=user_id, arxiv_id=arxiv_id)
        paper = paper_store.get_paper(session, arxiv_id)
    return RemoveOutcome(arxiv_id=arxiv_id, paper=paper, was_saved=was_saved)


def saved_list(factory: sessionmaker[Session], *, team_id: str, user_id: str,
               limit: int = DEFAULT_SAVED) -> SavedPage:
    """The user's saved papers, newest saved first, and how many there are."""
    with _database("listing saved papers"), factory.begin() as session:
        return SavedPage(
            saved=saved_store.saved_papers(session, team_id=team_id, user_id=user_id, limit=limit),
            total=saved_store.count_saved(session, team_id=team_id, user_id=user_id),
        )
