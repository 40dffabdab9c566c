"""`papers-bot backfill`: years of a field from arXiv's OAI-PMH interface into the store, resumably.

What is asked: categories (each harvested as its OAI set, bot.oai_source) and a window of OAI datestamps, the day
arXiv last changed a record (a new version, a metadata fix), which is never before the paper's first publication.
So `--since D` brings every paper first published from D on, and also older papers changed since D.

Resumable: each set's window is a row of `backfill_windows` (db.backfill). A page's papers and the window's next
resumption token commit in one transaction (bot.ingest.store_page's `then`), so a killed backfill resumes at the
first page it had not stored, and fetches again at most the page that was in flight. arXiv's tokens expire (at
midnight UTC); then the window restarts from the newest datestamp it stored (arXiv lists records in datestamp
order), refetching that one day at most. A finished window covers its days up to yesterday (records of today may
still arrive), so a rerun over harvested days makes no request, and a rerun the same day one small one.

Papers are stored by bot.ingest.store_page, as the export API's are: one row per version-less id, the newest
version wins, recommendation vectors made per page, and the search index follows by the papers' revision.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial

from sickle import oaiexceptions
from sqlalchemy.orm import Session, sessionmaker

from bot.arxiv_ids import category_matches, parse_category
from bot.arxiv_source import ArxivQueryRefused, ArxivUnavailable, BadEntry
from bot.config import ConfigError
from bot.ingest import FetchReport, store_page
from bot.oai_source import METADATA_PREFIX, BadCategory, HarvestedRecord, PoliteOaiClient, page_records, set_spec_for
from db import backfill as state
from db.records import PaperRecord

log = logging.getLogger(__name__)

EARLIEST_DAY = date(1991, 8, 1)  # arXiv's first papers: no datestamp is older
MAX_TOKEN_RESTARTS = 5  # an expired token restarts the window from its newest datestamp; more means a loop


@dataclass
class BackfillReport:
    fetch: FetchReport = field(default_factory=FetchReport)  # new / updated / unchanged / skipped (malformed)
    outside: int = 0  # records of the set outside the asked categories, not stored
    deleted: int = 0
    pages: int = 0
    windows: int = 0
    token_restarts: int = 0
    days_total: int = 0
    days_done: int = 0
    set_spec: str = ""
    through: date | None = None
    requests_before: int = 0  # the client's count when this backfill began

    @property
    def requests(self) -> int:
        return self.fetch.requests

    def summary(self) -> str:
        c = self.fetch.counts
        return (f"{c.new} new, {c.updated} updated, {c.unchanged} unchanged, {self.fetch.skipped} malformed "
                f"skipped, {self.outside} outside the categories, {self.deleted} deleted; {self.pages} "
                f"page{'s' if self.pages != 1 else ''}, {self.requests} request{'s' if self.requests != 1 else ''}"
                " to arXiv")


def parse_categories(raw: str | Sequence[str]) -> dict[str, tuple[str, ...]]:
    """--categories as {OAI set: the asked categories it holds}; ConfigError (one line) on a bad item."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    wanted = [item.strip() for item in items if item.strip()]
    if not wanted:
        raise ConfigError("--categories needs at least one arXiv category, e.g. --categories cs.LG,cs.CL")
    sets: dict[str, tuple[str, ...]] = {}
    for item in wanted:
        try:
            spec = set_spec_for(item)
        except BadCategory as err:
            raise ConfigError(f"--categories: {err}") from None
        sets[spec] = (*sets.get(spec, ()), parse_category(item) or item)
    return sets


def check_window(since: date | None, until: date | None, *, today: date) -> tuple[date, date]:
    """The datestamp window to harvest: --since (default: all of arXiv) to --until (default and at most: today)."""
    since = since or EARLIEST_DAY
    until = until or today
    if since > today:
        raise ConfigError(f"--since {since} is in the future (today is {today} UTC)")
    if since > until:
        raise ConfigError(f"--since {since} is after --until {until}")
    return since, min(until, today)


def uncovered(since: date, until: date, covered: Sequence[tuple[date, date]]) -> list[tuple[date, date]]:
    """The day ranges of [since, until] outside every covered range (all inclusive)."""
    gaps, start = [], since
    for low, high in sorted(covered):
        if high < start:
            continue
        if low > until:
            break
        if low > start:
            gaps.append((start, low - timedelta(days=1)))
        start = max(start, high + timedelta(days=1))
        if start > until:
            return gaps
    if start <= until:
        gaps.append((start, until))
    return gaps


def _days(low: date, high: date) -> int:
    return (high - low).days + 1


def plan(session: Session, set_specs: Sequence[str], *, since: date,
         until: date) -> list[tuple[str, date, date]]:
    """Each window to harvest, in order: first the ones a stopped backfill left running, then the days no
    finished window covers."""
    work = []
    for spec in set_specs:
        running = state.running_windows(session, spec, within=(since, until))
        work += [(spec, window.from_date, window.until_date) for window in running]
        spans = state.covered_days(session, spec) + [(w.from_date, w.until_date) for w in running]
        work += [(spec, low, high) for low, high in uncovered(since, until, spans)]
    return work


def backfill(factory: sessionmaker[Session], client: PoliteOaiClient, *, sets: dict[str, tuple[str, ...]],
             since: date, until: date, today: date,
             progress: Callable[[BackfillReport], None] | None = None) -> BackfillReport:
    """Harvest what [since, until] still lacks for each set. arXiv failing for good raises ArxivUnavailable with
    every page stored so far kept; running it again resumes."""
    with factory.begin() as session:
        work = plan(session, list(sets), since=since, until=until)
    report = BackfillReport(days_total=sum(_days(low, high) for _, low, high in work),
                            requests_before=client.requests_made)
    try:
        for spec, low, high in work:
            with factory.begin() as session:
                window = state.start_window(session, set_spec=spec, from_date=low, until_date=high)
            report.set_spec, report.windows = spec, report.windows + 1
            _harvest_window(factory, client, window, wanted=sets[spec], report=report, progress=progress,
                            covered_through=min(high, today - timedelta(days=1)))
    finally:
        report.fetch.requests = client.requests_made - report.requests_before
    return report


@dataclass
class _Cursor:
    """Where a window's harvest stands in this process (the database holds the same, page by page)."""

    window: state.WindowState
    token: str | None
    resume_from: date | None
    days_counted: int = 0

    def params(self) -> dict[str, str]:
        if self.token:
            return {"resumptionToken": self.token}
        start = max(self.resume_from or self.window.from_date, self.window.from_date)
        return {"metadataPrefix": METADATA_PREFIX, "set": self.window.set_spec, "from": start.isoformat(),
                "until": self.window.until_date.isoformat()}


def _harvest_window(factory, client: PoliteOaiClient, window: state.WindowState, *, wanted: tuple[str, ...],
                    report: BackfillReport, progress, covered_through: date) -> None:
    cursor = _Cursor(window, window.resumption_token, window.resume_from)
    if cursor.resume_from:  # days a stopped run already harvested count as done
        cursor.days_counted = min(_days(window.from_date, cursor.resume_from) - 1, _days(window.from_date,
                                                                                         window.until_date))
        report.days_done += cursor.days_counted
    restarts = 0
    while True:
        try:
            _harvest_pages(factory, client, cursor, wanted=wanted, report=report, progress=progress)
            break
        except oaiexceptions.NoRecordsMatch:
            break  # nothing changed in these days (or nothing left after a restart)
        except oaiexceptions.BadResumptionToken as err:
            if cursor.token is None or restarts >= MAX_TOKEN_RESTARTS:
                raise ArxivUnavailable(f"arXiv refused its own resumption token ({err or 'expired'})") from None
            restarts += 1
            report.token_restarts += 1
            log.warning("arXiv no longer knows the resumption token of %s; restarting from %s", window.set_spec,
                        cursor.resume_from or window.from_date)
            cursor.token = None
            with factory.begin() as session:
                state.forget_token(session, window.id)
        except (oaiexceptions.BadArgument, oaiexceptions.NoSetHierarchy, oaiexceptions.CannotDisseminateFormat,
                oaiexceptions.OAIError) as err:
            raise ArxivQueryRefused(f"arXiv refused the harvest of set {window.set_spec} "
                                    f"({type(err).__name__}: {err})") from None
    with factory.begin() as session:
        state.finish_window(session, window.id, covered_through=covered_through)
    report.days_done += _days(window.from_date, window.until_date) - cursor.days_counted
    report.through = window.until_date
    report.fetch.requests = client.requests_made - report.requests_before
    if progress:
        progress(report)


def _harvest_pages(factory, client: PoliteOaiClient, cursor: _Cursor, *, wanted: tuple[str, ...],
                   report: BackfillReport, progress) -> None:
    pages = client.list_record_pages(cursor.params())
    for response in pages:
        records = page_records(response)
        token = pages.resumption_token.token if pages.resumption_token and pages.resumption_token.token else None
        if token is not None and token == cursor.token:  # the same page again and again: never ends
            raise ArxivUnavailable(f"arXiv answered resumption token {token!r} with itself")
        items, newest = _sort_page(records, wanted=wanted, report=report)
        malformed = sum(isinstance(item, BadEntry) for item in items)
        store_page(factory, items, report.fetch, then=partial(_record_page, cursor.window.id, token=token,
                                                              resume_from=newest, skipped=malformed))
        cursor.token = token
        if newest is not None:
            cursor.resume_from = max(cursor.resume_from or newest, newest)
            done = min(_days(cursor.window.from_date, cursor.resume_from) - 1,
                       _days(cursor.window.from_date, cursor.window.until_date))
            report.days_done += max(done - cursor.days_counted, 0)
            cursor.days_counted = max(done, cursor.days_counted)
        report.pages += 1
        report.through = cursor.resume_from
        report.fetch.requests = client.requests_made - report.requests_before
        if progress:
            progress(report)


def _record_page(window_id: int, session: Session, stored: list[PaperRecord], *, token: str | None,
                 resume_from: date | None, skipped: int) -> None:
    state.record_page(session, window_id, resumption_token=token, resume_from=resume_from, papers=len(stored),
                      skipped=skipped)


def _sort_page(records: Sequence[HarvestedRecord], *, wanted: tuple[str, ...],
               report: BackfillReport) -> tuple[list[PaperRecord | BadEntry], date | None]:
    """The page's items to store (malformed ones included, for store_page to skip and count), and its newest
    datestamp; deleted records and papers outside the asked categories are counted here and left out."""
    items: list[PaperRecord | BadEntry] = []
    for record in records:
        if record.item is None:
            report.deleted += 1
        elif isinstance(record.item, PaperRecord) and not category_matches(record.item.categories, wanted):
            report.outside += 1
        else:
            items.append(record.item)
    datestamps = [record.datestamp for record in records if record.datestamp is not None]
    return items, max(datestamps, default=None)
