"""Issue 16 end to end, as a department running the app for several labs sees it: a second workspace installs
through /slack/install and /slack/oauth_redirect, its admin sets a channel topic with /papers, and
`papers-bot digest --all` (what the schedule runs) posts that channel's digest with that workspace's own token;
a workspace that never installed gets no answer; an uninstall stops its digests."""

from __future__ import annotations

import pytest

from bot.cli import main
from handlers.oauth import NOT_INSTALLED
from tests.slack_requests import event_body, post, slash_command_body
from tests.workspaces_oauth.conftest import SECOND, SECOND_CHANNEL, THIRD, THIRD_CHANNEL, THIRD_USER

SECOND_ADMIN = "U0ADMIN"


@pytest.fixture
def second_lab(oauth_server, fake_slack, fake_arxiv, listener_work, monkeypatch):
    """SECOND installed, and its admin has set a topic in SECOND_CHANNEL through /papers."""
    monkeypatch.setenv("ARXIV_API_URL", fake_arxiv.url)
    monkeypatch.delenv("DIGEST_CHANNEL", raising=False)  # only channels with a topic get a digest
    fake_slack.users[SECOND_ADMIN] = {"is_admin": True}
    assert oauth_server.install(fake_slack, SECOND).status_code == 200
    body = slash_command_body("topic set sparse, pruning", team_id=SECOND, channel_id=SECOND_CHANNEL,
                              user_id=SECOND_ADMIN, response_url=fake_slack.response_url("topic"))
    assert post(f"{oauth_server.url}/slack/events", body).status_code == 200
    assert listener_work.wait_idle()
    return oauth_server


def digest_parents(fake_slack) -> list:
    return [c for c in fake_slack.calls_to("chat.postMessage") if not c.args.get("thread_ts")]


def test_an_installed_workspace_gets_its_channels_digest_with_its_own_token(second_lab, fake_slack, capsys):
    fake_slack.calls.clear()
    assert main(["digest", "--all", "--date", "2025-03-21"]) == 0

    assert f"{SECOND}: digest 2025-03-21 to {SECOND_CHANNEL}: posted" in capsys.readouterr().out
    posts = fake_slack.calls_to("chat.postMessage")
    assert posts and {c.args["channel"] for c in posts} == {SECOND_CHANNEL}
    assert {c.team for c in posts} == {SECOND}  # every message went out with the second workspace's own token
    parent, = digest_parents(fake_slack)
    assert "sparse" in parent.args["text"].lower() or "pruning" in parent.args["text"].lower()

    fake_slack.calls.clear()
    assert main(["digest", "--all", "--date", "2025-03-21"]) == 0  # the schedule firing again posts nothing twice
    assert digest_parents(fake_slack) == []


def test_a_workspace_that_never_installed_gets_no_answer(second_lab, fake_slack, listener_work):
    fake_slack.calls.clear()
    body = slash_command_body("topic set crypto", team_id=THIRD, channel_id=THIRD_CHANNEL, user_id=THIRD_USER,
                              response_url=fake_slack.response_url("third"))
    assert post(f"{second_lab.url}/slack/events", body).status_code == 200
    assert listener_work.wait_idle()
    answer, = [c.args for c in fake_slack.calls]  # Bolt's one line at the response_url; no Web API call
    assert answer["text"] == NOT_INSTALLED

    assert main(["digest", "--all", "--date", "2025-03-21"]) == 0
    assert THIRD_CHANNEL not in {c.args["channel"] for c in fake_slack.calls_to("chat.postMessage")}


def test_an_uninstall_stops_the_workspaces_digests(second_lab, fake_slack, capsys):
    assert main(["digest", "--all", "--date", "2025-03-20"]) == 0
    assert digest_parents(fake_slack)
    fake_slack.revoke(SECOND)  # Slack revokes the tokens, then tells the app
    body = event_body({"type": "app_uninstalled"}, team_id=SECOND, event_id="EvGoneE2E")
    assert post(f"{second_lab.url}/slack/events", body, content_type="application/json").status_code == 200

    fake_slack.calls.clear()
    capsys.readouterr()
    assert main(["digest", "--all", "--date", "2025-03-21"]) == 0
    assert digest_parents(fake_slack) == []
    assert "no workspace is installed, so nothing was posted" in capsys.readouterr().out
    assert main(["workspace", "list"]) == 0
    listed = capsys.readouterr().out
    assert SECOND in listed and "uninstalled" in listed


def test_two_labs_with_the_same_topic_cost_arxiv_one_fetch_and_both_get_their_digest(second_lab, fake_slack,
                                                                                       fake_arxiv, listener_work,
                                                                                       capsys):
    """Papers are arXiv's, shared by every workspace: the run fetches a query and window once, whoever asks."""
    fake_slack.users["U0THIRDADMIN"] = {"is_admin": True}
    fake_slack.add_workspace(THIRD, name="Third Lab", channels=(THIRD_CHANNEL,), users=(THIRD_USER, "U0THIRDADMIN"))
    assert second_lab.install(fake_slack, THIRD).status_code == 200
    body = slash_command_body("topic set pruning, sparse", team_id=THIRD, channel_id=THIRD_CHANNEL,
                              user_id="U0THIRDADMIN", response_url=fake_slack.response_url("third-topic"))
    assert post(f"{second_lab.url}/slack/events", body).status_code == 200  # the same topic, its words reordered
    assert listener_work.wait_idle()

    fake_arxiv.requests.clear()
    fake_slack.calls.clear()
    assert main(["digest", "--all", "--date", "2025-03-21"]) == 0
    out = capsys.readouterr().out
    assert f"{SECOND}: digest 2025-03-21 to {SECOND_CHANNEL}: posted" in out
    assert f"{THIRD}: digest 2025-03-21 to {THIRD_CHANNEL}: posted" in out
    queries = [r.params.get("search_query") for r in fake_arxiv.requests if r.params.get("start") in (None, "0")]
    assert len(queries) == 1, queries  # one fetch (its first page asked once), not one per workspace
    parents = {c.args["channel"]: c.team for c in digest_parents(fake_slack)}
    assert parents == {SECOND_CHANNEL: SECOND, THIRD_CHANNEL: THIRD}
