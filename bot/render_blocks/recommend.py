"""Block Kit for recommendations: For you (reply, App Home section, morning DM), similar papers, popular.

Pure functions of bot.recommend's records. Every paper title, author and filter text goes through mrkdwn
escaping (`title_link`, `authors_mrkdwn`, `escape`, `truncate_escaped`). A list's "why" names a paper only the
asking reader read: these messages are ephemeral replies, the reader's own App Home or their own DM.
"""

from __future__ import annotations

import json

from bot.recommend import ForYouPage, PopularPage, Recommendation, SimilarPage
from bot.render_blocks.common import (
    MARK_READ,
    MORE_LIKE_THIS,
    OPEN_PDF,
    authors_mrkdwn,
    button,
    context,
    section,
    title_link,
)
from bot.render_blocks.mrkdwn import MAX_BUTTON_VALUE, MAX_SECTION_TEXT, escape, truncate, truncate_escaped
from db.records import PaperRecord

FORYOU_MORE = "foryou_more"  # value: foryou_more_value()
PAGE_SIZE = 5
HOME_ITEMS = 5
LEARNS_HINT = "Mark papers read and this list becomes yours."
_TITLE_CHARS = 200
_WHY_TITLE_CHARS = 120
_POPULAR_WORDS = {"week": "the last 7 days", "month": "the last 30 days"}


def foryou_more_value(filters: str, offset: int) -> str:
    """The More button's value: the filters and where the next page starts ("" when it would not fit)."""
    value = json.dumps({"f": filters, "o": offset}, ensure_ascii=False, separators=(",", ":"))
    return value if len(value) <= MAX_BUTTON_VALUE else ""


def parse_foryou_more_value(value: str | None) -> tuple[str, int] | None:
    try:
        data = json.loads(value or "")
        filters, offset = data["f"], data["o"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(filters, str) or not isinstance(offset, int) or not 0 <= offset <= 10_000:
        return None
    return filters, offset


def paper_line(paper: PaperRecord) -> str:
    """Linked title, authors, date, category: under 3,000 characters however much escapes."""
    category = f" · {truncate_escaped(paper.primary_category, 40)}" if paper.primary_category else ""
    line = f"{title_link(paper, limit=_TITLE_CHARS)}\n{authors_mrkdwn(paper.authors)} · {paper.published:%Y-%m-%d}"
    if len(line) + len(category) > MAX_SECTION_TEXT:  # only when every character escapes; drop the authors
        line = f"{title_link(paper, limit=_TITLE_CHARS)}\n{paper.published:%Y-%m-%d}"
    return line + category


def _readers_words(readers: int) -> str:
    return f"read by {readers} {'person' if readers == 1 else 'people'} here lately"


def why_line(item: Recommendation) -> str:
    """One line on why this paper is in the list (mrkdwn, escaped)."""
    reasons = []
    if item.because is not None:
        reasons.append(f"like *{escape(truncate(item.because.title, _WHY_TITLE_CHARS))}*, which you read")
    elif item.topic_match:
        reasons.append("matches your channel's topic")
    if item.readers:
        reasons.append(_readers_words(item.readers))
    return " · ".join(reasons) or "new this month"


def paper_actions(paper: PaperRecord, *, block_id: str) -> dict:
    """Mark read, PDF and More like this."""
    return {
        "type": "actions",
        "block_id": block_id,
        "elements": [
            button("Mark read", MARK_READ, paper.arxiv_id, style="primary"),
            button("PDF", OPEN_PDF, paper.arxiv_id, url=paper.pdf_link),
            button("More like this", MORE_LIKE_THIS, paper.arxiv_id),
        ],
    }


def recommendation_blocks(item: Recommendation, *, prefix: str = "foryou") -> list[dict]:
    return [section(paper_line(item.paper)), context(why_line(item)),
            paper_actions(item.paper, block_id=f"{prefix}:{item.paper.arxiv_id}")]


def _window_words(page: ForYouPage) -> str:
    if page.window_start is None or page.window_end is None:
        return ""
    start, end = page.window_start, page.window_end
    return f" from papers of {start:%b} {start.day}–{end:%b} {end.day}"


def foryou_message(page: ForYouPage) -> dict:
    """`/papers foryou [filters]`: the asker's page of unread papers, each with why, and More."""
    shown = escape(truncate(page.filters, 200)).replace("`", "'")
    shown_filters = f" matching `{shown}`" if page.filters else ""
    if not page.items:
        text = (f"Nothing unread for you{shown_filters}{_window_words(page)}."
                + (" Try fewer filters." if page.filters else ""))
        return {"response_type": "ephemeral", "text": text, "blocks": [section(text)]}
    first, last = page.offset + 1, page.offset + len(page.items)
    head = f"*For you*{shown_filters} · {first}–{last} of {page.total}{_window_words(page)}"
    blocks: list[dict] = [section(head)]
    if page.cold_start:
        blocks.append(context(f"From your channels' topics and what this workspace reads. {LEARNS_HINT}"))
    for item in page.items:
        blocks.extend(recommendation_blocks(item))
    if page.next_offset is not None and (value := foryou_more_value(page.filters, page.next_offset)):
        remaining = page.total - page.next_offset
        blocks.append({"type": "actions", "block_id": "foryou_more",
                       "elements": [button(f"More ({min(remaining, PAGE_SIZE)} of {remaining} left)", FORYOU_MORE,
                                           value)]})
    return {"response_type": "ephemeral", "text": f"For you: {len(page.items)} papers", "blocks": blocks}


def _compact(item: Recommendation) -> dict:
    """One section: the paper, why, and Mark read beside it (Home and DM, where blocks are scarce)."""
    text = f"{paper_line(item.paper)}\n_{why_line(item)}_"
    if len(text) > MAX_SECTION_TEXT:
        text = paper_line(item.paper)
    return section(text, accessory=button("Mark read", MARK_READ, item.paper.arxiv_id, style="primary"),
                   block_id=f"foryou_home:{item.paper.arxiv_id}")


def foryou_home_blocks(page: ForYouPage) -> list[dict]:
    """The App Home's For you section: the top unread papers with Mark read in place."""
    blocks: list[dict] = [section("*For you*")]
    blocks.extend(_compact(item) for item in page.items[:HOME_ITEMS])
    if not page.items:
        blocks.append(context("Nothing unread for you this month."))
    if page.cold_start:
        blocks.append(context(LEARNS_HINT))
    return blocks


def foryou_dm_message(page: ForYouPage) -> dict:
    """The opt-in morning DM: the reader's top new papers, each with Mark read."""
    count = len(page.items)
    head = f"*Good morning!* {count} new paper{'s' if count != 1 else ''} for you"
    blocks: list[dict] = [section(head), *(_compact(item) for item in page.items)]
    blocks.append(context(("Picked from your channels' topics. " + LEARNS_HINT if page.cold_start
                           else "Picked from what you read.") + " `/papers dm off` stops these."))
    return {"text": f"{count} new papers for you", "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def similar_message(page: SimilarPage) -> dict:
    """`/papers similar <id>` and More like this: the papers nearest to one."""
    title = escape(truncate(page.paper.title, _WHY_TITLE_CHARS))
    if not page.items:
        text = f"No recent papers are like *{title}*."
        return {"response_type": "ephemeral", "text": text, "blocks": [section(text)]}
    blocks: list[dict] = [section(f"*Papers like* {title_link(page.paper, limit=_TITLE_CHARS)}")]
    for item in page.items:
        blocks.append(section(paper_line(item.paper)))
        blocks.append(paper_actions(item.paper, block_id=f"similar:{item.paper.arxiv_id}"))
    return {"response_type": "ephemeral", "text": f"Papers like {title}", "blocks": blocks}


def _popular_item(paper: PaperRecord, readers: int) -> dict:
    return section(f"{paper_line(paper)}\n*{readers}* {'reader' if readers == 1 else 'readers'}",
                   accessory=button("Mark read", MARK_READ, paper.arxiv_id, style="primary"),
                   block_id=f"popular:{paper.arxiv_id}")


def popular_message(page: PopularPage) -> dict:
    """`/papers popular [week|month]`: most distinct readers first. Counts only, never who."""
    when = _POPULAR_WORDS.get(page.window, page.window)
    if not page.items:
        text = f"Nobody here has marked a paper read in {when}."
        return {"response_type": "ephemeral", "text": text, "blocks": [section(text)]}
    blocks = [section(f"*Most read in this workspace* · {when}")]
    blocks += [_popular_item(item.paper, item.readers) for item in page.items]
    return {"response_type": "ephemeral", "text": f"Most read in {when}", "blocks": blocks}


def popular_home_blocks(page: PopularPage) -> list[dict]:
    """The App Home's "Most read this week" section."""
    blocks = [section("*Most read this week*")]
    blocks += [_popular_item(item.paper, item.readers) for item in page.items[:HOME_ITEMS]]
    if not page.items:
        blocks.append(context("Nothing read here this week yet."))
    return blocks


def dm_status_message(*, enabled: bool, when: str, unknown: bool = False) -> dict:
    """`/papers dm`: whether the morning DM is on, and how to change it."""
    state = (f"Your morning For you DM is *on*: at {escape(when)}, your top new papers, each once. "
             "`/papers dm off` stops it." if enabled else
             "Your morning For you DM is *off*. `/papers dm on` sends you your top new papers each morning.")
    text = ("`/papers dm` takes `on` or `off`. " if unknown else "") + state
    return {"response_type": "ephemeral", "text": text, "blocks": [section(text)]}
