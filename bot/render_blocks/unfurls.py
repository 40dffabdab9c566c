"""Block Kit for arXiv link unfurls: what a shared arxiv.org link shows under the message.

Linked title, first authors, date · categories · version, a two-sentence snippet of the readable abstract,
and Mark read, Save, PDF. Paper text is readable (LaTeX as Unicode) and inert (escaped, never formatting).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.paper_text import readable, snippet
from bot.render_blocks.common import (
    MARK_READ,
    OPEN_PDF,
    SAVE_PAPER,
    authors_mrkdwn,
    button,
    context,
    section,
    title_link,
    version_mrkdwn,
)
from bot.render_blocks.mrkdwn import escape, escape_text, truncate
from bot.unfurls import LinkedPaper
from db.records import PaperRecord

UNFURL_SENTENCES = 2
MAX_CATEGORIES_SHOWN = 4


def _meta(paper: PaperRecord) -> str:
    categories = ", ".join(escape(truncate(c, 40)) for c in paper.categories[:MAX_CATEGORIES_SHOWN])
    more = " …" if len(paper.categories) > MAX_CATEGORIES_SHOWN else ""
    return (f"{authors_mrkdwn(paper.authors)}\n{paper.published:%Y-%m-%d} · {categories or '—'}{more} · "
            f"{version_mrkdwn(paper)}")


def unfurl_blocks(paper: PaperRecord) -> list[dict]:
    chosen = snippet(readable(paper.abstract), sentences=UNFURL_SENTENCES)
    blocks = [section(f"{title_link(paper)}\n{_meta(paper)}")]
    if chosen.text:
        blocks.append(context(escape_text(chosen.text)))
    blocks.append({"type": "actions", "block_id": f"unfurl:{paper.arxiv_id}", "elements": [
        button("Mark read", MARK_READ, paper.arxiv_id, style="primary"),
        button("Save", SAVE_PAPER, paper.arxiv_id),
        button("PDF", OPEN_PDF, paper.arxiv_id, url=paper.pdf_link),
    ]})
    return blocks


def unfurls(linked: Sequence[LinkedPaper]) -> dict[str, dict]:
    """chat.unfurl's `unfurls`: each shared URL, exactly as Slack sent it, to its paper's blocks."""
    return {item.url: {"blocks": unfurl_blocks(item.paper)} for item in linked}
