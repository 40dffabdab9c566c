"""The digest leads with its best papers: title hits over abstract hits, distinct keywords over repeats, exact
phrases over words apart, ties newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.ranking import rank, topic_score, topic_signal
from db.records import PaperRecord

BASE = datetime(2025, 3, 20, tzinfo=UTC)


def paper(arxiv_id: str, title: str, abstract: str, *, hours: int = 0) -> PaperRecord:
    when = BASE + timedelta(hours=hours)
    return PaperRecord(arxiv_id=arxiv_id, version=1, title=title, abstract=abstract, authors=("A",),
                       primary_category="cs.LG", categories=("cs.LG",), published=when, updated=when)


KEYWORDS = ("KV cache", "pruning", "quantization")


def test_a_keyword_in_the_title_outranks_the_same_keyword_in_the_abstract():
    titled = paper("1", "KV cache eviction", "We evict entries.")
    abstract_only = paper("2", "Efficient serving", "We evict KV cache entries.")
    assert topic_score(titled, KEYWORDS) > topic_score(abstract_only, KEYWORDS)


def test_two_distinct_keywords_outrank_one_keyword_repeated():
    distinct = paper("1", "A method", "We combine pruning with quantization.")
    repeated = paper("2", "A method", "Pruning, pruning, pruning and more pruning.")
    assert topic_score(distinct, KEYWORDS) > topic_score(repeated, KEYWORDS)


def test_an_exact_phrase_outranks_its_words_apart():
    phrase = paper("1", "A method", "We compress the KV-cache.")
    apart = paper("2", "A method", "The cache stores each KV pair.")
    assert topic_score(phrase, KEYWORDS) > topic_score(apart, KEYWORDS) > 0


def test_rank_puts_ties_newest_first_and_accepts_more_signals():
    older = paper("1", "Pruning", "x", hours=0)
    newer = paper("2", "Pruning", "x", hours=5)
    other = paper("3", "Unrelated", "nothing", hours=9)
    ranked = rank([older, other, newer], paper=lambda p: p, signals=[topic_signal(KEYWORDS)])
    assert [p.arxiv_id for p in ranked] == ["2", "1", "3"]
    boosted = rank([older, other, newer], paper=lambda p: p,
                   signals=[topic_signal(KEYWORDS), lambda p: 10.0 if p.arxiv_id == "3" else 0.0])
    assert boosted[0].arxiv_id == "3"
