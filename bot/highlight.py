"""Which parts of a text a search matched, for bolding: the query's words and phrases as typed (with the hyphen and
spacing variants of bot.topics), and every form the full-text index matched by stemming (`quantized` finds
"quantization": both stem to `quantiz`).

The index stems with Porter (SQLite FTS5's `porter`) or Snowball English (PostgreSQL's `english`); snowballstemmer's
Porter gives the same stems as FTS5 and almost always the same as PostgreSQL, so what is bold is what was matched.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from bot.stemming import stem_word
from bot.topics import find_spans

_WORD = re.compile(r"[^\W_]+")


@lru_cache(maxsize=4096)
def stem(word: str) -> str:
    """The word's Porter stem, accents folded first: the indexes fold them (SQLite's unicode61, the search index's
    ascii_fold), so `naïve` matched "naive" and both must be bold."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))
    return stem_word("porter", folded)


def stemmed_spans(text: str, phrases: Sequence[Sequence[str]]) -> list[tuple[int, int]]:
    """Spans of `text` whose words stem like one of the phrases' words, in order and adjacent."""
    wanted = [tuple(stem(w) for w in phrase) for phrase in phrases if phrase]
    if not wanted or not text:
        return []
    words = [(m.start(), m.end(), stem(m.group())) for m in _WORD.finditer(text)]
    stems = [w[2] for w in words]
    spans = []
    for phrase in wanted:
        size = len(phrase)
        for i in range(len(words) - size + 1):
            if tuple(stems[i : i + size]) == phrase:
                spans.append((words[i][0], words[i + size - 1][1]))
    return spans


def merge_spans(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, with overlapping or touching spans joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def match_spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Every place a search for `terms` (words or phrases) matched in `text`: as typed, or by stem."""
    phrases = [tuple(_WORD.findall(term)) for term in terms]
    return merge_spans([*find_spans(text, terms), *stemmed_spans(text, phrases)])
