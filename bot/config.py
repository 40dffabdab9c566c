"""Settings: the one place that reads the process environment.

Every other module receives a `Settings` (or plain values taken from it). A value that a command
needs but is missing raises `ConfigError` naming the variable, which the CLI prints as one line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_KEYWORDS = (
    "sparse",
    "sparsity",
    "KV cache",
    "pruning",
    "quantization",
    "quantize",
    "low-bit",
    "acceleration",
)
SLACK_DEFAULT_API_URL = "https://slack.com/api/"
ARXIV_DEFAULT_API_URL = "https://export.arxiv.org/api/query"
# arXiv's OAI-PMH base URL since 2025 (export.arxiv.org/oai2 redirects here); `papers-bot backfill` harvests from it.
ARXIV_DEFAULT_OAI_URL = "https://oaipmh.arxiv.org/oai"
ARXIV_MAX_PAGE_SIZE = 2000  # arXiv's terms: at most 2,000 results a page.
LOG_FORMATS = ("text", "json")  # text: one readable line a record; json: one JSON object a line (bot/logs.py)
SEARCH_ENGINES = ("index", "sql")  # index: the derived full-text index (bot/search_index); sql: the database's own
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order: Monday is 0


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


def _split_list(raw: str | None, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The drivers the project installs: the standard library's sqlite3 and psycopg 3.
_SUPPORTED_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgres", "postgresql", "postgresql+psycopg")


def normalise_database_url(url: str) -> str:
    """Accept Heroku-style `postgres://` and bare `postgresql://`, and pin the psycopg 3 driver.

    Anything but SQLite or PostgreSQL is refused here, naming only the URL's scheme (the rest may hold a password).
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in _SUPPORTED_SCHEMES:
        shown = f"a {scheme!r} URL" if scheme else "not a URL"
        raise ConfigError(f"DATABASE_URL must be sqlite:///PATH or postgresql://USER@HOST/DB; got {shown}")
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default="sqlite:///papers.db", repr=False)  # may carry a password
    database_connect_timeout_seconds: float = 5.0
    arxiv_api_url: str = ARXIV_DEFAULT_API_URL
    arxiv_oai_url: str = ARXIV_DEFAULT_OAI_URL
    # An OAI-PMH page holds thousands of records (megabytes), an export API page at most 2,000 entries.
    arxiv_oai_timeout_seconds: float = 120.0
    arxiv_delay_seconds: float = 3.0
    arxiv_timeout_seconds: float = 30.0
    arxiv_page_size: int = 1000
    arxiv_max_retries: int = 4
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str = SLACK_DEFAULT_API_URL
    # The workspace the install served before workspaces, and DIGEST_CHANNEL's: read offline instead of auth.test.
    slack_team_id: str | None = None
    retention_after_uninstall_days: int = 30  # an uninstalled workspace's data is purged this many days later
    # OAuth install into many workspaces (handlers/oauth.py): both set, or neither.
    slack_client_id: str | None = None
    slack_client_secret: str | None = field(default=None, repr=False)
    slack_redirect_uri: str | None = None  # None: the Redirect URL set in the app's settings
    slack_retry_backoff_seconds: float = 0.5
    digest_keywords: tuple[str, ...] = DEFAULT_KEYWORDS
    digest_exclude: tuple[str, ...] = ()
    digest_categories: tuple[str, ...] = ()
    digest_channel: str | None = None
    digest_editors: tuple[str, ...] = ()  # Slack user ids who may change any channel's digest topic
    digest_lookback_days: int = 7
    digest_quiet_empty: bool = False
    digest_pace_seconds: float = 1.0
    digest_time: time = time(9, 0)
    digest_timezone: str = "UTC"
    digest_days: str = "mon,tue,wed,thu,fri"
    foryou_window_days: int = 30
    port: int = 3000
    log_level: str = "INFO"
    search_engine: str = "index"
    search_index_dir: str | None = None  # None: beside the SQLite file, or a per-user cache dir for PostgreSQL
    # Operations (README "Run it in production"): a port of its own for /healthz, /readyz and /metrics (Socket
    # Mode and the clock process have no other), metrics opt-in behind a bearer token, JSON logs, Sentry.
    health_port: int | None = None
    metrics_enabled: bool = False
    metrics_token: str | None = field(default=None, repr=False)
    log_format: str = "text"
    sentry_dsn: str | None = field(default=None, repr=False)  # its key lets anyone send events to the project

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else None

        def number(name: str, default: float, kind: type = float, lo: float | None = None,
                   hi: float | None = None) -> float:
            raw = get(name)
            if raw is None:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a number, got {raw!r}") from None
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise ConfigError(f"{name} must be between {lo} and {hi}, got {raw}")
            return value

        slack_api_url = get("SLACK_API_URL") or SLACK_DEFAULT_API_URL
        if not slack_api_url.endswith("/"):
            slack_api_url += "/"  # slack_sdk joins method names onto the base URL.

        return cls(
            database_url=normalise_database_url(get("DATABASE_URL") or "sqlite:///papers.db"),
            database_connect_timeout_seconds=number("DATABASE_CONNECT_TIMEOUT_SECONDS", 5.0, lo=0.1, hi=600),
            arxiv_api_url=get("ARXIV_API_URL") or ARXIV_DEFAULT_API_URL,
            arxiv_oai_url=get("ARXIV_OAI_URL") or ARXIV_DEFAULT_OAI_URL,
            arxiv_oai_timeout_seconds=number("ARXIV_OAI_TIMEOUT_SECONDS", 120.0, lo=0.1),
            arxiv_delay_seconds=number("ARXIV_DELAY_SECONDS", 3.0, lo=0),
            arxiv_timeout_seconds=number("ARXIV_TIMEOUT_SECONDS", 30.0, lo=0.1),
            arxiv_page_size=int(number("ARXIV_PAGE_SIZE", 1000, int, lo=1, hi=ARXIV_MAX_PAGE_SIZE)),
            arxiv_max_retries=int(number("ARXIV_MAX_RETRIES", 4, int, lo=0, hi=20)),
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_app_token=get("SLACK_APP_TOKEN"),
            slack_api_url=slack_api_url,
            slack_team_id=get("SLACK_TEAM_ID"),
            retention_after_uninstall_days=int(number("RETENTION_AFTER_UNINSTALL_DAYS", 30, int, lo=0, hi=3650)),
            **_oauth_settings(get),
            slack_retry_backoff_seconds=number("SLACK_RETRY_BACKOFF_SECONDS", 0.5, lo=0, hi=60),
            digest_keywords=_split_list(get("DIGEST_KEYWORDS"), DEFAULT_KEYWORDS),
            digest_exclude=_split_list(get("DIGEST_EXCLUDE")),
            digest_categories=_split_list(get("DIGEST_CATEGORIES")),
            digest_channel=get("DIGEST_CHANNEL"),
            digest_editors=_split_list(get("DIGEST_EDITORS")),
            digest_lookback_days=int(number("DIGEST_LOOKBACK_DAYS", 7, int, lo=1, hi=365)),
            digest_quiet_empty=(get("DIGEST_QUIET_EMPTY") or "").lower() in ("1", "true", "yes", "on"),
            digest_pace_seconds=number("DIGEST_PACE_SECONDS", 1.0, lo=0, hi=60),
            digest_time=_parse_time(get("DIGEST_TIME") or "09:00"),
            digest_timezone=_check_timezone(get("DIGEST_TIMEZONE") or "UTC"),
            digest_days=_check_days(get("DIGEST_DAYS") or "mon,tue,wed,thu,fri"),
            foryou_window_days=int(number("FORYOU_WINDOW_DAYS", 30, int, lo=1, hi=3650)),
            port=int(number("PORT", 3000, int, lo=1, hi=65535)),
            log_level=_check_log_level(get("LOG_LEVEL") or "INFO"),
            search_engine=_check_search_engine(get("SEARCH_ENGINE") or "index"),
            search_index_dir=get("SEARCH_INDEX_DIR"),
            **_operations_settings(get, number),
        )

    @property
    def oauth_enabled(self) -> bool:
        """Installs into many workspaces through Slack's OAuth flow (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET)."""
        return bool(self.slack_client_id and self.slack_client_secret)

    def require_slack_credentials(self) -> None:
        """A command that acts in Slack needs a way in: SLACK_BOT_TOKEN, or OAuth installations."""
        if not self.oauth_enabled and not self.slack_bot_token:
            raise ConfigError("SLACK_BOT_TOKEN is not set (or, for many workspaces, SLACK_CLIENT_ID and "
                              "SLACK_CLIENT_SECRET); this command acts in Slack (see README: Settings)")

    def require(self, *names: str) -> None:
        """Raise ConfigError for the first of the named settings that is unset (by env var name)."""
        for name in names:
            if getattr(self, name.lower(), None) in (None, ""):
                raise ConfigError(f"{name} is not set; it is needed for this command (see README: Settings)")


# Slack's client ids are two dot-joined numbers; the installation tables hold 32 characters (slack_sdk's schema).
_CLIENT_ID = re.compile(r"[0-9]{1,20}\.[0-9]{1,20}", re.ASCII)
_CLIENT_SECRET = re.compile(r"[0-9A-Za-z]{8,128}", re.ASCII)


def _oauth_settings(get) -> dict[str, str | None]:
    """SLACK_CLIENT_ID, SLACK_CLIENT_SECRET (never echoed) and SLACK_REDIRECT_URI, checked together."""
    client_id, secret, redirect = get("SLACK_CLIENT_ID"), get("SLACK_CLIENT_SECRET"), get("SLACK_REDIRECT_URI")
    if client_id and (not _CLIENT_ID.fullmatch(client_id.strip()) or len(client_id.strip()) > 32):
        raise ConfigError(f"SLACK_CLIENT_ID must look like 1234567890.1234567890 (Basic Information), "
                          f"got {client_id!r}")
    if secret and not _CLIENT_SECRET.fullmatch(secret.strip()):
        raise ConfigError("SLACK_CLIENT_SECRET must be the Client Secret from Basic Information (letters and digits)")
    if bool(client_id) != bool(secret):
        missing = "SLACK_CLIENT_SECRET" if client_id else "SLACK_CLIENT_ID"
        raise ConfigError(f"{missing} is not set; installing into many workspaces needs both SLACK_CLIENT_ID and "
                          "SLACK_CLIENT_SECRET")
    if redirect and not re.fullmatch(r"https?://[^\s/]+/\S*", redirect):
        raise ConfigError(f"SLACK_REDIRECT_URI must be the full https:// URL of /slack/oauth_redirect, "
                          f"got {redirect!r}")
    if redirect and not client_id:
        raise ConfigError("SLACK_REDIRECT_URI is set but SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are not")
    return {"slack_client_id": client_id and client_id.strip(), "slack_client_secret": secret and secret.strip(),
            "slack_redirect_uri": redirect}


def _check_log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return level


def _operations_settings(get, number) -> dict:
    """HEALTH_PORT, METRICS_*, LOG_FORMAT and SENTRY_DSN, read by `from_env`'s `get` and `number`."""
    return {
        "health_port": int(number("HEALTH_PORT", 0, int, lo=1, hi=65535)) if get("HEALTH_PORT") else None,
        "metrics_enabled": _flag("METRICS_ENABLED", get("METRICS_ENABLED")),
        "metrics_token": get("METRICS_TOKEN"),
        "log_format": _check_log_format(get("LOG_FORMAT") or "text"),
        "sentry_dsn": get("SENTRY_DSN"),
    }


def _check_log_format(raw: str) -> str:
    log_format = raw.strip().lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {raw!r}")
    return log_format


def _flag(name: str, raw: str | None) -> bool:
    """An on/off setting: unset is off; a typo is an error rather than silently off."""
    value = (raw or "off").strip().lower()
    if value not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ConfigError(f"{name} must be on or off (1/0, true/false, yes/no), got {raw!r}")
    return value in ("1", "true", "yes", "on")


def _parse_time(raw: str) -> time:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", raw.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ConfigError(f"DIGEST_TIME must look like HH:MM, got {raw!r}")
    return time(int(match[1]), int(match[2]))


def _check_timezone(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"DIGEST_TIMEZONE is not a known time zone: {raw!r}") from None
    return raw


def _check_days(raw: str) -> str:
    days = [d.strip().lower() for d in raw.split(",") if d.strip()]
    if not days or any(d not in WEEKDAYS for d in days):
        raise ConfigError(f"DIGEST_DAYS must be a comma list of mon..sun, got {raw!r}")
    return ",".join(days)


def _check_search_engine(raw: str) -> str:
    engine = raw.strip().lower()
    if engine not in SEARCH_ENGINES:
        raise ConfigError(f"SEARCH_ENGINE must be one of {', '.join(SEARCH_ENGINES)}, got {raw!r}")
    return engine
