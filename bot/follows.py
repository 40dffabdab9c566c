"""Follows: a user's saved searches (the `/papers` search syntax) and the daily DM of new papers they match.

- `follow` checks the query with the search parser and refuses one that would match everything (only stop
  words, a bare archive like `cat:cs`, only `since:`), and more than MAX_FOLLOWS per user.
- `gather_alerts` (after each fetch, and before each send) finds, for every follow, the matching papers first
  stored since the follow was made and not read by its owner, and records each once per user (db.follows).
- `pending_dms` / `mark_sent`: what each user's DM lists (most relevant first); a paper is never sent to the
  same user twice, and one read meanwhile is not sent. Sending is the edge's job (handlers/dms.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.reading import ReadingError, _database
from bot.search import MAX_PAGE, BadQuery, ParsedQuery, _search_parsed, parse_query
from db import follows as follow_store
from db.records import AlertRecord, FollowRecord, SearchHit

log = logging.getLogger(__name__)

MAX_FOLLOWS = 20
MAX_QUERY_CHARS = 200
DM_PAPERS = 10
# A follow's search reads at most this many pages of MAX_PAGE best unread matches per gathering.
GATHER_PAGES = 5


class FollowError(ReadingError):
    """Something the user should be told about a follow (plain text; renderers escape it)."""


@dataclass(frozen=True)
class FollowOutcome:
    follow: FollowRecord
    newly_followed: bool
    names_authors: bool  # author follows: names can be ambiguous


@dataclass(frozen=True)
class PendingDm:
    team_id: str
    user_id: str
    papers: list[AlertRecord]  # most relevant first, at most DM_PAPERS
    total: int  # every new paper gathered for this DM
    names_authors: bool
    arxiv_ids: list[str]  # every paper it stands for, shown or counted in "and N more"


def check_query(text: str) -> ParsedQuery:
    """The follow's query parsed, or FollowError saying why it cannot be followed."""
    text = " ".join((text or "").split())
    if not text:
        raise FollowError("Follow what? e.g. `/papers follow kv cache`, `/papers follow author:\"Song Han\"` or "
                          "`/papers follow cat:cs.AR quantization`.")
    if len(text) > MAX_QUERY_CHARS:
        raise FollowError(f"That follow is too long; keep it under {MAX_QUERY_CHARS} characters.")
    try:
        parsed = parse_query(text)
    except BadQuery as err:
        raise FollowError(f"{err} A follow is a search, e.g. `/papers follow kv cache`.") from None
    narrow_category = any("." in category for category in parsed.categories)
    if not (parsed.clauses or parsed.authors or narrow_category):
        raise FollowError("That would match almost every new paper. Add a word or an author, or a subject "
                          "category such as `cat:cs.AR`, e.g. `/papers follow cat:cs.AR quantization`.")
    return parsed


def follow(factory: sessionmaker[Session], *, team_id: str, user_id: str, query: str,
           now: datetime | None = None) -> FollowOutcome:
    parsed = check_query(query)
    with _database("saving a follow"), factory.begin() as session:
        known = follow_store.follows_of(session, team_id=team_id, user_id=user_id)
        existing = next((f for f in known if f.query == parsed.text), None)
        if existing is not None:
            return FollowOutcome(follow=existing, newly_followed=False, names_authors=bool(parsed.authors))
        if len(known) >= MAX_FOLLOWS:
            raise FollowError(f"You follow {MAX_FOLLOWS} searches already, the most there can be; "
                              "`/papers unfollow N` makes room.")
        follow_store.add_follow(session, team_id=team_id, user_id=user_id, query=parsed.text,
                                created_at=now or datetime.now(UTC))
        added = next(f for f in follow_store.follows_of(session, team_id=team_id, user_id=user_id)
                     if f.query == parsed.text)
    return FollowOutcome(follow=added, newly_followed=True, names_authors=bool(parsed.authors))


def follows_of(factory: sessionmaker[Session], *, team_id: str, user_id: str) -> list[FollowRecord]:
    with _database("listing follows"), factory.begin() as session:
        return follow_store.follows_of(session, team_id=team_id, user_id=user_id)


def unfollow(factory: sessionmaker[Session], *, team_id: str, user_id: str, which: str) -> FollowRecord:
    """Stop following `which`: its number in `/papers follows`, its query as written, or its id (a button)."""
    which = " ".join((which or "").split())
    known = follows_of(factory, team_id=team_id, user_id=user_id)
    if which.startswith("#") and which[1:].isdigit():  # the Remove button's value: the follow's own id
        chosen = next((f for f in known if f.id == int(which[1:])), None)
    elif which.isdigit():
        chosen = known[int(which) - 1] if 1 <= int(which) <= len(known) else None
    else:
        chosen = next((f for f in known if f.query.lower() == which.lower()), None)
    if chosen is None:
        raise FollowError(f"You don't follow `{which}`; `/papers follows` lists what you follow."
                          if which else "Unfollow which? `/papers unfollow 2` or `/papers unfollow kv cache`.")
    with _database("removing a follow"), factory.begin() as session:
        follow_store.remove_follow(session, team_id=team_id, user_id=user_id, follow_id=chosen.id)
    return chosen


def gather_alerts(factory: sessionmaker[Session], *, team_id: str, until: datetime | None = None,
                  now: datetime | None = None) -> int:
    """Record, for every follow in the workspace, the new matching papers (first stored before `until`, default now)
    its owner has
    not read; returns how many were new."""
    now = now or datetime.now(UTC)
    until = until or now
    with factory.begin() as session:
        follows = follow_store.all_follows(session, team_id=team_id)
    gathered = 0
    for item in follows:
        with factory.begin() as session:
            gathered += _gather_one(session, item, now=now, until=until)
    return gathered


def _gather_one(session: Session, item: FollowRecord, *, now: datetime, until: datetime) -> int:
    try:
        parsed = parse_query(item.query)
    except BadQuery:  # a follow stored by an older parser that no longer reads it: skipped, not fatal
        log.warning("follow %d of %s no longer parses: %r", item.id, item.user_id, item.query)
        return 0
    earliest = follow_store.earliest_new_published(session, since=item.created_at, until=until)
    if earliest is None:
        return 0  # nothing stored since the follow was made
    # Every new paper was published at or after `earliest`: searching from there keeps the new ones in the pages
    # of best unread matches (a daily fetch makes that a few days' papers).
    since = max(parsed.since, earliest.date()) if parsed.since else earliest.date()
    parsed = ParsedQuery(clauses=parsed.clauses, excluded=parsed.excluded, authors=parsed.authors,
                         categories=parsed.categories, since=since, unread=True, text=parsed.text)
    page = _best_unread(session, parsed, item)
    new = follow_store.first_seen_since(session, [hit.paper.arxiv_id for hit in page], item.created_at, until)
    return sum(follow_store.add_alert(session, team_id=item.team_id, user_id=item.user_id,
                                      arxiv_id=hit.paper.arxiv_id, query=item.query, score=hit.score,
                                      matched_at=now)
               for hit in page if hit.paper.arxiv_id in new)


def _best_unread(session: Session, parsed: ParsedQuery, item: FollowRecord) -> list[SearchHit]:
    hits: list[SearchHit] = []
    for offset in range(0, MAX_PAGE * GATHER_PAGES, MAX_PAGE):
        page = _search_parsed(session, parsed, limit=MAX_PAGE, offset=offset, team_id=item.team_id,
                              user_id=item.user_id)
        hits.extend(page.hits)
        if page.next_offset is None:
            break
    return hits


def pending_dms(factory: sessionmaker[Session], *, team_id: str) -> list[PendingDm]:
    """Each of the workspace's users' DM due now: their gathered papers not sent and not read, most relevant first."""
    with _database("listing follow alerts"), factory.begin() as session:
        users = follow_store.users_with_unsent(session, team_id=team_id)
        dms = []
        for team_id, user_id in users:
            alerts = follow_store.unsent_alerts(session, team_id=team_id, user_id=user_id)
            if not alerts:
                continue
            authors = any(_names_authors(f.query) for f in follow_store.follows_of(
                session, team_id=team_id, user_id=user_id) if f.query in {a.query for a in alerts[:DM_PAPERS]})
            dms.append(PendingDm(team_id=team_id, user_id=user_id, papers=alerts[:DM_PAPERS], total=len(alerts),
                                 names_authors=authors, arxiv_ids=[a.paper.arxiv_id for a in alerts]))
    return dms


def _names_authors(query: str) -> bool:
    """Whether a stored follow names authors (its DM then says names can be ambiguous)."""
    try:
        return bool(parse_query(query).authors)
    except BadQuery:
        return False


def mark_sent(factory: sessionmaker[Session], dm: PendingDm, *, now: datetime | None = None) -> None:
    with _database("recording a sent follow alert"), factory.begin() as session:
        follow_store.mark_sent(session, team_id=dm.team_id, user_id=dm.user_id, arxiv_ids=dm.arxiv_ids,
                               sent_at=now or datetime.now(UTC))
