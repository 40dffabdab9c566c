"""Relevance on the seed corpus: judged queries, the same bar on SQLite and PostgreSQL.

Each query lists the papers a reader would want (judged by reading the seed's titles and abstracts).
Precision at k is the share of the first k results that are judged relevant, with k = min(5, #relevant).
Run `pytest -q tests/search/test_relevance.py -s` to print the figures.
"""

from __future__ import annotations

import pytest

from bot.search import run_search
from tests.search import test_search

# The seed corpus on both engines (SQL, and the derived search index), with test_search.py's fixtures.
search_engine = test_search.search_engine
engine_settings = test_search.engine_settings
seeded = test_search.seeded

KV_CACHE = {"2503.14881", "2503.14647", "2503.13773", "2503.12491", "2503.11816", "2503.11132", "2503.11108"}
JUDGED: dict[str, set[str]] = {
    "kv cache": KV_CACHE,
    "KV-cache compression": {"2503.14881", "2503.11816", "2503.11132", "2503.11108"},
    "key-value cache eviction": {"2503.12491"},
    "pruning": {"2503.11164", "2503.11549", "2503.11187", "2503.11737", "2503.14075", "2503.13108"},
    "token pruning": {"2503.11549", "2503.11187", "2503.14075", "2503.13108"},
    "quantization": {"2503.15465", "2503.14259", "2503.13089", "2503.12988", "2503.13565"},
    "quantized": {"2503.15465", "2503.14259", "2503.13089", "2503.12988", "2503.13565"},
    "speculative decoding": {"2503.13565", "2503.14075"},
    "sparse autoencoders": {"2503.11127", "2503.11232", "2503.14530"},
    "mamba": {"2503.13440", "2503.11741"},
    "risc-v": {"2503.14708", "2503.13064"},
    "diffusion transformer quantization": {"2503.15465"},
    "graph": {"2503.13164", "2503.11737", "2503.11168", "2503.13681", "2503.11786"},
    # Speeding up (M)LLMs at inference time: the KV-cache work, token pruning in video/vision LLMs, drafts.
    "llm inference": {"2503.14882", "2503.14708", "2503.12988", "2503.12167", "2503.13108", "2503.11187",
                      "2503.13565", *KV_CACHE},
    "unlearning": {"2503.11127", "2503.14530"},
    "model predictive control": {"2503.15271"},
}


def precision_at_k(store, query: str, relevant: set[str]) -> float:
    k = min(5, len(relevant))
    page = run_search(store.session_factory, query=query, limit=k)
    found = [hit.paper.arxiv_id for hit in page.hits]
    return sum(arxiv_id in relevant for arxiv_id in found) / k


def test_judged_queries_rank_relevant_papers_first(seeded, database_url, search_engine):
    figures = {query: precision_at_k(seeded, query, relevant) for query, relevant in JUDGED.items()}
    mean = sum(figures.values()) / len(figures)
    print(f"\nprecision@k on {database_url.split(':', 1)[0]}, {search_engine}: mean {mean:.2f}")
    for query, value in figures.items():
        print(f"  {value:.2f}  {query}")
    assert mean >= 0.9
    assert all(value >= 0.6 for value in figures.values()), figures


@pytest.mark.parametrize("query", ["kv cache", "pruning", "quantization", "sparse autoencoders"])
def test_core_topics_are_perfect_in_the_top_results(seeded, query):
    assert precision_at_k(seeded, query, JUDGED[query]) == 1.0


def test_every_kv_cache_paper_is_in_the_top_nine(seeded):
    page = run_search(seeded.session_factory, query="kv cache", limit=9)
    assert {hit.paper.arxiv_id for hit in page.hits} >= KV_CACHE
