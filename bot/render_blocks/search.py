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
    context,
    highlight_mrkdwn,
    paper_buttons,
    section,
    title_link,
)
from bot.render_blocks.mrkdwn import MAX_BUTTON_VALUE, MAX_SECTION_TEXT, escape, truncate, truncate_escaped
from bot.search import ParsedQuery, SearchHit, SearchPage
from bot.topics import find_spans
from db.records import PaperRecord

PAGE_SIZE = 5
SNIPPET_NEAR = 600
# Escaping can grow text five-fold (`&` -> `&amp;`), so each piece is capped after escaping: the title line
# (title <= 200 characters, 3 authors of <= 80, date, category) and the abstract get a section each.
_TITLE_CHARS = 200
_ABSTRACT_SECTION_LIMIT = 2900
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
    """Linked title, ✓ if read, authors, date, category: under 3,000 characters however much escapes."""
    mark = "  ✓ _read_" if read else ""
    category = f" · {truncate_escaped(paper.primary_category, 40)}" if paper.primary_category else ""
    line = (f"{title_link(paper, limit=_TITLE_CHARS)}{mark}\n{authors_mrkdwn(paper.authors)} · "
            f"{paper.published:%Y-%m-%d}{category}")
    if len(line) > MAX_SECTION_TEXT:  # only when every character escapes; drop the authors then
        line = f"{title_link(paper, limit=_TITLE_CHARS)}{mark}\n{paper.published:%Y-%m-%d}{category}"
    return line


def result_blocks(hit: SearchHit, query: ParsedQuery) -> list[dict]:
    paper = hit.paper
    snippet = abstract_snippet(paper.abstract)
    abstract = highlight_mrkdwn(snippet, find_spans(snippet, query.highlight_terms), limit=_ABSTRACT_SECTION_LIMIT)
    actions = paper_buttons(paper, read=hit.read, block_id=f"search:{paper.arxiv_id}")
    actions["elements"].append(button("Share", SEARCH_SHARE, paper.arxiv_id))
    blocks = [section(_paper_line(paper, read=hit.read))]
    if abstract:
        blocks.append(section(abstract))
    return [*blocks, actions, {"type": "divider"}]


def results_message(page: SearchPage) -> dict:
    """The ephemeral reply: how many match, this page of results, and More while there are others."""
    shown = _display_query(page.query)
    first, last = page.offset + 1, page.offset + len(page.hits)
    noun = "paper matches" if page.total == 1 else "papers match"
    head = f"*{page.total}* {noun} `{shown}`" + (f" · showing {first}–{last}" if page.total > len(page.hits) else "")
    blocks: list[dict] = [section(head)]
    for hit in page.hits:
        blocks.extend(result_blocks(hit, page.query))
    blocks.append(context(TIPS))
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
            "blocks": [section(text), context(TIPS)]}


def shared_paper_message(paper: PaperRecord, *, shared_by: str) -> dict:
    """What Share posts for everyone in the channel."""
    who = f"<@{shared_by}>" if _USER_ID.fullmatch(shared_by or "") else "Someone"
    abstract = truncate_escaped(abstract_snippet(paper.abstract), _ABSTRACT_SECTION_LIMIT)
    return {
        "text": f"{who} shared: {escape(truncate(paper.title, 300))}",
        "blocks": [
            context(f"{who} shared a paper from `/papers`"),
            section(_paper_line(paper, read=False)),
            *([section(abstract)] if abstract else []),
            paper_buttons(paper, block_id=f"shared:{paper.arxiv_id}"),
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }
