"""Block Kit for `/papers help` (and an empty `/papers`): usage with examples, unknown commands, short notes.

The lines for the subcommands come from the registry in handlers/commands.py, passed in as text: this
renderer knows nothing of the handlers.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.render_blocks.common import section
from bot.render_blocks.mrkdwn import escape, truncate

SEARCH_USAGE = (
    "*Search the stored arXiv abstracts*",
    "`/papers kv cache` — ranked by relevance; `kv-cache`, `KV cache` and `key-value cache` are the same",
    "`/papers pruning author:Han since:2025-03-01` — filters: `author:NAME`, `cat:cs.CL` (or `cat:cs`), "
    "`since:YYYY-MM-DD`",
    '`/papers "speculative decoding" -survey unread` — an exact phrase, a word to leave out, '
    "only papers you haven't read",
)


def usage_message(commands: Sequence[tuple[str, str]]) -> dict:
    """The usage: searching, then one line per subcommand, given as (name, help line in mrkdwn)."""
    lines = [*SEARCH_USAGE, "", "*Other commands*", *(line for _, line in commands)]
    return {
        "response_type": "ephemeral",
        "text": "/papers: search arXiv abstracts, or " + ", ".join(name for name, _ in commands),
        "blocks": [section("\n".join(lines))],
    }


def unknown_command_message(word: str, suggestion: str | None) -> dict:
    shown = escape(truncate(word, 40)).replace("`", "'")
    hint = f" Did you mean `/papers {suggestion}`?" if suggestion else ""
    text = (f"I don't know the command `{shown}`.{hint} To search for it, use `/papers search {shown}`; "
            "`/papers help` lists the commands.")
    return {"response_type": "ephemeral", "text": text}


def note_message(text: str) -> dict:
    """A one-line ephemeral answer; `text` is plain text and is escaped here."""
    return {"response_type": "ephemeral", "text": escape(text)}
