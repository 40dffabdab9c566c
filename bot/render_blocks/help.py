"""Block Kit for `/papers help` (and an empty `/papers`): usage with examples, and unknown commands."""

from __future__ import annotations

from bot.render_blocks.common import section
from bot.render_blocks.mrkdwn import escape, truncate

USAGE = "\n".join([
    "*Search the stored arXiv abstracts*",
    "`/papers kv cache` — ranked by relevance; `kv-cache`, `KV cache` and `key-value cache` are the same",
    "`/papers pruning author:Han since:2025-03-01` — filters: `author:NAME`, `cat:cs.CL` (or `cat:cs`), "
    "`since:YYYY-MM-DD`",
    '`/papers "speculative decoding" -survey unread` — an exact phrase, a word to leave out, '
    "only papers you haven't read",
    "",
    "*Other commands*",
    "`/papers topic` — this channel's digest topic",
    "`/papers read 2503.14881` / `/papers unread https://arxiv.org/abs/2503.14881` — mark a paper read or unread",
    "`/papers history` — what you've read, newest first",
    "`/papers search topic models` — search for words that are also command names",
    "`/papers help` — this message",
])


def usage_message() -> dict:
    return {
        "response_type": "ephemeral",
        "text": "/papers: search arXiv abstracts, or topic, read, unread, history, help",
        "blocks": [section(USAGE)],
    }


def unknown_command_message(word: str, suggestion: str | None) -> dict:
    shown = escape(truncate(word, 40)).replace("`", "'")
    hint = f" Did you mean `/papers {suggestion}`?" if suggestion else ""
    text = (f"I don't know the command `{shown}`.{hint} To search for it, use `/papers search {shown}`; "
            "`/papers help` lists the commands.")
    return {"response_type": "ephemeral", "text": text}
