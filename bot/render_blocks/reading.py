"""Block Kit for read tracking: the clicker's confirmations, `/papers history` pages and the App Home view.

Pure functions of the domain records in bot.reading; every paper text goes through mrkdwn escaping
(via common.title_link / authors_mrkdwn / mrkdwn.escape).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from bot.reading import HistoryPage, HomeSummary, ReadOutcome, UnreadOutcome
from bot.recommend import ForYouPage, PopularPage
from bot.render_blocks.common import (
    HISTORY_MORE,
    MARK_READ,
    MARK_UNREAD,
    REMOVE_SAVED,
    authors_mrkdwn,
    button,
    context,
    section,
    title_link,
)
from bot.render_blocks.mrkdwn import MAX_BLOCKS_VIEW, escape, truncate
from bot.render_blocks.recommend import foryou_home_blocks, popular_home_blocks
from bot.saved import SavedPage
from db.records import ReadRecord, SavedRecord

HISTORY_BLOCK_PREFIX = "history"
_SOURCE_WORDS = {"button": "Mark read", "command": "/papers read", "opened": "opened the PDF", "home": "App Home"}


def slack_date(moment: datetime) -> str:
    """A date Slack shows in the reader's own time zone, with a UTC fallback for old clients."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def message(text: str) -> dict:
    """A plain ephemeral reply (errors, apologies); `text` is already safe mrkdwn written by us."""
    return {"response_type": "ephemeral", "text": text}


def read_confirmation(outcome: ReadOutcome) -> dict:
    paper = outcome.paper
    if outcome.newly_read:
        head = f"✓ Marked read: {title_link(paper)}"
        fallback = f"Marked read: {truncate(paper.title, 200)}"
    else:
        head = f"✓ Already in your reads since {slack_date(outcome.read_at)}: {title_link(paper)}"
        fallback = f"Already in your reads: {truncate(paper.title, 200)}"
    undo = button("Mark unread", MARK_UNREAD, paper.arxiv_id)
    return {"response_type": "ephemeral", "text": escape(fallback), "blocks": [section(head, accessory=undo)]}


def fetching_message(arxiv_id: str) -> dict:
    """The at-once answer to `/papers read` of a paper not stored yet; the outcome follows when arXiv answers."""
    return message(f"`{escape(arxiv_id)}` is not stored here yet: fetching it from arXiv… "
                   "I'll tell you here when it is marked read.")


def lookups_busy_message() -> dict:
    return message("Too many papers are being fetched from arXiv just now; please try again in a few minutes.")


def unread_confirmation(outcome: UnreadOutcome) -> dict:
    label = title_link(outcome.paper) if outcome.paper else f"`{escape(outcome.arxiv_id)}`"
    if outcome.paper is None and not outcome.was_read:
        return message(f"There is no paper `{escape(outcome.arxiv_id)}` in your reads.")
    if not outcome.was_read:
        return message(f"{label} was not in your reads.")
    blocks = [section(f"Marked unread: {label}")]
    if outcome.paper is not None:
        blocks[0]["accessory"] = button("Mark read", MARK_READ, outcome.paper.arxiv_id, style="primary")
    return {"response_type": "ephemeral", "text": f"Marked unread: {escape(outcome.arxiv_id)}", "blocks": blocks}


def history_block_id(page: HistoryPage, arxiv_id: str) -> str:
    """Carries the page (offset, limit) so an Unread click can redraw the page it came from."""
    return f"{HISTORY_BLOCK_PREFIX}:{page.offset}:{page.limit}:{arxiv_id}"


def parse_history_block_id(block_id: str | None) -> tuple[int, int] | None:
    parts = (block_id or "").split(":", 3)
    if len(parts) != 4 or parts[0] != HISTORY_BLOCK_PREFIX or not (parts[1].isdigit() and parts[2].isdigit()):
        return None
    return int(parts[1]), int(parts[2])


def history_more_value(page: HistoryPage) -> str:
    return f"{page.offset + len(page.reads)}:{page.limit}"


def parse_history_more_value(value: str | None) -> tuple[int, int] | None:
    parts = (value or "").split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def _read_line(read: ReadRecord) -> str:
    how = _SOURCE_WORDS.get(read.source, read.source)
    return f"{title_link(read.paper)}\n{authors_mrkdwn(read.paper.authors)} · read {slack_date(read.read_at)} ({how})"


def history_message(page: HistoryPage) -> dict:
    """One page of the user's reads: title link, date read, Unread; More when there are older ones."""
    if page.total == 0:
        return message("You have not marked any papers read yet. Click *Mark read* on a digest paper, "
                       "or use `/papers read 2503.14881`.")
    if not page.reads:
        return message(f"No more reads: you have {page.total} in all.")
    first, last = page.offset + 1, page.offset + len(page.reads)
    blocks = [section(f"*Your reads* — {first}–{last} of {page.total}, newest first")]
    for read in page.reads:
        unread = button("Unread", MARK_UNREAD, read.paper.arxiv_id)
        block_id = history_block_id(page, read.paper.arxiv_id)
        blocks.append(section(_read_line(read), accessory=unread, block_id=block_id))
    if page.has_more:
        blocks.append({"type": "actions", "block_id": "history_more",
                       "elements": [button("More", HISTORY_MORE, history_more_value(page))]})
    return {"response_type": "ephemeral", "text": f"Your reads {first}–{last} of {page.total}", "blocks": blocks}


HOME_PAPERS_SHOWN = 40  # digest papers the Home can hold beside its other blocks (a view takes 100)
NO_DIGEST_YET = ("No digest has reached your channels in the last {days} days. To start one, type "
                 "`/papers topic set sparse, KV cache` in a channel (workspace admins and the channel's creator can), "
                 "or search now with `/papers kv cache`.")


def saved_line(item: SavedRecord) -> str:
    return f"{title_link(item.paper)}\n{authors_mrkdwn(item.paper.authors)} · saved {slack_date(item.saved_at)}"


def home_saved_section(page: SavedPage | None) -> list[dict]:
    """The App Home's "Saved" section (above the digest papers): the newest few, each with Mark read and Remove."""
    if page is None:
        return []
    blocks: list[dict] = [section(f"*Saved* ({page.total})")]
    if not page.saved:
        blocks.append(context("Nothing saved. Click *Save* on a paper to keep it here for later."))
    for item in page.saved:
        blocks.append(section(saved_line(item)))
        blocks.append({"type": "actions", "elements": [
            button("Mark read", MARK_READ, item.paper.arxiv_id, style="primary"),
            button("Remove", REMOVE_SAVED, item.paper.arxiv_id)]})
    if page.total > len(page.saved):
        blocks.append(context(f"…and {page.total - len(page.saved)} more: `/papers saved` lists them."))
    blocks.append({"type": "divider"})
    return blocks


def home_view(summary: HomeSummary, thread_links: Mapping[str, str] | None = None, *,
              saved: SavedPage | None = None, foryou: ForYouPage | None = None,
              popular: PopularPage | None = None) -> dict:
    """The App Home: counts, recent reads (with Unread), For you (the reader's own top unread papers), the papers
    saved for later, unread recent digest papers (newest digest first, each linking to its thread through
    `thread_links`: arxiv_id -> permalink, with Mark read; or how to start a digest) and what the workspace read
    most this week."""
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Your papers", "emoji": True}},
        section(f"*{summary.read_this_week}* read this week · *{summary.read_total}* read in total"),
        {"type": "divider"},
        section("*Recent reads*"),
    ]
    if summary.recent_reads:
        for read in summary.recent_reads:
            blocks.append(section(_read_line(read), accessory=button("Unread", MARK_UNREAD, read.paper.arxiv_id)))
    else:
        blocks.append(context("Nothing yet. Click *Mark read* on a digest paper and it shows up here."))
    blocks.append({"type": "divider"})
    if foryou is not None:
        blocks.extend([*foryou_home_blocks(foryou), {"type": "divider"}])
    blocks.extend(home_saved_section(saved))
    tail = [{"type": "divider"}, *popular_home_blocks(popular)] if popular is not None else []
    room = MAX_BLOCKS_VIEW - len(blocks) - len(tail)
    blocks.extend(_digest_papers_blocks(summary, thread_links or {}, room=room))
    return {"type": "home", "blocks": [*blocks, *tail]}


def _digest_papers_blocks(summary: HomeSummary, thread_links: Mapping[str, str], *, room: int) -> list[dict]:
    blocks = [section(f"*From the last {summary.digest_days} days of digests, not read yet* "
                      f"({summary.unread_digest_total})")]
    if summary.digest_papers_posted == 0:
        return [*blocks, context(NO_DIGEST_YET.format(days=summary.digest_days))]
    shown = summary.unread_digest_papers[: min(room - 2, HOME_PAPERS_SHOWN)]  # a block kept for "and N more"
    for item in shown:
        paper = item.paper
        link = thread_links.get(paper.arxiv_id)
        where = f" · <{link}|in the thread>" if link else ""
        text = f"{title_link(paper)}\n{authors_mrkdwn(paper.authors)} · posted {slack_date(item.posted_at)}{where}"
        blocks.append(section(text, accessory=button("Mark read", MARK_READ, paper.arxiv_id, style="primary")))
    if not shown:
        blocks.append(context("You are all caught up."))
    elif summary.unread_digest_total > len(shown):
        blocks.append(context(f"…and {summary.unread_digest_total - len(shown)} more. "
                              "Use `/papers history` for your reads and `/papers <words>` to search."))
    return blocks
