"""Topic keyword matching and highlighting: pure functions, no storage, no Slack.

A keyword matches case-insensitively, with its hyphen/space/no-space variants (`KV cache` = `KV-cache`
= `kvcache`), simple inflections of its last word (`quantize` -> quantized/quantizes/quantizing,
`pruning` -> prune/pruned, plurals), and whole-word boundaries, so `KV` does not light up inside
`KVQ`. The digest selects and bolds with these spans; search reuses `find_spans` to bold query terms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from db.records import PaperRecord

# Between the words of a keyword: spaces, hyphens (ASCII and Unicode dashes) or nothing at all.
_JOINER = r"[\s\-\u2010\u2011\u2012\u2013]*"
_SPLIT = re.compile(r"[\s\-\u2010\u2011\u2012\u2013]+")
# Inflections only make sense on real words; acronyms (`KV`, `LLM`) just take a plural.
_MIN_INFLECTABLE = 4


@dataclass(frozen=True)
class Topic:
    """What a channel's digest is about. Empty `categories` means any category."""

    keywords: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


def _last_word_pattern(word: str) -> str:
    """A regex for `word` and its simple inflections (lower-cased matching is done by the caller)."""
    lower = word.lower()
    if len(lower) < _MIN_INFLECTABLE or not lower.isalpha():
        return re.escape(word) + r"(?:s|es)?"
    if lower.endswith("ing") and len(lower) > 5:
        stem, endings = word[:-3], ("e", "es", "ed", "ing", "er", "ers", "s", "")
    elif lower.endswith("ed") and len(lower) > 4:
        stem, endings = word[:-2], ("e", "es", "ed", "ing", "er", "ers", "s", "")
    elif lower.endswith("e"):
        stem, endings = word[:-1], ("e", "es", "ed", "ing", "er", "ers", "s")
    elif lower.endswith("y") and lower[-2] not in "aeiou":
        stem, endings = word[:-1], ("y", "ies", "ied")
    elif lower.endswith(("s", "x", "ch", "sh", "z")):
        stem, endings = word, ("", "es")
    else:
        stem, endings = word, ("", "s", "es", "ed", "ing")
    alternatives = "|".join(re.escape(e) for e in sorted(endings, key=len, reverse=True))
    return re.escape(stem) + f"(?:{alternatives})"


def term_pattern(term: str) -> str | None:
    """The regex source for one keyword, or None for a blank one."""
    words = [w for w in _SPLIT.split(term.strip()) if w]
    if not words:
        return None
    pieces = [re.escape(w) for w in words[:-1]] + [_last_word_pattern(words[-1])]
    # Whole-word-ish: no letter or digit may touch either end of the match.
    return r"(?<![^\W_])" + _JOINER.join(pieces) + r"(?![^\W_])"


@lru_cache(maxsize=256)
def _compiled(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    patterns = [(len(t), p) for t in terms if (p := term_pattern(t))]
    if not patterns:
        return None
    # Longest keyword first, so `KV cache` wins over `KV` where both start at the same place.
    patterns.sort(key=lambda item: item[0], reverse=True)
    return re.compile("|".join(f"(?:{p})" for _, p in patterns), re.IGNORECASE)


def find_spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Non-overlapping, sorted [start, end) spans of every occurrence of any term in `text`."""
    if not text:
        return []
    pattern = _compiled(tuple(terms))
    if pattern is None:
        return []
    return [m.span() for m in pattern.finditer(text) if m.end() > m.start()]


def mentions(text: str, term: str) -> bool:
    return bool(find_spans(text, (term,)))


def matched_keywords(title: str, abstract: str, keywords: Sequence[str]) -> list[str]:
    """The keywords (as configured, in their order) that occur in the title or the abstract."""
    return [k for k in dict.fromkeys(keywords) if mentions(title, k) or mentions(abstract, k)]


def in_categories(paper_categories: Iterable[str], wanted: Sequence[str]) -> bool:
    """True when no categories are wanted, or the paper is in one (`cs` also accepts `cs.LG`)."""
    if not wanted:
        return True
    have = {c.lower() for c in paper_categories}
    for category in wanted:
        lower = category.lower()
        if lower in have or ("." not in lower and any(h.split(".")[0] == lower for h in have)):
            return True
    return False


def is_excluded(paper: PaperRecord, exclude: Sequence[str]) -> bool:
    return any(mentions(paper.title, term) or mentions(paper.abstract, term) for term in exclude)


def topic_matches(paper: PaperRecord, topic: Topic) -> tuple[str, ...]:
    """The topic's keywords the paper mentions, or () when it is off topic (excluded term, unwanted
    category, no keyword). One pass of the keyword patterns answers both "on topic?" and "what matched?"."""
    matched = tuple(matched_keywords(paper.title, paper.abstract, topic.keywords))
    if not matched or is_excluded(paper, topic.exclude) or not in_categories(paper.categories, topic.categories):
        return ()
    return matched


def is_on_topic(paper: PaperRecord, topic: Topic) -> bool:
    """A keyword in the title or abstract, no excluded term, and a wanted category (if any)."""
    return bool(topic_matches(paper, topic))
