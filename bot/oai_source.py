"""arXiv's OAI-PMH interface (ARXIV_OAI_URL): the route arXiv asks bulk harvesters to use, through `sickle`.

Kept from sickle: the OAI-PMH verbs and paging by resumption token (`OAIResponseIterator`), OAI error answers
raised as exceptions (`noRecordsMatch`, `badResumptionToken`, `badArgument`), and its record header model.
Replaced, as the export API client (bot.arxiv_source) replaces the arxiv package's, because sickle does not:
- The transport: one GET at a time, paced by ARXIV_DELAY_SECONDS within the process and by the turn shared
  through the database (`ArxivPacing`), with a total deadline per request (ARXIV_OAI_TIMEOUT_SECONDS: a page is
  megabytes) read against a monotonic clock, so a server trickling bytes cannot hold the harvest.
- Retries: a 503 (arXiv's flow control) or 429 waits for its Retry-After, other 5xx, timeouts and pages that are
  not whole wait growing delays, ARXIV_MAX_RETRIES times, then one `ArxivUnavailable`. Sickle's own loop sleeps
  outside our pacing and reads Retry-After with int() only.
- Completeness: sickle parses with lxml's recover=True, so a page cut short would parse as fewer records with a
  resumption token missing, and the harvest would end early as if complete. A page is used only when it is
  well-formed XML with <OAI-PMH> at its root; anything else is retried like a 503.

Format: `arXivRaw`, not `arXiv`: our rows carry the arXiv version (the newest version wins, whichever route
brought it), and only arXivRaw lists the versions, each with its submission time; `arXiv` has a created and an
updated day and no version number. Sets: arXiv's interface (rewritten in 2025, base URL oaipmh.arxiv.org/oai)
offers a set per group (`cs`), archive (`cs:cs`, `physics:hep-th`) and category (`cs:cs:LG`,
`physics:astro-ph:CO`), so each asked category is harvested as its own set and each record is still checked
against the asked categories here (a bare archive such as `cs` takes the archive's set).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

from lxml import etree
from sickle import Sickle
from sickle.iterator import OAIResponseIterator
from sickle.models import Header
from sickle.response import OAIResponse

from bot.arxiv_ids import parse_arxiv_id, parse_category
from bot.arxiv_source import ArxivPacing, BadEntry, BadPage, PacedHttp, collapse_whitespace
from db.records import PaperRecord

log = logging.getLogger(__name__)

METADATA_PREFIX = "arXivRaw"
OAI_NS = "{http://www.openarchives.org/OAI/2.0/}"
RAW_NS = "{http://arxiv.org/OAI/arXivRaw/}"
# arXiv's groups: the physics group holds these archives; every other archive is a group of its own.
PHYSICS_ARCHIVES = frozenset({"astro-ph", "cond-mat", "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math-ph",
                              "nlin", "nucl-ex", "nucl-th", "physics", "quant-ph"})
OWN_GROUP_ARCHIVES = frozenset({"cs", "econ", "eess", "math", "q-bio", "q-fin", "stat"})
# arXiv's subject classes (https://arxiv.org/category_taxonomy), as parse_category spells them. A typo such as
# `cs.ML` (it is stat.ML, or cs.LG) would otherwise cost a whole harvest of a set arXiv does not have.
SUBJECT_CLASSES = {
    "cs": "AI AR CC CE CG CL CR CV CY DB DC DL DM DS ET FL GL GR GT HC IR IT LG LO MA MM MS NA NE NI OH OS PF PL RO SC "
          "SD SE SI SY",
    "math": "AC AG AP AT CA CO CT CV DG DS FA GM GN GR GT HO IT KT LO MG MP NA NT OA OC PR QA RA RT SG SP ST",
    "stat": "AP CO ME ML OT TH", "eess": "AS IV SP SY", "econ": "EM GN TH",
    "q-bio": "BM CB GN MN NC OT PE QM SC TO", "q-fin": "CP EC GN MF PM PR RM ST TR",
    "astro-ph": "CO EP GA HE IM SR", "nlin": "AO CD CG PS SI",
    "cond-mat": "dis-nn mes-hall mtrl-sci other quant-gas soft stat-mech str-el supr-con",
    "physics": "acc-ph ao-ph app-ph atm-clus atom-ph bio-ph chem-ph class-ph comp-ph data-an ed-ph flu-dyn gen-ph "
               "geo-ph hist-ph ins-det med-ph optics plasm-ph pop-ph soc-ph space-ph",
}


class BadCategory(ValueError):
    """A --categories item that is not an arXiv category or archive."""


def set_spec_for(category: str) -> str:
    """The OAI set of one category or archive: `cs.LG` -> `cs:cs:LG`, `hep-th` -> `physics:hep-th`,
    `astro-ph.CO` -> `physics:astro-ph:CO`, `cs` -> `cs:cs` (the archive, as `cat:cs` means in search)."""
    parsed = parse_category(category)
    if parsed is None:
        raise BadCategory(f"{category!r} is not an arXiv category (e.g. cs.LG, hep-th, math)")
    archive, _, subject = parsed.partition(".")
    if archive in PHYSICS_ARCHIVES:
        group = "physics"
    elif archive in OWN_GROUP_ARCHIVES:
        group = archive
    else:
        known = ", ".join(sorted(PHYSICS_ARCHIVES | OWN_GROUP_ARCHIVES))
        raise BadCategory(f"{category!r}: arXiv has no archive {archive!r} (archives: {known})")
    subjects = SUBJECT_CLASSES.get(archive, "").split()
    if subject and subject not in subjects:
        elsewhere = sorted(f"{other}.{subject}" for other, names in SUBJECT_CLASSES.items() if subject in names.split())
        hint = f"; did you mean {' or '.join(elsewhere)}?" if elsewhere else f" ({archive}: {', '.join(subjects)})"
        if not subjects:
            hint = f" ({archive} has no subject classes: use {archive})"
        raise BadCategory(f"{category!r} is not an arXiv category{hint}")
    return f"{group}:{archive}:{subject}" if subject else f"{group}:{archive}"


# -- records ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HarvestedRecord:
    """One record of a page: its datestamp, and the paper (or why it cannot be stored; None: deleted)."""

    datestamp: date | None
    item: PaperRecord | BadEntry | None


_PARENTHESES = re.compile(r"\([^()]*\)")
_AUTHOR_SEPARATOR = re.compile(r",|;|\band\b")


def split_authors(raw: str) -> tuple[str, ...]:
    """arXivRaw's one author string (`A. One (MIT), B. Two and C. Three`) as names, affiliations left out as the
    export API leaves them out of <name>."""
    text = collapse_whitespace(raw)
    while True:  # innermost parentheses first: affiliations may nest
        stripped = _PARENTHESES.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    return tuple(name for name in (collapse_whitespace(part) for part in _AUTHOR_SEPARATOR.split(text)) if name)


def _versions(raw: etree._Element, arxiv_id: str) -> list[tuple[int, datetime]]:
    versions = []
    for node in raw.iterfind(f"{RAW_NS}version"):
        label = (node.get("version") or "").strip().lower()
        when = (node.findtext(f"{RAW_NS}date") or "").strip()
        try:
            number = int(label.removeprefix("v"))
            submitted = parsedate_to_datetime(when).astimezone(UTC)
        except (TypeError, ValueError):
            raise BadEntry(f"{arxiv_id}: version {label or '?'} has no readable number or date ({when!r})") from None
        versions.append((number, submitted))
    if not versions:
        raise BadEntry(f"{arxiv_id}: no versions")
    return sorted(versions)


def _optional(raw: etree._Element, tag: str) -> str | None:
    return collapse_whitespace(raw.findtext(f"{RAW_NS}{tag}") or "") or None


def raw_to_record(raw: etree._Element) -> PaperRecord:
    """One <arXivRaw> element as the row the export API would give (bot.arxiv_source.result_to_record): the
    version-less id, the newest version, first published at v1, updated at the newest; BadEntry if incomplete."""
    parsed = parse_arxiv_id((raw.findtext(f"{RAW_NS}id") or "").strip())
    if parsed is None:
        raise BadEntry(f"a record without a readable arXiv id ({raw.findtext(f'{RAW_NS}id')!r})")
    arxiv_id = parsed.id
    versions = _versions(raw, arxiv_id)
    title = collapse_whitespace(raw.findtext(f"{RAW_NS}title") or "")
    abstract = (raw.findtext(f"{RAW_NS}abstract") or "").strip()
    authors = split_authors(raw.findtext(f"{RAW_NS}authors") or "")
    categories = tuple(dict.fromkeys((raw.findtext(f"{RAW_NS}categories") or "").split()))
    for name, value in (("title", title), ("abstract", abstract), ("authors", authors), ("categories", categories)):
        if not value:
            raise BadEntry(f"{arxiv_id}: no {name}")
    version, updated = versions[-1]
    return PaperRecord(
        arxiv_id=arxiv_id,
        version=version,
        title=title,
        abstract=abstract,
        authors=authors,
        primary_category=categories[0],  # arXiv lists the primary category first
        categories=categories,
        published=versions[0][1],
        updated=updated,
        pdf_url=f"http://arxiv.org/pdf/{arxiv_id}v{version}",  # the form the export API gives
        comment=_optional(raw, "comments"),
        journal_ref=_optional(raw, "journal-ref"),
        doi=_optional(raw, "doi"),
    )


def _datestamp(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip()[:10])
    except ValueError:
        return None


def page_records(response: OAIResponse) -> list[HarvestedRecord]:
    """Every <record> of a ListRecords page, each read on its own: a malformed one becomes a BadEntry."""
    harvested = []
    for element in response.xml.iterfind(f".//{OAI_NS}record"):
        header_element = element.find(f"{OAI_NS}header")
        if header_element is None:
            harvested.append(HarvestedRecord(None, BadEntry("a record without a header")))
            continue
        # sickle's Header, not its Record: Record also flattens the metadata into a dict we would not read.
        header = Header(header_element)
        datestamp = _datestamp(header.datestamp)
        if header.deleted:
            harvested.append(HarvestedRecord(datestamp, None))
            continue
        raw = element.find(f"{OAI_NS}metadata/{RAW_NS}arXivRaw")
        try:
            if raw is None:
                raise BadEntry(f"{header.identifier or 'a record'}: no arXivRaw metadata")
            harvested.append(HarvestedRecord(datestamp, raw_to_record(raw)))
        except BadEntry as bad:
            harvested.append(HarvestedRecord(datestamp, bad))
    return harvested


# -- transport ----------------------------------------------------------------------------------------------


class WholeOaiResponse(OAIResponse):
    """An OAI answer already parsed strictly; sickle reads `.xml` for errors, records and the token."""

    def __init__(self, root: etree._Element, params: Mapping[str, str]):
        super().__init__(http_response=None, params=dict(params))
        self._root = root

    @property
    def xml(self) -> etree._Element:
        return self._root


def whole_oai_page(body: bytes) -> etree._Element:
    """The root of `body` if it is a whole OAI-PMH answer, else BadPage (cut short, HTML, malformed)."""
    parser = etree.XMLParser(recover=False, resolve_entities=False, no_network=True, remove_blank_text=True)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as err:
        raise BadPage(f"cut short or malformed: {err}") from err
    if root is None or root.tag != f"{OAI_NS}OAI-PMH":
        raise BadPage(f"not an OAI-PMH answer (root element {getattr(root, 'tag', None)!r})")
    return root


class PoliteOaiClient(Sickle):
    """sickle's client, with our transport (PacedHttp): paced, one request at a time, a deadline each, retries."""

    def __init__(self, *, oai_url: str, delay_seconds: float, timeout_seconds: float, max_retries: int,
                 pacing: ArxivPacing | None = None, sleep: Callable[[float], None] = time.sleep):
        super().__init__(oai_url, iterator=OAIResponseIterator, max_retries=0)
        self.http = PacedHttp(name="arXiv OAI-PMH", delay_seconds=delay_seconds, timeout_seconds=timeout_seconds,
                              max_retries=max_retries, pacing=pacing, sleep=sleep)

    @property
    def requests_made(self) -> int:
        return self.http.requests_made

    def list_record_pages(self, params: Mapping[str, str]) -> OAIResponseIterator:
        """ListRecords a page at a time (the first is fetched now); `.resumption_token` names the next page."""
        return OAIResponseIterator(self, {"verb": "ListRecords", **params})

    def harvest(self, **kwargs) -> OAIResponse:
        # sickle's iterators call this for every page.
        with self.http.lock:
            return self.http.fetch(self.endpoint, params=kwargs,
                                   whole_page=lambda answer: WholeOaiResponse(whole_oai_page(answer.body), kwargs),
                                   refused="arXiv's OAI-PMH interface refused the request")

    @classmethod
    def from_settings(cls, settings, *, pacing: ArxivPacing | None = None,
                      sleep: Callable[[float], None] = time.sleep) -> PoliteOaiClient:
        return cls(oai_url=settings.arxiv_oai_url, delay_seconds=settings.arxiv_delay_seconds,
                   timeout_seconds=settings.arxiv_oai_timeout_seconds, max_retries=settings.arxiv_max_retries,
                   pacing=pacing, sleep=sleep)
