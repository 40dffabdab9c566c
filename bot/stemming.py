"""Snowball stemmers, one per thread.

A snowballstemmer stemmer keeps the word it is working on in its own fields, so one instance shared by threads
mixes their words: two Slack listeners highlighting at once, or a backfill and a digest fetch storing vectors in one
process, got wrong stems or an IndexError out of the stemmer. Each thread gets its own instance of each algorithm.
"""

from __future__ import annotations

import threading

import snowballstemmer

_local = threading.local()


def stem_word(algorithm: str, word: str) -> str:
    """The word's stem by `algorithm` ("english", "porter"), with this thread's own stemmer."""
    stemmers = _local.__dict__.setdefault("stemmers", {})
    stemmer = stemmers.get(algorithm)
    if stemmer is None:
        stemmer = stemmers[algorithm] = snowballstemmer.stemmer(algorithm)
    return stemmer.stemWord(word)
