"""The arXiv export API: one query per topic and window, fetched politely through the `arxiv` package.

The package (4.x) sets no request timeout, retries any failure after a fixed delay and ignores
Retry-After. `PoliteArxivClient` keeps its Atom parsing and paging and replaces the retry policy:
a per-request timeout, growing waits that honour Retry-After, at least ARXIV_DELAY_SECONDS between
any two requests (retries included), and one clear `ArxivUnavailable` after the last try.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from pathlib import Path

import arxiv
import requests
from arxiv import _feed as arxiv_feed  # the package's own Atom parser, reused for saved answers

from bot.arxiv_ids import parse_arxiv_id, parse_category
from db.records import PaperRecord

log = logging.getLogger(__name__)

MAX_RETRY_AFTER_SECONDS = 300.0
_WS_RE = re.compile(r"\s+")


class ArxivUnavailable(Exception):
    """arXiv did not give a usable answer after every retry."""


class ArxivQueryRefused(ArxivUnavailable):
    """arXiv answered a 4xx: the query itself is wrong, so retrying or waiting will not help."""


class BadEntry(ValueError):
    """One feed entry lacks a field we need; it is skipped, the batch goes on."""


def split_arxiv_id(entry_id: str) -> tuple[str, int]:
    """`http://arxiv.org/abs/2503.14881v2` -> (`2503.14881`, 2). A missing version counts as 1."""
    parsed = parse_arxiv_id(entry_id)
    if parsed is None:
        raise BadEntry(f"not an arXiv id: {entry_id!r}")
    return parsed.id, parsed.version or 1


def collapse_whitespace(text: str) -> str:
    return _WS_RE.sub(" ", text).strip()


def result_to_record(result: arxiv.Result) -> PaperRecord:
    arxiv_id, version = split_arxiv_id(result.entry_id or "")
    title = collapse_whitespace(result.title or "")
    abstract = (result.summary or "").strip()
    if not title:
        raise BadEntry(f"{arxiv_id}: no title")
    if not abstract:
        raise BadEntry(f"{arxiv_id}: no abstract")
    authors = tuple(collapse_whitespace(a.name) for a in result.authors if a.name and a.name.strip())
    categories = tuple(dict.fromkeys(c for c in (result.categories or []) if c))
    primary = result.primary_category or (categories[0] if categories else "")
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=abstract,
        authors=authors,
        primary_category=primary,
        categories=categories or ((primary,) if primary else ()),
        published=result.published,
        updated=result.updated or result.published,
        pdf_url=result.pdf_url,
        comment=result.comment,
        journal_ref=result.journal_ref,
        doi=result.doi,
    )


def records_from_results(results) -> Iterator[PaperRecord | BadEntry]:
    for result in results:
        try:
            yield result_to_record(result)
        except BadEntry as bad:
            yield bad


_QUERY_NOISE_RE = re.compile(r"[^\w\s]+")
MAX_TERM_CHARS = 100


def _phrase(term: str) -> str:
    # Only letters, digits and spaces reach arXiv: a topic typed in Slack may hold `(`, `:` or quotes, which
    # arXiv's query syntax would refuse. `-` becomes a space, as arXiv's own tokenizer treats it.
    cleaned = collapse_whitespace(_QUERY_NOISE_RE.sub(" ", term))[:MAX_TERM_CHARS].strip()
    return f'"{cleaned}"' if " " in cleaned else cleaned


def build_query(
    *, keywords: Sequence[str], categories: Sequence[str] = (), since: date, until: date
) -> str:
    """ONE query for the topic: keywords over title and abstract, OR-ed; categories; the window."""
    parts = []
    terms = list(dict.fromkeys(t for t in (_phrase(k) for k in keywords) if t))
    if terms:
        parts.append("(" + " OR ".join(f"ti:{t} OR abs:{t}" for t in terms) + ")")
    cats = [c for c in map(parse_category, categories) if c]
    if cats:
        parts.append("(" + " OR ".join(f"cat:{c}" for c in cats) + ")")
    parts.append(f"submittedDate:[{since:%Y%m%d}0000 TO {until:%Y%m%d}2359]")
    return " AND ".join(parts)


class _TimeoutSession(requests.Session):
    """A requests session with a default timeout, remembering the last response's headers."""

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout
        self.last_response: requests.Response | None = None

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        self.last_response = None
        response = super().request(method, url, **kwargs)
        self.last_response = response
        return response


class _MalformedPage(Exception):
    pass


class _EmptyFirstPage(Exception):
    pass


def _retry_after_seconds(response: requests.Response | None) -> float | None:
    if response is None:
        return None
    raw = response.headers.get("Retry-After")
    if not raw:
        return None
    try:
        return min(float(raw), MAX_RETRY_AFTER_SECONDS)
    except ValueError:
        try:
            delta = parsedate_to_datetime(raw).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
        return min(max(delta, 0.0), MAX_RETRY_AFTER_SECONDS)


class PoliteArxivClient(arxiv.Client):
    def __init__(
        self,
        *,
        api_url: str,
        page_size: int,
        delay_seconds: float,
        timeout_seconds: float,
        max_retries: int,
        sleep: Callable[[float], None] = time.sleep,
    ):
        # num_retries=0: the package's own retry loop is replaced by ours in _parse_feed.
        super().__init__(page_size=page_size, delay_seconds=delay_seconds, num_retries=0)
        self.query_url_format = api_url + ("&{}" if "?" in api_url else "?{}")
        self._session = _TimeoutSession(timeout_seconds)
        self.max_retries = max_retries
        self.requests_made = 0
        self._sleep = sleep
        self._lock = threading.Lock()  # arXiv's terms: one connection at a time

    def _parse_feed(self, url: str, first_page: bool = True, _try_index: int = 0):
        with self._lock:
            return self._parse_feed_with_retries(url, first_page)

    def _parse_feed_with_retries(self, url: str, first_page: bool):
        last_error = "no answer"
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                self.requests_made += 1
                feed = super()._parse_feed(url, first_page=first_page)
                if feed.malformed:
                    raise _MalformedPage(str(feed.error))
                if first_page and not feed.results and feed.header.total_results > 0:
                    # arXiv under load sometimes answers 200 with an empty page.
                    raise _EmptyFirstPage(f"empty page, {feed.header.total_results} results announced")
                return feed
            except arxiv.HTTPError as err:
                last_error = f"HTTP {err.status}"
                retry_after = _retry_after_seconds(self._session.last_response)
                if err.status < 500 and err.status not in (408, 429):
                    raise ArxivQueryRefused(f"arXiv refused the query ({last_error})") from err
            except arxiv.UnexpectedEmptyPageError:
                last_error = "an unexpectedly empty page"
            except requests.Timeout:
                last_error = f"no answer within {self._session.timeout:g} s"
            except requests.RequestException as err:
                last_error = f"connection failed ({type(err).__name__})"
            except (_MalformedPage, _EmptyFirstPage) as err:
                last_error = f"a malformed answer ({err})"
            if attempt == self.max_retries:
                break
            wait = max(retry_after or 0.0, max(self.delay_seconds, 0.05) * 2**attempt)
            log.warning("arXiv gave %s; retry %d/%d in %.1f s", last_error, attempt + 1, self.max_retries, wait)
            self._sleep(wait)
        raise ArxivUnavailable(f"arXiv is unavailable: {last_error} after {self.max_retries + 1} tries")


@dataclass
class ArxivSource:
    """Fetches one topic window as pages of records."""

    client: PoliteArxivClient

    @classmethod
    def from_settings(cls, settings, *, sleep: Callable[[float], None] = time.sleep) -> ArxivSource:
        return cls(
            PoliteArxivClient(
                api_url=settings.arxiv_api_url,
                page_size=settings.arxiv_page_size,
                delay_seconds=settings.arxiv_delay_seconds,
                timeout_seconds=settings.arxiv_timeout_seconds,
                max_retries=settings.arxiv_max_retries,
                sleep=sleep,
            )
        )

    @property
    def requests_made(self) -> int:
        return self.client.requests_made

    def fetch_pages(self, query: str) -> Iterator[list[PaperRecord | BadEntry]]:
        """Yield the answer a page at a time, so each page is stored in its own transaction."""
        search = arxiv.Search(
            query=query,
            max_results=None,
            sort_by=arxiv.SortCriterion.SubmittedDate,
            sort_order=arxiv.SortOrder.Descending,
        )
        page: list[PaperRecord | BadEntry] = []
        for item in records_from_results(self.client.results(search)):
            page.append(item)
            if len(page) >= self.client.page_size:
                yield page
                page = []
        if page:
            yield page

    def fetch_by_ids(self, arxiv_ids: Sequence[str]) -> list[PaperRecord]:
        search = arxiv.Search(id_list=list(arxiv_ids), max_results=len(arxiv_ids))
        return [r for r in records_from_results(self.client.results(search)) if isinstance(r, PaperRecord)]


def read_feed_file(path: Path) -> list[PaperRecord | BadEntry]:
    """Parse a saved arXiv API answer (Atom) with the package's parser."""
    feed = arxiv_feed.parse(path.read_bytes())
    if feed.malformed and not feed.results:
        raise ValueError(f"{path} is not an arXiv Atom feed ({feed.error})")
    return list(records_from_results(feed.results))
