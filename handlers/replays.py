"""Replayed requests: a signed request sent again within Slack's 5-minute signature window runs once.

Bolt accepts any correctly signed request whose timestamp is within 5 minutes of now, so whoever captures
one (a log, a proxy) can send the same bytes again and have a Share posted twice, or a read recorded again
after the user undid it. Slack itself never sends the same bytes twice (each click has its own action_ts
and trigger_id; its retries of events carry X-Slack-Retry-Num, handled apart), so a request whose body was
already seen is a replay. State-changing requests -- the buttons that record, remove or post, and the
`/papers` subcommands marked `changes_state` -- are remembered per (team, user, action) for the window
and a repeat is acked and dropped. The memory is per process: with several web processes a replay that
reaches another process is not caught (README: Production).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from slack_bolt import BoltResponse
from slack_bolt.middleware import Middleware

from bot.render_blocks.common import MARK_READ, MARK_UNREAD, OPEN_PDF, SEARCH_ARXIV, SEARCH_SHARE
from bot.render_blocks.mrkdwn import unescape
from handlers.commands import BY_WORD, route
from handlers.observe import SKIPPED

log = logging.getLogger(__name__)

# Search arXiv stores papers and costs an arXiv request: a replay must not ask arXiv again.
STATE_CHANGING_ACTIONS = frozenset({MARK_READ, MARK_UNREAD, OPEN_PDF, SEARCH_SHARE, SEARCH_ARXIV})
# Slack's signature window is 5 minutes either side of the request's timestamp; a minute more for clocks.
WINDOW_SECONDS = 6 * 60
MAX_REMEMBERED = 50_000  # about 10 MB at most; past it the oldest are forgotten first


def _state_changing_action(body: dict) -> str | None:
    """The action a request would take if it changes state (a button's action_id, `/papers read`), or None."""
    if body.get("type") == "block_actions":
        action_id = ((body.get("actions") or [{}])[0] or {}).get("action_id")
        return action_id if action_id in STATE_CHANGING_ACTIONS else None
    if body.get("command") == "/papers":
        name, _ = route(unescape(str(body.get("text") or "")))
        entry = BY_WORD.get(name)
        return f"/papers {name}" if entry is not None and entry.changes_state else None
    return None


def _sender(body: dict) -> tuple[str, str]:
    user = body.get("user") if isinstance(body.get("user"), dict) else {}
    team = body.get("team") if isinstance(body.get("team"), dict) else {}
    return (str(body.get("team_id") or team.get("id") or user.get("team_id") or ""),
            str(body.get("user_id") or user.get("id") or ""))


class SkipReplays(Middleware):
    def __init__(self, *, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, str, str, str], float] = OrderedDict()  # key -> when it expires

    def process(self, *, req, resp, next):  # noqa: A002 - Bolt's Middleware names it `next`
        if req.mode != "http":  # Socket Mode: Slack's own authenticated connection, no signed bytes to replay
            return next()
        body = req.body if isinstance(req.body, dict) else {}
        action = _state_changing_action(body)
        if action is None:
            return next()
        team_id, user_id = _sender(body)
        digest = hashlib.sha256((req.raw_body or "").encode("utf-8", "surrogatepass")).hexdigest()
        if self.seen_before((team_id, user_id, action, digest)):
            log.warning("dropped a replayed %s from %s/%s", action, team_id, user_id)
            req.context[SKIPPED] = "replay"
            return BoltResponse(status=200, body="")
        return next()

    def seen_before(self, key: tuple[str, str, str, str]) -> bool:
        """Remember `key` for the window; True when it was already remembered."""
        now = self._clock()
        with self._lock:
            while self._seen and (next(iter(self._seen.values())) <= now or len(self._seen) >= MAX_REMEMBERED):
                self._seen.popitem(last=False)
            if key in self._seen:
                return True
            self._seen[key] = now + WINDOW_SECONDS
            return False
