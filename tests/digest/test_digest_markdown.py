"""`papers-bot digest --dry-run`: the seed's Markdown format, fixed where the seed was wrong."""

from __future__ import annotations

import re

import pytest

from bot.cli import main
from tests.conftest import FIXTURES, SEED_FEED

SEED = (FIXTURES / "digest-2025-03-21.md").read_text()
# The seed's own keywords, which it matched case-sensitively as substrings of abstracts.
SEED_KEYWORDS = ("sparse", "sparsity", "KV", "pruning", "acceleration", "quantization", "quantize", "low-bit")
SEED_ON_TOPIC = 65
BOLD = re.compile(r"\*\*(.+?)\*\*", re.S)


def parse(markdown: str) -> list[dict]:
    """Each paper of a seed-format digest: its fields, plain abstract and bold [start, end) spans."""
    papers = []
    for block in markdown.split("\n\n\n## ")[1:]:
        title, authors, day, url, abstract = block.rstrip("\n").split("\n\n", 4)
        plain, spans, position = [], [], 0
        for match in BOLD.finditer(abstract):
            plain.append(abstract[position : match.start()])
            start = sum(map(len, plain))
            plain.append(match[1])
            spans.append((start, start + len(match[1])))
            position = match.end()
        plain.append(abstract[position:])
        papers.append({"title": title, "authors": authors, "date": day, "url": url,
                       "abstract": "".join(plain), "bold": spans})
    return papers


def run_dry(capsys, monkeypatch, *extra: str, keywords=SEED_KEYWORDS) -> str:
    monkeypatch.setenv("DIGEST_KEYWORDS", ",".join(keywords))
    code = main(["digest", "--dry-run", "--date", "2025-03-21", "--from-file", str(SEED_FEED), *extra])
    out = capsys.readouterr().out
    assert code == 0
    return out


@pytest.fixture
def seed_papers():
    papers = parse(SEED)
    assert len(papers) == 87
    return papers


def test_the_seed_layout_is_reproduced_for_the_seeds_papers_with_the_seeds_keywords(env, capsys, monkeypatch,
                                                                                      seed_papers):
    ours = parse(run_dry(capsys, monkeypatch))
    # 61 contain a keyword as the seed spelled it, 4 more only capitalised ("Sparse", "Pruning").
    expected = [p for p in seed_papers if any(k.lower() in p["abstract"].lower() for k in SEED_KEYWORDS)]
    assert len(expected) == SEED_ON_TOPIC
    by_url = {p["url"]: p for p in ours}
    missing = [p["title"] for p in expected if p["url"] not in by_url]
    assert missing == []
    # Same relative order as the seed (newest first).
    positions = [list(by_url).index(p["url"]) for p in expected]
    assert positions == sorted(positions)
    for seed_paper in expected:
        mine = by_url[seed_paper["url"]]
        for name in ("title", "authors", "date", "url", "abstract"):
            assert mine[name] == seed_paper[name], (seed_paper["title"], name)


def test_every_word_the_seed_bolded_is_bold_in_ours(env, capsys, monkeypatch, seed_papers):
    ours = {p["url"]: p for p in parse(run_dry(capsys, monkeypatch))}
    inside_longer_words = []
    for seed_paper in seed_papers:
        text = seed_paper["abstract"]
        for start, end in seed_paper["bold"]:
            # The seed's substring match bolded `KV` inside the acronym `KVC`; whole-word matching
            # does not, by design (`KV` must not light up inside `KVQ`). Counted, so it cannot grow.
            if end < len(text) and text[end].isalnum() and not text[start:end].lower().startswith("quantiz"):
                inside_longer_words.append(text[start : end + 1])
                continue
            mine = ours[seed_paper["url"]]
            assert any(s <= start and end <= e for s, e in mine["bold"]), (seed_paper["title"], text[start:end])
    assert set(inside_longer_words) == {"KVC"}


def test_case_insensitive_matching_bolds_what_the_seed_left_plain(env, capsys, monkeypatch):
    out = run_dry(capsys, monkeypatch)
    assert "Floating-Point **Quantization**" in out
    assert "**quantized**" in out


def test_the_default_topic_keeps_the_seeds_sixty_five_and_finds_kv_cache_spellings(env, capsys, monkeypatch):
    monkeypatch.delenv("DIGEST_KEYWORDS", raising=False)
    code = main(["digest", "--dry-run", "--date", "2025-03-21", "--from-file", str(SEED_FEED)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("# 2025-03-21\n\n# Table of Contents\n* [")
    assert "**KV-cache**" in out


def test_papers_outside_the_lookback_window_are_left_out(env, capsys, monkeypatch):
    monkeypatch.setenv("DIGEST_LOOKBACK_DAYS", "2")
    ours = parse(run_dry(capsys, monkeypatch))
    assert ours
    assert {p["date"] for p in ours} <= {">2025-03-19", ">2025-03-20", ">2025-03-21"}


def test_a_date_with_no_papers_prints_a_one_line_note(env, capsys, monkeypatch):
    monkeypatch.setenv("DIGEST_KEYWORDS", "sparse")
    code = main(["digest", "--dry-run", "--date", "2024-01-10", "--from-file", str(SEED_FEED)])
    assert code == 0
    assert capsys.readouterr().out == "# 2024-01-10\n\nNo new papers on this topic.\n"


def test_excluded_terms_remove_papers(env, capsys, monkeypatch):
    monkeypatch.setenv("DIGEST_EXCLUDE", "KV cache")
    out = run_dry(capsys, monkeypatch)
    titles = [p["title"] for p in parse(out)]
    assert titles and not any("KV Cache" in t for t in titles)


def test_arxiv_down_warns_in_one_line_and_renders_what_is_stored(env, capsys, monkeypatch, fake_arxiv):
    monkeypatch.setenv("DIGEST_KEYWORDS", ",".join(SEED_KEYWORDS))
    assert main(["fetch", "--from-file", str(SEED_FEED)]) == 0
    capsys.readouterr()
    monkeypatch.setenv("ARXIV_API_URL", fake_arxiv.url)
    monkeypatch.setenv("ARXIV_MAX_RETRIES", "1")
    fake_arxiv.faults.extend(["503"] * 10)
    code = main(["digest", "--dry-run", "--date", "2025-03-21"])
    captured = capsys.readouterr()
    assert code == 0
    assert len(parse(captured.out)) == SEED_ON_TOPIC
    warnings = [line for line in captured.err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "Traceback" not in captured.err


def test_a_dry_run_records_nothing_so_the_real_run_still_posts_everything(env, capsys, monkeypatch, store):
    from sqlalchemy import func, select

    from db.models import DigestItem, DigestRun

    run_dry(capsys, monkeypatch, "--channel", "C0DIGEST")
    with store.session_factory.begin() as session:
        assert session.scalar(select(func.count()).select_from(DigestRun)) == 0
        assert session.scalar(select(func.count()).select_from(DigestItem)) == 0


def test_posting_without_a_channel_is_a_one_line_error(env, capsys, monkeypatch):
    monkeypatch.delenv("DIGEST_CHANNEL")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-not-a-real-token")
    code = main(["digest", "--date", "2025-03-21", "--no-fetch"])
    err = capsys.readouterr().err
    assert code == 2 and "DIGEST_CHANNEL" in err and len(err.strip().splitlines()) == 1
