"""An install on one SLACK_BOT_TOKEN (no OAuth) hears `app_uninstalled` too: the workspace's digests and DMs
stop at once; when the operator restarts with a token Slack accepts again (the app was reinstalled), they resume."""

from __future__ import annotations

from bot import ingest
from bot.cli import main
from tests.conftest import SEED_FEED
from tests.fakes.slack_api import TEAM_ID
from tests.slack_requests import event_body, post


def digest_parents(fake_slack) -> list[str]:
    return [c.args["channel"] for c in fake_slack.calls_to("chat.postMessage") if not c.args.get("thread_ts")]


def test_an_uninstall_stops_the_tokens_workspace_and_a_token_slack_accepts_again_resumes_it(
        slack_server, store, fake_slack, fake_arxiv, listener_work, monkeypatch, capsys):
    monkeypatch.setenv("ARXIV_API_URL", fake_arxiv.url)
    ingest.ingest_feed_file(store.session_factory, SEED_FEED)
    assert main(["digest", "--all", "--date", "2025-03-20"]) == 0
    assert digest_parents(fake_slack) == ["C0DIGEST"]

    body = event_body({"type": "app_uninstalled"}, team_id=TEAM_ID, event_id="EvGoneSingle")
    assert post(f"{slack_server}/slack/events", body, content_type="application/json").status_code == 200
    assert listener_work.wait_idle()

    fake_slack.calls.clear()
    monkeypatch.setenv("SLACK_TEAM_ID", TEAM_ID)  # a process that knows its workspace without asking Slack
    assert main(["digest", "--all", "--date", "2025-03-21"]) == 0
    assert digest_parents(fake_slack) == []  # stopped at once, though nothing checked the token
    capsys.readouterr()
    assert main(["workspace", "list"]) == 0
    assert "uninstalled" in capsys.readouterr().out

    monkeypatch.delenv("SLACK_TEAM_ID")
    fake_slack.faults["auth.test"] = ["invalid_auth"]  # Slack revoked the token with the uninstall
    assert main(["digest", "--all", "--date", "2025-03-21"]) != 0
    assert "invalid_auth" in capsys.readouterr().err
    assert digest_parents(fake_slack) == []

    # Reinstalled: the operator restarts with the new token, which Slack accepts; the digests go out again.
    assert main(["digest", "--all", "--date", "2025-03-21"]) == 0
    assert digest_parents(fake_slack) == ["C0DIGEST"]
