"""`papers-bot search`: the same search from the command line, readable or JSON."""

from __future__ import annotations

import json

from bot.cli import main
from bot.ingest import ingest_feed_file
from tests.conftest import SEED_FEED


def test_search_json_lists_version_less_ids_best_first(store, capsys):
    ingest_feed_file(store.session_factory, SEED_FEED)
    assert main(["search", "--json", "--limit", "3", "kv-cache"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert len(results) == 3
    assert {"arxiv_id", "title", "published", "score"} <= set(results[0])
    assert all("v" not in r["arxiv_id"] for r in results)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert all("KV Cache" in r["title"] for r in results)


def test_search_prints_a_readable_list(store, capsys):
    ingest_feed_file(store.session_factory, SEED_FEED)
    assert main(["search", "prune"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("11 papers match")
    assert "Towards Extreme Pruning of LLMs" in out


def test_bad_query_is_one_line_on_stderr(store, capsys):
    assert main(["search", "title:x"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().startswith("papers-bot search: Unknown filter `title:`.")
    assert len(captured.err.strip().splitlines()) == 1


def test_no_match_says_so(store, capsys):
    assert main(["search", "zebrafish"]) == 0
    assert "no papers match" in capsys.readouterr().out
