"""The digest end to end: fetch from the fake arXiv, post through slack_sdk to the fake Slack, then a
reader uses it through the real Bolt server (`/papers topic`, Mark read on a posted paper)."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import date

from bot import digest
from bot.app import build_arxiv_source, build_digest_poster
from db import reads as read_store
from tests.fakes.slack_api import TEAM_ID
from tests.slack_requests import block_actions_body, post, slash_command_body


def was_read(store, arxiv_id: str) -> bool:
    with store.session_factory.begin() as session:
        return read_store.get_read(session, team_id=TEAM_ID, user_id="U0ALICE", arxiv_id=arxiv_id) is not None


def wait_until(condition, timeout: float = 5.0) -> bool:
    """The click is acked first and recorded by a lazy listener just after."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_posted_digest_paper_can_be_marked_read_and_the_topic_shown(slack_server, store, slack_settings,
                                                                       fake_slack, fake_arxiv):
    settings = dataclasses.replace(slack_settings, arxiv_api_url=fake_arxiv.url, arxiv_delay_seconds=0.01)
    digest.refresh_papers(store.session_factory, build_arxiv_source(settings), settings, team_id=TEAM_ID,
                          channels=["C0DIGEST"],
                          digest_date=date(2025, 3, 21))
    report = digest.post_digest(store.session_factory, build_digest_poster(settings), settings, team_id=TEAM_ID,
                                channel="C0DIGEST",
                                digest_date=date(2025, 3, 21), pace_seconds=0)
    assert report.status == "posted"

    reply = fake_slack.calls_to("chat.postMessage")[1]
    blocks = json.loads(reply.args["blocks"]) if isinstance(reply.args["blocks"], str) else reply.args["blocks"]
    mark_read = next(e for b in blocks if b["type"] == "actions" for e in b["elements"]
                     if e["action_id"] == "paper_mark_read")
    action = {**mark_read, "block_id": "digest:" + mark_read["value"], "action_ts": "1700000001.000100"}
    body = block_actions_body(action, response_url=fake_slack.response_url("click"), message={"blocks": blocks})
    assert post(f"{slack_server}/slack/events", body).status_code == 200
    assert wait_until(lambda: was_read(store, mark_read["value"]))

    body = slash_command_body("topic", response_url=fake_slack.response_url("topic"))
    assert post(f"{slack_server}/slack/events", body).status_code == 200
    answer = [c for c in fake_slack.wait_for("response_url", 2) if c.path.endswith("/topic")]
    assert answer and "`KV cache`" in answer[-1].args["text"]
