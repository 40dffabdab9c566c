"""Pieces every message shares: section and context blocks, the escaped problem reply, and for papers the
title link, authors, buttons and highlighted text.

Action ids live here so the digest, search results, history and App Home all send the same clicks.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.paper_text import readable
from bot.render_blocks.mrkdwn import (
    ELLIPSIS,
    MAX_ACTION_ID,
    MAX_BUTTON_TEXT,
    MAX_BUTTON_VALUE,
    MAX_SECTION_TEXT,
    entity_safe_prefix,
    escape,
    escape_text,
    link,
    truncate,
)
from db.records import PaperRecord

MARK_READ = "paper_mark_read"
MARK_UNREAD = "paper_mark_unread"
SHOW_ABSTRACT = "paper_show_abstract"
MORE_LIKE_THIS = "paper_more_like_this"  # value: the version-less arXiv id
OPEN_PDF = "paper_open_pdf"
SEARCH_MORE = "search_more"
SEARCH_SHARE = "search_share"
SEARCH_ARXIV = "search_arxiv"  # value: {"q": the query text}
HISTORY_MORE = "history_more"
SAVE_PAPER = "paper_save"
REMOVE_SAVED = "paper_remove_saved"
SHOW_BIBTEX = "paper_bibtex"
MAX_AUTHORS_SHOWN = 3


def section(text: str, *, accessory: dict | None = None, block_id: str | None = None) -> dict:
    """A mrkdwn section; `text` must already be escaped. Slack refuses more than 3,000 characters."""
    block: dict = {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION_TEXT]}}
    if accessory:
        block["accessory"] = accessory
    if block_id:
        block["block_id"] = block_id[:MAX_ACTION_ID]
    return block


def context(text: str) -> dict:
    """A context block with one mrkdwn element; `text` must already be escaped."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:MAX_SECTION_TEXT]}]}


def problem_message(message: str) -> dict:
    """An ephemeral reply carrying a domain error's plain-text message (it may quote the user's input), escaped."""
    return {"response_type": "ephemeral", "text": escape(message)}


def authors_mrkdwn(authors: Sequence[str], *, shown: int = MAX_AUTHORS_SHOWN) -> str:
    """`A, B, C et al.` -- 120 authors must not blow a section's 3,000 characters."""
    if not authors:
        return "_unknown authors_"
    names = ", ".join(escape_text(truncate(a, 80)) for a in authors[:shown])
    return names + (" et al." if len(authors) > shown else "")


def title_link(paper: PaperRecord, *, limit: int = 300, bold: bool = True) -> str:
    """The paper's readable title (LaTeX as Unicode) linking to its arXiv page."""
    linked = link(paper.abs_url.replace("http://", "https://"), truncate(readable(paper.title), limit))
    return f"*{linked}*" if bold else linked


def version_mrkdwn(paper: PaperRecord) -> str:
    """`v1`, or `v2 · updated` once arXiv has a newer version than the first."""
    return f"v{paper.version}" + (" · updated" if paper.version > 1 else "")


def paper_meta(paper: PaperRecord) -> str:
    """`A, B, C et al. · 2025-03-20 · cs.LG · v2 · updated`: who, when, where, which version."""
    category = f" · {escape(truncate(paper.primary_category, 40))}" if paper.primary_category else ""
    return f"{authors_mrkdwn(paper.authors)} · {paper.published:%Y-%m-%d}{category} · {version_mrkdwn(paper)}"


def highlight_mrkdwn(text: str, spans: Sequence[tuple[int, int]], *, limit: int) -> str:
    """Escape `text` and bold the [start, end) spans, cutting the result to `limit` characters.

    Spans are found on the raw text (see bot.topics), so escaping never splits a highlight.
    """
    out: list[str] = []
    size = 0
    position = 0
    for start, end in sorted(spans):
        if start < position:
            continue
        pieces = [escape_text(text[position:start]), "*" + escape_text(text[start:end]) + "*"]
        for piece in pieces:
            if size + len(piece) > limit - 1:
                return "".join(out) + ELLIPSIS
            out.append(piece)
            size += len(piece)
        position = end
    tail = escape_text(text[position:])
    if size + len(tail) > limit:
        return "".join(out) + entity_safe_prefix(tail, limit - 1 - size) + ELLIPSIS
    return "".join(out) + tail


def button(text: str, action_id: str, value: str, *, style: str | None = None, url: str | None = None) -> dict:
    element = {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(text, MAX_BUTTON_TEXT), "emoji": True},
        "action_id": action_id[:MAX_ACTION_ID],
        "value": value[:MAX_BUTTON_VALUE],
    }
    if style:
        element["style"] = style
    if url:
        element["url"] = url
    return element


def paper_buttons(paper: PaperRecord, *, read: bool = False, block_id: str | None = None) -> dict:
    """Mark read (or Mark unread once read), Save, PDF and BibTeX. The value is the version-less id."""
    toggle = (
        button("Mark unread", MARK_UNREAD, paper.arxiv_id)
        if read
        else button("Mark read", MARK_READ, paper.arxiv_id, style="primary")
    )
    block = {
        "type": "actions",
        "elements": [toggle, button("Save", SAVE_PAPER, paper.arxiv_id),
                     button("PDF", OPEN_PDF, paper.arxiv_id, url=paper.pdf_link),
                     button("More like this", MORE_LIKE_THIS, paper.arxiv_id),
                     button("BibTeX", SHOW_BIBTEX, paper.arxiv_id)],
    }
    if block_id:
        block["block_id"] = block_id[:MAX_ACTION_ID]
    return block
