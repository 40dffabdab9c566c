"""The arXiv export API: one query per topic and window, fetched politely through the `arxiv` package.

Kept from the package (4.0.x): the query URL and paging (`arxiv.Client.results`) and its Atom parser
(`arxiv._feed.parse`), which builds the `arxiv.Result`s. Replaced, because the package does not do it:
- A total deadline per request (ARXIV_TIMEOUT_SECONDS). requests' timeout bounds each socket read, so a
  server trickling a few bytes a second keeps a request alive for ever; the body is streamed instead, one
  socket read at a time, against a monotonic clock.
- Pacing across processes. The package paces one client; arXiv counts the web and clock processes (and
  any CLI run) as one. The client keeps ARXIV_DELAY_SECONDS after its own last request, and asks the
  `ArxivPacing` handed in by the composition root (`bot.app`, through the database) for a turn.
- Retries: growing waits that honour Retry-After (the package retries after a fixed delay, ignoring it),
  then one clear `ArxivUnavailable`.
- Completeness. The package's parser uses lxml with recover=True: an answer cut mid-entry parses as a
  short abstract with no authors, never as malformed, and a cut inside a date raises ValueError. So an
  answer is used only if it is well-formed XML whose root is an Atom <feed> (an HTML error page with
  status 200 is not), and a page holds as many entries as it announces; anything else, and any parser
  failure, is a bad page, retried like a 503. An entry of a whole page that lacks its id, title,
  abstract, authors or published date is what arXiv sent (a retry brings the same), so it is skipped
  with a log line and never stored.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from functools import partial
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import parse_qs, urlsplit

import arxiv
import requests
import urllib3
from arxiv import _feed as arxiv_feed  # the package's own Atom parser, reused for pages and saved answers
from lxml import etree  # arxiv 4.x depends on lxml; a strict parse tells a whole answer from a recovered one

from bot.arxiv_ids import parse_arxiv_id, parse_category
from bot.metrics import NOT_EXPOSED, Metrics
from db.records import PaperRecord

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_RETRY_AFTER_SECONDS = 300.0


class ArxivUnavailable(Exception):
    """arXiv did not give a usable answer after every retry."""


class ArxivQueryRefused(ArxivUnavailable):
    """arXiv answered a 4xx: the query itself is wrong, so retrying or waiting will not help."""


class BadEntry(ValueError):
    """One feed entry lacks a field we need; it is skipped, the batch goes on."""


class BadPage(Exception):
    """An answer that is not a whole Atom feed: cut short, an HTML error page, malformed XML, fewer entries
    than it announces, or one the Atom parser fails on. From arXiv it is retried like a 503."""


def split_arxiv_id(entry_id: str) -> tuple[str, int]:
    """`http://arxiv.org/abs/2503.14881v2` -> (`2503.14881`, 2). A missing version counts as 1."""
    parsed = parse_arxiv_id(entry_id)
    if parsed is None:
        raise BadEntry(f"not an arXiv id: {entry_id!r}")
    return parsed.id, parsed.version or 1


def collapse_whitespace(text: str) -> str:
    # str.split() splits on exactly what `\s` matches (str.isspace), and is several times faster.
    return " ".join(text.split())


def result_to_record(result: arxiv.Result) -> PaperRecord:
    arxiv_id, version = split_arxiv_id(result.entry_id or "")
    title = collapse_whitespace(result.title or "")
    abstract = (result.summary or "").strip()
    if not title:
        raise BadEntry(f"{arxiv_id}: no title")
    if not abstract:
        raise BadEntry(f"{arxiv_id}: no abstract")
    authors = tuple(collapse_whitespace(a.name) for a in result.authors if a.name and a.name.strip())
    if not authors:
        raise BadEntry(f"{arxiv_id}: no authors")
    if result.published is None:
        raise BadEntry(f"{arxiv_id}: no published date")
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


_ATOM = "{http://www.w3.org/2005/Atom}"
_OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
USER_AGENT = f"papers-bot (arxiv.py/{arxiv.__version__})"
_READ_CHUNK_BYTES = 64 * 1024


def _strict_parser() -> etree.XMLParser:
    # No recovery: a cut document must fail here. No entities, no network (an answer never needs them).
    # A new parser each time: lxml parsers must not be shared between threads.
    return etree.XMLParser(recover=False, resolve_entities=False, no_network=True, huge_tree=False)


def whole_feed(body: bytes, *, content_type: str = "") -> etree._Element:
    """The root of `body` if it is a whole Atom feed (well-formed, closed, <feed> at the root), else BadPage."""
    if content_type and "xml" not in content_type.lower():
        raise BadPage(f"not an Atom feed ({content_type.split(';')[0].strip()})")
    try:
        root = etree.fromstring(body, _strict_parser())
    except etree.XMLSyntaxError as err:
        raise BadPage(f"cut short or malformed: {err}") from err
    if root is None or root.tag != f"{_ATOM}feed":
        raise BadPage(f"not an Atom feed (root element {getattr(root, 'tag', None)!r})")
    return root


def _parse_atom(body: bytes) -> arxiv_feed.ParsedFeed:
    """The package's parser over a body `whole_feed` accepted; any failure in it is a bad page."""
    try:
        feed = arxiv_feed.parse(body)
    except Exception as err:  # noqa: BLE001 - e.g. ValueError from a date: the page is bad, not the process
        raise BadPage(f"the Atom parser failed ({type(err).__name__}: {err})") from err
    if feed.malformed:
        raise BadPage(f"the Atom parser failed ({feed.error})")
    return feed


def _check_entry_count(root: etree._Element, *, start: int, asked: int) -> None:
    """A page holds min(asked, total - start) entries; fewer means arXiv lost some on the way."""
    total_text = root.findtext(f"{_OPENSEARCH}totalResults")
    try:
        total = int((total_text or "").strip())
    except ValueError:
        raise BadPage(f"no result count (totalResults {total_text!r})") from None
    expected = max(0, min(asked, total - start))
    found = len(root.findall(f"{_ATOM}entry"))
    if found < expected:
        raise BadPage(f"{found} entries where {expected} of {total} were announced from {start}")


def _entries_the_parser_dropped(root: etree._Element, feed: arxiv_feed.ParsedFeed) -> list[BadEntry]:
    """The package silently drops an entry without <id>, <published> or <updated>; name each one."""
    kept = {(result.entry_id or "").strip() for result in feed.results}
    return [_dropped(entry) for entry in root.iterfind(f"{_ATOM}entry") if _entry_id(entry) not in kept - {""}]


def _entry_id(entry: etree._Element) -> str:
    return (entry.findtext(f"{_ATOM}id") or "").strip()


def _dropped(entry: etree._Element) -> BadEntry:
    return BadEntry(f"{_entry_id(entry) or 'an entry without <id>'}: no published or updated date")


def read_feed_file(path: Path) -> list[PaperRecord | BadEntry]:
    """Parse a saved arXiv API answer (Atom) with the package's parser. A file that is not a whole feed
    (cut short, not Atom) raises BadPage: no retry can mend it, and half of it must not be stored."""
    try:
        results, dropped = _results_of(whole_feed(path.read_bytes()))
    except BadPage as err:
        raise BadPage(f"{path} is not a whole arXiv Atom feed ({err})") from None
    return [*records_from_results(results), *dropped]


def _results_of(root: etree._Element) -> tuple[list[arxiv.Result], list[BadEntry]]:
    """The entries of a feed `whole_feed` parsed, through the package's own entry parser (the one its `parse`
    runs on each entry), so a saved page is parsed once, not again by `parse`: bulk loads read millions of
    entries. Also the entries the package drops, named."""
    results, dropped = [], []
    for entry in root.iterfind(f"{_ATOM}entry"):
        try:
            result = arxiv_feed._build_result(entry)
        except Exception as err:  # noqa: BLE001 - as in _parse_atom: the page is bad, not the process
            raise BadPage(f"the Atom parser failed ({type(err).__name__}: {err})") from err
        if result is None:
            dropped.append(_dropped(entry))
        else:
            results.append(result)
    return results, dropped


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    raw = (headers or {}).get("Retry-After")
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


class ArxivPacing(Protocol):
    """Turns to call arXiv, shared by every process that talks to it (arXiv sees them as one client)."""

    def wait_for_turn(self) -> None:
        """Block until a request may start now: ARXIV_DELAY_SECONDS after the last one started anywhere."""

    def finished(self, *, next_gap_seconds: float) -> None:
        """A request just ended: the next one, from any process, starts no sooner than this from now."""


class OwnPacingOnly:
    """No shared pacing: only this client's own delay holds (tests, a single offline process)."""

    def wait_for_turn(self) -> None:
        pass

    def finished(self, *, next_gap_seconds: float) -> None:
        pass


class DeadlineExceeded(requests.Timeout):
    """The whole answer did not arrive within its deadline (ARXIV_TIMEOUT_SECONDS, or ARXIV_OAI_TIMEOUT_SECONDS)."""


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, its body read whole within the deadline (empty unless the status is 200)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def _socket_of(response: requests.Response) -> socket.socket | None:
    """The socket the body arrives on. urllib3 keeps it on the connection (keep-alive); when the server
    closes after the answer, http.client has handed it to the response's file. Not found, each read is
    bounded by ARXIV_TIMEOUT_SECONDS itself, so the deadline can be overrun by one read at most."""
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    if sock is None:
        socket_file = getattr(getattr(response.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(socket_file, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def read_body_within_deadline(response: requests.Response, deadline: float) -> bytes:
    """The body, one socket read at a time, each allowed only the time left before `deadline`."""
    chunks = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded("deadline passed while reading the answer")
        sock = _socket_of(response)
        if sock is not None:
            sock.settimeout(remaining)  # the next read may block only until the deadline
        try:
            chunk = response.raw.read1(_READ_CHUNK_BYTES, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError as err:
            raise DeadlineExceeded("deadline passed while reading the answer") from err
        except urllib3.exceptions.HTTPError as err:  # reset, or fewer bytes than Content-Length
            raise requests.ConnectionError(str(err)) from err
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


class PacedHttp:
    """How each of our arXiv clients asks (the export API's, bot.oai_source's OAI-PMH one): one request at a time,
    this client's delay after the last answer, then a turn shared with every other process (ArxivPacing), a total
    deadline per answer, and retries that grow and honour Retry-After, never below the delay. The clients differ
    only in what makes a page whole (`whole_page`, raising BadPage) and in how they name a refusal."""

    def __init__(self, *, name: str, delay_seconds: float, timeout_seconds: float, max_retries: int,
                 pacing: ArxivPacing | None = None, sleep: Callable[[float], None] = time.sleep,
                 metrics: Metrics = NOT_EXPOSED, session: requests.Session | None = None):
        self.name = name  # "arXiv", "arXiv OAI-PMH": how log lines name the source
        self.delay_seconds = delay_seconds
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.pacing = pacing or OwnPacingOnly()
        self.metrics = metrics
        self.requests_made = 0
        self.lock = threading.Lock()  # arXiv's terms: one connection at a time
        self._sleep = sleep
        self._session = session or requests.Session()
        self._last_request_ended: float | None = None

    def fetch(self, url: str, *, whole_page: Callable[[Answer], T], refused: str,
              params: Mapping[str, str] | None = None) -> T:
        """GET `url` until `whole_page` takes the answer; ArxivQueryRefused on a 4xx (`refused (HTTP 400)`),
        ArxivUnavailable after the last retry."""
        last_error = "no answer"
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                answer = self._request(url, params)
                if answer.status == requests.codes.ok:
                    page = whole_page(answer)
                    self.metrics.arxiv_request("ok")
                    return page
                last_error = f"HTTP {answer.status}"
                retry_after = retry_after_seconds(answer.headers)
                if answer.status < 500 and answer.status not in (408, 429):
                    self.metrics.arxiv_request("failed")
                    raise ArxivQueryRefused(f"{refused} ({last_error})")
            except DeadlineExceeded:
                last_error = f"no whole answer within {self.timeout_seconds:g} s"
            except requests.Timeout:
                last_error = f"no answer within {self.timeout_seconds:g} s"
            except requests.RequestException as err:
                last_error = f"connection failed ({type(err).__name__})"
            except BadPage as err:
                last_error = f"a bad page: {err}"
            if attempt == self.max_retries:
                self.metrics.arxiv_request("failed")
                break
            self.metrics.arxiv_request("retry")
            wait = max(retry_after or 0.0, max(self.delay_seconds, 0.05) * 2**attempt)
            log.warning("%s gave %s; retry %d/%d in %.1f s", self.name, last_error, attempt + 1, self.max_retries,
                        wait)
            self._sleep(wait)
        raise ArxivUnavailable(f"arXiv is unavailable: {last_error} after {self.max_retries + 1} tries")

    def _request(self, url: str, params: Mapping[str, str] | None) -> Answer:
        """One GET, paced (this client's delay, then the shared turn) and bounded by the deadline."""
        if self._last_request_ended is not None:
            pause = self.delay_seconds - (time.monotonic() - self._last_request_ended)
            if pause > 0:
                self._sleep(pause)
        self.pacing.wait_for_turn()
        self.requests_made += 1
        answer = None
        try:
            answer = self._get_within_deadline(url, params)
            return answer
        finally:
            self._last_request_ended = time.monotonic()
            retry_after = retry_after_seconds(answer.headers) if answer else None
            self.pacing.finished(next_gap_seconds=max(self.delay_seconds, retry_after or 0.0))

    def _get_within_deadline(self, url: str, params: Mapping[str, str] | None) -> Answer:
        deadline = time.monotonic() + self.timeout_seconds
        with self._session.get(url, params=dict(params) if params else None, headers={"User-Agent": USER_AGENT},
                               timeout=self.timeout_seconds, stream=True) as response:
            if response.status_code != requests.codes.ok:
                return Answer(response.status_code, response.headers, b"")
            return Answer(response.status_code, response.headers, read_body_within_deadline(response, deadline))


class PoliteArxivClient(arxiv.Client):
    def __init__(
        self,
        *,
        api_url: str,
        page_size: int,
        delay_seconds: float,
        timeout_seconds: float,
        max_retries: int,
        pacing: ArxivPacing | None = None,
        sleep: Callable[[float], None] = time.sleep,
        metrics: Metrics = NOT_EXPOSED,
    ):
        # num_retries=0: the package's own retry loop is replaced by ours (PacedHttp) in _parse_feed.
        super().__init__(page_size=page_size, delay_seconds=delay_seconds, num_retries=0)
        self.query_url_format = api_url + ("&{}" if "?" in api_url else "?{}")
        self.http = PacedHttp(name="arXiv", delay_seconds=delay_seconds, timeout_seconds=timeout_seconds,
                              max_retries=max_retries, pacing=pacing, sleep=sleep, metrics=metrics,
                              session=self._session)
        self._dropped: list[BadEntry] = []

    @property
    def requests_made(self) -> int:
        return self.http.requests_made

    def take_dropped(self) -> list[BadEntry]:
        """Entries of the pages fetched so far that the package's parser dropped (no id or date)."""
        dropped, self._dropped = self._dropped, []
        return dropped

    def _parse_feed(self, url: str, first_page: bool = True, _try_index: int = 0) -> arxiv_feed.ParsedFeed:
        # Called by the package's paging (`Client.results`) for every page.
        with self.http.lock:
            return self.http.fetch(url, whole_page=partial(self._whole_page, url=url),
                                   refused="arXiv refused the query")

    def _whole_page(self, answer: Answer, url: str) -> arxiv_feed.ParsedFeed:
        root = whole_feed(answer.body, content_type=answer.headers.get("Content-Type", ""))
        asked = parse_qs(urlsplit(url).query)
        _check_entry_count(root, start=int(asked.get("start", ["0"])[0]),
                           asked=int(asked.get("max_results", [str(self.page_size)])[0]))
        feed = _parse_atom(answer.body)
        self._dropped.extend(_entries_the_parser_dropped(root, feed))
        return feed


@dataclass(frozen=True)
class SearchAnswer:
    total: int  # how many papers arXiv says match
    records: tuple[PaperRecord, ...]  # the page, in arXiv's order
    skipped: int = 0  # entries without a field we need (logged, never stored)


@dataclass
class ArxivSource:
    """Fetches one topic window as pages of records."""

    client: PoliteArxivClient

    @classmethod
    def from_settings(cls, settings, *, pacing: ArxivPacing | None = None,
                      sleep: Callable[[float], None] = time.sleep, metrics: Metrics = NOT_EXPOSED) -> ArxivSource:
        return cls(
            PoliteArxivClient(
                api_url=settings.arxiv_api_url,
                page_size=settings.arxiv_page_size,
                delay_seconds=settings.arxiv_delay_seconds,
                timeout_seconds=settings.arxiv_timeout_seconds,
                max_retries=settings.arxiv_max_retries,
                pacing=pacing,
                sleep=sleep,
                metrics=metrics,
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
            page.extend(self.client.take_dropped())
            if len(page) >= self.client.page_size:
                yield page
                page = []
        page.extend(self.client.take_dropped())
        if page:
            yield page

    def search(self, query: str, *, max_results: int, newest_first: bool = False) -> SearchAnswer:
        """One page of arXiv's answer to a search query (`/papers`' Search arXiv): best first, or newest first.
        One request, through the client's lock, pacing and retries; a page that is not whole is retried, never
        half used."""
        search = arxiv.Search(
            query=query,
            max_results=max_results,
            sort_by=arxiv.SortCriterion.SubmittedDate if newest_first else arxiv.SortCriterion.Relevance,
            sort_order=arxiv.SortOrder.Descending,
        )
        # The package asks for a whole client page (ARXIV_PAGE_SIZE) whatever max_results says: ask for what is shown.
        feed = self.client._parse_feed(self.client._format_url(search, 0, max_results))
        items = [*records_from_results(feed.results[:max_results]), *self.client.take_dropped()]
        return SearchAnswer(total=feed.header.total_results if feed.results else 0,
                            records=tuple(item for item in items if isinstance(item, PaperRecord)),
                            skipped=sum(isinstance(item, BadEntry) for item in items))

    def fetch_by_ids(self, arxiv_ids: Sequence[str]) -> list[PaperRecord]:
        search = arxiv.Search(id_list=list(arxiv_ids), max_results=len(arxiv_ids))
        found = []
        for item in [*records_from_results(self.client.results(search)), *self.client.take_dropped()]:
            if isinstance(item, PaperRecord):
                found.append(item)
            else:
                log.warning("skipped a bad arXiv entry: %s", item)
        return found
