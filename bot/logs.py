"""Logging set-up, with every known secret and anything token-shaped redacted from every record.

slack_sdk already redacts its Authorization header; this also covers tokens that reach a log line
through an exception message, a URL or a payload. The redaction is a filter on the one handler, so it
runs before either format: plain text (the default) or, with LOG_FORMAT=json, one JSON object a line
carrying the workspace (team_id) and request id of the Slack request being handled, when there is one
(`request_scope`, entered by the Slack edge for the ack and for the work after it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

REDACTED = "[redacted]"
# Slack tokens (xoxb-, xoxp-, xapp-, ...) and signing-secret-shaped query parameters.
_TOKEN_RE = re.compile(r"\b(?:xox[abposre]|xapp)-[A-Za-z0-9-]+")


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str | None]):
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return _TOKEN_RE.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if cleaned != message or record.args:
            # The template stays readable for error reporting (bot/error_reporting.py), which sends it instead
            # of the message: the arguments may be what a user typed.
            record.template = getattr(record, "template", record.msg)
            record.msg, record.args = cleaned, None
        return True


# The Slack request this thread is handling: set for its ack (the server's thread) and its lazy work (a pool's).
_TEAM_ID: ContextVar[str | None] = ContextVar("team_id", default=None)
_REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


@contextlib.contextmanager
def request_scope(*, team_id: str | None, request_id: str | None) -> Iterator[None]:
    """Log records made inside carry this workspace and request id (in the JSON format)."""
    team_token, request_token = _TEAM_ID.set(team_id or None), _REQUEST_ID.set(request_id or None)
    try:
        yield
    finally:
        _TEAM_ID.reset(team_token)
        _REQUEST_ID.reset(request_token)


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, then team_id and request_id
    inside a Slack request, and the traceback (already redacted) under `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if team_id := _TEAM_ID.get():
            entry["team_id"] = team_id
        if request_id := _REQUEST_ID.get():
            entry["request_id"] = request_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes, not the stream it was when logging was set up: a
    caller that swaps stderr (a test capturing output, a host redirecting it) and closes the old one does not turn
    every later record into a "Logging error" on a closed file. `setStream` still points it elsewhere."""

    def __init__(self):
        logging.Handler.__init__(self)
        self._chosen = None

    @property
    def stream(self):
        return self._chosen if self._chosen is not None else sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        self._chosen = value


def configure_logging(level: str, secrets: Iterable[str | None], log_format: str = "text") -> None:
    handler = CurrentStderr()
    if log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level, logging.INFO))
