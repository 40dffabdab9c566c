"""Read tracking: parse a paper reference, mark read/unread per (team, user), history, the App Home summary.

Every function takes the session factory and keyword-only ids; team and user scope every query, so a
user only ever sees their own reads. Failures a user can cause or notice become `ReadingError`s whose
message is ready to show; a database hiccup becomes `ReadingUnavailable`, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.arxiv_ids import parse_arxiv_id
from bot.arxiv_source import ArxivSource, ArxivUnavailable
from bot.database_errors import apology_on_database_error
from bot.ingest import ingest_records
from db import papers as paper_store
from db import reads as read_store
from db import saved as saved_store
from db.records import DigestPaper, PaperRecord, ReadRecord

log = logging.getLogger(__name__)

SOURCES = ("button", "command", "opened", "home")
DEFAULT_HISTORY = 10
MAX_HISTORY = 40  # one ephemeral message holds 50 blocks: a header, one per read, the More button.
HOME_RECENT_READS = 5
HOME_DIGEST_PAPERS = 30  # keeps the Home view well under its 100 blocks
HOME_DIGEST_DAYS = 14


class ReadingError(Exception):
    """Something the user should be told, in one short sentence (the message: plain text, may hold user
    input, so renderers escape it)."""


class BadPaperRef(ReadingError):
    pass


class UnknownPaper(ReadingError):
    pass


class ReadingUnavailable(ReadingError):
    pass


def parse_paper_ref(text: str) -> str:
    """Any id form bot.arxiv_ids reads (`2503.14881v2`, `arXiv:…`, an arxiv.org link, Slack-wrapped or
    not, `hep-th/9901001`) -> the canonical version-less id. Anything else raises BadPaperRef."""
    raw = (text or "").strip()
    if not raw:
        raise BadPaperRef("Which paper? Give an arXiv id or link, e.g. `2503.14881` or `https://arxiv.org/abs/2503.14881`.")
    parsed = parse_arxiv_id(raw)
    if parsed is None:
        shown = raw if len(raw) <= 60 else raw[:59] + "…"
        raise BadPaperRef(
            f"`{shown}` is not an arXiv id or link. Try `2503.14881`, `2503.14881v2`, `arXiv:2503.14881`, "
            "`https://arxiv.org/abs/2503.14881` or `hep-th/9901001`."
        )
    return parsed.id


def _database(action: str):
    """Turn a database failure into one short apology; the details go to the log."""
    return apology_on_database_error(action, lambda: ReadingUnavailable(
        "Sorry, I couldn't reach the reading list just now. Please try again in a moment."))


@dataclass(frozen=True)
class ReadOutcome:
    paper: PaperRecord
    newly_read: bool  # False: it was already read, and the first read_at is kept
    read_at: datetime
    source: str


@dataclass(frozen=True)
class UnreadOutcome:
    arxiv_id: str
    paper: PaperRecord | None
    was_read: bool


@dataclass(frozen=True)
class HistoryPage:
    reads: list[ReadRecord]
    offset: int
    limit: int
    total: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.reads) < self.total


@dataclass(frozen=True)
class HomeSummary:
    read_this_week: int
    read_total: int
    recent_reads: list[ReadRecord]
    unread_digest_papers: list[DigestPaper]
    unread_digest_total: int
    digest_days: int
    digest_papers_posted: int = -1  # papers the user's channels' digests posted in those days; 0: no digest yet


def _find_or_fetch(factory: sessionmaker[Session], arxiv_id: str, arxiv: ArxivSource | None) -> PaperRecord:
    with _database("looking up a paper"), factory.begin() as session:
        paper = paper_store.get_paper(session, arxiv_id)
    if paper is not None:
        return paper
    if arxiv is None:
        raise UnknownPaper(f"There is no paper `{arxiv_id}` here.")
    try:
        records = [r for r in arxiv.fetch_by_ids([arxiv_id]) if r.arxiv_id == arxiv_id]
    except ArxivUnavailable:
        log.warning("arXiv unavailable while looking up %s", arxiv_id, exc_info=True)
        raise UnknownPaper(
            f"`{arxiv_id}` is not in the local index and arXiv did not answer; try again later."
        ) from None
    if not records:
        raise UnknownPaper(f"There is no paper `{arxiv_id}` here or on arXiv.")
    with _database("storing a paper fetched from arXiv"):
        ingest_records(factory, records)
    return records[0]


def needs_arxiv_lookup(factory: sessionmaker[Session], *, arxiv_id: str) -> str | None:
    """The canonical id when `arxiv_id` (any form) names a paper not stored yet, so marking it read means
    asking arXiv (slow, paced, one request at a time); None when it is stored or not an id at all."""
    try:
        arxiv_id = parse_paper_ref(arxiv_id)
    except BadPaperRef:
        return None
    with _database("looking up a paper"), factory.begin() as session:
        return None if paper_store.get_paper(session, arxiv_id) is not None else arxiv_id


def look_up_paper(factory: sessionmaker[Session], *, ref: str, team_id: str | None, user_id: str | None,
                  arxiv: ArxivSource | None = None) -> tuple[PaperRecord, bool]:
    """A paper by any id form (`2503.14881`, `arXiv:…v2`, an arxiv.org link, `hep-th/9901001`), fetched from
    `arxiv` when it is not stored, and whether this user has read it."""
    arxiv_id = parse_paper_ref(ref)
    paper = _find_or_fetch(factory, arxiv_id, arxiv)
    if not (team_id and user_id):
        return paper, False
    with _database("looking up a read"), factory.begin() as session:
        read = read_store.get_read(session, team_id=team_id, user_id=user_id, arxiv_id=arxiv_id)
    return paper, read is not None


def mark_read(factory: sessionmaker[Session], *, team_id: str, user_id: str, arxiv_id: str, source: str,
              arxiv: ArxivSource | None = None, now: datetime | None = None) -> ReadOutcome:
    """Record that the user read the paper (any id form). A paper unknown locally is fetched from
    `arxiv` when given. Reading twice keeps the first read and its time."""
    if source not in SOURCES:
        raise ValueError(f"unknown read source {source!r}")
    arxiv_id = parse_paper_ref(arxiv_id)
    paper = _find_or_fetch(factory, arxiv_id, arxiv)
    read_at = now or datetime.now(UTC)
    # The INSERT is the transaction's first statement: on SQLite a read-then-write transaction can fail
    # with "database is locked" at once under concurrent clicks, while a plain write waits its turn.
    with _database("recording a read"), factory.begin() as session:
        newly_read = read_store.upsert_read(
            session, team_id=team_id, user_id=user_id, arxiv_id=arxiv_id, source=source, read_at=read_at
        )
        saved_store.remove(session, team_id=team_id, user_id=user_id, arxiv_id=arxiv_id)  # read: off "saved"
        kept = None if newly_read else read_store.get_read(session, team_id=team_id, user_id=user_id,
                                                           arxiv_id=arxiv_id)
    if kept is not None:
        return ReadOutcome(paper=paper, newly_read=False, read_at=kept.read_at, source=kept.source)
    return ReadOutcome(paper=paper, newly_read=True, read_at=read_at, source=source)


def mark_unread(factory: sessionmaker[Session], *, team_id: str, user_id: str, arxiv_id: str) -> UnreadOutcome:
    """Forget the user's read of the paper (any id form); unknown or unread papers are not an error."""
    arxiv_id = parse_paper_ref(arxiv_id)
    with _database("removing a read"), factory.begin() as session:
        was_read = read_store.delete_read(session, team_id=team_id, user_id=user_id, arxiv_id=arxiv_id)
        paper = paper_store.get_paper(session, arxiv_id)
    return UnreadOutcome(arxiv_id=arxiv_id, paper=paper, was_read=was_read)


def history(factory: sessionmaker[Session], *, team_id: str, user_id: str, limit: int = DEFAULT_HISTORY,
            offset: int = 0) -> HistoryPage:
    """The user's reads, newest first, `limit` (at most MAX_HISTORY) from `offset`."""
    limit = max(1, min(limit, MAX_HISTORY))
    offset = max(0, offset)
    with _database("listing reads"), factory.begin() as session:
        reads = read_store.history(session, team_id=team_id, user_id=user_id, limit=limit, offset=offset)
        total = read_store.count_reads(session, team_id=team_id, user_id=user_id)
    return HistoryPage(reads=reads, offset=offset, limit=limit, total=total)


def parse_history_count(args: str) -> int:
    """`/papers history [N]`: N defaults to 10 and is capped at MAX_HISTORY."""
    raw = (args or "").strip()
    if not raw:
        return DEFAULT_HISTORY
    if not raw.isdigit() or int(raw) < 1:
        raise ReadingError(
            f"`/papers history` takes a number of reads to show (1–{MAX_HISTORY}), e.g. `/papers history 20`."
        )
    return min(int(raw), MAX_HISTORY)


def week_start(now: datetime, timezone: str = "UTC") -> datetime:
    """Monday 00:00 of `now`'s week in the team's time zone, as UTC."""
    local = now.astimezone(ZoneInfo(timezone))
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday.astimezone(UTC)


def home_summary(factory: sessionmaker[Session], *, team_id: str, user_id: str, channels: Collection[str],
                 timezone: str = "UTC", now: datetime | None = None) -> HomeSummary:
    """What the App Home shows one user: counts, recent reads, and the recent digest papers they have not
    read, from the digests of `channels` only (the conversations the user is a member of: a private
    channel's papers are not shown to people outside it)."""
    now = now or datetime.now(UTC)
    posted_since = now - timedelta(days=HOME_DIGEST_DAYS)
    scope = {"team_id": team_id, "user_id": user_id}
    digests = {"posted_since": posted_since, "channels": channels}
    with _database("building the home view"), factory.begin() as session:
        return HomeSummary(
            read_this_week=read_store.count_reads(session, **scope, since=week_start(now, timezone)),
            read_total=read_store.count_reads(session, **scope),
            recent_reads=read_store.history(session, **scope, limit=HOME_RECENT_READS),
            unread_digest_papers=read_store.unread_digest_papers(session, **scope, **digests,
                                                                 limit=HOME_DIGEST_PAPERS),
            unread_digest_total=read_store.count_unread_digest_papers(session, **scope, **digests),
            digest_days=HOME_DIGEST_DAYS,
            digest_papers_posted=read_store.count_posted_digest_papers(session, team_id=team_id, **digests),
        )
