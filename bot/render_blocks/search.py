"""Block Kit for `/papers` search: the results page, no matches, a bad query, the More button, Share.

Pure functions of bot.search's records. Paper text and the user's query always go through mrkdwn
escaping (`escape`, `title_link`, `authors_mrkdwn`, `highlight_mrkdwn`), so a query or an abstract
holding `<!channel>` shows as text and pings nobody.
"""

from __future__ import annotations

import json
import re

from bot.render_blocks.common import (
    SEARCH_MORE,
    SEARCH_SHARE,
    authors_mrkdwn,
    button,
    highlight_mrkdwn,
    paper_buttons,
    title_link,
)
from bot.render_blocks.mrkdwn import MAX_BUTTON_VALUE, escape, truncate
from bot.search import ParsedQuery, SearchHit, SearchPage
from bot.topics import find_spans
from db.records import PaperRecord

PAGE_SIZE = 5
SNIPPET_NEAR = 600
_SNIPPET_TEXT_LIMIT = 2000  # escaped + bold marks; a section holds 3,000 with the title and authors
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z0-9(\[$\\])")
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
TIPS = 'Filters: `author:NAME` `cat:cs.CL` `since:2025-03-01` `"exact phrase"` `-word` `unread`'


def abstract_snippet(abstract: str, *, near: int = SNIPPET_NEAR) -> str:
    """The abstract cut at the sentence end closest to `near` characters (whole if it is short)."""
    text = " ".join(abstract.split())
    if len(text) <= near + 100:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text) if near // 2 <= m.end() <= near + 150]
    if ends:
        return text[: min(ends, key=lambda end: abs(end - near))] + " …"
    cut = text[:near].rsplit(" ", 1)[0]
    return cut + " …"


def _display_query(query: ParsedQuery) -> str:
    return escape(truncate(query.text, 200)).replace("`", "'")


def more_value(query_text: str, offset: int) -> str:
    """The More button's value: the query and where the next page starts (Slack allows 2,000 characters)."""
    value = json.dumps({"q": query_text, "o": offset}, ensure_ascii=False, separators=(",", ":"))
    return value if len(value) <= MAX_BUTTON_VALUE else ""


def parse_more_value(value: str | None) -> tuple[str, int] | None:
    try:
        data = json.loads(value or "")
        query, offset = data["q"], data["o"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(query, str) or not isinstance(offset, int) or not 0 <= offset <= 10_000:
        return None
    return query, offset


def _paper_line(paper: PaperRecord, *, read: bool) -> str:
    mark = "  ✓ _read_" if read else ""
    category = f" · {escape(paper.primary_category)}" if paper.primary_category else ""
    return (
        f"{title_link(paper)}{mark}\n{authors_mrkdwn(paper.authors)} · {paper.published:%Y-%m-%d}{category}"
    )


def result_blocks(hit: SearchHit, query: ParsedQuery) -> list[dict]:
    paper = hit.paper
    snippet = abstract_snippet(paper.abstract)
    abstract = highlight_mrkdwn(snippet, find_spans(snippet, query.highlight_terms), limit=_SNIPPET_TEXT_LIMIT)
    actions = paper_buttons(paper, read=hit.read, block_id=f"search:{paper.arxiv_id}")
    actions["elements"].append(button("Share", SEARCH_SHARE, paper.arxiv_id))
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": _paper_line(paper, read=hit.read) + "\n" + abstract}},
        actions,
        {"type": "divider"},
    ]


def results_message(page: SearchPage) -> dict:
    """The ephemeral reply: how many match, this page of results, and More while there are others."""
    shown = _display_query(page.query)
    first, last = page.offset + 1, page.offset + len(page.hits)
    noun = "paper matches" if page.total == 1 else "papers match"
    head = f"*{page.total}* {noun} `{shown}`" + (f" · showing {first}–{last}" if page.total > len(page.hits) else "")
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": head}}]
    for hit in page.hits:
        blocks.extend(result_blocks(hit, page.query))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": TIPS}]})
    if page.next_offset is not None:
        value = more_value(page.query.text, page.next_offset)
        if value:
            remaining = page.total - page.next_offset
            label = f"More ({min(remaining, PAGE_SIZE)} of {remaining} left)"
            blocks.append({"type": "actions", "block_id": "search_more",
                           "elements": [button(label, SEARCH_MORE, value)]})
    return {"response_type": "ephemeral", "text": f"{page.total} {noun} {shown}", "blocks": blocks}


def no_matches_message(query: ParsedQuery) -> dict:
    shown = _display_query(query)
    filters = bool(query.authors or query.categories or query.since or query.unread or query.excluded)
    advice = "Try fewer or broader words"
    advice += ", or drop a filter." if filters else " (e.g. `pruning` rather than `structured channel pruning`)."
    text = f"No papers match `{shown}`. {advice}"
    return {"response_type": "ephemeral", "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}},
                       {"type": "context", "elements": [{"type": "mrkdwn", "text": TIPS}]}]}


def problem_message(message: str) -> dict:
    """A domain error's plain-text message (it may quote the user's input), escaped."""
    return {"response_type": "ephemeral", "text": escape(message)}


def shared_paper_message(paper: PaperRecord, *, shared_by: str) -> dict:
    """What Share posts for everyone in the channel."""
    who = f"<@{shared_by}>" if _USER_ID.fullmatch(shared_by or "") else "Someone"
    abstract = escape(abstract_snippet(paper.abstract))
    return {
        "text": f"{who} shared: {escape(truncate(paper.title, 300))}",
        "blocks": [
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{who} shared a paper from `/papers`"}]},
            {"type": "section", "text": {"type": "mrkdwn", "text": _paper_line(paper, read=False) + "\n" + abstract}},
            paper_buttons(paper, block_id=f"shared:{paper.arxiv_id}"),
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }
