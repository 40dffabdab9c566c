"""A loopback stand-in for Slack's Web API and for `response_url`, reached through SLACK_API_URL.

It records every call and rejects what Slack rejects: a missing or wrong token, more than 50 blocks
(100 in a view), section text over 3,000 characters, a header over 150, a top-level `text` over
40,000, a button text over 75 or value over 2,000. Tests can script a 429 with Retry-After, a 5xx,
or a per-channel error (`channel_not_found`, `not_in_channel`).

Like Slack, it keeps every message it accepted (`messages`, per channel, with its thread and its message
`metadata`) and answers `conversations.history` and `conversations.replies` from them (the metadata only
with `include_all_metadata`). Two faults accept the message and then fail the answer, as Slack can:
"500:after" (a 500) and "reset:after" (the connection closed without an answer); `answer_delay` holds every
chat.postMessage answer back after the message is stored (a slow Slack, for kill tests).

Many workspaces: every id (channel, user) belongs to the home workspace TEAM_ID unless `add_workspace` gave it
to another, and each call's token must belong to the workspace of the ids it names, or the call fails as Slack's
does with another workspace's token (`channel_not_found`, `user_not_found`). Each recorded call says which
workspace its token was for (`Call.team`). `oauth.v2.access` answers the code of an install approved with
`approve(team_id)` (once) with a new bot token for that team, and with `rotation` on, a refresh token and an
expiry; `grant_type=refresh_token` answers a new token. A token past its expiry fails with `token_expired`,
and `revoke(team_id)` (what an uninstall does) makes its tokens fail with `token_revoked`.
"""

from __future__ import annotations

import base64
import itertools
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
CHANNEL_CREATOR = "U0ALICE"  # who created the test workspace's channels: tests/slack_requests' default user
CLIENT_ID = "1111111111.2222222222"  # the app's OAuth credentials, as Slack knows them
CLIENT_SECRET = "fakeclientsecret0123456789abcdef"
APP_ID = "A0PAPERS"


@dataclass
class Issued:
    """A token Slack handed out through oauth.v2.access."""

    team: str
    expires_at: float | None = None  # time.time() after which Slack refuses it (rotation only)
    revoked: bool = False


@dataclass
class Call:
    method: str  # Web API method name, or "response_url"
    args: dict
    at: float
    path: str = ""
    ok: bool = True
    error: str | None = None
    team: str | None = None  # the workspace the call's token belongs to (None: no token, or one Slack never issued)


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
    messages: dict[str, list[dict]] = field(default_factory=dict)  # channel id -> accepted messages, oldest first
    answer_delay: float = 0.0  # seconds between storing a chat.postMessage and answering it
    # users.info: user id -> flags over a plain member's (e.g. {"is_admin": True}); any other id is a member.
    users: dict[str, dict] = field(default_factory=dict)
    # conversations.info: channel id -> fields over a public channel created by CHANNEL_CREATOR
    # (e.g. {"creator": "U0BOB"}, {"is_mpim": True}); a D… id is a DM.
    conversations: dict[str, dict] = field(default_factory=dict)
    # OAuth: Slack's token rotation setting for the app, and how long a rotating token lives (Slack: 12 hours).
    rotation: bool = False
    token_lifetime: int = 43_200

    def __post_init__(self):
        self._lock = threading.Lock()
        self.owners: dict[str, str] = {}  # channel or user id -> its workspace, for ids outside TEAM_ID
        self.team_names: dict[str, str] = {TEAM_ID: "Test Team"}
        self.issued: dict[str, Issued] = {}  # token -> who it was issued to
        self._codes: dict[str, tuple[str, str]] = {}  # unused install code -> (team, installer)
        self._refresh_tokens: dict[str, str] = {}  # refresh token -> team
        self._serial = itertools.count(1)
        self._ts = float(int(time.time())) + 0.000100  # real-looking ts, so `oldest` bounds work as in Slack
        self._listen("POST")
        # conversations.history / .replies come as GET with a query string (slack_sdk's http_verb="GET").
        self.server.RequestHandlerClass.do_GET = lambda request: self._handle(request)

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/"

    def response_url(self, key: str = "r1") -> str:
        return f"{self.origin}/response/{key}"

    # -- many workspaces ---------------------------------------------------------------------------
    def add_workspace(self, team_id: str, *, name: str | None = None, channels: tuple[str, ...] = (),
                      users: tuple[str, ...] = ()) -> None:
        """Another workspace, owning these channel and user ids (any other id is TEAM_ID's)."""
        with self._lock:
            self.team_names[team_id] = name or f"Team {team_id}"
            self.owners.update({c: team_id for c in channels})
            self.owners.update({u: team_id for u in users})

    def approve(self, team_id: str, *, installer: str = "U0ADMIN") -> str:
        """An admin of `team_id` approved the install on Slack's authorize page: the code Slack sends back to
        the redirect URL (good for one oauth.v2.access)."""
        code = f"code-{team_id}-{next(self._serial)}"
        with self._lock:
            self._codes[code] = (team_id, installer)
        return code

    def revoke(self, team_id: str) -> None:
        """Every token of `team_id` stops working, as when the workspace uninstalls the app."""
        with self._lock:
            for issued in self.issued.values():
                if issued.team == team_id:
                    issued.revoked = True

    def expire(self, token: str) -> None:
        with self._lock:
            self.issued[token].expires_at = time.time() - 1

    def tokens_of(self, team_id: str) -> list[str]:
        with self._lock:
            return [token for token, issued in self.issued.items() if issued.team == team_id]

    def bot_user_of(self, team_id: str) -> str:
        return BOT_USER_ID if team_id == TEAM_ID else f"UB{team_id}"

    def team_of(self, token: str | None) -> str | None:
        with self._lock:
            if token and token == self.token:
                return TEAM_ID
            issued = self.issued.get(token or "")
            return issued.team if issued else None

    def _token_problem(self, token: str | None) -> str | None:
        if not token:
            return "not_authed"
        with self._lock:
            issued = self.issued.get(token)
            if token == self.token:
                return None
            if issued is None:
                return "invalid_auth"
            if issued.revoked:
                return "token_revoked"
            if issued.expires_at is not None and issued.expires_at < time.time():
                return "token_expired"
        return None

    def _foreign_id(self, args: dict, team: str) -> str | None:
        """The error Slack answers a call naming a channel or user of another workspace than the token's."""
        with self._lock:
            owners = dict(self.owners)

        def owner(some_id: str) -> str:
            if some_id.startswith("D0") and some_id[2:] in owners:  # conversations.open's DM ids are D0<user>
                return owners[some_id[2:]]
            return owners.get(some_id, TEAM_ID)

        channel = args.get("channel")
        if isinstance(channel, str) and channel and owner(channel) != team:
            return "channel_not_found"
        users = [args.get("user"), args.get("user_id"), *str(args.get("users") or "").split(",")]
        if any(isinstance(u, str) and u and owner(u) != team for u in users):
            return "user_not_found"
        return None

    def _oauth_v2_access(self, args: dict, basic: str) -> dict:
        """The code exchange (and token refresh) of Slack's OAuth, checking the app's credentials."""
        try:
            client_id, _, secret = base64.b64decode(basic).decode().partition(":")
        except ValueError:
            client_id, secret = args.get("client_id", ""), args.get("client_secret", "")
        if client_id != CLIENT_ID:
            return {"ok": False, "error": "invalid_client_id"}
        if secret != CLIENT_SECRET:
            return {"ok": False, "error": "bad_client_secret"}
        with self._lock:
            if args.get("grant_type") == "refresh_token":
                team = self._refresh_tokens.get(args.get("refresh_token", ""))
                if team is None:
                    return {"ok": False, "error": "invalid_refresh_token"}
                return {"ok": True, "token_type": "bot", **self._issue(team, args["refresh_token"])}
            team, installer = self._codes.pop(args.get("code", ""), (None, None))
            if team is None:
                return {"ok": False, "error": "invalid_code"}
            refresh = f"xoxe-1-refresh-{team}-{next(self._serial)}" if self.rotation else None
            if refresh:
                self._refresh_tokens[refresh] = team
            return {"ok": True, "app_id": APP_ID, "authed_user": {"id": installer}, "scope": "commands,chat:write",
                    "token_type": "bot", "bot_user_id": self.bot_user_of(team),
                    "team": {"id": team, "name": self.team_names.get(team, team)}, "enterprise": None,
                    "is_enterprise_install": False, **self._issue(team, refresh)}

    def _issue(self, team: str, refresh: str | None) -> dict:
        """A new bot token for `team` (called with the lock held); with rotation, it expires."""
        prefix = "xoxe.xoxb-1-" if refresh else "xoxb-"
        token = f"{prefix}{team}-{next(self._serial)}-not-a-real-token"
        expires_at = time.time() + self.token_lifetime if refresh else None
        self.issued[token] = Issued(team, expires_at)
        return {"access_token": token, **({"refresh_token": refresh, "expires_in": self.token_lifetime}
                                          if refresh else {})}

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

    def stored(self, channel: str | None = None) -> list[dict]:
        """Every message Slack accepted (in `channel`, or anywhere), oldest first, whatever it answered."""
        with self._lock:
            return [m for c, found in self.messages.items() if channel in (None, c) for m in found]

    # -- the server ---------------------------------------------------------------------------------
    def _next_ts(self) -> str:
        self._ts += 1
        return f"{self._ts:.6f}"

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length).decode() if length else ""
        content_type = http.headers.get("Content-Type", "")
        url = urlparse(http.path)
        path = url.path
        if "json" in content_type:
            args = json.loads(raw) if raw else {}
        else:
            args = {k: v[0] for k, v in parse_qs(raw or url.query).items()}
        if path.startswith("/upload/"):
            self._record(Call("file_upload", {"content": raw}, time.monotonic(), path))
            return self._reply_raw(http, 200, "OK - 0")
        if path.startswith("/response/"):
            self._record(Call("response_url", args, time.monotonic(), path))
            return self._reply(http, 200, {"ok": True})
        method = path.removeprefix("/api/")
        auth = http.headers.get("Authorization", "")
        if method == "oauth.v2.access":  # the app's credentials (HTTP Basic), not a token
            with self._lock:
                queue = self.faults.get(method)
                fault = queue.pop(0) if queue else None
            return self._oauth_answer(http, args, auth, path, fault)
        token = auth.removeprefix("Bearer ").strip() or args.get("token")
        team = self.team_of(token)
        status, body, headers = self._answer(method, args, token)
        if body.get("reset"):  # accepted, then the connection drops before any answer
            self._record(Call(method, args, time.monotonic(), path, ok=False, error="reset", team=team))
            http.close_connection = True
            return
        if method == "chat.postMessage" and self.answer_delay:
            time.sleep(self.answer_delay)
        if body.get("echo"):  # a broken proxy's HTML error page that quotes the request's Authorization header
            self._record(Call(method, args, time.monotonic(), path, ok=False, error="html", team=team))
            return self._reply_raw(http, status, f"<html><body>upstream error for {auth}</body></html>")
        self._record(Call(method, args, time.monotonic(), path, ok=bool(body.get("ok")), error=body.get("error"),
                          team=team))
        self._reply(http, status, body, headers)

    def _oauth_answer(self, http: BaseHTTPRequestHandler, args: dict, auth: str, path: str,
                      fault: str | None) -> None:
        """oauth.v2.access, with its scripted fault: an error name (ok: false), "500" or "429:<Retry-After>"
        (the code left unused), or "slow:<seconds>" (the answer held back that long)."""
        status, headers = 200, {}
        if fault and fault.startswith("slow:"):
            time.sleep(float(fault.split(":")[1]))
            fault = None
        if fault and fault.startswith("429"):
            status, headers = 429, {"Retry-After": fault.split(":")[1] if ":" in fault else "1"}
            body = {"ok": False, "error": "ratelimited"}
        elif fault and fault.isdigit():
            status, body = int(fault), {"ok": False, "error": "fatal_error"}
        elif fault:
            body = {"ok": False, "error": fault}
        else:
            body = self._oauth_v2_access(args, auth.removeprefix("Basic ").strip())
        team = (body.get("team") or {}).get("id") or self.team_of(body.get("access_token"))
        self._record(Call("oauth.v2.access", args, time.monotonic(), path, ok=body["ok"], error=body.get("error"),
                          team=team))
        return self._reply(http, status, body, headers)

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
        if fault and fault.endswith(":after"):  # Slack accepts the message, then the answer fails
            status, body, _ = self._serve(method, args, token)
            if not body.get("ok"):
                return status, body, {}
            if fault.startswith("reset"):
                return 0, {"reset": True}, {}
            return int(fault.split(":")[0]), {"ok": False, "error": "fatal_error"}, {}
        if fault and fault.isdigit():
            return int(fault), {"ok": False, "error": "fatal_error"}, {}
        if fault:
            return 200, {"ok": False, "error": fault}, {}
        return self._serve(method, args, token)

    def _serve(self, method: str, args: dict, token: str | None) -> tuple[int, dict, dict]:
        """What Slack answers a well-formed call when nothing is failing."""
        problem = self._token_problem(token)
        if problem:
            return 200, {"ok": False, "error": problem}, {}
        team = self.team_of(token)
        foreign = self._foreign_id(args, team)
        if foreign:
            return 200, {"ok": False, "error": foreign}, {}
        if method == "auth.test":
            bot_id = "B0BOT" if team == TEAM_ID else f"B{team}"
            return 200, {"ok": True, "team_id": team, "user_id": self.bot_user_of(team), "bot_id": bot_id,
                         "team": self.team_names.get(team, team), "user": "papers-bot",
                         "url": f"https://{team.lower()}.slack.com/"}, {}
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
            if method == "chat.postMessage":
                self._store(channel, ts, args)
            return 200, {"ok": True, "channel": channel, "ts": ts}, {}
        if method in ("conversations.history", "conversations.replies"):
            return self._conversation(method, args)
        if method == "chat.getPermalink":
            channel, ts = args.get("channel", ""), args.get("message_ts", "")
            if not channel or not ts:
                return 200, {"ok": False, "error": "message_not_found"}, {}
            return 200, {"ok": True, "channel": channel,
                         "permalink": f"https://test.slack.com/archives/{channel}/p{ts.replace('.', '')}"}, {}
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
        if method == "users.conversations":  # tests set `user_channels`: user id -> the channel ids they are in
            channels = (getattr(self, "user_channels", None) or {}).get(args.get("user")) or []
            start, size = int(args.get("cursor") or 0), int(args.get("limit") or 100)
            following = str(start + size) if start + size < len(channels) else ""
            return 200, {"ok": True, "channels": [{"id": c} for c in channels[start : start + size]],
                         "response_metadata": {"next_cursor": following}}, {}
        if method == "conversations.info":
            channel = args.get("channel", "")
            if not channel or self.channel_errors.get(channel) == "channel_not_found":
                return 200, {"ok": False, "error": "channel_not_found"}, {}
            info = ({"id": channel, "is_im": True, "user": "U0ALICE"} if channel.startswith("D") else
                    {"id": channel, "name": "papers", "is_channel": True, "is_im": False, "is_mpim": False,
                     "creator": CHANNEL_CREATOR})
            return 200, {"ok": True, "channel": {**info, **self.conversations.get(channel, {})}}, {}
        if method == "users.info":
            user = args.get("user", "")
            if not user:
                return 200, {"ok": False, "error": "user_not_found"}, {}
            member = {"id": user, "name": user.lower(), "is_admin": False, "is_owner": False,
                      "is_primary_owner": False, "is_bot": False}
            return 200, {"ok": True, "user": {**member, **self.users.get(user, {})}}, {}
        if method == "conversations.open":
            users = [u for u in str(args.get("users", "")).split(",") if u]
            if not users:
                return 200, {"ok": False, "error": "users_list_not_supplied"}, {}
            return 200, {"ok": True, "channel": {"id": f"D0{users[0]}"}}, {}
        if method == "files.getUploadURLExternal":  # files_upload_v2, step 1: where to send the bytes
            if not args.get("filename") or not args.get("length"):
                return 200, {"ok": False, "error": "invalid_arguments"}, {}
            return 200, {"ok": True, "upload_url": f"{self.origin}/upload/F0FILE1", "file_id": "F0FILE1"}, {}
        if method == "files.completeUploadExternal":  # step 3: share the uploaded file in a channel
            files = args.get("files")
            files = json.loads(files) if isinstance(files, str) else files
            if not files:
                return 200, {"ok": False, "error": "invalid_arguments"}, {}
            return 200, {"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")} for f in files]}, {}
        if method == "chat.unfurl":  # a posted message (channel + ts) or a composer preview (unfurl_id + source)
            unfurls = args.get("unfurls")
            if isinstance(unfurls, str):
                unfurls = json.loads(unfurls)
            if not ((args.get("channel") and args.get("ts")) or (args.get("unfurl_id") and args.get("source"))):
                return 200, {"ok": False, "error": "invalid_arguments"}, {}
            if not isinstance(unfurls, dict) or not unfurls:
                return 200, {"ok": False, "error": "invalid_unfurls_format"}, {}
            for unfurl in unfurls.values():
                error = _limit_errors({"blocks": unfurl.get("blocks", [])}, max_blocks=50)
                if error:
                    return 200, {"ok": False, "error": error}, {}
            return 200, {"ok": True}, {}
        if method == "chat.delete":
            channel = args.get("channel", "")
            if channel in self.channel_errors:
                return 200, {"ok": False, "error": self.channel_errors[channel]}, {}
            if not channel or not args.get("ts"):
                return 200, {"ok": False, "error": "message_not_found"}, {}
            return 200, {"ok": True, "channel": channel, "ts": args["ts"]}, {}
        return 200, {"ok": False, "error": "unknown_method"}, {}

    def _store(self, channel: str, ts: str, args: dict) -> None:
        message = {"type": "message", "ts": ts, "user": BOT_USER_ID, "bot_id": "B0BOT", "text": args.get("text", "")}
        for key in ("blocks", "thread_ts", "metadata"):
            value = args.get(key)
            if isinstance(value, str) and key != "thread_ts":
                value = json.loads(value)
            if value:
                message[key] = value
        with self._lock:
            self.messages.setdefault(channel, []).append(message)

    def _conversation(self, method: str, args: dict) -> tuple[int, dict, dict]:
        """conversations.history (top-level messages, newest first) or .replies (a thread, oldest first)."""
        channel = args.get("channel", "")
        if channel in self.channel_errors:
            return 200, {"ok": False, "error": self.channel_errors[channel]}, {}
        with self._lock:
            found = [dict(m) for m in self.messages.get(channel, [])]
        if method == "conversations.history":
            oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or "inf")
            found = [m for m in reversed(found) if m.get("thread_ts", m["ts"]) == m["ts"]
                     and oldest < float(m["ts"]) < latest]
        else:
            parent = [m for m in found if m["ts"] == args.get("ts")]
            if not parent:
                return 200, {"ok": False, "error": "thread_not_found"}, {}
            found = parent + [m for m in found if m.get("thread_ts") == args.get("ts") and m["ts"] != args.get("ts")]
        if str(args.get("include_all_metadata")).lower() not in ("1", "true"):
            for message in found:
                message.pop("metadata", None)
        start, limit = int(args.get("cursor") or 0), int(args.get("limit") or 100)
        page, rest = found[start : start + limit], found[start + limit :]
        return 200, {"ok": True, "messages": page, "has_more": bool(rest),
                     "response_metadata": {"next_cursor": str(start + limit) if rest else ""}}, {}

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
