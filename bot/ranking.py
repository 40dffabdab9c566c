"""How well a paper matches a channel's topic, as one number, so the digest can lead with its best papers.

The score is a sum of signals, each a pure function of the paper; the topic signal is the first, and other signals
(a reader's own history, group popularity) are added by passing more functions to `rank`. Rules of the topic signal:
- a keyword in the title counts more than one in the abstract;
- several distinct keywords count more than one keyword repeated (repeats add a little, up to a cap);
- an exact phrase (with its hyphen/space variants, bot.topics) counts more than its words found apart.
Ties go to the newest paper, then the higher arXiv id, so the order is total and stable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from bot.topics import find_spans
from db.records import PaperRecord

TITLE_HIT = 3.0
ABSTRACT_HIT = 1.0
REPEAT_BONUS = 0.25  # per extra occurrence in the abstract, at most MAX_REPEATS of them
MAX_REPEATS = 3
WORDS_APART = 0.4  # every word of a several-word keyword present, but never as the phrase

Signal = Callable[[PaperRecord], float]
T = TypeVar("T")
_WORD = re.compile(r"[^\W_]+")


def _words_apart(keyword: str, text_words: set[str]) -> bool:
    words = [w.lower() for w in _WORD.findall(keyword)]
    return len(words) > 1 and all(w in text_words for w in words)


def keyword_score(paper: PaperRecord, keyword: str, *, abstract_words: set[str] | None = None) -> float:
    """One keyword's share of the topic score."""
    if find_spans(paper.title, (keyword,)):
        return TITLE_HIT + REPEAT_BONUS * min(len(find_spans(paper.abstract, (keyword,))), MAX_REPEATS)
    hits = len(find_spans(paper.abstract, (keyword,)))
    if hits:
        return ABSTRACT_HIT + REPEAT_BONUS * min(hits - 1, MAX_REPEATS)
    words = abstract_words if abstract_words is not None else set(_WORD.findall(paper.abstract.lower()))
    words |= set(_WORD.findall(paper.title.lower()))
    return WORDS_APART if _words_apart(keyword, words) else 0.0


def topic_score(paper: PaperRecord, keywords: Sequence[str]) -> float:
    """The sum of every keyword's share; 0 for a paper that mentions none of them."""
    abstract_words = set(_WORD.findall(paper.abstract.lower()))
    return sum(keyword_score(paper, k, abstract_words=abstract_words) for k in dict.fromkeys(keywords))


def topic_signal(keywords: Sequence[str]) -> Signal:
    return lambda paper: topic_score(paper, keywords)


def rank(items: Sequence[T], *, paper: Callable[[T], PaperRecord], signals: Sequence[Signal]) -> list[T]:
    """Items best first by the sum of the signals; ties newest first, then by arXiv id (highest first)."""

    def key(item: T) -> tuple[float, float, str]:
        record = paper(item)
        return (sum(signal(record) for signal in signals), record.published.timestamp(), record.arxiv_id)

    return sorted(items, key=key, reverse=True)
