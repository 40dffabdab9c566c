"""Block Kit for saved-for-later: the clicker's confirmations, `/papers saved`, and the App Home's "Saved" section.

Pure functions of bot.saved's records; paper text goes through common.title_link / authors_mrkdwn (escaped).
"""

from __future__ import annotations

from bot.render_blocks.common import (
    MARK_READ,
    REMOVE_SAVED,
    SAVE_PAPER,
    button,
    context,
    section,
    title_link,
)
from bot.render_blocks.mrkdwn import escape, truncate
from bot.render_blocks.reading import saved_line
from bot.saved import RemoveOutcome, SavedPage, SaveOutcome
from db.records import SavedRecord

SAVED_BLOCK_PREFIX = "saved"  # block_id of a paper in the user's own `/papers saved` list: a click redraws it


def _ephemeral(text: str, blocks: list[dict] | None = None) -> dict:
    reply = {"response_type": "ephemeral", "text": text}
    if blocks:
        reply["blocks"] = blocks
    return reply


def save_confirmation(outcome: SaveOutcome) -> dict:
    paper = outcome.paper
    head = "🔖 Saved for later" if outcome.newly_saved else "🔖 Already on your saved list"
    undo = button("Remove", REMOVE_SAVED, paper.arxiv_id)
    return _ephemeral(f"{head}: {escape(truncate(paper.title, 200))}",
                      [section(f"{head}: {title_link(paper)}\n`/papers saved` lists them.", accessory=undo)])


def saves_confirmation(outcomes: list[SaveOutcome]) -> dict:
    """The message shortcut's answer: every paper it saved from the message."""
    lines = [f"• {title_link(o.paper)}" + ("" if o.newly_saved else " (already saved)") for o in outcomes]
    noun = "paper" if len(outcomes) == 1 else "papers"
    head = f"🔖 Saved {len(outcomes)} {noun} for later (`/papers saved` lists them):"
    return _ephemeral(f"Saved {len(outcomes)} {noun} for later", [section("\n".join([head, *lines]))])


def no_links_to_save() -> dict:
    return _ephemeral("That message has no arXiv links to save. *Save paper* works on messages with "
                      "links like `https://arxiv.org/abs/2503.14881`.")


def remove_confirmation(outcome: RemoveOutcome) -> dict:
    label = title_link(outcome.paper) if outcome.paper else f"`{escape(outcome.arxiv_id)}`"
    if not outcome.was_saved:
        return _ephemeral(f"{label} was not on your saved list.")
    blocks = [section(f"Removed from your saved list: {label}")]
    if outcome.paper is not None:
        blocks[0]["accessory"] = button("Save", SAVE_PAPER, outcome.paper.arxiv_id)
    return _ephemeral(f"Removed from your saved list: {escape(outcome.arxiv_id)}", blocks)


def _saved_buttons(item: SavedRecord, *, block_id: str | None = None) -> dict:
    block = {"type": "actions", "elements": [
        button("Mark read", MARK_READ, item.paper.arxiv_id, style="primary"),
        button("Remove", REMOVE_SAVED, item.paper.arxiv_id),
    ]}
    if block_id:
        block["block_id"] = block_id[:255]
    return block


def saved_message(page: SavedPage) -> dict:
    """`/papers saved`: newest saved first, each with Mark read and Remove."""
    if page.total == 0:
        return _ephemeral("Your saved list is empty. Click *Save* on any paper (a digest, a search, a shared "
                          "arXiv link) to keep it for later.")
    shown = len(page.saved)
    head = f"*Saved for later* — {page.total}, newest first" + (f" (showing {shown})" if page.total > shown else "")
    blocks = [section(head)]
    for item in page.saved:
        blocks.append(section(saved_line(item)))
        blocks.append(_saved_buttons(item, block_id=f"{SAVED_BLOCK_PREFIX}:{item.paper.arxiv_id}"))
    blocks.append(context("Marking a paper read takes it off this list."))
    return _ephemeral(f"Saved for later: {page.total}", blocks)


def is_saved_list_block(block_id: str | None) -> bool:
    return (block_id or "").startswith(f"{SAVED_BLOCK_PREFIX}:")
