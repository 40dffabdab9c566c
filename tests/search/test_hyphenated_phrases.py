"""A quoted phrase that runs into a hyphenated word finds the paper on both databases, written either way: queries
are read as words (`kv-cache` is `kv cache`), and PostgreSQL's index must read the paper the same way (its parser
put the compound `kv-cach` before the parts and moved every later word one position on; migration 0013)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.ingest import ingest_records
from bot.search import run_search
from db.records import PaperRecord

DAY = datetime(2025, 3, 20, tzinfo=UTC)
PAPERS = [
    PaperRecord(arxiv_id="2503.90001", version=1, title="SMILE a Scale-aware Multiple Instance Learning Method",
                abstract="We study efficient KV-cache compression for long-context inference.",
                authors=("Jean-Pierre Dupont",), primary_category="cs.LG", categories=("cs.LG",),
                published=DAY, updated=DAY),
    PaperRecord(arxiv_id="2503.90002", version=1, title="Efficient KV cache compression without hyphens",
                abstract="A scale aware method, spelled with spaces.", authors=("Ann Lee",),
                primary_category="cs.LG", categories=("cs.LG",), published=DAY, updated=DAY),
]


@pytest.fixture
def sql_store(sql_store_of):
    return sql_store_of(lambda factory: ingest_records(factory, PAPERS))


@pytest.mark.parametrize(("query", "found"), [
    ('"SMILE a Scale-aware Multiple Instance"', {"2503.90001"}),
    ('"a scale aware"', {"2503.90001", "2503.90002"}),
    ('"efficient kv-cache compression"', {"2503.90001", "2503.90002"}),
    ('"study efficient kv cache compression for long context inference"', {"2503.90001"}),
    ('author:"jean pierre dupont"', {"2503.90001"}),
])
def test_a_phrase_across_a_hyphenated_word_finds_the_paper(sql_store, query, found):
    page = run_search(sql_store.session_factory, query=query, limit=10)
    assert {hit.paper.arxiv_id for hit in page.hits} == found
