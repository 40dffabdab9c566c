"""A loopback stand-in for arXiv's export API, serving Atom pages built from the seed fixtures.

It honours `search_query`'s submittedDate window, `id_list`, `start` and `max_results`; with
`match_queries` it also reads the whole `search_query` as arXiv does (`ti:`, `abs:`, `au:`, `cat:`, `all:`, quoted
phrases, `*` wildcards, `AND`, `OR`, `ANDNOT`, parentheses) and answers 400 to a query arXiv could not parse, so a
query built from hostile user text shows up as broken. It can be told to misbehave, one scripted fault per
request: 503, 429 with Retry-After, a stalled connection, an answer held until the test calls `release()`, an
empty page, a page short of entries, truncated XML, an answer cut at a byte offset (inside an abstract or a date)
with a Content-Length that matches the cut body, arXiv's 200 HTML error page, and a body trickled a few bytes at
a time.
"""

from __future__ import annotations

import re
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

from tests.fakes import LoopbackServer

ATOM = "http://www.w3.org/2005/Atom"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ET.register_namespace("", ATOM)
ET.register_namespace("arxiv", "http://arxiv.org/schemas/atom")
ET.register_namespace("opensearch", "http://a9.com/-/spec/opensearch/1.1/")


@dataclass
class Entry:
    xml: str
    arxiv_id: str
    published: datetime


def load_entries(path: Path = FIXTURES / "seed_feed.atom.xml") -> list[Entry]:
    root = ET.parse(path).getroot()
    entries = []
    for node in root.findall(f"{{{ATOM}}}entry"):
        raw_id = node.findtext(f"{{{ATOM}}}id")
        published = datetime.fromisoformat(node.findtext(f"{{{ATOM}}}published").replace("Z", "+00:00"))
        arxiv_id = re.sub(r"v\d+$", "", raw_id.split("/abs/")[-1])
        entries.append(Entry(ET.tostring(node, encoding="unicode"), arxiv_id, published))
    return entries


def render_feed(entries: list[Entry], *, total: int, start: int) -> str:
    body = "\n".join(e.xml for e in entries)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<feed xmlns="{ATOM}" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom">\n'
        "<id>http://arxiv.org/api/fake</id><title>fake</title><updated>2025-03-21T00:00:00Z</updated>\n"
        f"<opensearch:totalResults>{total}</opensearch:totalResults>\n"
        f"<opensearch:startIndex>{start}</opensearch:startIndex>\n"
        f"<opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>\n"
        f"{body}\n</feed>\n"
    )


# What arXiv's front end answers, with status 200, when its backend is overloaded.
HTML_ERROR_PAGE = (
    "<!DOCTYPE html>\n<html lang=\"en\"><head><title>arXiv API: service temporarily unavailable</title></head>\n"
    "<body><h1>Service temporarily unavailable</h1><p>Please try again in a few minutes.</p></body></html>\n"
)


def cut_offset(payload: bytes, fault: str) -> int | None:
    """Where a `cut…` fault ends the body: `cut:N` at byte N, `cut-abstract:K:N` N bytes into the K-th
    entry's abstract, `cut-date:K` in the middle of the K-th entry's <published> date (K counts from 1)."""
    kind, *args = fault.split(":")
    if kind == "cut":
        return int(args[0])
    tag = {"cut-abstract": b"<summary>", "cut-date": b"<published>"}.get(kind)
    if tag is None:
        return None
    starts = [m.end() for m in re.finditer(re.escape(tag), payload)]
    start = starts[int(args[0]) - 1]
    return start + (int(args[1]) if kind == "cut-abstract" else len(b"2025-03-1"))


@dataclass
class Request:
    at: float
    params: dict[str, str]
    status: int


@dataclass
class FakeArxiv(LoopbackServer):
    entries: list[Entry] = field(default_factory=load_entries)
    faults: list[str] = field(default_factory=list)  # consumed one per request: "503", "429:2", ...
    requests: list[Request] = field(default_factory=list)
    stall_seconds: float = 5.0
    hold_seconds: float = 20.0  # a `hold` answers after this long if the test never releases it, so none hangs
    trickle_limit_seconds: float = 8.0  # a trickle sends the rest at once after this long, so no test hangs
    match_queries: bool = False  # read search_query's words and fields too (Search arXiv), not only its window

    def __post_init__(self):
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.held = threading.Event()  # set when a `hold` fault has the request waiting
        self._listen("GET")

    def release(self) -> None:
        """Let a `hold` (and any later one) answer."""
        self._released.set()

    @property
    def url(self) -> str:
        return f"{self.origin}/api/query"

    def _select(self, params: dict[str, str]) -> list[Entry]:
        chosen = self.entries
        if self.match_queries and params.get("search_query"):
            matches = parse_search_query(params["search_query"])
            chosen = [e for e in chosen if matches(entry_fields(e))]
        if params.get("id_list"):
            wanted = {re.sub(r"v\d+$", "", i) for i in params["id_list"].split(",")}
            chosen = [e for e in chosen if e.arxiv_id in wanted]
        window = re.search(r"submittedDate:\[(\d{12}) TO (\d{12})\]", params.get("search_query", ""))
        if window:
            lo, hi = (datetime.strptime(w, "%Y%m%d%H%M") for w in window.groups())
            chosen = [e for e in chosen if lo <= e.published.replace(tzinfo=None) <= hi]
        return sorted(chosen, key=lambda e: e.published, reverse=True)

    def _feed(self, params: dict[str, str], fault: str | None) -> str:
        selected = self._select(params)
        start = int(params.get("start", 0))
        size = int(params.get("max_results", 10))
        page = [] if fault == "empty" else selected[start : start + size]
        if fault and fault.startswith("short:"):  # a whole feed, with fewer entries than it announces
            page = page[: int(fault.split(":")[1])]
        body = render_feed(page, total=len(selected), start=start)
        return body[: len(body) // 2] if fault == "truncated" else body

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        params = {k: v[0] for k, v in parse_qs(urlparse(http.path).query).items()}
        with self._lock:
            fault = self.faults.pop(0) if self.faults else None
        status = 200
        headers: dict[str, str] = {}
        body = ""
        if fault and fault.startswith("stall"):
            time.sleep(float(fault.split(":")[1]) if ":" in fault else self.stall_seconds)
        if fault == "hold":  # no answer, not even the headers, until release(): the request is in flight
            self.held.set()
            self._released.wait(self.hold_seconds)
        if fault == "503":
            status, body = 503, "Service Unavailable"
        elif fault and fault.isdigit():
            status, body = int(fault), f"HTTP {fault}"
        elif fault and fault.startswith("429"):
            status, body = 429, "Too Many Requests"
            if ":" in fault:
                headers["Retry-After"] = fault.split(":")[1]
        else:
            try:
                status, body = 200, self._feed(params, fault)
            except QuerySyntaxError as err:
                status, body = 400, f"malformed search_query: {err}"
        content_type = "application/atom+xml; charset=utf-8"
        if fault == "html":
            body, content_type = HTML_ERROR_PAGE, "text/html; charset=utf-8"
        self.requests.append(Request(time.monotonic(), params, status))
        payload = body.encode()
        cut = cut_offset(payload, fault) if fault and fault.startswith("cut") else None
        if cut is not None:
            payload = payload[:cut]  # and the Content-Length below says so: nothing on the wire looks wrong
        try:
            http.send_response(status)
            http.send_header("Content-Type", content_type)
            http.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                http.send_header(name, value)
            http.end_headers()
            if fault and fault.startswith("trickle"):
                self._trickle(http, payload, fault)
            else:
                http.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to answer

    def _trickle(self, http: BaseHTTPRequestHandler, payload: bytes, fault: str) -> None:
        """`trickle:B:S`: B bytes every S seconds, each write well inside any per-read timeout."""
        _, size, interval = fault.split(":")
        give_up_at = time.monotonic() + self.trickle_limit_seconds
        sent = 0
        while sent < len(payload) and time.monotonic() < give_up_at:
            http.wfile.write(payload[sent : sent + int(size)])
            http.wfile.flush()
            sent += int(size)
            time.sleep(float(interval))
        http.wfile.write(payload[sent:])


# -- arXiv's query language, as much of it as papers-bot may send ------------------------------------------


class QuerySyntaxError(ValueError):
    """A search_query arXiv could not parse (the fake answers 400)."""


FIELDS = ("ti", "abs", "au", "cat", "all", "id", "submittedDate")
_QUERY_TOKEN = re.compile(r'\s*(?:(?P<paren>[()])|(?P<op>ANDNOT|AND|OR)(?=[\s(]|$)|(?P<field>\w+):'
                          r'(?:"(?P<quoted>[^"]*)"|\[(?P<range>[^\]]*)\]|(?P<bare>[^\s()"\[\]]+)))')


def entry_fields(entry: Entry) -> dict:
    node = ET.fromstring(entry.xml)
    text = {tag: " ".join((node.findtext(f"{{{ATOM}}}{tag}") or "").split()) for tag in ("title", "summary")}
    authors = [a.findtext(f"{{{ATOM}}}name") or "" for a in node.findall(f"{{{ATOM}}}author")]
    categories = [c.get("term", "") for c in node.findall(f"{{{ATOM}}}category")]
    return {"ti": text["title"], "abs": text["summary"], "au": " ; ".join(authors), "cat": categories,
            "id": entry.arxiv_id, "published": entry.published}


def _words(text: str) -> list[str]:
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in re.findall(r"[^\W_]+", text.lower())]


def _phrase_in(value: str, text: str) -> bool:
    wanted, have = _words(value), _words(text)
    if not wanted:
        raise QuerySyntaxError(f"nothing to search for in {value!r}")
    return any(all(fnmatchcase(have[i + k], w) for k, w in enumerate(wanted))
               for i in range(len(have) - len(wanted) + 1))


def _field_matcher(field: str, value: str, is_range: bool):
    if field not in FIELDS:
        raise QuerySyntaxError(f"unknown field {field!r}")
    if field == "submittedDate":
        window = re.fullmatch(r"(\d{12}) TO (\d{12})", value) if is_range else None
        if window is None:
            raise QuerySyntaxError(f"bad date range {value!r}")
        lo, hi = (datetime.strptime(w, "%Y%m%d%H%M") for w in window.groups())
        return lambda f: lo <= f["published"].replace(tzinfo=None) <= hi
    if is_range:
        raise QuerySyntaxError(f"a range on {field!r}")
    if field == "cat":
        return lambda f: any(fnmatchcase(c.lower(), value.lower()) for c in f["cat"])
    if field == "id":
        return lambda f: f["id"] == value
    if field == "all":
        return lambda f: any(_phrase_in(value, f[k]) for k in ("ti", "abs", "au"))
    return lambda f: _phrase_in(value, f[field])


def parse_search_query(query: str):
    """A predicate over `entry_fields`, or QuerySyntaxError: terms joined left to right by AND, OR, ANDNOT."""
    tokens, position = [], 0
    query = query.strip()
    while position < len(query):
        match = _QUERY_TOKEN.match(query, position)
        if match is None or match.end() == position:
            raise QuerySyntaxError(f"cannot read {query[position:position + 20]!r}")
        tokens.append(match)
        position = match.end()
        while position < len(query) and query[position].isspace():
            position += 1

    def expression(index: int):
        left, index = term(index)
        while index < len(tokens) and tokens[index]["op"]:
            op = tokens[index]["op"]
            right, index = term(index + 1)
            left = {"AND": lambda a, b: lambda f: a(f) and b(f), "OR": lambda a, b: lambda f: a(f) or b(f),
                    "ANDNOT": lambda a, b: lambda f: a(f) and not b(f)}[op](left, right)
        return left, index

    def term(index: int):
        if index >= len(tokens):
            raise QuerySyntaxError("the query ends where a term should be")
        token = tokens[index]
        if token["paren"] == "(":
            inner, index = expression(index + 1)
            if index >= len(tokens) or tokens[index]["paren"] != ")":
                raise QuerySyntaxError("an unclosed parenthesis")
            return inner, index + 1
        if not token["field"]:
            raise QuerySyntaxError(f"expected a field:value, found {token[0].strip()!r}")
        is_range = token["range"] is not None
        value = token["range"] if is_range else token["quoted"] if token["quoted"] is not None else token["bare"]
        return _field_matcher(token["field"], value, is_range), index + 1

    if not tokens:
        raise QuerySyntaxError("an empty query")
    predicate, end = expression(0)
    if end != len(tokens):
        raise QuerySyntaxError(f"unexpected {tokens[end][0].strip()!r}")
    return predicate


def make_entry(arxiv_id: str, *, title: str, abstract: str, authors: tuple[str, ...] = ("Ada Lovelace",),
               categories: tuple[str, ...] = ("cs.LG",), published: str = "2024-06-01T12:00:00Z",
               version: int = 1) -> Entry:
    """One Atom entry as arXiv writes it, for papers the local store does not have."""
    names = "".join(f"<author><name>{escape(name)}</name></author>" for name in authors)
    cats = "".join(f'<category term="{escape(c)}" scheme="http://arxiv.org/schemas/atom"/>' for c in categories)
    xml = (
        f'<entry xmlns="{ATOM}" xmlns:arxiv="http://arxiv.org/schemas/atom">'
        f"<id>http://arxiv.org/abs/{arxiv_id}v{version}</id><updated>{published}</updated>"
        f"<published>{published}</published><title>{escape(title)}</title><summary>{escape(abstract)}</summary>"
        f'{names}<link href="http://arxiv.org/abs/{arxiv_id}v{version}" rel="alternate" type="text/html"/>'
        f'<link title="pdf" href="http://arxiv.org/pdf/{arxiv_id}v{version}" rel="related" type="application/pdf"/>'
        f'<arxiv:primary_category term="{escape(categories[0])}" scheme="http://arxiv.org/schemas/atom"/>{cats}</entry>'
    )
    return Entry(xml, arxiv_id, datetime.fromisoformat(published.replace("Z", "+00:00")))
