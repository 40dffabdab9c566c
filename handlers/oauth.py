"""OAuth installs into many workspaces: Bolt's OAuth flow, its installation and state stores, and uninstalls.

With SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set, Bolt serves `GET /slack/install` (an "Add to Slack" page
with a fresh state, also set as a cookie in the installer's browser) and `GET /slack/oauth_redirect` (the
state checked and consumed, the code exchanged through `oauth.v2.access`, the installation saved). Each
request is then authorized from the installation of its own workspace (slack_sdk's SQLAlchemy stores, on the
app's database; their tables come from migration 0012). Every Web API call, the code exchange and token
refreshes included, goes through SLACK_API_URL.

The two pages face the internet, so what anyone can put in their URLs is held to Slack's shapes (`InstallFlow`):
a `team` that is not a team id is not passed on to Slack's authorize page (where it could add parameters), a
`code` that is not shaped like one is refused without asking Slack, and a refusal is logged as one short line.
Every page load issues a state row; the ones that expired unused are deleted as new ones are issued. The code
exchange does not wait out a rate limit (a 429's Retry-After would hold the installer's browser, and a server
thread, for minutes): the page says so and the admin starts again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from slack_bolt import BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation import TokenRotator

from bot import installs
from bot.render_install_pages import MAX_REASON_SHOWN, add_to_slack_page, install_failure_page
from handlers.common import APOLOGY
from handlers.web_client import TIMEOUT_SECONDS

log = logging.getLogger(__name__)

# What the app asks each workspace for: manifest.yml's bot scopes (tests/workspaces_oauth checks they agree).
BOT_SCOPES = (
    "commands", "chat:write", "chat:write.public", "channels:history", "groups:history", "channels:read",
    "groups:read", "users:read", "mpim:read", "im:write", "links:read", "links:write", "files:write",
)
# What a user of a workspace without an installation is told (only them, only for a command or a click).
NOT_INSTALLED = "papers-bot is not installed in this workspace (or was uninstalled): ask an admin to install it."
STATE_EXPIRATION_SECONDS = 600  # an "Add to Slack" page is good for ten minutes, as Bolt's default
# Slack's rotating tokens live 12 hours; Bolt (and installed_workspaces below) refresh one due within this.
REFRESH_MINUTES_BEFORE_EXPIRY = 120
# What Slack's ids and install codes look like (a code: digits, dots and hex); anything else in the URL is not theirs.
TEAM_ID = re.compile(r"[TE][A-Z0-9]{2,20}", re.ASCII)
INSTALL_CODE = re.compile(r"[A-Za-z0-9._-]{1,200}", re.ASCII)


def installation_store(settings, engine) -> SQLAlchemyInstallationStore:
    """slack_sdk's store on the app's engine. Its tables are the migration's; nothing is created here."""
    return SQLAlchemyInstallationStore(client_id=settings.slack_client_id, engine=engine)


class InstallationsThenBotToken(InstallationStoreAuthorize):
    """Each request is authorized from its workspace's installation. With SLACK_BOT_TOKEN set as well, the
    workspace that token served before OAuth was turned on keeps being served with it while it has no
    installation of its own (so turning OAuth on does not cut off the workspace already using the app)."""

    def __init__(self, *, home: AuthorizeResult | None, **kwargs):
        super().__init__(**kwargs)
        self.home = home

    def __call__(self, *, context, enterprise_id, team_id, user_id, **actor) -> AuthorizeResult | None:
        try:
            found = super().__call__(context=context, enterprise_id=enterprise_id, team_id=team_id, user_id=user_id,
                                     **actor)
        except Exception as err:  # the store's database; Bolt would answer Slack 500 (see on_error)
            log.error("cannot look up the installation of workspace %s (%s)", team_id, type(err).__name__)
            raise InstallationsUnavailable from None
        if found is None and self.home is not None and (enterprise_id, team_id) == (None, self.home.team_id):
            return self.home
        return found


class InstallationsUnavailable(Exception):
    """The installation store (the database) did not answer while a request was being authorized."""


def on_error(error, request) -> BoltResponse | None:
    """Bolt's error handler in OAuth mode. A request whose installation could not be looked up is acked (200:
    a 5xx makes Slack retry and show an error) and the user of a command or click reads a short apology; any
    other error is logged as Bolt's default handler would and keeps Bolt's answer."""
    if not isinstance(error, InstallationsUnavailable):
        log.error("unhandled error in a Slack request (%s)", type(error).__name__, exc_info=error)
        return None
    if request.context.response_url:
        try:
            request.context.respond(text=APOLOGY, response_type="ephemeral")
        except (SlackApiError, OSError) as err:
            log.warning("could not apologise at the response_url (%s)", type(err).__name__)
    return BoltResponse(status=200, body="")


def home_workspace(client: WebClient, bot_token: str) -> AuthorizeResult:
    """SLACK_BOT_TOKEN's workspace, from auth.test (raises SlackApiError if Slack refuses the token)."""
    answer = client.auth_test(token=bot_token)
    return AuthorizeResult.from_auth_test_response(auth_test_response=answer, bot_token=bot_token,
                                                   bot_scopes=answer.headers.get("x-oauth-scopes"))


class InstallFlow(OAuthFlow):
    """Bolt's OAuth flow, with the URL's `team` and `code` held to Slack's shapes (see the module docstring)."""

    def build_authorize_url(self, state: str, request: BoltRequest) -> str:
        team = (request.query.get("team") or [None])[0]
        # Bolt appends `team` to Slack's authorize URL as it is: `T1&redirect_uri=...` would add parameters.
        return self.settings.authorize_url_generator.generate(
            state=state, team=team if team and TEAM_ID.fullmatch(team) else None)

    def build_install_page_html(self, url: str, request: BoltRequest) -> str:
        return add_to_slack_page(url)  # Bolt's says only "Slack App Installation"

    def run_installation(self, code: str):
        if not INSTALL_CODE.fullmatch(code):
            return None  # the "not confirmed" page; Slack is not asked (and Bolt would log the code whole)
        return super().run_installation(code)


class ExpiringStateStore(SQLAlchemyOAuthStateStore):
    """slack_sdk's state store, which also deletes the states that expired unused each time it issues one."""

    def issue(self, *args, **kwargs) -> str:
        installs.forget_expired_install_links(self.engine, datetime.now(UTC))
        return super().issue(*args, **kwargs)


def install_flow(settings, oauth: OAuthSettings) -> InstallFlow:
    """The flow behind /slack/install and /slack/oauth_redirect. Its client (the code exchange) retries a dropped
    connection or a 5xx once and never waits out a 429 (see the module docstring)."""
    client = WebClient(base_url=settings.slack_api_url, timeout=TIMEOUT_SECONDS,
                       retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1),
                                       ServerErrorRetryHandler(max_retry_count=1)])
    return InstallFlow(client=client, logger=log, settings=oauth)


def oauth_settings(settings, engine, client: WebClient, *, home: AuthorizeResult | None = None,
                   on_installed: Callable[[str, str | None], None] | None = None
                   ) -> tuple[OAuthSettings, InstallationStoreAuthorize]:
    """Bolt's OAuth settings and the authorize it runs on every request, both on the app's database.

    The authorize is built here rather than left to OAuthSettings so that it refreshes rotating tokens
    through `client` (SLACK_API_URL): OAuthSettings' own would call slack.com. Its cache keeps one auth.test
    answer per token; a deleted installation is never looked up in it (no token is found first). `home`:
    the SLACK_BOT_TOKEN workspace (home_workspace), when that is set too. `on_installed(team_id, team_name)`
    runs after an install is stored."""
    store = installation_store(settings, engine)
    authorize = InstallationsThenBotToken(
        home=home,
        installation_store=store,
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        token_rotation_expiration_minutes=REFRESH_MINUTES_BEFORE_EXPIRY,
        cache_enabled=True,
        client=client,
        logger=log,
    )
    oauth = OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=list(BOT_SCOPES),
        user_scopes=[],
        redirect_uri=settings.slack_redirect_uri,
        installation_store=store,
        token_rotation_expiration_minutes=REFRESH_MINUTES_BEFORE_EXPIRY,
        state_store=ExpiringStateStore(expiration_seconds=STATE_EXPIRATION_SECONDS, engine=engine),
        state_expiration_seconds=STATE_EXPIRATION_SECONDS,
        callback_options=CallbackOptions(success=partial(_installed, on_installed=on_installed),
                                         failure=_not_installed),
    )
    return oauth, authorize


def _installed(args: SuccessArgs, *, on_installed: Callable[[str, str | None], None] | None) -> BoltResponse:
    installation = args.installation
    log.info("installed into workspace %s (%s)", installation.team_id, installation.team_name)
    if on_installed is not None and installation.team_id:
        on_installed(installation.team_id, installation.team_name)
    return args.default.success(args)  # Bolt's page: "Thank you!" and a link that opens the app in Slack


def _not_installed(args: FailureArgs) -> BoltResponse:
    # `reason` may be the `error` of the URL, which anyone can write: one line, cut short.
    log.warning("an install was refused (%r, HTTP %d)", args.reason[:MAX_REASON_SHOWN], args.suggested_status_code)
    return BoltResponse(status=args.suggested_status_code, body=install_failure_page(args.reason),
                        headers={"Content-Type": "text/html; charset=utf-8"})


def register(app, services, store: SQLAlchemyInstallationStore | None) -> None:
    """`app_uninstalled` and `tokens_revoked`: forget the workspace's installation (Bolt authorizes these events
    without a token, since the token is already revoked). Without a `store` (SLACK_BOT_TOKEN), there is no
    installation to delete; the workspace's digests and DMs stop all the same."""

    def uninstalled(ack, context) -> None:
        ack()
        _forget_workspace(services, store, context, why="the app was uninstalled")

    def tokens_revoked(ack, event, context) -> None:
        ack()
        tokens = event.get("tokens") or {}
        if tokens.get("bot"):  # the bot token is what every request and job runs on: the workspace is gone
            _forget_workspace(services, store, context, why="its bot token was revoked")
            return
        # User tokens only. The app asks for none, so no installation holds one; Bolt's default would delete
        # the installer's row, which is the one that holds the bot token.
        log.info("workspace %s: %d user tokens revoked; the app holds none, nothing to forget", context.team_id,
                 len(tokens.get("oauth") or []))

    app.event("app_uninstalled")(uninstalled)
    app.event("tokens_revoked")(tokens_revoked)


def _forget_workspace(services, store: SQLAlchemyInstallationStore | None, context, *, why: str) -> None:
    if store is not None:
        store.delete_all(enterprise_id=context.enterprise_id, team_id=context.team_id)
        log.info("workspace %s: installation deleted (%s)", context.team_id, why)
    installs.on_workspace_uninstalled(services, context.team_id, datetime.now(UTC))


def bot_tokens(settings, engine, client: WebClient, team_ids: list[str]) -> list[tuple[str, str]]:
    """(team_id, bot token) for each installed workspace in `team_ids`, a rotating token refreshed (and saved)
    first when it expires within REFRESH_MINUTES_BEFORE_EXPIRY, as Bolt's authorize does. A workspace whose
    refresh Slack refuses is left out with a log line (its admin must reinstall)."""
    store = installation_store(settings, engine)
    rotator = TokenRotator(client_id=settings.slack_client_id, client_secret=settings.slack_client_secret,
                           client=client)
    found = []
    for team_id in team_ids:
        installation = store.find_installation(enterprise_id=None, team_id=team_id)
        if installation is None or not installation.bot_token:
            continue
        if installation.bot_refresh_token:
            try:
                refreshed = rotator.perform_token_rotation(installation=installation,
                                                           minutes_before_expiration=REFRESH_MINUTES_BEFORE_EXPIRY)
            except (SlackTokenRotationError, SlackApiError) as err:
                log.error("workspace %s: Slack refused to refresh its bot token (%s); skipped until it is "
                          "reinstalled", team_id, type(err).__name__)
                continue
            if refreshed is not None:
                store.save(refreshed)
                installation = refreshed
        found.append((team_id, installation.bot_token))
    return found
