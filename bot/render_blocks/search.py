"""Block Kit for `/papers` search: the results page, no matches, a bad query, the More button, Share, and
Search arXiv (the button under fewer than 3 results, "searching…", arXiv's hits, arXiv failing).

Pure functions of bot.search's records. Paper text and the user's query always go through mrkdwn
escaping (`escape`, `title_link`, `authors_mrkdwn`, `highlight_mrkdwn`), so a query or an abstract
holding `<!channel>` shows as text and pings nobody.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from bot.arxiv_search import OFFER_BELOW, ArxivSearchResult, can_search_arxiv
from bot.highlight import match_spans
from bot.paper_text import readable, snippet
from bot.render_blocks.common import (
    SEARCH_ARXIV,
    SEARCH_MORE,
    SEARCH_SHARE,
    button,
    context,
    highlight_mrkdwn,
    paper_buttons,
    paper_meta,
    section,
    title_link,
    version_mrkdwn,
)
from bot.render_blocks.mrkdwn import MAX_ACTION_ID, MAX_BUTTON_VALUE, MAX_SECTION_TEXT, escape, escape_text, truncate
from bot.search import ParsedQuery, SearchHit, SearchPage
from db.records import PaperRecord

PAGE_SIZE = 5
SNIPPET_CHARS = 480  # five results to a page: a little more context than a digest paper gets
# Escaping can grow text five-fold (`&` -> `&amp;`), so each piece is capped after escaping: the title line
# (title <= 200 characters, 3 authors of <= 80, date, category) and the abstract get a section each.
_TITLE_CHARS = 200
_ABSTRACT_SECTION_LIMIT = 2900
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
TIPS = 'Filters: `author:NAME` `cat:cs.CL` `since:2025-03-01` `"exact phrase"` `-word` `unread`'


def search_snippet(paper: PaperRecord, terms: Sequence[str], *, limit: int = _ABSTRACT_SECTION_LIMIT) -> str:
    """Two or three sentences of the readable abstract from the first match on, every matched form bold
    (`quantized` bolds "quantization": what the index matched by stemming)."""
    abstract = readable(paper.abstract)
    chosen = snippet(abstract, match_spans(abstract, terms), max_chars=SNIPPET_CHARS)
    return highlight_mrkdwn(chosen.text, chosen.spans, limit=limit)


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
    """Linked title, ✓ if read, authors · date · category · version: under 3,000 characters however much escapes."""
    mark = "  ✓ _read_" if read else ""
    line = f"{title_link(paper, limit=_TITLE_CHARS)}{mark}\n{paper_meta(paper)}"
    if len(line) > MAX_SECTION_TEXT:  # only when every character escapes; drop the authors then
        line = f"{title_link(paper, limit=_TITLE_CHARS)}{mark}\n{paper.published:%Y-%m-%d} · {version_mrkdwn(paper)}"
    return line


def search_block_id(query_text: str, offset: int, arxiv_id: str) -> str:
    """A result's actions block id: the page it is on (query, offset), so Mark read can redraw that page in place.
    Slack allows 255 characters; a longer query falls back to the paper alone (the click then gets a note)."""
    block_id = "search:" + json.dumps({"q": query_text, "o": offset, "p": arxiv_id}, ensure_ascii=False,
                                      separators=(",", ":"))
    return block_id if len(block_id) <= MAX_ACTION_ID else f"search:{arxiv_id}"


def parse_search_block_id(block_id: str | None) -> tuple[str, int] | None:
    """(query, offset) of the results page a click came from, or None (not a search result, or no room)."""
    if not (block_id or "").startswith("search:{"):
        return None
    return parse_more_value(json.dumps({k: v for k, v in _loads(block_id[len("search:"):]).items() if k in "qo"}))


def _loads(raw: str) -> dict:
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def result_blocks(hit: SearchHit, query: ParsedQuery, *, offset: int = 0) -> list[dict]:
    paper = hit.paper
    abstract = search_snippet(paper, query.highlight_terms)
    actions = paper_buttons(paper, read=hit.read, block_id=search_block_id(query.text, offset, paper.arxiv_id))
    actions["elements"].append(button("Share", SEARCH_SHARE, paper.arxiv_id))
    blocks = [section(_paper_line(paper, read=hit.read))]
    if abstract:
        blocks.append(section(abstract))
    return [*blocks, actions, {"type": "divider"}]


def results_message(page: SearchPage, *, offer_arxiv: bool = True) -> dict:
    """The ephemeral reply: how many match, this page of results, and More while there are others; under
    3 results, Search arXiv."""
    shown = _display_query(page.query)
    first, last = page.offset + 1, page.offset + len(page.hits)
    noun = "paper matches" if page.total == 1 else "papers match"
    head = f"*{page.total}* {noun} `{shown}`" + (f" · showing {first}–{last}" if page.total > len(page.hits) else "")
    blocks: list[dict] = [section(head)]
    for hit in page.hits:
        blocks.extend(result_blocks(hit, page.query, offset=page.offset))
    blocks.append(context(TIPS))
    if page.next_offset is not None:
        value = more_value(page.query.text, page.next_offset)
        if value:
            remaining = page.total - page.next_offset
            label = f"Show {min(remaining, PAGE_SIZE)} more" + (f" of {remaining}" if remaining > PAGE_SIZE else "")
            blocks.append({"type": "actions", "block_id": "search_more",
                           "elements": [button(label, SEARCH_MORE, value)]})
    if offer_arxiv and page.offset == 0 and page.total < OFFER_BELOW:
        blocks.extend(arxiv_offer_blocks(page.query))
    return {"response_type": "ephemeral", "text": f"{page.total} {noun} {shown}", "blocks": blocks}


def paper_result_message(paper: PaperRecord, *, read: bool, query_text: str) -> dict:
    """`/papers 2503.14881` (or a link): that one paper, as a search result."""
    page = SearchPage(query=ParsedQuery(text=query_text), total=1, offset=0,
                      hits=(SearchHit(paper=paper, score=0.0, read=read),))
    return results_message(page, offer_arxiv=False)


def no_matches_message(query: ParsedQuery) -> dict:
    shown = _display_query(query)
    filters = bool(query.authors or query.categories or query.since or query.unread or query.excluded)
    advice = "Try fewer or broader words"
    advice += ", or drop a filter." if filters else " (e.g. `pruning` rather than `structured channel pruning`)."
    text = f"No papers match `{shown}`. {advice}"
    return {"response_type": "ephemeral", "text": text,
            "blocks": [section(text), context(TIPS), *arxiv_offer_blocks(query)]}


# -- Search arXiv -----------------------------------------------------------------------------------


def arxiv_value(query_text: str) -> str:
    """The Search arXiv button's value: the query as typed (at most 500 characters, so always within 2,000)."""
    value = json.dumps({"q": query_text}, ensure_ascii=False, separators=(",", ":"))
    # `<`, `>` and `&` as JSON escapes: the same string to json.loads, and no markup in the message at all.
    value = value.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return value if len(value) <= MAX_BUTTON_VALUE else ""


def parse_arxiv_value(value: str | None) -> str | None:
    query = _loads(value or "").get("q")
    return query if isinstance(query, str) and query.strip() else None


def arxiv_offer_blocks(query: ParsedQuery, *, label: str = "Search arXiv") -> list[dict]:
    """A context line and the Search arXiv button, for a query arXiv can be asked (words, author:, cat:)."""
    value = arxiv_value(query.text) if can_search_arxiv(query) else ""
    if not value:
        return []
    return [context("Not here yet? arXiv may have it: its matches are stored here and shown to you."),
            {"type": "actions", "block_id": "search_arxiv", "elements": [button(label, SEARCH_ARXIV, value)]}]


def searching_arxiv_message(query_text: str) -> dict:
    """What replaces the results at once after a click: arXiv answers one request every few seconds."""
    text = f"Searching arXiv for `{_display_query(ParsedQuery(text=query_text))}`… (arXiv takes a few seconds)"
    return {"response_type": "ephemeral", "text": text, "blocks": [section(text)]}


def arxiv_results_message(result: ArxivSearchResult) -> dict:
    """arXiv's hits, as now stored: how many arXiv has, how many were new here, then the papers."""
    shown = _display_query(result.query)
    if not result.hits:
        text = (f"arXiv has no papers matching `{shown}` either. Try fewer or broader words."
                if result.total_on_arxiv == 0 else
                f"arXiv's matches for `{shown}` are all left out by your filters (`since:`, `cat:`, `unread`).")
        return {"response_type": "ephemeral", "text": text, "blocks": [section(text), context(TIPS)]}
    noun = "paper matches" if result.total_on_arxiv == 1 else "papers match"
    head = f"*{result.total_on_arxiv:,}* {noun} `{shown}` on arXiv"
    if result.total_on_arxiv > len(result.hits):
        head += f" · showing {len(result.hits)}"
    stored = "All stored already"
    if result.new:
        stored = f"{result.new} new {'paper' if result.new == 1 else 'papers'} stored"
    blocks: list[dict] = [section(head), context(f"{stored}: `/papers {shown}` now finds them here.")]
    for hit in result.hits:
        blocks.extend(result_blocks(hit, result.query))
    blocks.append(context(TIPS))
    return {"response_type": "ephemeral", "text": f"{result.total_on_arxiv} {noun} {shown} on arXiv",
            "blocks": blocks}


def arxiv_failed_message(query_text: str, problem: str) -> dict:
    """arXiv (or the store) failed: say so in one line, and keep the button to try again."""
    blocks = [section(escape(problem))]
    value = arxiv_value(query_text)
    if value:
        blocks.append({"type": "actions", "block_id": "search_arxiv",
                       "elements": [button("Try arXiv again", SEARCH_ARXIV, value)]})
    return {"response_type": "ephemeral", "text": escape(problem), "blocks": blocks}


def shared_paper_message(paper: PaperRecord, *, shared_by: str) -> dict:
    """What Share posts for everyone in the channel."""
    who = f"<@{shared_by}>" if _USER_ID.fullmatch(shared_by or "") else "Someone"
    abstract = search_snippet(paper, ())
    return {
        "text": f"{who} shared: {escape_text(truncate(readable(paper.title), 300))}",
        "blocks": [
            context(f"{who} shared a paper from `/papers`"),
            section(_paper_line(paper, read=False)),
            *([section(abstract)] if abstract else []),
            paper_buttons(paper, block_id=f"shared:{paper.arxiv_id}"),
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }
