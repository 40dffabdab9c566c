"""`papers-bot workspace list|purge` and `papers-bot digest --all` from the shell, as an operator runs them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot import follows, ingest, reading, saved
from bot.channel_topics import edit_channel_topic
from bot.cli import main
from bot.workspaces import mark_uninstalled
from tests.conftest import SEED_FEED
from tests.fakes.slack_api import TEAM_ID

OTHER = "T0SISTER"


@pytest.fixture
def two_workspaces(store, settings):
    factory = store.session_factory
    ingest.ingest_feed_file(factory, SEED_FEED)
    for team, channel, keywords in ((TEAM_ID, "C0KV", "KV cache"), (OTHER, "C0KV", "pruning"),
                                    (OTHER, "C0QUANT", "quantization")):
        edit_channel_topic(factory, settings, channel, team_id=team, field_name="keywords", terms=[keywords])
    reading.mark_read(factory, team_id=OTHER, user_id="U0ANN", arxiv_id="2503.15465", source="button")
    reading.mark_read(factory, team_id=OTHER, user_id="U0BOB", arxiv_id="2503.15465", source="button")
    saved.save_paper(factory, team_id=OTHER, user_id="U0ANN", arxiv_id="2503.15436")
    follows.follow(factory, team_id=OTHER, user_id="U0ANN", query="kv cache")
    reading.mark_read(factory, team_id=TEAM_ID, user_id="U0ANN", arxiv_id="2503.15436", source="button")
    return store


def test_workspace_list_shows_each_workspace_its_channels_with_topics_and_counts(two_workspaces, capsys):
    mark_uninstalled(two_workspaces.session_factory, OTHER, datetime(2026, 11, 1, tzinfo=UTC))
    assert main(["workspace", "list"]) == 0
    out = capsys.readouterr().out
    sister = out[out.index(OTHER):out.index(TEAM_ID)]  # in team order: T0SISTER, then T0TEAM
    assert f"{OTHER} (uninstalled 2026-11-01)" in out
    assert "2 reads, 1 saved, 1 follows, 0 digests" in sister
    assert "C0KV: pruning" in sister and "C0QUANT: quantization" in sister
    ours = out[out.index(TEAM_ID):]
    assert "1 reads, 0 saved, 0 follows" in ours and "C0KV: KV cache" in ours and "pruning" not in ours


def test_workspace_purge_deletes_one_workspaces_data_at_once_and_says_what(two_workspaces, capsys):
    assert main(["workspace", "purge", OTHER]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == f"workspace {OTHER}: deleted 2 channel_topics, 1 follows, 1 saved_papers, 2 reads"
    assert "still served" in captured.err  # it never uninstalled: the purge does not stop the app there

    main(["workspace", "list"])
    listed = capsys.readouterr().out
    assert OTHER not in listed and "C0KV: KV cache" in listed and "1 reads" in listed  # the other one untouched
    factory = two_workspaces.session_factory
    assert reading.history(factory, team_id=OTHER, user_id="U0ANN").reads == []
    assert len(reading.history(factory, team_id=TEAM_ID, user_id="U0ANN").reads) == 1


def test_purging_a_workspace_known_only_by_its_uninstall_says_its_record_went(two_workspaces, capsys):
    mark_uninstalled(two_workspaces.session_factory, "T0EMPTY", datetime(2026, 11, 1, tzinfo=UTC))
    assert main(["workspace", "purge", "T0EMPTY"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "workspace T0EMPTY: deleted its record (it had no other rows)"
    assert "still served" not in captured.err  # it uninstalled: nothing more to say
    assert main(["workspace", "purge", "T0EMPTY"]) == 2  # gone: a second purge finds nothing to delete


def test_purging_an_unknown_workspace_is_one_clear_line(two_workspaces, capsys):
    assert main(["workspace", "purge", "T0NOBODY"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        "papers-bot workspace purge: no workspace T0NOBODY is known here (see papers-bot workspace list)"]
    assert captured.out == ""


def parent_channels(fake_slack) -> list[str]:
    return [c.args["channel"] for c in fake_slack.calls_to("chat.postMessage") if not c.args.get("thread_ts")]


def test_digest_all_posts_every_channel_with_a_topic_of_the_tokens_workspace(
        two_workspaces, slack_env, fake_slack, fake_arxiv, monkeypatch, capsys):
    monkeypatch.setenv("ARXIV_API_URL", fake_arxiv.url)
    assert main(["digest", "--all", "--date", "2025-03-21"]) == 0
    out = capsys.readouterr().out
    # DIGEST_CHANNEL and the token's workspace's C0KV; the sister workspace is not installed here (one token).
    assert sorted(set(parent_channels(fake_slack))) == ["C0DIGEST", "C0KV"]
    assert f"{TEAM_ID}: digest 2025-03-21 to C0DIGEST: posted" in out
    assert f"{TEAM_ID}: digest 2025-03-21 to C0KV: posted" in out

    fake_slack.calls.clear()
    assert main(["digest", "--all", "--date", "2025-03-21"]) == 0  # the same job again posts nothing twice
    assert parent_channels(fake_slack) == []
    assert "already-done" in capsys.readouterr().out


def test_digest_all_takes_only_a_date(slack_env, capsys):
    assert main(["digest", "--all", "--channel", "C0KV"]) == 2
    assert capsys.readouterr().err.strip() == "papers-bot: --all runs what the schedule runs; it takes only --date"
