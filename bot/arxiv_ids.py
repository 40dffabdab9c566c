"""arXiv's identifier grammars, parsed in one place: paper ids in every form people and the API write
them, and subject categories (`cs.CL`, `cs`, `hep-th`) with the one rule for matching them.

Paper ids (https://info.arxiv.org/help/arxiv_identifier.html):
- new style since April 2007: `YYMM.NNNN` up to 1412, `YYMM.NNNNN` from 1501 (`0704.0001`, `2503.14881`);
- old style before: `archive[.subject]/YYMMNNN` (`hep-th/9901001`, `math.GT/0309136`);
- either with a version (`v2`), an `arXiv:` prefix, or as an abs/pdf/html URL on arxiv.org (with or
  without `www.`/`export.`, a scheme, `.pdf`, a trailing slash, a query or a fragment), and Slack sends
  links in command text wrapped as `<url>` or `<url|label>`.

The canonical form, which the store keys papers by, has no version, a lower-case archive and the
subject class as arXiv writes it (two letters upper case, longer ones lower case).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_NEW = r"(?P<yymm>\d{4})\.(?P<number>\d{4,5})"
_OLD = r"(?P<archive>[a-z]+(?:-[a-z]+)?)(?:\.(?P<subject>[a-z]+(?:-[a-z]+)?))?/(?P<old_yymm>\d{4})(?P<old_number>\d{3})"
_VERSION = r"(?:v(?P<version>[1-9]\d{0,3}))?"
_ID = rf"(?:{_NEW}|{_OLD}){_VERSION}"

_BARE_ID = re.compile(_ID, re.IGNORECASE | re.ASCII)
_SLACK_LINK = re.compile(r"<([^<>|]+)(?:\|[^<>]*)?>")
_PREFIX = re.compile(r"arxiv:\s*", re.IGNORECASE)
_URL = re.compile(
    r"(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/(?P<path>[^?#]+?)(?:\.pdf)?/?(?:[?#].*)?",
    re.IGNORECASE | re.ASCII,
)
_API_ENTRY_PREFIXES = ("http://arxiv.org/abs/", "https://arxiv.org/abs/")
_FIRST_NEW_STYLE = 704  # April 2007
_FIRST_FIVE_DIGITS = 1501  # January 2015: numbers grew from 4 to 5 digits


@dataclass(frozen=True)
class ArxivId:
    id: str  # canonical and version-less: 2503.14881, hep-th/9901001, math.GT/0309136
    version: int | None = None  # None: the text named no version


def _subject_class(subject: str) -> str:
    # arXiv writes two-letter subject classes upper case (cs.CL, math.GT, astro-ph.CO) and the
    # hyphenated ones lower case (cond-mat.str-el, physics.atom-ph).
    return subject.upper() if len(subject) == 2 else subject.lower()


def _from_match(match: re.Match[str]) -> ArxivId | None:
    version = int(match["version"]) if match["version"] else None
    if match["yymm"]:
        yymm, number = int(match["yymm"]), match["number"]
        if not 1 <= yymm % 100 <= 12 or yymm < _FIRST_NEW_STYLE:
            return None
        if len(number) != (5 if yymm >= _FIRST_FIVE_DIGITS else 4):
            return None
        return ArxivId(f"{match['yymm']}.{number}", version)
    if not 1 <= int(match["old_yymm"]) % 100 <= 12:
        return None
    archive = match["archive"].lower() + (f".{_subject_class(match['subject'])}" if match["subject"] else "")
    return ArxivId(f"{archive}/{match['old_yymm']}{match['old_number']}", version)


def parse_arxiv_id(text: str) -> ArxivId | None:
    """The whole of `text` as one paper id in any form above, or None (nothing may surround it)."""
    if text.startswith(_API_ENTRY_PREFIXES):
        # The form every arXiv API entry's <id> has: the general path below gives the same answer at a
        # fifth of the cost, which a bulk load of a million entries notices.
        match = _BARE_ID.fullmatch(text, text.index("/abs/") + 5)
        if match:
            return _from_match(match)
    # NFKC folds what phones and CJK keyboards type (full-width `２５０３.１４８８１`) to ASCII.
    ref = unicodedata.normalize("NFKC", text or "").strip()
    wrapped = _SLACK_LINK.fullmatch(ref)
    if wrapped:
        ref = wrapped[1].strip()
    prefix = _PREFIX.match(ref)
    if prefix:
        ref = ref[prefix.end() :]
    url = _URL.fullmatch(ref)
    if url:
        ref = url["path"]
    match = _BARE_ID.fullmatch(ref)
    return _from_match(match) if match else None


def find_arxiv_id(text: str) -> ArxivId | None:
    """The first word of `text` that is a paper id in any form (`raed 2503.14881`), or None."""
    for word in (text or "").split():
        found = parse_arxiv_id(word)
        if found is not None:
            return found
    return None


# -- categories ---------------------------------------------------------------------------------------

# `cs`, `cs.CL`, `hep-th`, `cond-mat.str-el`, `q-bio.NC`: an archive, then an optional subject class.
CATEGORY = re.compile(r"(?P<archive>[a-z]+(?:-[a-z]+)?)(?:\.(?P<subject>[a-z]+(?:-[a-z]+)?))?",
                      re.IGNORECASE | re.ASCII)


def parse_category(text: str) -> str | None:
    """`cs.cl` -> `cs.CL`, `CS` -> `cs`, `hep-th` -> `hep-th`; None when it is not a category."""
    match = CATEGORY.fullmatch((text or "").strip())
    if not match:
        return None
    archive = match["archive"].lower()
    return f"{archive}.{_subject_class(match['subject'])}" if match["subject"] else archive


def category_matches(paper_categories: Iterable[str], wanted: Sequence[str]) -> bool:
    """The one category rule: true when nothing is wanted, or the paper is in a wanted category,
    compared without case, where a bare archive (`cs`) takes all of its subjects (`cs.LG`, `cs.CL`).

    db.fts applies the same rule in SQL for search's `cat:` filter."""
    if not wanted:
        return True
    have = {c.lower() for c in paper_categories}
    archives = {c.split(".", 1)[0] for c in have}
    return any(w.lower() in have or ("." not in w and w.lower() in archives) for w in wanted)
