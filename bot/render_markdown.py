"""The digest as Markdown in the seed's format (`tests/fixtures/digest-2025-03-21.md`): a pure renderer.

Layout, exactly as users know it: `# D`, `# Table of Contents` with `* [Title](#Title-with-hyphens)`,
then per paper `## Title`, `>Authors: …`, `>YYYY-MM-DD`, `> http://arxiv.org/abs/IDvN` and the abstract
with every keyword occurrence in `**bold**` (case preserved), each piece separated by a blank line.
Unlike the seed, matching is case-insensitive and knows variants (see bot.topics).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.topics import find_spans
from db.records import PaperRecord


def toc_anchor(title: str) -> str:
    # The seed's anchors are the title with each space turned into a hyphen, nothing else changed.
    return "#" + title.replace(" ", "-")


def bold_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    out: list[str] = []
    position = 0
    for start, end in spans:
        out.append(text[position:start])
        out.append(f"**{text[start:end]}**")
        position = end
    out.append(text[position:])
    return "".join(out)


def render_paper(paper: PaperRecord, keywords: Sequence[str]) -> str:
    abstract = bold_spans(paper.abstract, find_spans(paper.abstract, keywords))
    return (
        f"\n\n## {paper.title}\n\n"
        f">Authors: {', '.join(paper.authors)}\n\n"
        f">{paper.published.date().isoformat()}\n\n"
        f"> {paper.abs_url}\n\n"
        f"{abstract}\n"
    )


def render_digest_markdown(digest_date: date, papers: Sequence[PaperRecord], keywords: Sequence[str]) -> str:
    """The whole digest; `papers` in digest order (newest first)."""
    head = f"# {digest_date.isoformat()}\n\n"
    if not papers:
        return head + "No new papers on this topic.\n"
    toc = "".join(f"* [{p.title}]({toc_anchor(p.title)})\n" for p in papers)
    body = "".join(render_paper(p, keywords) for p in papers)
    return head + "# Table of Contents\n" + toc + body + "\n"
