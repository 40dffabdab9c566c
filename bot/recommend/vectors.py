"""A paper's term vector: the words of its title and abstract, hashed into a fixed index space, as bytes.

The representation was chosen by measurement (bench/recommend.py, BENCHMARKS.md): on the benchmark corpus
tf-idf over words ranks a reader's papers far better than wordllama's 256-d static embeddings, raw or
idf-weighted, whose average over every token of an abstract drowns the few that say what it is about.

What is stored is term frequency only (1 + log count; the title counts twice) of stemmed words (Snowball's
English stemmer: `pruning`, `prunes` and `pruned` are one word) and of pairs of neighbouring words. The idf
weighting is applied at request time from the candidate window itself (bot/recommend/ranking.py), so a vector
never goes stale as the archive grows and no document-frequency table has to be kept in step by concurrent
ingests. Words are split as search splits them (bot.search.words_of) and search's stop words dropped. Each
term goes to one of DIM buckets by CRC-32, a hash that is the same in every process (Python's `hash` is
salted); a pair's bucket mixes its two words' buckets.

Layout: sorted little-endian records of (uint32 bucket, float32 weight), 8 bytes per distinct term.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from bot.search import STOPWORDS, words_of
from bot.stemming import stem_word

MODEL = "tfidf-hash20-v1"  # change it when the words, the hashing or the layout change: the backfill redoes all
DIM = 1 << 20
RECORD = np.dtype([("term", "<u4"), ("weight", "<f4")])
TITLE_WEIGHT = 2


_PAIR_MULTIPLIER = 0x9E3779B1  # mixes a pair's first word into its bucket, so (a, b) and (b, a) differ
_NO_WORD = -1


_BUCKET_CACHE_SIZE = 500_000
_buckets: dict[str, int] = {}  # word -> bucket: a corpus repeats its words, and the stemmer is pure Python


def _word_bucket(word: str) -> int:
    """The bucket of a lower-case word's stem, or _NO_WORD for a stop word or a number."""
    if word in STOPWORDS or word.isdigit():
        bucket = _NO_WORD
    else:
        bucket = zlib.crc32(stem_word("english", word).encode("utf-8")) & (DIM - 1)
    if len(_buckets) >= _BUCKET_CACHE_SIZE:
        _buckets.clear()  # a crude bound; the words that matter come back at once
    _buckets[word] = bucket
    return bucket


def _terms(text: str, *, bigrams: bool) -> np.ndarray:
    """The buckets of the text's stemmed words and, with `bigrams`, of each pair of neighbouring ones
    (`token prune`, `kv cach`): a pair says more than its two words apart, and on the seed papers it is what
    keeps a token-pruning reader's list on token pruning. Stop words and numbers break pairs."""
    cached = _buckets
    # .get, not `in` then [...]: another thread may clear the cache in between.
    words = np.array([b if (b := cached.get(w)) is not None else _word_bucket(w) for w in words_of(text)],
                     dtype=np.int64)
    kept = words[words != _NO_WORD]
    if not bigrams or len(words) < 2:
        return kept
    left, right = words[:-1], words[1:]
    joined = (left != _NO_WORD) & (right != _NO_WORD)
    pairs = ((left[joined] * _PAIR_MULTIPLIER) ^ right[joined]) & (DIM - 1)
    return np.concatenate([kept, pairs])


def encode(title: str, abstract: str, *, bigrams: bool = True) -> bytes:
    """The stored vector of a paper; empty bytes for a paper without a single usable word."""
    title_terms, abstract_terms = _terms(title, bigrams=bigrams), _terms(abstract, bigrams=bigrams)
    terms = np.concatenate([title_terms, abstract_terms])
    counts = np.r_[np.full(len(title_terms), float(TITLE_WEIGHT)), np.ones(len(abstract_terms))]
    unique, inverse = np.unique(terms, return_inverse=True)
    records = np.empty(len(unique), dtype=RECORD)
    records["term"] = unique
    records["weight"] = 1.0 + np.log(np.bincount(inverse, weights=counts))
    return records.tobytes()


def query_vector(phrases: Sequence[str]) -> bytes:
    """A topic's keywords as a vector of the same kind, to measure how well a paper matches them."""
    return encode(" ".join(phrases), "")


def decode_many(blobs: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, terms, weights) of a CSR matrix with one row per blob, in order."""
    lengths = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=len(blobs)) // RECORD.itemsize
    indptr = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    records = np.frombuffer(b"".join(blobs), dtype=RECORD)
    return indptr, records["term"].astype(np.int64), records["weight"].astype(np.float32)
