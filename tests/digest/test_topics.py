"""Keyword matching as a reader sees it: what lights up in a title or abstract, and what does not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.topics import Topic, find_spans, matched_keywords, topic_matches
from db.records import PaperRecord


def lit(text: str, terms) -> list[str]:
    return [text[s:e] for s, e in find_spans(text, terms)]


@pytest.mark.parametrize("variant", ["KV cache", "KV-cache", "kv-cache", "kv cache", "KVcache", "KV\ncache"])
def test_kv_cache_matches_its_hyphen_space_and_joined_spellings(variant):
    assert lit(f"we compress the {variant} here", ["KV cache"]) == [variant]


@pytest.mark.parametrize("variant", ["low-bit", "low bit", "Low-Bit", "lowbit"])
def test_low_bit_matches_with_or_without_hyphen(variant):
    assert lit(f"a {variant} scheme", ["low-bit"]) == [variant]


@pytest.mark.parametrize("word", ["quantize", "quantized", "quantizes", "quantizing", "Quantized"])
def test_quantize_matches_its_inflections(word):
    assert lit(f"weights are {word} to 4 bits", ["quantize"]) == [word]


@pytest.mark.parametrize("word", ["prune", "pruned", "pruning", "Pruning", "prunes"])
def test_pruning_matches_prune_and_pruned(word):
    assert lit(f"we {word} heads", ["pruning"]) == [word]


def test_plurals_match():
    assert lit("sparsities and accelerations of KVs", ["sparsity", "acceleration", "KV"]) == [
        "sparsities", "accelerations", "KVs",
    ]


def test_short_keyword_does_not_light_up_inside_a_longer_word():
    assert lit("KVQ and MKV and sparseness are different words", ["KV", "sparse"]) == []


def test_hyphenated_compounds_still_match_their_parts():
    assert lit("sparse-view and ultra-low-bit and GPU-acceleration", ["sparse", "low-bit", "acceleration"]) == [
        "sparse", "low-bit", "acceleration",
    ]


def test_longer_keyword_wins_over_its_prefix():
    assert lit("the KV cache is large", ["KV", "KV cache"]) == ["KV cache"]


def test_regex_characters_in_keywords_are_literal():
    assert lit("c++ and c.. and (a|b)", ["c++", "(a|b)"]) == ["c++", "(a|b)"]
    assert find_spans("anything", [".*"]) == []


def test_blank_keywords_match_nothing():
    assert find_spans("some text", ["", "  ", "-"]) == []
    assert find_spans("", ["sparse"]) == []


@given(st.text(max_size=300), st.lists(st.text(max_size=12), max_size=6))
def test_spans_are_sorted_in_range_and_never_overlap(text, terms):
    spans = find_spans(text, terms)
    previous_end = 0
    for start, end in spans:
        assert 0 <= previous_end <= start < end <= len(text)
        previous_end = end


@given(st.sampled_from(["sparse", "KV cache", "pruning", "low-bit", "quantize"]), st.text(
    alphabet=st.characters(blacklist_categories=("L", "N")), max_size=20))
def test_a_keyword_surrounded_by_punctuation_is_always_found(keyword, padding):
    text = padding + keyword.upper() + padding
    assert lit(text, [keyword]) == [keyword.upper()]


def paper(title="A title", abstract="An abstract.", categories=("cs.LG",)) -> PaperRecord:
    when = datetime(2025, 3, 19, tzinfo=UTC)
    return PaperRecord(
        arxiv_id="2503.00001", version=1, title=title, abstract=abstract, authors=("A",),
        primary_category=categories[0], categories=categories, published=when, updated=when,
    )


def test_matched_keywords_keep_the_configured_order_and_read_title_and_abstract():
    abstract = "We apply Pruning and KV-cache reuse."
    found = matched_keywords("Sparse attention", abstract, ["KV cache", "pruning", "sparse"])
    assert found == ["KV cache", "pruning", "sparse"]


def test_on_topic_needs_a_keyword():
    topic = Topic(keywords=("sparse",))
    assert topic_matches(paper(title="Sparse models"), topic)
    assert not topic_matches(paper(title="Dense models"), topic)


def test_an_excluded_term_removes_a_paper():
    topic = Topic(keywords=("sparse",), exclude=("survey",))
    assert not topic_matches(paper(title="A survey of sparse models"), topic)
    assert topic_matches(paper(title="Sparse models"), topic)


def test_categories_filter_when_set():
    topic = Topic(keywords=("sparse",), categories=("cs.CL", "stat"))
    assert not topic_matches(paper(title="Sparse", categories=("cs.LG",)), topic)
    assert topic_matches(paper(title="Sparse", categories=("cs.LG", "cs.CL")), topic)
    assert topic_matches(paper(title="Sparse", categories=("stat.ML",)), topic)


@given(st.text(alphabet=st.sampled_from(list("kvKVcachesprunigqtzd -_\u2010İ\u212aé0")), max_size=60))
def test_fast_lower_case_scan_finds_exactly_what_the_case_folding_pattern_finds(text):
    from bot.topics import _compiled

    terms = ("KV cache", "KV", "pruning", "quantize", "sparse")
    folding = _compiled(terms)[1]
    assert find_spans(text, terms) == [m.span() for m in folding.finditer(text) if m.end() > m.start()]
