"""The benchmark corpus: what bench/ writes is what the app's own feed reader reads back."""

from __future__ import annotations

from bench.corpus import generate_papers, seed_papers, write_atom_pages
from bot.arxiv_source import read_feed_file


def test_corpus_pages_parse_back_to_the_same_papers_with_every_seed_paper_planted(tmp_path):
    papers = list(generate_papers(300, seed=3))
    pages = write_atom_pages(papers, tmp_path, page_size=120)

    read_back = [item for page in pages for item in read_feed_file(page)]

    assert [p.name for p in pages] == ["page-00000.xml", "page-00001.xml", "page-00002.xml"]
    assert read_back == papers
    assert len({p.arxiv_id for p in papers}) == 300
    assert {p.arxiv_id for p in seed_papers()} <= {p.arxiv_id for p in papers}


def test_same_seed_gives_the_same_corpus_and_another_seed_a_different_one():
    assert list(generate_papers(120, seed=5)) == list(generate_papers(120, seed=5))
    assert list(generate_papers(120, seed=5)) != list(generate_papers(120, seed=6))
