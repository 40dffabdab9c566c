"""A loopback stand-in for arXiv's OAI-PMH interface (oaipmh.arxiv.org/oai), serving `arXivRaw` records built from
the seed Atom feed (tests/fixtures/seed_feed.atom.xml).

It does what arXiv's interface does for a harvester: ListRecords by set (group `cs`, archive `cs:cs`, category
`cs:cs:LG`) and a from/until window of datestamps (the day a record last changed), records in datestamp order,
`page_size` to a page, resumption tokens (which `expire_tokens()` makes unknown, as midnight UTC does at arXiv),
and the OAI errors noRecordsMatch, badResumptionToken, badArgument and cannotDisseminateFormat. Scripted faults, one
per request: `503` or `503:S` (with Retry-After: S), `500`, `cut` (a page cut in half), `html` (an HTML error
page with status 200), `hold` (the answer waits until `release()`, for a kill mid-request), `oai-error:CODE` (an
OAI error answer), `stall:S` (silence for S seconds), `trickle:S` (200 bytes every 0.1 s for S seconds). A record can be
revised (a newer version, a later datestamp) or served malformed.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from tests.fakes import LoopbackServer

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PHYSICS = {"astro-ph", "cond-mat", "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math-ph", "nlin", "nucl-ex",
           "nucl-th", "physics", "quant-ph"}


@dataclass
class Paper:
    arxiv_id: str
    version: int
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    published: datetime
    updated: datetime
    comment: str | None = None
    malformed: bool = False

    @property
    def datestamp(self) -> date:
        return self.updated.date()

    def sets(self) -> set[str]:
        found = set()
        for category in self.categories:
            archive, _, subject = category.partition(".")
            group = "physics" if archive in PHYSICS else archive
            found |= {group, f"{group}:{archive}"} | ({f"{group}:{archive}:{subject}"} if subject else set())
        return found


def load_papers(path: Path = FIXTURES / "seed_feed.atom.xml") -> list[Paper]:
    papers = []
    for entry in ET.parse(path).getroot().iter(f"{ATOM}entry"):
        raw_id = entry.findtext(f"{ATOM}id").rsplit("/abs/", 1)[-1]
        arxiv_id, version = re.fullmatch(r"(.+?)v(\d+)", raw_id).groups()
        primary = entry.find(f"{ARXIV}primary_category").get("term")
        others = [c.get("term") for c in entry.iter(f"{ATOM}category")]
        papers.append(Paper(
            arxiv_id=arxiv_id, version=int(version), title=entry.findtext(f"{ATOM}title"),
            abstract=entry.findtext(f"{ATOM}summary"),
            authors=[a.findtext(f"{ATOM}name") for a in entry.iter(f"{ATOM}author")],
            categories=list(dict.fromkeys([primary, *others])),
            published=datetime.fromisoformat(entry.findtext(f"{ATOM}published").replace("Z", "+00:00")),
            updated=datetime.fromisoformat(entry.findtext(f"{ATOM}updated").replace("Z", "+00:00")),
            comment=entry.findtext(f"{ARXIV}comment"),
        ))
    return papers


def render_raw(paper: Paper) -> str:
    """One arXivRaw <record>, as arXiv's interface writes it (authors in one string, each version dated)."""
    versions = []
    for number in range(1, paper.version + 1):
        when = paper.published if number < paper.version or paper.version == 1 else paper.updated
        stamp = "not a date" if paper.malformed else format_datetime(when, usegmt=True)
        versions.append(f'<version version="v{number}"><date>{stamp}</date><size>100kb</size></version>')
    authors = ", ".join(paper.authors[:-1]) + (" and " if len(paper.authors) > 1 else "") + paper.authors[-1]
    title = "" if paper.malformed else f"<title>{escape(paper.title)}</title>"
    comment = f"<comments>{escape(paper.comment)}</comments>" if paper.comment else ""
    return (
        f"<record><header><identifier>oai:arXiv.org:{paper.arxiv_id}</identifier>"
        f"<datestamp>{paper.datestamp}</datestamp>"
        + "".join(f"<setSpec>{spec}</setSpec>" for spec in sorted(paper.sets()))
        + '</header><metadata><arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/">'
        f"<id>{paper.arxiv_id}</id><submitter>A. Submitter</submitter>{''.join(versions)}{title}"
        f"<authors>{escape(authors)}</authors><categories>{' '.join(paper.categories)}</categories>{comment}"
        f"<license>http://arxiv.org/licenses/nonexclusive-distrib/1.0/</license>"
        f"<abstract>{escape(paper.abstract)}</abstract></arXivRaw></metadata></record>"
    )


def _envelope(params: dict[str, str], inner: str) -> str:
    attributes = " ".join(f'{k}="{escape(v)}"' for k, v in params.items())
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            f"<responseDate>2025-03-21T00:00:00Z</responseDate><request {attributes}>http://fake/oai</request>"
            f"{inner}</OAI-PMH>\n")


HTML_ERROR_PAGE = "<!DOCTYPE html><html><head><title>arXiv</title></head><body>Service unavailable</body></html>"


@dataclass
class ServedRequest:
    at: float
    params: dict[str, str]
    status: int
    page: tuple[str, int] | None = None  # (query key, offset) of the page it answered
    ended_at: float = 0.0


@dataclass
class FakeOaiPmh(LoopbackServer):
    papers: list[Paper] = field(default_factory=load_papers)
    page_size: int = 10
    faults: list[str] = field(default_factory=list)
    requests: list[ServedRequest] = field(default_factory=list)
    hold_seconds: float = 20.0

    def __post_init__(self):
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[tuple, int]] = {}
        self._counter = itertools.count(1)
        self._released = threading.Event()
        self.held = threading.Event()  # set when a `hold` fault is answering
        self._listen("GET")

    @property
    def url(self) -> str:
        return f"{self.origin}/oai"

    def release(self) -> None:
        self._released.set()

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def paper(self, arxiv_id: str) -> Paper:
        return next(p for p in self.papers if p.arxiv_id == arxiv_id)

    def revise(self, arxiv_id: str, *, version: int, updated: datetime, title: str | None = None) -> Paper:
        paper = self.paper(arxiv_id)
        paper.version, paper.updated, paper.title = version, updated, title or paper.title
        return paper

    def pages_served(self) -> list[tuple[str, int]]:
        return [r.page for r in self.requests if r.page is not None]

    def _select(self, query: tuple) -> list[Paper]:
        set_spec, low, high = query
        chosen = [p for p in self.papers if (not set_spec or set_spec in p.sets())
                  and (low is None or p.datestamp >= low) and (high is None or p.datestamp <= high)]
        return sorted(chosen, key=lambda p: (p.datestamp, p.arxiv_id))

    def _answer(self, params: dict[str, str]) -> tuple[str, tuple[str, int] | None]:
        """The OAI-PMH XML for a request, and which page it is."""
        if params.get("verb") != "ListRecords":
            return _envelope(params, '<error code="badVerb">only ListRecords here</error>'), None
        if "resumptionToken" in params:
            with self._lock:
                known = self._tokens.get(params["resumptionToken"])
            if known is None:
                return _envelope(params, '<error code="badResumptionToken">expired or unknown</error>'), None
            query, offset = known
        else:
            if params.get("metadataPrefix") != "arXivRaw":
                return _envelope(params, '<error code="cannotDisseminateFormat">arXivRaw only</error>'), None
            set_spec = params.get("set")
            if set_spec and not re.fullmatch(r"[a-z-]+(:[a-z-]+(:[A-Za-z-]+)?)?", set_spec):
                return _envelope(params, '<error code="badArgument">unknown set</error>'), None
            try:
                low, high = (date.fromisoformat(params[k]) if params.get(k) else None for k in ("from", "until"))
            except ValueError:
                return _envelope(params, '<error code="badArgument">bad date</error>'), None
            query, offset = (set_spec, low, high), 0
        return self._page(params, query, offset)

    def _page(self, params: dict[str, str], query: tuple, offset: int) -> tuple[str, tuple[str, int] | None]:
        selected = self._select(query)
        if not selected:
            return _envelope(params, '<error code="noRecordsMatch">no records</error>'), None
        page = selected[offset : offset + self.page_size]
        token = ""
        if offset + self.page_size < len(selected):
            name = f"tok{next(self._counter)}"
            with self._lock:
                self._tokens[name] = (query, offset + self.page_size)
            expires = datetime.combine(date.today() + timedelta(days=1), datetime.min.time()).isoformat()
            token = (f'<resumptionToken cursor="{offset}" completeListSize="{len(selected)}" '
                     f'expirationDate="{expires}Z">{name}</resumptionToken>')
        elif offset:
            token = f'<resumptionToken cursor="{offset}" completeListSize="{len(selected)}"/>'
        body = "".join(render_raw(p) for p in page)
        return _envelope(params, f"<ListRecords>{body}{token}</ListRecords>"), (repr(query), offset)

    def _trickle(self, http: BaseHTTPRequestHandler, payload: bytes, seconds: float) -> None:
        """`trickle:S`: 200 bytes every 0.1 s for S seconds, then the rest."""
        give_up_at = time.monotonic() + seconds
        sent = 0
        while sent < len(payload) and time.monotonic() < give_up_at:
            http.wfile.write(payload[sent : sent + 200])
            http.wfile.flush()
            sent += 200
            time.sleep(0.1)
        http.wfile.write(payload[sent:])

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        params = {k: v[0] for k, v in parse_qs(urlparse(http.path).query).items()}
        served = ServedRequest(time.monotonic(), params, 200)
        with self._lock:
            fault = self.faults.pop(0) if self.faults else None
            self.requests.append(served)
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        if fault and fault.startswith("stall:"):
            time.sleep(float(fault.split(":")[1]))  # nothing at all, not even the headers, for that long
        if fault and fault.split(":")[0] in ("500", "503"):
            served.status = int(fault.split(":")[0])
            if ":" in fault:
                headers["Retry-After"] = fault.split(":")[1]
            body = "Service Unavailable"
        elif fault and fault.startswith("oai-error:"):
            body = _envelope(params, f'<error code="{fault.split(":")[1]}">scripted refusal</error>')
        elif fault == "html":
            body, headers["Content-Type"] = HTML_ERROR_PAGE, "text/html"
        else:
            body, served.page = self._answer(params)
            if fault == "cut":
                body, served.page = body[: len(body) // 2], None
            if fault == "hold":
                self.held.set()
                self._released.wait(self.hold_seconds)
        payload = body.encode()
        try:
            http.send_response(served.status)
            for name, value in {**headers, "Content-Length": str(len(payload))}.items():
                http.send_header(name, value)
            http.end_headers()
            if fault and fault.startswith("trickle:"):  # the answer a few bytes at a time, each well in time
                self._trickle(http, payload, float(fault.split(":")[1]))
            else:
                http.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            served.page = None  # the client was gone (killed): it never got this page
        served.ended_at = time.monotonic()
