"""Error reporting to Sentry, opt-in with SENTRY_DSN: the exceptions logged as errors, with personal data off.

sentry-sdk's logging integration turns every ERROR record (the listeners' unexpected failures, a digest run that
crashed) into an event, with the traceback. What leaves the process is cut down first (`scrub_event`,
`scrub_breadcrumb`), because a log record's arguments and an exception's message can carry what a user typed
(a search, a follow's query: SQLAlchemy puts a statement's parameters in its message) or a token:
- an exception's message keeps only its first line (the driver's or the library's own words), secrets redacted;
- a log message is sent as its template (`"follow %d of %s no longer parses: %r"`), never with its arguments
  (bot.logs' redaction formats a record in place, so it keeps the template as `record.template`);
- no local variables, no request bodies or user (send_default_pii off), no `extra`;
- everything left is passed through the same redaction as the logs (bot/logs.py).
Only sentry-sdk's default integrations run (logging, threads, excepthook...); none is auto-enabled for a library it
finds installed (its SQLAlchemy integration would send statements).
"""

from __future__ import annotations

from collections.abc import Callable

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.utils import BadDsn

from bot.config import ConfigError

Redact = Callable[[str], str]


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _template(record) -> str:
    """A log record's message before its arguments went in (bot.logs keeps it when it redacts the record)."""
    return str(getattr(record, "template", record.msg))


def scrub_event(event: dict, hint: dict | None, redact: Redact) -> dict:
    """The event as it may leave the process (see the module docstring)."""
    for exception in (event.get("exception") or {}).get("values") or []:
        if exception.get("value"):
            exception["value"] = redact(_first_line(str(exception["value"])))
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    record = (hint or {}).get("log_record")
    logentry = event.get("logentry")
    if logentry:
        template = _template(record) if record is not None else str(logentry.get("message") or "")
        event["logentry"] = {"message": redact(template), "params": []}
    if event.get("message"):
        event["message"] = redact(str(event["message"]))
    for key in ("extra", "request", "user"):
        event.pop(key, None)
    crumbs = event.get("breadcrumbs")
    values = crumbs.get("values") if isinstance(crumbs, dict) else crumbs
    for crumb in values or []:
        crumb["message"] = redact(str(crumb.get("message") or ""))
        crumb.pop("data", None)
    return event


def scrub_breadcrumb(crumb: dict, hint: dict | None, redact: Redact) -> dict:
    """A log breadcrumb keeps its record's template, not the formatted message (which holds the arguments)."""
    record = (hint or {}).get("log_record")
    if record is not None:
        crumb["message"] = _template(record)
    crumb["message"] = redact(str(crumb.get("message") or ""))
    crumb.pop("data", None)
    return crumb


def init_error_reporting(dsn: str | None, redact: Redact, *, release: str | None = None) -> bool:
    """Start reporting to Sentry when a DSN is set; True when it did. Without one, sentry-sdk is not touched."""
    if not dsn:
        return False
    try:
        _init(dsn, redact, release)
    except BadDsn as err:  # never the DSN itself: its key lets anyone send events
        raise ConfigError(f"SENTRY_DSN is not a Sentry DSN ({err})") from None
    return True


def _init(dsn: str, redact: Redact, release: str | None) -> None:
    sentry_sdk.init(
        dsn=dsn,
        release=release,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
        auto_enabling_integrations=False,
        integrations=[LoggingIntegration()],  # breadcrumbs from INFO, an event from each ERROR record
        before_send=lambda event, hint: scrub_event(event, hint, redact),
        before_breadcrumb=lambda crumb, hint: scrub_breadcrumb(crumb, hint, redact),
    )
