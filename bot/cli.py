"""`papers-bot` command line: parses arguments, calls the composition root, prints results.

Every expected failure (a missing setting, arXiv down, the database unreachable) ends as one line on
stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import select
import sys
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, time
from functools import partial
from importlib.metadata import version as package_version
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.exc import OperationalError

from bot import app, backfill, digest, ingest, search, workspaces
from bot.app import SlackUnavailable
from bot.arxiv_source import ArxivQueryRefused, ArxivUnavailable
from bot.backfill_progress import BackfillProgress
from bot.config import ConfigError, Settings
from bot.error_reporting import init_error_reporting
from bot.logs import RedactSecrets, configure_logging
from bot.metrics import Metrics
from bot.render_blocks.digest import digest_messages
from bot.render_markdown import render_digest_markdown
from bot.scheduler import describe
from db.session import DatabaseUnavailable, describe_db_error
from handlers.socket_mode import socket_connected, socket_mode_handler

log = logging.getLogger("papers-bot")


def _date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {raw!r}") from None


class CliParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (what is wrong and where to look), not a usage dump."""

    def error(self, message: str):  # argparse's hook; it must not return
        hint = ""
        if self.prog.endswith(" search") and "required: query" in message:
            hint = "; put -- before a query that starts with -, e.g. papers-bot search -- -survey pruning"
        self.exit(2, f"{self.prog}: {message}{hint} (see {self.prog} --help)\n")


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


EXAMPLES = """examples:
  papers-bot digest --dry-run --date 2025-03-21 --from-file tests/fixtures/seed_feed.atom.xml
      print a day's digest as Markdown from a saved arXiv answer (no Slack, no network)
  papers-bot fetch --since 2025-03-14 --until 2025-03-21
      store the topic's papers for a week from arXiv
  papers-bot backfill --categories cs.LG,cs.CL --since 2023-01-01
      store every cs.LG and cs.CL paper since 2023 through arXiv's OAI-PMH interface (resumable)
  papers-bot search kv cache author:Han --limit 5
      search the stored papers as /papers does
  papers-bot serve
      answer Slack (HTTP on PORT, or Socket Mode with SLACK_APP_TOKEN) and post digests on schedule

Settings come from the environment (DATABASE_URL, SLACK_BOT_TOKEN, DIGEST_CHANNEL, ...): see README.md."""


def _subcommand(sub, name: str, summary: str, example: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".",
                          epilog=f"example:\n  {example}", formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(prog="papers-bot", description="papers-bot: daily arXiv digests in Slack, /papers search "
                       "and read tracking.", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=CliParser)
    _add_arxiv_commands(sub)
    _add_slack_commands(sub)
    _add_operator_commands(sub)
    return parser


def _add_arxiv_commands(sub) -> None:
    """fetch and backfill: papers from arXiv into the store."""
    fetch = _subcommand(sub, "fetch", "store papers from arXiv (or a saved arXiv answer)",
                        "papers-bot fetch --since 2025-03-14 --until 2025-03-21")
    fetch.add_argument("--since", type=_date, help="first submission day (default: lookback before --until)")
    fetch.add_argument("--until", type=_date, help="last submission day (default: today, UTC)")
    fetch.add_argument("--from-file", type=Path, metavar="FEED.xml", help="store a saved arXiv API answer")

    backfill = _subcommand(sub, "backfill", "store whole arXiv categories through OAI-PMH; stop it any time, "
                           "rerun to resume", "papers-bot backfill --categories cs.LG,cs.CL --since 2023-01-01")
    backfill.add_argument("--categories", metavar="CATS",
                          help="comma-separated arXiv categories or archives, e.g. cs.LG,cs.CL or hep-th "
                               "(default: DIGEST_CATEGORIES)")
    backfill.add_argument("--since", type=_date, metavar="YYYY-MM-DD",
                          help="papers arXiv published or revised on or after this day (default: all of arXiv)")
    backfill.add_argument("--until", type=_date, metavar="YYYY-MM-DD",
                          help="... and on or before this day (default: today, UTC; leave it out to be complete)")


def _add_slack_commands(sub) -> None:
    """digest, search, serve, alerts and scheduler: what users see, from the shell."""
    digest = _subcommand(sub, "digest", "post the digest for a date (or print it with --dry-run)",
                         "papers-bot digest --dry-run --date 2025-03-21 --from-file tests/fixtures/seed_feed.atom.xml")
    digest.add_argument("--date", type=_date, help="digest date (default: today in DIGEST_TIMEZONE)")
    digest.add_argument("--channel", help="Slack channel id (default: DIGEST_CHANNEL)")
    digest.add_argument("--all", action="store_true",
                        help="what the schedule runs: every workspace, every channel with a topic (and DMs)")
    digest.add_argument("--team", help="the channel's workspace (default: SLACK_TEAM_ID, else SLACK_BOT_TOKEN's)")
    digest.add_argument("--dry-run", action="store_true", help="print the digest; post and record nothing")
    digest.add_argument("--from-file", type=Path, metavar="FEED.xml",
                        help="store a saved arXiv answer instead of fetching (offline demos)")
    digest.add_argument("--no-fetch", action="store_true", help="use only papers already stored")
    digest.add_argument("--format", choices=("markdown", "slack"), default="markdown",
                        help="with --dry-run: the seed's Markdown, or the Slack messages as Block Kit JSON, one a line")

    search = _subcommand(sub, "search", "search the stored papers as /papers does",
                         'papers-bot search "kv cache" -survey since:2025-03-01 --limit 5')
    search.add_argument("query", nargs="+", help="words, \"phrases\", -exclusions, author:, cat:, since:")
    search.add_argument("--limit", type=_positive, default=10, help="how many results to print (default 10)")
    search.add_argument("--json", action="store_true", help="print a JSON list, best first")

    serve = _subcommand(sub, "serve", "answer Slack (HTTP, or Socket Mode with SLACK_APP_TOKEN)", "papers-bot serve")
    serve.add_argument("--port", type=int, help="HTTP port (default: PORT or 3000)")
    serve.add_argument("--no-scheduler", action="store_true", help="do not run the digest scheduler here")
    serve.add_argument("--socket", action="store_true", help="force Socket Mode")

    alerts = _subcommand(sub, "alerts", "send only the follow-alert DMs (new papers each user's follows match)",
                         "papers-bot alerts --date 2025-03-21")
    alerts.add_argument("--date", type=_date, help="papers stored up to the end of this day (default: now)")

    _subcommand(sub, "scheduler", "run only the digest scheduler (the Procfile clock process)", "papers-bot scheduler")


def _add_operator_commands(sub) -> None:
    """health, workspace and db: running the service."""
    health = _subcommand(sub, "health", "ask this machine's running papers-bot whether it is up (the Docker "
                         "HEALTHCHECK)", "papers-bot health --ready")
    health.add_argument("--ready", action="store_true", help="ask /readyz (database, Slack) instead of /healthz")

    workspace = _subcommand(sub, "workspace", "list the workspaces served, or delete one's data",
                            "papers-bot workspace purge T012AB3CD")
    workspace_sub = workspace.add_subparsers(dest="workspace_command", required=True, metavar="ACTION",
                                             parser_class=CliParser)
    workspace_sub.add_parser("list", help="workspaces, their channels with topics, counts of their data")
    purge = workspace_sub.add_parser("purge", help="delete one workspace's data now (asks nothing)")
    purge.add_argument("team_id", metavar="TEAM_ID", help="the workspace's id, T…")

    db = _subcommand(sub, "db", "database maintenance", "papers-bot db upgrade")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION", parser_class=CliParser)
    db_sub.add_parser("upgrade", help="bring the schema to the latest migration")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        secrets = (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token,
                   settings.slack_client_secret, settings.metrics_token, settings.sentry_dsn)
        configure_logging("DEBUG" if args.verbose else settings.log_level, secrets=secrets,
                          log_format=settings.log_format)
        init_error_reporting(settings.sentry_dsn, RedactSecrets(secrets).redact,
                             release=f"papers-bot@{package_version('papers-bot')}")
        return COMMANDS[args.command](settings, args)
    except (ConfigError, DatabaseUnavailable, ArxivUnavailable, SlackUnavailable) as err:
        print(f"papers-bot: {err}", file=sys.stderr)
        return 2
    except OperationalError as err:
        # The database went away mid-command; the ledger and page transactions keep the data whole.
        log.debug("database error", exc_info=True)
        print(f"papers-bot: the database failed mid-command ({describe_db_error(err)}); "
              "nothing half-written was kept, run the command again", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError as err:
        if not _stdout_closed():  # a socket's, not ours: a command that did not finish must not look done
            log.debug("broken pipe", exc_info=True)
            print(f"papers-bot: a connection closed mid-command ({err.strerror or err}); run the command again",
                  file=sys.stderr)
            return 2
        # `papers-bot search … | head -1`: the reader has what it wanted. Point stdout at /dev/null so the
        # interpreter's final flush does not raise again, and stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _stdout_closed() -> bool:
    """Whether stdout's reader went away (a pipe with no reader polls as an error), which is what a
    BrokenPipeError from printing means; a socket's broken pipe leaves stdout writable."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
    except (ValueError, OSError):  # closed, or not a file at all
        return True
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def cmd_fetch(settings: Settings, args) -> int:
    runtime = app.build_store(settings)
    if args.from_file:
        report = ingest_saved_answer(runtime.session_factory, args.from_file)
    else:
        until = args.until or datetime.now(UTC).date()
        since = args.since or ingest.default_window(until, settings.digest_lookback_days)[0]
        if since > until:
            raise ConfigError("--since must not be after --until")

        def progress(report: ingest.FetchReport) -> None:
            print(f"  … {report.summary()}", file=sys.stderr)

        report = ingest.fetch_window(
            runtime.session_factory,
            app.build_arxiv_source(settings, store=runtime),
            keywords=settings.digest_keywords,
            categories=settings.digest_categories,
            since=since,
            until=until,
            progress=progress,
        )
    print(f"fetch: {report.summary()}")
    return 0


def cmd_backfill(settings: Settings, args) -> int:
    sets = backfill.parse_categories(args.categories if args.categories is not None else settings.digest_categories)
    today = datetime.now(UTC).date()
    since, until = backfill.check_window(args.since, args.until, today=today)
    store = app.build_store(settings)
    progress = BackfillProgress(sys.stderr)
    try:
        report = backfill.backfill(store.session_factory, app.build_oai_client(settings, store=store), sets=sets,
                                   since=since, until=until, today=today, progress=progress)
    except ArxivQueryRefused:
        raise
    except ArxivUnavailable as err:
        raise ArxivUnavailable(f"{err}; every page stored so far is kept, and the same command resumes where "
                               "it stopped") from None
    finally:
        progress.close()
    if not report.windows:
        print(f"backfill: nothing to do: {', '.join(sets)} from {since} to {until} is harvested already "
              "(0 requests to arXiv)")
        return 0
    print(f"backfill: {report.summary()}")
    return 0


def ingest_saved_answer(factory, path: Path) -> ingest.FetchReport:
    """`--from-file`: a saved arXiv API answer, or one line saying why it cannot be read."""
    if not path.is_file():
        raise ConfigError(f"--from-file: no such file: {path}")
    try:
        return ingest.ingest_feed_file(factory, path)
    except ValueError:  # read_feed_file: not an Atom feed
        raise ConfigError(f"--from-file: {path} is not a saved arXiv API answer (an Atom feed)") from None
    except OSError as err:
        raise ConfigError(f"--from-file: cannot read {path}: {err.strerror}") from None


def cmd_db(settings: Settings, args) -> int:
    app.build_store(settings)
    print("database schema is at the latest migration")
    return 0


def cmd_serve(settings: Settings, args) -> int:
    if settings.oauth_enabled and (args.socket or settings.slack_app_token):
        raise ConfigError("SLACK_CLIENT_ID is set: the OAuth install pages are served over HTTP, not Socket Mode; "
                          "unset SLACK_APP_TOKEN (and do not pass --socket) to serve them")
    store = app.build_store(settings)
    services = app.Services(settings=settings, store=store)
    services.metrics.count_logged_errors()
    bolt_app = app.build_bolt_app(services)
    if settings.slack_bot_token:  # the token's workspace takes the rows from before workspaces (migration 0011)
        app.workspace_installations(settings, store)()
    if not args.no_scheduler:
        scheduler = app.build_scheduler(settings, store, blocking=False, arxiv=services.arxiv,
                                        metrics=services.metrics)
        scheduler.start()
        log.info("%s (in this process; use --no-scheduler with a separate clock process)", describe(scheduler))
    if args.socket or settings.slack_app_token:
        settings.require("SLACK_APP_TOKEN")
        handler = socket_mode_handler(bolt_app, settings.slack_app_token)
        _log_health_port(app.serve_health(settings, store, services.metrics,
                                          socket_connected=partial(socket_connected, handler)))
        log.info("serving Slack in Socket Mode")
        handler.start()
        return 0
    port = args.port or settings.port
    if settings.health_port != port:  # the same port: the main server answers the health paths itself
        _log_health_port(app.serve_health(settings, store, services.metrics))
    server = app.make_http_server(app.build_wsgi_app(bolt_app, store, services=services), host="0.0.0.0", port=port)
    log.info("serving Slack over HTTP on port %d: POST /slack/events, GET /healthz, /readyz%s%s", port,
             ", /metrics" if settings.metrics_enabled else "",
             ", /slack/install, /slack/oauth_redirect" if settings.oauth_enabled else "")
    server.run()
    return 0


def _log_health_port(server) -> None:
    if server is not None:
        log.info("GET /healthz, /readyz and /metrics (when on) on port %d", server.effective_port)


def digest_workspace(settings: Settings, args, installations) -> tuple[str, object | None]:
    """The workspace of `papers-bot digest`'s channel and the client to post with: --team, else SLACK_TEAM_ID, else
    the one workspace served (SLACK_BOT_TOKEN's, or the only installation). A dry run calls no one: without --team
    or SLACK_TEAM_ID it reads the rows from before workspaces ('')."""
    if args.dry_run:
        return args.team or settings.slack_team_id or "", None
    served = list(installations())
    wanted = args.team or (settings.slack_team_id if len(served) > 1 else None)
    if wanted is None:
        if len(served) != 1:
            raise ConfigError(f"{len(served)} workspaces are installed: name one with --team T…, or use --all")
        return served[0]
    for team_id, client in served:
        if team_id == wanted:
            return team_id, client
    if not settings.oauth_enabled:
        raise ConfigError(f"--team {wanted}: SLACK_BOT_TOKEN belongs to workspace {served[0][0]}")
    raise ConfigError(f"--team {wanted}: no installation serves that workspace (see papers-bot workspace list)")


def cmd_digest(settings: Settings, args) -> int:
    if args.all:
        return cmd_digest_all(settings, args)
    channel = args.channel or settings.digest_channel
    if not args.dry_run:
        settings.require_slack_credentials()
        if not channel:
            raise ConfigError("DIGEST_CHANNEL is not set and no --channel was given")
    store = app.build_store(settings)
    # Built once: asking Slack which workspace the token serves (auth.test) happens once per run.
    installations = None if args.dry_run else app.workspace_installations(settings, store)
    team_id, client = digest_workspace(settings, args, installations)
    digest_date = args.date or digest.today_in(settings)
    if args.from_file:
        ingest_saved_answer(store.session_factory, args.from_file)
    elif not args.no_fetch:
        try:
            digest.refresh_papers(store.session_factory, app.build_arxiv_source(settings, store=store), settings,
                                  team_id=team_id, channels=[channel], digest_date=digest_date)
        except ArxivUnavailable as err:
            print(f"papers-bot: warning: {err}; using the papers already stored", file=sys.stderr)
    if args.dry_run:
        with store.session_factory.begin() as session:
            chosen = digest.select_digest(session, settings, team_id=team_id, channel=channel,
                                          digest_date=digest_date)
        if args.format == "slack":
            # One message per line, as posted (parent first): each pastes into Slack's Block Kit Builder.
            for message in digest_messages(digest.best_first(chosen)):
                print(json.dumps({"blocks": message["blocks"], "text": message["text"]}, ensure_ascii=False))
            return 0
        sys.stdout.write(render_digest_markdown(digest_date, chosen.papers, chosen.topic.keywords))
        return 0
    report = digest.post_digest(store.session_factory, app.build_digest_poster(settings, client), settings,
                                team_id=team_id, channel=channel, digest_date=digest_date)
    print(report.summary())
    # The follow-alert DMs go right after the digest, as the scheduled job sends them (logged: stdout stays the
    # digest's one summary line).
    log.info(app.send_alerts(settings, store, installations=installations).summary())
    if report.database_error:
        # Not "nothing half-written": Slack may hold messages the ledger has no ts for. Their marks let the
        # rerun find them, so it posts only what is missing.
        print(f"papers-bot: the database failed in the middle of the digest ({report.database_error}) after "
              f"Slack accepted {report.messages} messages; they stay in the channel and the rerun finds them, "
              f"so nothing is lost or posted twice: run `papers-bot digest --date {digest_date} --channel "
              f"{channel}` again once the database is back (a running scheduler retries by itself)",
              file=sys.stderr)
    return 1 if report.status == "failed" else 0


def cmd_digest_all(settings: Settings, args) -> int:
    """`digest --all`: exactly the scheduled job (every workspace, every channel with a topic, then the DMs)."""
    if args.dry_run or args.channel or args.team or args.from_file or args.no_fetch:
        raise ConfigError("--all runs what the schedule runs; it takes only --date")
    settings.require_slack_credentials()
    store = app.build_store(settings)
    daily = app.build_daily_digests(settings, store)  # the scheduled job itself; kept to see who was served
    reports = daily(digest_date=args.date)
    for report in reports:
        print(f"{report.team_id}: {report.summary()}")
    if not daily.jobs:  # none installed yet, or every one uninstalled: DIGEST_CHANNEL would change nothing
        print("digest --all: no workspace is installed, so nothing was posted (see papers-bot workspace list)")
    elif not reports:
        print("digest --all: no workspace has a digest channel (set DIGEST_CHANNEL or a channel topic)")
    return 1 if any(report.status == "failed" for report in reports) else 0


def cmd_workspace(settings: Settings, args) -> int:
    store = app.build_store(settings)
    if args.workspace_command == "purge":
        if not workspaces.known_team(store.session_factory, args.team_id):
            print(f"papers-bot workspace purge: no workspace {args.team_id} is known here (see papers-bot workspace "
                  "list)", file=sys.stderr)
            return 2
        still_installed = workspaces.is_served(store.session_factory, args.team_id)
        print(workspaces.purge_workspace(store.session_factory, args.team_id).summary())
        if still_installed:  # the data is gone, the app is not: say what happens next
            print(f"papers-bot workspace purge: {args.team_id} has not uninstalled papers-bot, so it is still "
                  "served: its channels start again with no topic; uninstall the app there to stop it",
                  file=sys.stderr)
        return 0
    overview = workspaces.workspace_overview(store.session_factory)
    if not overview:
        print("no workspaces yet")
    for workspace in overview:
        counts = workspace.counts
        print(f"{workspace.label}\n  {counts.reads} reads, {counts.saved} saved, {counts.follows} follows, "
              f"{counts.digests} digests, {counts.dm_subscribers} morning-DM subscribers")
        for topic in workspace.topics:
            paused = " (paused)" if topic.paused_at else ""
            print(f"  {topic.channel}{paused}: {', '.join(topic.keywords)}")
    return 0


def cmd_scheduler(settings: Settings, args) -> int:
    settings.require_slack_credentials()
    store = app.build_store(settings)
    metrics = Metrics()
    metrics.count_logged_errors()
    scheduler = app.build_scheduler(settings, store, blocking=True, metrics=metrics)
    _log_health_port(app.serve_health(settings, store, metrics, slack=None))  # no Slack request comes here
    log.info("%s; running until stopped", describe(scheduler))
    scheduler.start()
    return 0


def cmd_search(settings: Settings, args) -> int:
    """The same search as `/papers`: a readable list, or JSON (best first) with --json."""
    store = app.build_store(settings)
    try:
        page = search.run_search(store.session_factory, query=" ".join(args.query),
                                 limit=max(1, min(args.limit, search.MAX_PAGE)))
    except search.SearchError as err:
        print(f"papers-bot search: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([
            {"arxiv_id": hit.paper.arxiv_id, "version": hit.paper.version, "title": hit.paper.title,
             "authors": list(hit.paper.authors), "published": hit.paper.published.isoformat(),
             "categories": list(hit.paper.categories), "url": hit.paper.abs_url, "score": round(hit.score, 6)}
            for hit in page.hits
        ], ensure_ascii=False, indent=2))
        return 0
    if not page.hits:
        print("no papers match; try fewer or broader words")
        return 0
    noun = "paper matches" if page.total == 1 else "papers match"
    best = "the best one" if len(page.hits) == 1 else f"the best {len(page.hits)}"
    print(f"{page.total} {noun}; {best}:" if page.total > 1 else f"1 {noun}:")
    for rank, hit in enumerate(page.hits, 1):
        paper = hit.paper
        authors = ", ".join(paper.authors[:3]) + (" et al." if len(paper.authors) > 3 else "")
        print(f"{rank:3}. {paper.title}\n     {authors} · {paper.published:%Y-%m-%d} · {paper.abs_url}")
    return 0


def cmd_alerts(settings: Settings, args) -> int:
    """The follow-alert DMs alone: gather what the follows matched, DM each user once."""
    store = app.build_store(settings)
    until = None
    if args.date:
        end = datetime.combine(args.date, time.max, tzinfo=ZoneInfo(settings.digest_timezone))
        until = end.astimezone(UTC)
    print(app.send_alerts(settings, store, until=until).summary())
    return 0


HEALTH_TIMEOUT_SECONDS = 4  # under the Dockerfile HEALTHCHECK's --timeout


def cmd_health(settings: Settings, args) -> int:
    """GET /healthz (or /readyz) of the papers-bot on this machine: HEALTH_PORT when set, else PORT."""
    port = settings.health_port or settings.port
    path = "/readyz" if args.ready else "/healthz"
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through HTTP_PROXY: it is local
    try:
        with direct.open(f"http://127.0.0.1:{port}{path}", timeout=HEALTH_TIMEOUT_SECONDS) as answer:
            print(f"{path}: {answer.status} {answer.read().decode(errors='replace')}")
            return 0
    except urllib.error.HTTPError as err:
        print(f"papers-bot health: {path} answered {err.code} {err.read().decode(errors='replace')}", file=sys.stderr)
    except (urllib.error.URLError, OSError) as err:
        print(f"papers-bot health: nothing answers on port {port} ({getattr(err, 'reason', err)})", file=sys.stderr)
    return 1


COMMANDS = {
    "alerts": cmd_alerts,
    "health": cmd_health,
    "backfill": cmd_backfill,
    "fetch": cmd_fetch,
    "db": cmd_db,
    "digest": cmd_digest,
    "search": cmd_search,
    "serve": cmd_serve,
    "scheduler": cmd_scheduler,
    "workspace": cmd_workspace,
}
