"""Search: the query parser (pure, fuzzed) and ranked search on the seed corpus, on the test database."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import search_index
from bot.config import Settings
from bot.ingest import ingest_feed_file
from bot.render_blocks.search import search_snippet
from bot.search import (
    MAX_QUERY_CHARS,
    BadQuery,
    ParsedQuery,
    find_paper,
    parse_query,
    run_search,
    search_papers,
)
from db import papers as paper_store
from db import reads as read_store
from db.records import PaperRecord
from tests.conftest import SEED_FEED

KV_CACHE_PAPERS = {
    "2503.14881", "2503.14647", "2503.13773", "2503.12491", "2503.11816", "2503.11132", "2503.11108",
}
PRUNING_TITLES = {"2503.11164", "2503.11549", "2503.11187", "2503.11737"}
QUANTIZATION_PAPERS = {"2503.15465", "2503.14259", "2503.13089", "2503.12988", "2503.13565"}


@pytest.fixture(params=["sql", "index"])
def search_engine(request) -> str:
    return request.param


@pytest.fixture(name="settings")  # the conftest's `settings`, per engine (hypothesis' settings keeps its name)
def engine_settings(env, search_engine, tmp_path) -> Settings:
    """The database tests below run on both engines: SQL, and the derived search index."""
    return replace(Settings.from_env(env), search_engine=search_engine,
                   search_index_dir=str(tmp_path / "search-index"))


@pytest.fixture
def seeded(store, search_engine):
    ingest_feed_file(store.session_factory, SEED_FEED)
    index = search_index.index_for(store.engine)
    assert (index is not None) == (search_engine == "index")
    if index is not None:
        assert index.wait_until_current()
    yield store
    if index is not None:
        assert index.declined == 0, "SQL answered a search the index should have"
        index.close()


def ids(page) -> list[str]:
    return [hit.paper.arxiv_id for hit in page.hits]


def search(store, query: str, *, limit: int = 100, **kwargs):
    return run_search(store.session_factory, query=query, limit=limit, **kwargs)


# -- parser ------------------------------------------------------------------------------------------


def test_spelling_variants_of_kv_cache_parse_to_the_same_query():
    # Written apart, the words may stand anywhere; hyphenated, they are one term (`kv-cache`, `key-value-cache`).
    apart = ["KV cache", "key value cache", "Key Value Cache", "kv_cache", "kvcache"]
    assert len({parse_query(v).clauses for v in apart}) == 1
    assert parse_query("kv cache").clauses[0] == (("kv",), ("key", "value"))
    assert parse_query("kv-cache").clauses == parse_query("key-value-cache").clauses == (
        (("kv", "cache"), ("key", "value", "cache"), ("kvcache",), ("keyvaluecache",)),)


def test_every_spelling_of_kv_cache_finds_the_same_seed_papers(seeded):
    found = {v: set(ids(search(seeded, v))) for v in ["kv-cache", "KV cache", "key-value cache", "kvcache"]}
    assert len(set(map(frozenset, found.values()))) == 1, found


def test_a_hyphenated_term_is_a_phrase_never_its_words_far_apart(seeded):
    with seeded.session_factory.begin() as session:
        ingest_records_now(session, [
            ("2503.99001", "Low-bit inference for LLMs", "We run low-bit kernels."),
            ("2503.99002", "Low bit widths", "Weights at a low bit width."),
            ("2503.99003", "Density estimation", "A low-density prior over bit-level codes of the model."),
        ])
    if (index := search_index.index_for(seeded.engine)) is not None:
        assert index.wait_until_current()  # the index follows the store: search once it has the new papers
    found = ids(search(seeded, "low-bit"))
    assert "2503.99001" in found and "2503.99002" in found
    assert "2503.99003" not in found
    assert "2503.99003" in ids(search(seeded, "low bit"))  # written apart, the words may stand anywhere


def ingest_records_now(session, rows) -> None:
    when = datetime(2025, 3, 20, tzinfo=UTC)
    papers = [PaperRecord(arxiv_id=i, version=1, title=t, abstract=a, authors=("A",), primary_category="cs.LG",
                          categories=("cs.LG",), published=when, updated=when) for i, t, a in rows]
    paper_store.upsert_papers(session, papers, seen_at=when)


def test_filters_are_recognised():
    parsed = parse_query('author:"Song Han" cat:cs.CL since:2025-03-01 "exact phrase" -survey unread pruning')
    assert parsed.authors == (("song", "han"),)
    assert parsed.categories == ("cs.CL",)
    assert parsed.since == date(2025, 3, 1)
    assert parsed.excluded == (("survey",),)
    assert parsed.unread is True
    assert (("exact", "phrase"),) in parsed.clauses
    assert (("pruning",),) in parsed.clauses


def test_category_archive_alone_is_accepted_and_lower_cased():
    assert parse_query("cat:CS").categories == ("cs",)
    assert parse_query("cat:cs.LG").categories == ("cs.LG",)


def test_smart_quotes_from_slack_make_a_phrase():
    assert parse_query("\u201ckv cache\u201d").clauses == ((("kv", "cache"),),)


def test_unclosed_quote_is_a_phrase_to_the_end():
    assert parse_query('"kv cache').clauses == ((("kv", "cache"),),)


def test_stopwords_are_dropped_but_a_query_of_only_stopwords_is_refused():
    assert parse_query("pruning of the network").clauses == ((("pruning",),), (("network",),))
    with pytest.raises(BadQuery, match="too common"):
        parse_query("the and of")


def test_british_spelling_also_finds_american():
    assert parse_query("quantisation").clauses == ((("quantisation",), ("quantization",)),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x" * (MAX_QUERY_CHARS + 1), "under 500"),
        ("kv\x00cache", "control characters"),
        ("kv\x1b[31mcache", "control characters"),
        ("!!! ??? ...", "no words"),
        ("", "Type some words"),
        ("   ", "Type some words"),
        ("<!channel> pruning", "Mentions"),
        ("<@U123ABC> pruning", "Mentions"),
        ("@here pruning", "Mentions"),
        ("-survey", "not only what to leave out"),
        ("since:yesterday", "since:"),
        ("since:2025-13-45", "since:"),
        ("cat:'; DROP TABLE papers", "cat:"),
        ("author:!!!", "author:"),
        ("title:foo", "Unknown filter"),
        ("-author:bob pruning", "isn't supported"),
        (" ".join(f"w{i}" for i in range(30)), "too many"),
    ],
)
def test_bad_queries_get_a_short_message(text, message):
    with pytest.raises(BadQuery, match=message) as raised:
        parse_query(text)
    assert len(str(raised.value)) < 200


@given(st.text(max_size=600))
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_any_text_parses_or_is_a_bad_query(text):
    try:
        parsed = parse_query(text)
    except BadQuery as err:
        assert str(err)
        return
    assert isinstance(parsed, ParsedQuery)
    assert len(parsed.text) <= MAX_QUERY_CHARS
    for clause in parsed.clauses:
        for phrase in clause:
            assert phrase and all(word.isalnum() for word in phrase)


@given(st.lists(st.sampled_from(['"', "-", ":", "(", ")", "*", "AND", "OR", "NOT", "NEAR", "author:", "cat:",
                                 "since:", "unread", "kv", "cache", "^", "'", "c++", "x:y", "{", "}", " ", "\u201c"]),
                max_size=20))
@settings(max_examples=300)
def test_fts_syntax_soup_parses_or_is_a_bad_query(pieces):
    with contextlib.suppress(BadQuery):
        parse_query(" ".join(pieces))


# -- database ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["kv-cache", "KV cache", "key-value cache", "kv caching", "kvcache", '"kv cache"'])
def test_kv_cache_spelling_variants_find_the_kv_cache_papers(seeded, variant):
    found = ids(search(seeded, variant))
    assert set(found) >= KV_CACHE_PAPERS
    assert set(found[: len(KV_CACHE_PAPERS)]) <= KV_CACHE_PAPERS | {"2503.12450", "2503.12988"}


def test_prune_finds_pruning_papers(seeded):
    found = ids(search(seeded, "prune"))
    assert set(found[:5]) >= PRUNING_TITLES


def test_quantized_finds_quantization_papers(seeded):
    found = ids(search(seeded, "quantized"))
    assert set(found[:6]) >= QUANTIZATION_PAPERS


def test_title_matches_rank_above_abstract_only_matches(seeded):
    found = ids(search(seeded, "pruning"))
    assert set(found[:4]) == PRUNING_TITLES


def test_total_counts_every_match_while_a_page_holds_limit(seeded):
    first = search(seeded, "kv cache", limit=5)
    second = search(seeded, "kv cache", limit=5, offset=5)
    assert first.total == second.total == 9
    assert len(first.hits) == 5 and len(second.hits) == 4
    assert not set(ids(first)) & set(ids(second))
    assert first.next_offset == 5 and second.next_offset is None


def test_exact_phrase_needs_the_words_together(seeded):
    apart = set(ids(search(seeded, "cache compression"))) - set(ids(search(seeded, '"cache compression"')))
    assert apart == {"2503.11426"}  # "Text Compression ...", whose abstract mentions a cache elsewhere
    assert "2503.11549" in ids(search(seeded, '"token pruning"'))


def test_excluded_word_removes_papers(seeded):
    found = ids(search(seeded, "kv cache -compression"))
    assert found and "2503.14881" not in found and "2503.12491" in found


def test_author_filter_matches_author_names_only_newest_first(seeded):
    page = search(seeded, "author:Wang")
    assert page.total > 0
    for hit in page.hits:
        assert any("wang" in a.lower() for a in hit.paper.authors)
    dates = [hit.paper.published for hit in page.hits]
    assert dates == sorted(dates, reverse=True)


def test_author_filter_with_a_full_name(seeded):
    with seeded.session_factory.begin() as session:
        paper = search_papers(session, query="kv cache", limit=1).hits[0].paper
    name = paper.authors[0]
    found = ids(search(seeded, f'author:"{name}" kv cache'))
    assert paper.arxiv_id in found


def test_since_filter_drops_older_papers(seeded):
    page = search(seeded, "kv cache since:2025-03-17")
    assert page.total > 0
    assert all(hit.paper.published >= datetime(2025, 3, 17, tzinfo=UTC) for hit in page.hits)
    assert page.total < search(seeded, "kv cache").total


def test_category_filter(seeded):
    assert search(seeded, "kv cache cat:cs.LG").total == 9
    assert search(seeded, "kv cache cat:cs").total == 9
    assert search(seeded, "kv cache cat:cs.CL").total == 0
    assert search(seeded, "kv cache cat:math").total == 0


def test_filters_alone_list_newest_first(seeded):
    page = search(seeded, "since:2025-03-19")
    dates = [hit.paper.published for hit in page.hits]
    assert page.total == len(dates) > 0
    assert dates == sorted(dates, reverse=True)


def test_unread_hides_the_papers_the_user_read(seeded):
    with seeded.session_factory.begin() as session:
        read_store.upsert_read(session, team_id="T1", user_id="U1", arxiv_id="2503.11816", source="button",
                               read_at=datetime.now(UTC))
    marked = search(seeded, "kv cache", team_id="T1", user_id="U1")
    assert [hit.read for hit in marked.hits if hit.paper.arxiv_id == "2503.11816"] == [True]
    assert sum(hit.read for hit in marked.hits) == 1
    unread = ids(search(seeded, "kv cache unread", team_id="T1", user_id="U1"))
    assert "2503.11816" not in unread and len(unread) == 8
    # Another user's reads are theirs alone.
    assert "2503.11816" in ids(search(seeded, "kv cache unread", team_id="T1", user_id="U2"))


def test_a_word_under_three_letters_matches_only_itself_while_longer_ones_find_their_plurals(seeded):
    # SQLite's porter stemmer leaves tokens under 3 letters alone: `c` is not `cs`, but `ai` finds "AIs" (stemmed).
    with seeded.session_factory.begin() as session:
        ingest_records_now(session, [
            ("2503.99011", "Teaching CS undergraduates with okapis", "Okapi CS courses."),
            ("2503.99012", "Okapi kernels written in C", "Fast okapi code in plain C."),
            ("2503.99013", "Okapi AIs as agents", "Several okapi AIs cooperate."),
        ])
    if (index := search_index.index_for(seeded.engine)) is not None:
        assert index.wait_until_current()
    assert ids(search(seeded, "okapi c++")) == ["2503.99012"]
    assert ids(search(seeded, "okapi cs")) == ["2503.99011"]
    assert ids(search(seeded, "okapi ai")) == ["2503.99013"]


def test_accented_and_plain_spellings_find_and_bold_each_other(seeded):
    # The indexes fold accents (SQLite's unicode61, the index's ascii_fold): what they match must be bold too.
    with seeded.session_factory.begin() as session:
        ingest_records_now(session, [("2503.99021", "A naïve okapi baseline", "Naive okapi methods still win.")])
    if (index := search_index.index_for(seeded.engine)) is not None:
        assert index.wait_until_current()
    for typed in ("naïve okapi", "naive okapi"):
        page = search(seeded, typed)
        assert ids(page) == ["2503.99021"], typed
        assert search_snippet(page.hits[0].paper, page.query.highlight_terms).startswith("*Naive* *okapi*"), typed


def test_no_match_is_an_empty_page_not_an_error(seeded):
    page = search(seeded, "zebrafish hematopoiesis")
    assert page.total == 0 and page.hits == ()


HOSTILE_QUERIES = [
    "kv-cache", "AND", "OR", "NOT", "(", ")", '"', '""', "c++", "x:y", "foo:bar", "*", "kv*", "^kv", "NEAR(kv cache)",
    "kv AND cache", "kv OR", "NOT kv", "kv NOT", "{title}: kv", "title : kv", "'; DROP TABLE papers; --",
    "1' OR '1'='1", "papers_fts MATCH 'x'", "\\", "%", "_", "%_%", "kv%", "' || pg_sleep(5) --",
    "<script>alert(1)</script>", "<!channel>", "<!here|here>", "<@U0ALICE>", "&amp; &lt;", "-kv -cache",
    "-", "--", "author:", "cat:", "since:", "since:2025-02-30", "cat:..", "author:\"", "unread unread",
    "\u202ekv cache", "kv\u200bcache", "🔥 kv cache 🔥", "量子 计算", "kv " * 30, "a" * 501, "x" * 500,
    "$\\alpha$-pruning", "SELECT * FROM reads", "kv:cache:compression", "-\"kv cache\"", "cat:cs.CL OR 1=1",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_queries_get_results_or_a_message_never_an_exception(seeded, query):
    try:
        page = search(seeded, query, limit=5, team_id="T1", user_id="U1")
    except BadQuery as err:
        assert 0 < len(str(err)) < 200
    else:
        assert page.total >= len(page.hits)


def test_hostile_queries_leave_the_papers_table_alone(seeded):
    for query in HOSTILE_QUERIES:
        with contextlib.suppress(BadQuery):
            search(seeded, query, limit=1)
    assert search(seeded, "kv cache").total == 9


def test_find_paper_for_sharing(seeded):
    assert find_paper(seeded.session_factory, arxiv_id="2503.14881").title.startswith("Exploring the Limits")
    assert find_paper(seeded.session_factory, arxiv_id="2599.99999") is None


def test_full_width_and_compatibility_characters_search_as_their_plain_forms(seeded):
    assert parse_query("ｋｖ ｃａｃｈｅ").clauses == parse_query("kv cache").clauses
    assert search(seeded, "ｋｖ ｃａｃｈｅ").total == search(seeded, "kv cache").total == 9
    assert search(seeded, "ＫＶ－ｃａｃｈｅ ｃａｔ：ｃｓ.ＬＧ").total == 9  # full-width hyphen and colon too
    assert parse_query("ﬁne-tuning").clauses == parse_query("fine-tuning").clauses  # the ﬁ ligature
