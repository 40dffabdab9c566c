"""Vectors and highlights computed by several threads at once are the ones one thread computes: a digest fetch and
a backfill store vectors in one process, and Slack listeners highlight results side by side."""

from __future__ import annotations

import threading

from bot import highlight
from bot.recommend import vectors
from tests.conftest import SEED_FEED

# Real abstracts: long words that reach the stemmer's later steps (where a shared stemmer broke).
WORDS = sorted(set(SEED_FEED.read_text(encoding="utf-8").lower().split()))


def in_threads(work, count: int = 3, rounds: int = 2):
    results, failures = [], []

    def run():
        try:
            for _ in range(rounds):
                results.append(work())
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    return results


def test_vectors_computed_in_threads_at_once_equal_one_threads(monkeypatch):
    text = " ".join(WORDS)

    def encode_fresh():
        vectors._buckets.clear()  # make every word go through the stemmer, not the cache
        return vectors.encode("Token pruning", text)

    expected = encode_fresh()
    assert all(result == expected for result in in_threads(encode_fresh))


def test_highlight_stems_computed_in_threads_at_once_equal_one_threads():
    def stems():
        highlight.stem.cache_clear()
        return [highlight.stem(word) for word in WORDS]

    expected = stems()
    assert all(result == expected for result in in_threads(stems))
