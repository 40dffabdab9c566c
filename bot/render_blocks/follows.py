"""Block Kit for follows: `/papers follow`, `/papers follows` (with Remove), `/papers unfollow`, and the daily DM
listing the new papers a user's follows matched (each with Mark read and Save)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.follows import MAX_FOLLOWS, FollowOutcome, PendingDm
from bot.render_blocks.common import (
    MARK_READ,
    SAVE_PAPER,
    button,
    context,
    paper_meta,
    section,
    title_link,
)
from bot.render_blocks.mrkdwn import escape, truncate
from db.records import FollowRecord

UNFOLLOW = "follow_remove"
AMBIGUOUS_NAMES = "Author names can be ambiguous: papers by someone else with the same name may show up."


def _ephemeral(text: str, blocks: list[dict] | None = None) -> dict:
    return {"response_type": "ephemeral", "text": text, **({"blocks": blocks} if blocks else {})}


def _query(query: str) -> str:
    return "`" + escape(truncate(query, 200)).replace("`", "'") + "`"


def follow_confirmation(outcome: FollowOutcome) -> dict:
    query = _query(outcome.follow.query)
    head = (f"Following {query}: new papers that match come to you by DM once a day, at the digest time."
            if outcome.newly_followed else f"You already follow {query}.")
    note = f" {AMBIGUOUS_NAMES}" if outcome.names_authors else ""
    return _ephemeral(head + note + " `/papers follows` lists your follows.")


def follows_message(follows: Sequence[FollowRecord]) -> dict:
    if not follows:
        return _ephemeral("You follow nothing yet. `/papers follow kv cache` sends you new KV-cache papers by DM.")
    blocks = [section(f"*You follow* ({len(follows)} of {MAX_FOLLOWS})")]
    for n, item in enumerate(follows, 1):
        blocks.append(section(f"{n}. {_query(item.query)}", accessory=button("Remove", UNFOLLOW, f"#{item.id}"),
                              block_id=f"follow:{item.id}"))
    blocks.append(context("New matching papers come by DM once a day. `/papers unfollow 2` removes the second."))
    return _ephemeral(f"You follow {len(follows)} searches", blocks)


def unfollow_confirmation(item: FollowRecord) -> dict:
    return _ephemeral(f"Stopped following {_query(item.query)}.")


def alert_dm(dm: PendingDm) -> dict:
    """The daily DM: the new papers, most relevant first, each with Mark read and Save; "and N more"."""
    noun = "paper matches" if dm.total == 1 else "papers match"
    blocks = [section(f"*{dm.total} new {noun} what you follow*")]
    for alert in dm.papers:
        paper = alert.paper
        blocks.append(section(f"{title_link(paper)}\n{paper_meta(paper)}\nfor {_query(alert.query)}"))
        blocks.append({"type": "actions", "block_id": f"alert:{paper.arxiv_id}", "elements": [
            button("Mark read", MARK_READ, paper.arxiv_id, style="primary"),
            button("Save", SAVE_PAPER, paper.arxiv_id),
        ]})
    if dm.total > len(dm.papers):
        blocks.append(context(f"…and {dm.total - len(dm.papers)} more. `/papers follows` lists what you follow; "
                              "search them with `/papers <words>`."))
    if dm.names_authors:
        blocks.append(context(AMBIGUOUS_NAMES))
    titles = "; ".join(truncate(a.paper.title, 80) for a in dm.papers[:3])
    return {"text": escape(f"{dm.total} new {noun} what you follow: {titles}"), "blocks": blocks}
