"""A loopback stand-in for Slack's Web API and for `response_url`, reached through SLACK_API_URL.

It records every call and rejects what Slack rejects: a missing or wrong token, more than 50 blocks
(100 in a view), section text over 3,000 characters, a header over 150, a top-level `text` over
40,000, a button text over 75 or value over 2,000. Tests can script a 429 with Retry-After, a 5xx,
or a per-channel error (`channel_not_found`, `not_in_channel`).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from tests.fakes import LoopbackServer

BOT_TOKEN = "xoxb-test-not-a-real-token"
TEAM_ID = "T0TEAM"
BOT_USER_ID = "U0BOT"


@dataclass
class Call:
    method: str  # Web API method name, or "response_url"
    args: dict
    at: float
    path: str = ""
    ok: bool = True
    error: str | None = None


def _limit_errors(args: dict, *, max_blocks: int) -> str | None:
    """The error Slack answers a message (or view) that breaks a Block Kit limit with, or None.

    Each block's own limits are slack_sdk's (`Block.parse`, then `to_dict()`, which validates the block and
    everything in it): section text 3,000 characters and 10 fields, header 150, context 10 elements, actions 25,
    block_id 255, a button's text 75, value 2,000, url 3,000 and action_id 255, and a block type Slack does not
    know. Kept here, because slack_sdk does not check them for a message: the top-level `text` (40,000
    characters) and the number of blocks (50 in a message, 100 in a view; slack_sdk's View also wants a title
    and at least one block, which is not what this checks)."""
    text = args.get("text")
    if text is not None and len(text) > 40_000:
        return "msg_too_long"
    blocks = args.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return "invalid_blocks_format"
    if blocks is None:
        return None
    if not isinstance(blocks, list) or len(blocks) > max_blocks:
        return "invalid_blocks"
    try:
        for block in blocks:
            parsed = Block.parse(block) if isinstance(block, dict) else None
            if parsed is None:  # not an object, or a type slack_sdk does not know
                return "invalid_blocks"
            parsed.to_dict()
    except (SlackObjectFormationError, TypeError, ValueError, AttributeError):
        return "invalid_blocks"  # over a limit, or not shaped like the block it says it is
    return None


# What Slack turns live in mrkdwn: special mentions, user and channel mentions, links.
LIVE_MARKUP = re.compile(r"<\s*(?:[!@#]|https?:|mailto:)", re.IGNORECASE)
# What the bot itself writes: arXiv links with an escaped label, and localized dates.
OUR_MARKUP = re.compile(r"<https://arxiv\.org/(?:abs|pdf)/[\w./-]+\|[^<>]*>|<!date\^\d+\^[^<>|]*\|[^<>]*>")


def mrkdwn_texts(args: dict) -> list[str]:
    """Every text Slack would parse as mrkdwn in a call: the top-level `text` and each mrkdwn object."""
    texts = [args["text"]] if isinstance(args.get("text"), str) else []

    def walk(node) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                texts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for key in ("blocks", "view", "attachments"):
        value = args.get(key)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                continue
        walk(value)
    return texts


@dataclass
class FakeSlack(LoopbackServer):
    token: str = BOT_TOKEN
    calls: list[Call] = field(default_factory=list)
    # Scripted faults, consumed per call of that method: "429:1" (Retry-After seconds), "500", "500:echo" (an
    # HTML page quoting the request's Authorization header), or an error name.
    faults: dict[str, list[str]] = field(default_factory=dict)
    channel_errors: dict[str, str] = field(default_factory=dict)  # channel id -> error for chat.postMessage

    def __post_init__(self):
        self._lock = threading.Lock()
        self._ts = 1_700_000_000.000100
        self._listen("POST")

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/"

    def response_url(self, key: str = "r1") -> str:
        return f"{self.origin}/response/{key}"

    # -- what tests read --------------------------------------------------------------------------
    def calls_to(self, method: str, *, ok: bool | None = True) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and (ok is None or c.ok == ok)]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Wait until `count` successful calls of `method` were made (lazy listeners run after the ack)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls_to(method)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        return self.calls_to(method)

    def live_markup(self, *, allow: tuple[str, ...] = ()) -> list[tuple[str, str]]:
        """(method, text) for every mrkdwn text sent to Slack that holds a live mention or a link not of
        our making: `<!channel>`, `<@U…>`, `<#C…>`, `<http…>`. Our own arXiv links and `<!date^…>` are fine,
        and so is each exact string in `allow` (e.g. the `<@U…>` of a user who shared a paper)."""
        with self._lock:
            calls = list(self.calls)
        found = []
        for call in calls:
            for text in mrkdwn_texts(call.args):
                for allowed in allow:
                    text = text.replace(allowed, "")
                if LIVE_MARKUP.search(OUR_MARKUP.sub("", text)):
                    found.append((call.method, text))
        return found

    # -- the server ---------------------------------------------------------------------------------
    def _next_ts(self) -> str:
        self._ts += 1
        return f"{self._ts:.6f}"

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length).decode() if length else ""
        content_type = http.headers.get("Content-Type", "")
        path = urlparse(http.path).path
        if "json" in content_type:
            args = json.loads(raw) if raw else {}
        else:
            args = {k: v[0] for k, v in parse_qs(raw).items()}
        if path.startswith("/response/"):
            self._record(Call("response_url", args, time.monotonic(), path))
            return self._reply(http, 200, {"ok": True})
        method = path.removeprefix("/api/")
        auth = http.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() or args.get("token")
        status, body, headers = self._answer(method, args, token)
        if body.get("echo"):  # a broken proxy's HTML error page that quotes the request's Authorization header
            self._record(Call(method, args, time.monotonic(), path, ok=False, error="html"))
            return self._reply_raw(http, status, f"<html><body>upstream error for {auth}</body></html>")
        self._record(Call(method, args, time.monotonic(), path, ok=bool(body.get("ok")), error=body.get("error")))
        self._reply(http, status, body, headers)

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def _answer(self, method: str, args: dict, token: str | None) -> tuple[int, dict, dict]:
        with self._lock:
            queue = self.faults.get(method) or []
            fault = queue.pop(0) if queue else None
        if fault and fault.startswith("429"):
            retry_after = fault.split(":")[1] if ":" in fault else "1"
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": retry_after}
        if fault and fault.endswith(":echo"):
            return int(fault.split(":")[0]), {"echo": True}, {}
        if fault and fault.isdigit():
            return int(fault), {"ok": False, "error": "fatal_error"}, {}
        if fault:
            return 200, {"ok": False, "error": fault}, {}
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if token != self.token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if method == "auth.test":
            return 200, {"ok": True, "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": "B0BOT",
                         "team": "Test Team", "user": "papers-bot", "url": "https://test.slack.com/"}, {}
        if method in ("chat.postMessage", "chat.postEphemeral", "chat.update"):
            channel = args.get("channel", "")
            if not channel:
                return 200, {"ok": False, "error": "channel_not_found"}, {}
            if channel in self.channel_errors:
                return 200, {"ok": False, "error": self.channel_errors[channel]}, {}
            if not args.get("text") and not args.get("blocks"):
                return 200, {"ok": False, "error": "no_text"}, {}
            error = _limit_errors(args, max_blocks=50)
            if error:
                return 200, {"ok": False, "error": error}, {}
            if method == "chat.postEphemeral":
                return 200, {"ok": True, "message_ts": self._next_ts()}, {}
            ts = args.get("ts") if method == "chat.update" else self._next_ts()
            return 200, {"ok": True, "channel": channel, "ts": ts}, {}
        if method == "views.publish":
            view = args.get("view")
            if isinstance(view, str):
                view = json.loads(view)
            if not args.get("user_id") or not view:
                return 200, {"ok": False, "error": "invalid_arguments"}, {}
            error = _limit_errors({"blocks": view.get("blocks", [])}, max_blocks=100)
            if error:
                return 200, {"ok": False, "error": error}, {}
            return 200, {"ok": True, "view": {"id": "V1", **view}}, {}
        if method == "conversations.info":
            return 200, {"ok": True, "channel": {"id": args.get("channel"), "name": "papers"}}, {}
        return 200, {"ok": False, "error": "unknown_method"}, {}

    @staticmethod
    def _reply_raw(http: BaseHTTPRequestHandler, status: int, html: str) -> None:
        payload = html.encode()
        try:
            http.send_response(status)
            http.send_header("Content-Type", "text/html")
            http.send_header("Content-Length", str(len(payload)))
            http.end_headers()
            http.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    @staticmethod
    def _reply(http: BaseHTTPRequestHandler, status: int, body: dict, headers: dict | None = None) -> None:
        payload = json.dumps(body).encode()
        try:
            http.send_response(status)
            http.send_header("Content-Type", "application/json; charset=utf-8")
            http.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                http.send_header(name, value)
            http.end_headers()
            http.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
