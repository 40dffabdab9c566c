"""Paper text as a reader should see it: LaTeX turned into readable Unicode, arXiv's hard line breaks joined,
and the states that decide whether a paper is shown at all (withdrawn).

Pure functions of strings and records; renderers call them before escaping. The stored text is never changed:
search indexes what arXiv sent, and the Markdown digest (the seed's format) keeps it as it was.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text

from db.records import PaperRecord

log = logging.getLogger(__name__)

_WHITESPACE = re.compile(r"\s+")
# A `%` that LaTeX would read as a comment: in abstracts it is almost always a literal per cent ("50% less"), and
# reading it as a comment would drop the rest of the line.
_BARE_PERCENT = re.compile(r"(?<!\\)%")
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")
# Inline math as pandoc reads it: `$` opens only before a non-space and closes only after one, not before a digit.
_INLINE_MATH = re.compile(r"(?<!\\)\$(?=\S)(?:\\.|[^$\\])+?(?<=\S)(?<!\\)\$(?!\d)")
_LATEX_HINT = re.compile(r"[\\$]")
_MACRO_NAME = re.compile(r"\\[A-Za-z]+")
# pylatexenc writes \url{u} as <u> and \cite{k} as <cit.>; a reader wants the address, and brackets for the rest.
_ANGLE_URL = re.compile(r"<(https?://[^<>\s]+)>")
# arXiv's own wording for a withdrawn paper, in the abstract or the comment ("This paper has been withdrawn by the
# author", "This submission has been withdrawn by arXiv administrators", a comment that is just "Withdrawn").
_WITHDRAWN = re.compile(
    r"\b(?:this|the)\s+(?:paper|submission|article|manuscript|version|work)\s+(?:has\s+been|is|was)\s+withdrawn\b"
    r"|\bwithdrawn\s+by\s+the\s+authors?\b|^\s*withdrawn\b",
    re.IGNORECASE,
)
# Below this share of the input's letters and digits surviving, the conversion is taken to have gone wrong (an
# unbalanced brace swallowing text) and the plain text is shown instead.
_MIN_KEPT = 0.6


def join_lines(text: str) -> str:
    """arXiv wraps abstracts at ~80 columns; Slack should reflow them. Runs of whitespace become one space."""
    return _WHITESPACE.sub(" ", text or "").strip()


@lru_cache(maxsize=1)
def _converter() -> LatexNodes2Text:
    return LatexNodes2Text(math_mode="text", keep_comments=False)


def _word_chars(text: str) -> int:
    return sum(ch.isalnum() for ch in text)


def _escape_money(text: str) -> str:
    """Escape every `$` that does not delimit inline math (`costs $5 and $7`), so it stays a dollar sign."""
    pieces, position = [], 0
    for math in _INLINE_MATH.finditer(text):
        pieces.append(_UNESCAPED_DOLLAR.sub(r"\\$", text[position : math.start()]))
        pieces.append(math.group())
        position = math.end()
    pieces.append(_UNESCAPED_DOLLAR.sub(r"\\$", text[position:]))
    return "".join(pieces)


@lru_cache(maxsize=2048)  # the same papers are rendered again and again: a digest, each search, each Home tab
def readable(text: str) -> str:
    """`$\\mathcal{O}(n^2)$` -> `𝒪(n^2)`, `\\textbf{x}` -> `x`, `$\\alpha$` -> `α`; plain text only has its lines
    joined. Never raises and never loses the text: a conversion that drops too much gives the plain text back."""
    plain = join_lines(text)
    if not _LATEX_HINT.search(plain):
        return plain
    source = _BARE_PERCENT.sub(r"\\%", plain)
    source = _escape_money(source)
    try:
        converted = join_lines(_converter().latex_to_text(source))
    except Exception:  # noqa: BLE001 - any parser failure shows the text as arXiv sent it
        log.debug("LaTeX conversion failed; showing the plain text", exc_info=True)
        return plain
    if not converted or _word_chars(converted) < _MIN_KEPT * _word_chars(_MACRO_NAME.sub(" ", plain)):
        return plain  # (a title of only `\\` converts to nothing at all)
    return _ANGLE_URL.sub(r"\1", converted).replace("<cit.>", "[cit.]")


def is_withdrawn(paper: PaperRecord) -> bool:
    """arXiv keeps a withdrawn paper's record and replaces its abstract (or comment) with a notice."""
    return bool(_WITHDRAWN.search(paper.abstract[:400]) or (paper.comment and _WITHDRAWN.search(paper.comment)))


# A sentence ends at . ! or ? followed by space and something that can start one (not "e.g. the", not "3.5").
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\bet al)(?<!\bvs)[.!?](?=\s+[A-Z0-9(\[“\"'])")
SNIPPET_SENTENCES = 3
SNIPPET_CHARS = 320
ELLIPSIS = "…"


@dataclass(frozen=True)
class Snippet:
    """A few sentences of a text, chosen around a match, with the match spans shifted into it."""

    text: str
    spans: tuple[tuple[int, int], ...]


def _sentences(text: str) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        bounds.append((start, match.end()))
        start = match.end()
        while start < len(text) and text[start].isspace():
            start += 1
    if start < len(text):
        bounds.append((start, len(text)))
    return bounds


def _cut_at_word(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2 :] else cut).rstrip(" ,;:") + ELLIPSIS


def snippet(text: str, spans: Sequence[tuple[int, int]] = (), *, sentences: int = SNIPPET_SENTENCES,
            max_chars: int = SNIPPET_CHARS) -> Snippet:
    """Up to `sentences` sentences starting with the one holding the first span (the text's start without one),
    within `max_chars`; `…` marks what was left out. `text` should already be `readable` (one line)."""
    bounds = _sentences(text)
    if not bounds:
        return Snippet("", ())
    first = spans[0][0] if spans else 0
    index = next((i for i, (s, e) in enumerate(bounds) if s <= first < e), 0)
    budget = max_chars - 2 * (len(ELLIPSIS) + 1)
    lo = hi = index  # the chosen sentences are bounds[lo..hi]
    while hi + 1 < len(bounds) and hi - lo + 1 < sentences and bounds[hi + 1][1] - bounds[lo][0] <= budget:
        hi += 1
    # Room left: the sentence before the match gives it context.
    while lo > 0 and hi - lo + 1 < sentences and bounds[hi][1] - bounds[lo - 1][0] <= budget:
        lo -= 1
    start, end = bounds[lo][0], bounds[hi][1]
    body = _cut_at_word(text[start:end], budget)
    lead = ELLIPSIS + " " if start > 0 else ""
    tail = " " + ELLIPSIS if end < len(text) and not body.endswith(ELLIPSIS) else ""
    shift = len(lead) - start
    kept = tuple((s + shift, e + shift) for s, e in spans
                 if s >= start and e + shift <= len(lead) + len(body.rstrip(ELLIPSIS)))
    return Snippet(lead + body + tail, kept)
