"""/metrics, opt-in: the counters an operator watches move when a user types a command, clicks, and when the
digest job fetches from arXiv, posts and sends its DMs; the token is enforced; off means 404."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import requests

from bot import app, follows, search
from bot.ingest import ingest_feed_file
from bot.render_blocks.common import MARK_READ
from bot.scheduler import JOB_ID
from tests.conftest import SEED_FEED
from tests.fakes.slack_api import TEAM_ID
from tests.ops.conftest import METRICS_TOKEN, sample
from tests.slack_requests import block_actions_body, post, slash_command_body


def test_a_command_and_a_click_are_counted_with_their_ack_and_reply_times(observed_server, fake_slack, store,
                                                                          listener_work):
    ingest_feed_file(store.session_factory, SEED_FEED)
    before = observed_server.scrape()
    assert sample(before, "papers_bot_slack_requests_total", kind="command", outcome="ok") == 0

    post(f"{observed_server.base}/slack/events", slash_command_body("kv cache", response_url=fake_slack.response_url()))
    click = {"type": "button", "action_id": MARK_READ, "value": "2503.14881", "text": {"type": "plain_text",
                                                                                        "text": "Mark read"}}
    post(f"{observed_server.base}/slack/events", block_actions_body(click, response_url=fake_slack.response_url("c")))
    fake_slack.wait_for("response_url", 2)
    assert listener_work.wait_idle()

    after = observed_server.scrape()
    assert sample(after, "papers_bot_slack_requests_total", kind="command", outcome="ok") == 1
    assert sample(after, "papers_bot_slack_requests_total", kind="action", outcome="ok") == 1
    assert sample(after, "papers_bot_slack_ack_seconds_count", kind="command") == 1
    assert 0 < sample(after, "papers_bot_slack_ack_seconds_sum", kind="command") < 3
    # the reply (the search, after the ack) took at least as long as the ack
    assert sample(after, "papers_bot_slack_reply_seconds_count", kind="command") == 1
    assert sample(after, "papers_bot_slack_reply_seconds_count", kind="action") == 1
    assert (sample(after, "papers_bot_slack_reply_seconds_sum", kind="command")
            >= sample(after, "papers_bot_slack_ack_seconds_sum", kind="command"))


def test_a_slack_retry_is_counted_as_skipped(observed_server, fake_slack):
    body = slash_command_body("help", response_url=fake_slack.response_url())
    response = post(f"{observed_server.base}/slack/events", body, extra_headers={"X-Slack-Retry-Num": "1"})
    assert response.status_code == 200
    scraped = observed_server.scrape()
    assert sample(scraped, "papers_bot_slack_requests_total", kind="command", outcome="skipped") == 1
    assert sample(scraped, "papers_bot_slack_requests_total", kind="command", outcome="ok") == 0


def test_the_digest_job_counts_arxiv_requests_digests_papers_and_dms(observed_server, fake_slack, fake_arxiv,
                                                                      store):
    services = observed_server.services
    follows.follow(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE", query="kv cache")
    scheduler = app.build_scheduler(services.settings, store, blocking=False, arxiv=services.arxiv,
                                    metrics=services.metrics)
    job = scheduler.get_job(JOB_ID).func
    job.clock = lambda: datetime(2025, 3, 21, 10, 0, tzinfo=UTC)
    fake_arxiv.faults = ["503"]  # the first request fails and is retried

    [report] = job()

    assert report.status == "posted" and report.papers_posted == 65
    scraped = observed_server.scrape()
    assert sample(scraped, "papers_bot_arxiv_requests_total", outcome="retry") == 1
    assert sample(scraped, "papers_bot_arxiv_requests_total", outcome="ok") >= 1
    assert sample(scraped, "papers_bot_arxiv_requests_total", outcome="failed") == 0
    assert sample(scraped, "papers_bot_digests_total", status="posted") == 1
    assert sample(scraped, "papers_bot_digest_papers_posted_total") == 65
    assert sample(scraped, "papers_bot_dms_sent_total", kind="follow_alerts") == 1


def test_arxiv_down_after_every_retry_is_counted_as_failed(observed_server, fake_arxiv):
    services = observed_server.services
    fake_arxiv.faults = ["503"] * (services.settings.arxiv_max_retries + 1)
    with pytest.raises(Exception, match="arXiv is unavailable"):
        list(services.arxiv.fetch_pages("all:sparse"))
    scraped = observed_server.scrape()
    assert sample(scraped, "papers_bot_arxiv_requests_total", outcome="retry") == services.settings.arxiv_max_retries
    assert sample(scraped, "papers_bot_arxiv_requests_total", outcome="failed") == 1


def test_an_unexpected_failure_is_counted_as_an_error(observed_server, fake_slack, listener_work, monkeypatch):
    def broken_search(*args, **kwargs):
        raise RuntimeError("the index is broken")

    monkeypatch.setattr(search, "run_search", broken_search)
    counting = observed_server.services.metrics.count_logged_errors()
    try:
        post(f"{observed_server.base}/slack/events", slash_command_body("kv cache",
                                                                        response_url=fake_slack.response_url()))
        [reply] = fake_slack.wait_for("response_url")
        assert listener_work.wait_idle()
    finally:
        logging.getLogger().removeHandler(counting)
    assert reply.args["text"].startswith("Sorry")
    scraped = observed_server.scrape()
    assert sample(scraped, "papers_bot_errors_total", logger="handlers.common") == 1
    # Slack still got its ack: the request itself is "ok", the failure came after
    assert sample(scraped, "papers_bot_slack_requests_total", kind="command", outcome="ok") == 1


def test_metrics_need_the_bearer_token(observed_server):
    url = f"{observed_server.base}/metrics"
    assert requests.get(url, timeout=5).status_code == 401
    wrong = requests.get(url, headers={"Authorization": "Bearer not-the-token"}, timeout=5)
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    assert METRICS_TOKEN not in wrong.text
    right = requests.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5)
    assert right.status_code == 200 and right.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE papers_bot_slack_requests_total counter" in right.text


def test_metrics_are_off_by_default_and_then_404(slack_server):
    assert requests.get(f"{slack_server}/metrics", timeout=5).status_code == 404


def test_two_apps_in_one_process_count_apart(observed_server, slack_settings, store, fake_slack):
    other = app.Services(settings=slack_settings, store=store)
    app.build_bolt_app(other)  # its own registry: registering the same metric names again is no collision
    post(f"{observed_server.base}/slack/events", slash_command_body("help", response_url=fake_slack.response_url()))
    assert sample(other.metrics.exposition().decode(), "papers_bot_slack_requests_total", kind="command",
                  outcome="ok") == 0
    assert sample(observed_server.scrape(), "papers_bot_slack_requests_total", kind="command", outcome="ok") == 1
