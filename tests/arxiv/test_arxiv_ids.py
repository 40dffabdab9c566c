"""bot.arxiv_ids: every form of a paper id people and arXiv write, the bad ones refused, and the one
category rule (the same in Python and in the search's SQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot import search
from bot.arxiv_ids import ArxivId, category_matches, find_arxiv_id, parse_arxiv_id, parse_category
from bot.arxiv_source import BadEntry, build_query, split_arxiv_id
from bot.ingest import ingest_records
from bot.topics import Topic, topic_matches
from db.records import PaperRecord


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # new style: 4 digits from 0704 to 1412, 5 from 1501
        ("2503.14881", ArxivId("2503.14881")),
        ("0704.0001", ArxivId("0704.0001")),
        ("1412.9999v3", ArxivId("1412.9999", 3)),
        ("1501.00001", ArxivId("1501.00001")),
        ("2503.14881v2", ArxivId("2503.14881", 2)),
        ("  2503.14881  ", ArxivId("2503.14881")),
        # old style, the archive lower-cased, the subject class as arXiv writes it
        ("hep-th/9901001", ArxivId("hep-th/9901001")),
        ("HEP-TH/9901001v3", ArxivId("hep-th/9901001", 3)),
        ("math.GT/0309136", ArxivId("math.GT/0309136")),
        ("math.gt/0309136v1", ArxivId("math.GT/0309136", 1)),
        ("cond-mat.str-el/0301001", ArxivId("cond-mat.str-el/0301001")),
        ("q-bio/0401001", ArxivId("q-bio/0401001")),
        # prefixes
        ("arXiv:2503.14881", ArxivId("2503.14881")),
        ("ARXIV: 2503.14881v1", ArxivId("2503.14881", 1)),
        ("arXiv:hep-th/9901001", ArxivId("hep-th/9901001")),
        # URLs
        ("https://arxiv.org/abs/2503.14881", ArxivId("2503.14881")),
        ("http://arxiv.org/abs/2503.14881v2", ArxivId("2503.14881", 2)),
        ("arxiv.org/abs/2503.14881", ArxivId("2503.14881")),
        ("https://www.arxiv.org/abs/2503.14881", ArxivId("2503.14881")),
        ("https://export.arxiv.org/abs/2503.14881v1", ArxivId("2503.14881", 1)),
        ("https://arxiv.org/pdf/2503.14881", ArxivId("2503.14881")),
        ("https://arxiv.org/pdf/2503.14881v1.pdf", ArxivId("2503.14881", 1)),
        ("https://arxiv.org/pdf/2503.14881.pdf", ArxivId("2503.14881")),
        ("https://arxiv.org/html/2503.14881v2", ArxivId("2503.14881", 2)),
        ("https://arxiv.org/html/2503.14881v2/", ArxivId("2503.14881", 2)),
        ("https://arxiv.org/abs/2503.14881/", ArxivId("2503.14881")),
        ("https://arxiv.org/abs/2503.14881?context=cs", ArxivId("2503.14881")),
        ("https://arxiv.org/abs/2503.14881v1#S3", ArxivId("2503.14881", 1)),
        ("HTTPS://ARXIV.ORG/ABS/2503.14881", ArxivId("2503.14881")),
        ("https://arxiv.org/abs/hep-th/9901001v1", ArxivId("hep-th/9901001", 1)),
        ("http://arxiv.org/abs/math.GT/0309136v1", ArxivId("math.GT/0309136", 1)),
        ("arXiv:https://arxiv.org/abs/2503.14881", ArxivId("2503.14881")),
        # as Slack wraps links in command text
        ("<https://arxiv.org/abs/2503.14881v1|arxiv.org/abs/2503.14881v1>", ArxivId("2503.14881", 1)),
        ("<https://arxiv.org/pdf/2503.14881>", ArxivId("2503.14881")),
        ("<https://arxiv.org/abs/2503.14881|the KV paper>", ArxivId("2503.14881")),
        # typed on a full-width keyboard
        ("２５０３.１４８８１ｖ２", ArxivId("2503.14881", 2)),
    ],
)
def test_every_form_of_an_id_is_read(text, expected):
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "", "   ", "hello", "2503.148", "2503.1488", "2503.148812", "12503.14881", "2503.14881 and more",
        "0703.0001",  # before April 2007 there were no new-style ids
        "1412.00001", "1501.0001",  # 5 digits only from 2015, 4 only before
        "2513.14881", "2500.14881",  # no month 13 or 0
        "2503.14881v0", "2503.14881v", "2503.14881vv2", "2503.14881v2.1",
        "hep-th/990100", "hep-th/99010012", "hep-th/9913001", "/9901001", "hep_th/9901001", "9901001",
        "https://example.com/abs/2503.14881", "https://arxiv.org/list/2503.14881", "https://arxiv.org/abs/",
        "https://arxiv.org.evil.com/abs/2503.14881", "ftp://arxiv.org/abs/2503.14881",
        "<!channel>", "<https://arxiv.org/abs/2503.14881", "<@U123|2503.14881>", "arXiv:", "arxiv:kv cache",
        "2503.14881\n2503.15465", "٢٥٠٣.١٤٨٨١",
    ],
)
def test_anything_else_is_refused(text):
    assert parse_arxiv_id(text) is None


def test_an_id_is_found_among_other_words():
    assert find_arxiv_id("raed 2503.14881") == ArxivId("2503.14881")
    assert find_arxiv_id("raed https://arxiv.org/abs/2503.14881v2 please") == ArxivId("2503.14881", 2)
    assert find_arxiv_id("kv cache 2025") is None
    assert find_arxiv_id("x12503.148812") is None


def test_entry_ids_from_the_api_split_into_id_and_version():
    assert split_arxiv_id("http://arxiv.org/abs/2503.14881v2") == ("2503.14881", 2)
    assert split_arxiv_id("http://arxiv.org/abs/0704.0001") == ("0704.0001", 1)
    with pytest.raises(BadEntry):
        split_arxiv_id("garbage")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("cs", "cs"), ("CS", "cs"), ("cs.CL", "cs.CL"), ("cs.cl", "cs.CL"), ("hep-th", "hep-th"),
     ("cond-mat.str-el", "cond-mat.str-el"), ("q-bio.NC", "q-bio.NC"), ("astro-ph.co", "astro-ph.CO"),
     (" stat.ML ", "stat.ML"),
     ("", None), ("cs.", None), (".CL", None), ("-cs", None), ("cs..CL", None), ("cs.CL.x", None), ("cs CL", None),
     ("c5", None), ("'; DROP TABLE papers", None)],
)
def test_categories_are_parsed_once_for_search_topics_and_arxiv_queries(text, expected):
    assert parse_category(text) == expected


def test_arxiv_queries_keep_only_real_categories():
    query = build_query(keywords=["sparse"], categories=["cs.lg", "-cs", "cs.CL"], since=datetime(2025, 3, 20),
                        until=datetime(2025, 3, 21))
    assert "(cat:cs.LG OR cat:cs.CL)" in query


def _paper(arxiv_id: str, categories: tuple[str, ...]) -> PaperRecord:
    when = datetime(2025, 3, 1, tzinfo=UTC)
    return PaperRecord(arxiv_id=arxiv_id, version=1, title="Sparse attention", abstract="Sparse attention.",
                       authors=("A. Author",), primary_category=categories[0], categories=categories,
                       published=when, updated=when)


PAPERS = [
    _paper("2503.10001", ("cs.LG",)),
    _paper("2503.10002", ("cs.CL", "stat.ML")),
    _paper("2503.10003", ("math.GT",)),
    _paper("2503.10004", ("hep-th",)),
    _paper("2503.10005", ("cond-mat.str-el", "physics.comp-ph")),
]
WANTED = [("cs",), ("cs.LG",), ("cs.cl",), ("stat",), ("math.GT", "hep-th"), ("hep",), ("cond-mat",),
          ("cond-mat.str-el",), ("physics.comp-ph",), ("cs.L",), ("ml",)]


@pytest.mark.parametrize("wanted", WANTED, ids=["+".join(w) for w in WANTED])
def test_the_category_rule_is_the_same_for_topics_and_for_search_in_sql(store, wanted):
    ingest_records(store.session_factory, PAPERS)
    in_python = {p.arxiv_id for p in PAPERS if category_matches(p.categories, wanted)}
    assert in_python == {p.arxiv_id for p in PAPERS if topic_matches(p, Topic(keywords=("sparse",),
                                                                                   categories=wanted))}
    query = "sparse " + " ".join(f"cat:{c}" for c in wanted)
    page = search.run_search(store.session_factory, query=query, limit=10)
    assert {hit.paper.arxiv_id for hit in page.hits} == in_python
