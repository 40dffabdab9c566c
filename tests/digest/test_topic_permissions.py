"""Who may change a channel's digest topic, the one-line announcement of each change, refusing a channel the
bot cannot post in, and pausing a channel whose digests Slack keeps refusing (issue 11, item 7).

The policy: workspace admins and owners, the channel's creator and the users in DIGEST_EDITORS may change a
channel's topic; a DM or group DM never gets one; Slack not answering means no. Each change is announced in
the channel before it is stored. A channel whose digest Slack refuses for good three runs in a row is paused,
with one DM to whoever last set its topic, until someone edits its topic again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot import channel_topics
from bot.app import Services, build_scheduler
from bot.channel_topics import PAUSE_AFTER_REFUSED_RUNS, Editor, EditVerdict, edit_verdict
from bot.config import Settings
from bot.digest_records import PostReport
from bot.scheduler import JOB_ID
from db import topics as topic_store
from handlers.commands import papers_reply
from handlers.topic import topic_command
from tests.db.test_migrations import downgrade, fresh_database, upgrade
from tests.fakes.slack_api import CHANNEL_CREATOR, TEAM_ID
from tests.slack_requests import post, slash_command_body

ADMIN, OWNER, PRIMARY, CREATOR, EDITOR, MEMBER = "U0ADMIN", "U0OWNER", "U0PRIMARY", "U0CREATOR", "U0EDITOR", "U0MEMBER"
GENERAL = "C0GENERAL"
MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[2] / "manifest.yml").read_text())


@pytest.fixture
def workspace(fake_slack):
    """Admins and owners by Slack's flags; #general created by CREATOR; everyone else a plain member."""
    fake_slack.users.update({ADMIN: {"is_admin": True}, OWNER: {"is_owner": True},
                             PRIMARY: {"is_primary_owner": True, "is_owner": True}})
    fake_slack.conversations[GENERAL] = {"name": "general", "creator": CREATOR}
    return fake_slack


@pytest.fixture
def editors_settings(slack_settings) -> Settings:
    return dataclasses.replace(slack_settings, digest_editors=(EDITOR,))


def edit(store, settings, *, user: str, channel: str = GENERAL, args: str = "set pruning, KV cache") -> dict:
    return topic_command(Services(settings=settings, store=store), {"team_id": TEAM_ID, "channel_id": channel,
                                                                    "user_id": user},
                         args)


def stored(store, channel: str = GENERAL):
    with store.session_factory.begin() as session:
        return topic_store.get_channel_topic(session, team_id=TEAM_ID, channel=channel)


def digest_channels(store, settings) -> list[str]:
    with store.session_factory.begin() as session:
        return channel_topics.digest_channels(session, settings, team_id=TEAM_ID)


def channel_posts(fake_slack, channel: str, *, ok: bool | None = True) -> list[str]:
    return [c.args.get("text", "") for c in fake_slack.calls_to("chat.postMessage", ok=ok)
            if c.args.get("channel") == channel]


# -- the rule ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("editor", "direct", "expected"), [
    (Editor(ADMIN, is_admin=True, is_channel_creator=False), False, EditVerdict.ALLOWED),
    (Editor(CREATOR, is_admin=False, is_channel_creator=True), False, EditVerdict.ALLOWED),
    (Editor(EDITOR, is_admin=False, is_channel_creator=False), False, EditVerdict.ALLOWED),
    (Editor(MEMBER, is_admin=False, is_channel_creator=False), False, EditVerdict.NOT_AN_EDITOR),
    (Editor(ADMIN, is_admin=True, is_channel_creator=True), True, EditVerdict.DIRECT_MESSAGE),
])
def test_admins_owners_creators_and_named_editors_may_edit_and_no_dm_gets_a_topic(editor, direct, expected):
    assert edit_verdict(editor, Settings(digest_editors=(EDITOR,)), direct_message=direct) is expected


def test_digest_editors_is_a_comma_list_of_user_ids():
    assert Settings.from_env({"DIGEST_EDITORS": "U0ONE, U0TWO,,"}).digest_editors == ("U0ONE", "U0TWO")
    assert Settings.from_env({}).digest_editors == ()


# -- who may edit, through the handler and the fake Slack ----------------------------------------------------


def test_a_member_cannot_give_general_a_digest_and_is_told_who_can(store, editors_settings, workspace):
    answer = edit(store, editors_settings, user=MEMBER)
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("Sorry, only workspace admins and owners")
    assert f"creator (<@{CREATOR}>)" in answer["text"] and f"digest editors (<@{EDITOR}>)" in answer["text"]
    assert "DIGEST_" not in answer["text"]  # setting names mean nothing to Slack users
    assert stored(store) is None and GENERAL not in digest_channels(store, editors_settings)
    assert channel_posts(workspace, GENERAL, ok=None) == []


def test_a_member_cannot_change_or_reset_an_existing_topic(store, editors_settings, workspace):
    edit(store, editors_settings, user=ADMIN)
    for args in ("set crypto", "exclude sparse", "categories q-bio", "reset"):
        assert "only workspace admins" in edit(store, editors_settings, user=MEMBER, args=args)["text"]
    topic = stored(store)
    assert topic.keywords == ("pruning", "KV cache") and topic.exclude == () and topic.updated_by == ADMIN


@pytest.mark.parametrize("user", [ADMIN, OWNER, PRIMARY, CREATOR, EDITOR])
def test_admins_owners_the_creator_and_digest_editors_may_set_the_topic(store, editors_settings, workspace, user):
    answer = edit(store, editors_settings, user=user)
    assert "Updated this channel's keywords" in answer["text"]
    topic = stored(store)
    assert topic.keywords == ("pruning", "KV cache") and topic.updated_by == user
    assert GENERAL in digest_channels(store, editors_settings)


@pytest.mark.parametrize(("channel", "info"), [("D0DIRECT", {}), ("G0GROUPDM", {"is_mpim": True}),
                                               ("C0IMCHAN", {"is_im": True})])
def test_a_dm_or_group_dm_never_gets_a_topic_not_even_from_an_admin(store, slack_settings, workspace, channel, info):
    workspace.conversations[channel] = info
    answer = edit(store, slack_settings, user=ADMIN, channel=channel)
    assert "Direct messages and group DMs don't get a digest" in answer["text"]
    assert stored(store, channel) is None and channel not in digest_channels(store, slack_settings)
    assert channel_posts(workspace, channel, ok=None) == []


def test_a_private_channel_is_not_a_group_dm(store, slack_settings, workspace):
    workspace.conversations["G0PRIVATE"] = {"is_private": True, "is_group": True, "creator": MEMBER}
    assert "Updated" in edit(store, slack_settings, user=MEMBER, channel="G0PRIVATE")["text"]


@pytest.mark.parametrize(("method", "fault"), [("users.info", "fatal_error"), ("users.info", "missing_scope"),
                                               ("conversations.info", "internal_error")])
def test_when_slack_cannot_say_who_may_edit_the_edit_is_refused(store, slack_settings, workspace, method, fault):
    workspace.faults[method] = [fault]
    answer = edit(store, slack_settings, user=ADMIN)
    assert "couldn't check with Slack" in answer["text"] and "try again" in answer["text"]
    assert stored(store) is None and channel_posts(workspace, GENERAL, ok=None) == []


def test_without_a_bot_token_nobody_can_be_checked_so_nobody_edits(store, settings):
    assert "couldn't check with Slack" in edit(store, settings, user=ADMIN)["text"]
    assert stored(store) is None


def test_a_member_is_refused_through_the_real_server_too(slack_server, fake_slack, store):
    body = slash_command_body("topic set crypto", user_id=MEMBER, channel_id=GENERAL,
                              response_url=fake_slack.response_url())
    assert post(f"{slack_server}/slack/events", body).status_code == 200
    [reply] = fake_slack.wait_for("response_url")
    assert "only workspace admins and owners" in reply.args["text"]
    assert stored(store) is None and fake_slack.calls_to("users.info")


# -- the announcement, and a channel the bot cannot post in --------------------------------------------------


def test_each_change_is_announced_in_the_channel_in_one_line_naming_who(store, slack_settings, workspace):
    for args in ("set <!channel> sparse, KV cache", "exclude survey", "exclude none", "categories cs.LG, cs.CL",
                 "categories any", "reset"):
        edit(store, slack_settings, user=ADMIN, args=args)
    assert channel_posts(workspace, GENERAL) == [
        f"<@{ADMIN}> set this channel's digest keywords to `&lt;!channel&gt; sparse`, `KV cache`",
        f"<@{ADMIN}> set this channel's digest exclusions to `survey`",
        f"<@{ADMIN}> cleared this channel's digest exclusions",
        f"<@{ADMIN}> set this channel's digest categories to `cs.LG`, `cs.CL`",
        f"<@{ADMIN}> set this channel's digest categories to any category",
        f"<@{ADMIN}> removed this channel's digest topic, so no more digests are posted here",
    ]
    assert workspace.live_markup(allow=(f"<@{ADMIN}>",)) == []
    assert stored(store) is None


def test_a_long_topic_is_still_announced_in_one_section(store, slack_settings, workspace):
    edit(store, slack_settings, user=ADMIN, args="set " + ", ".join(f"{i:02d}" + "x" * 98 for i in range(50)))
    [call] = workspace.calls_to("chat.postMessage")
    blocks = call.args["blocks"] if isinstance(call.args["blocks"], list) else json.loads(call.args["blocks"])
    assert len(blocks) == 1 and len(blocks[0]["text"]["text"]) <= 3000 and "more" in call.args["text"]
    assert "\n" not in call.args["text"] and len(stored(store).keywords) == 50


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found", "is_archived"])
def test_a_channel_the_bot_cannot_post_in_is_refused_with_how_to_invite_it(store, slack_settings, workspace, error):
    workspace.channel_errors["C0SECRET"] = error
    answer = edit(store, slack_settings, user=ADMIN, channel="C0SECRET")
    assert "I can't post in this channel" in answer["text"] and "`/invite @papers-bot`" in answer["text"]
    assert stored(store, "C0SECRET") is None and "C0SECRET" not in digest_channels(store, slack_settings)


def test_an_announcement_slack_does_not_take_stores_nothing(store, slack_settings, workspace):
    workspace.faults["chat.postMessage"] = ["msg_blocked"]
    answer = edit(store, slack_settings, user=ADMIN)
    assert "nothing was changed" in answer["text"] and stored(store) is None


def test_a_change_that_cannot_be_stored_takes_its_announcement_back(store, slack_settings, workspace, monkeypatch):
    def disk_full(session, **kwargs):
        raise OperationalError("UPDATE channel_topics", {}, Exception("database or disk is full"))

    monkeypatch.setattr(topic_store, "set_channel_topic", disk_full)
    command = {"team_id": TEAM_ID, "channel_id": GENERAL, "user_id": ADMIN, "text": "topic set pruning"}
    answer = papers_reply(Services(settings=slack_settings, store=store), command)
    assert answer["text"].startswith("Sorry, something went wrong")
    [announced] = workspace.calls_to("chat.postMessage")
    [deleted] = workspace.calls_to("chat.delete")
    assert deleted.args["channel"] == GENERAL and deleted.args["ts"]
    assert stored(store) is None


# -- pausing a channel Slack keeps refusing ------------------------------------------------------------------


@pytest.fixture
def digest_job(store, slack_settings, workspace):
    """The scheduler's job as bot.app wires it (with its pause notice), without arXiv, on a settable clock."""
    job = build_scheduler(slack_settings, store, blocking=False).get_job(JOB_ID).func.workspace_jobs()[0]
    state = {"day": 17}  # Monday 2025-03-17
    job.arxiv, job.pace_seconds = None, 0
    job.clock = lambda: datetime(2025, 3, state["day"], 10, 0, tzinfo=UTC)

    def run_next_day():
        reports = job()
        state["day"] += 1
        return reports

    job.run_next_day = run_next_day
    return job


def test_a_channel_refused_three_runs_in_a_row_is_paused_with_one_dm_to_its_last_editor(store, slack_settings,
                                                                                        workspace, digest_job):
    edit(store, slack_settings, user=ADMIN, channel="C0KV", args="set KV cache")
    workspace.channel_errors["C0KV"] = "not_in_channel"  # the bot was removed from the channel afterwards
    for _ in range(PAUSE_AFTER_REFUSED_RUNS - 1):
        digest_job.run_next_day()
        assert "C0KV" in digest_job.channels() and not workspace.calls_to("conversations.open")
    digest_job.run_next_day()
    assert digest_job.channels() == ["C0DIGEST"]
    [opened] = workspace.calls_to("conversations.open")
    assert opened.args["users"] == ADMIN
    [notice] = channel_posts(workspace, f"D0{ADMIN}")
    assert "paused the arXiv digest in <#C0KV>" in notice and "`not_in_channel`" in notice
    assert "`/invite @papers-bot`" in notice and "last 3 digests" in notice
    attempts = len(channel_posts(workspace, "C0KV", ok=None))
    assert attempts == 1 + PAUSE_AFTER_REFUSED_RUNS  # the announcement, then the refused digests

    digest_job.run_next_day()  # paused: not tried again, nobody told twice
    assert len(channel_posts(workspace, "C0KV", ok=None)) == attempts
    assert len(workspace.calls_to("conversations.open")) == 1
    assert "paused since 2025-03-19" in edit(store, slack_settings, user=MEMBER, channel="C0KV", args="")["text"]


def test_any_topic_edit_in_a_paused_channel_resumes_its_digest(store, slack_settings, workspace, digest_job):
    edit(store, slack_settings, user=ADMIN, channel="C0KV", args="set KV cache")
    workspace.channel_errors["C0KV"] = "not_in_channel"
    for _ in range(PAUSE_AFTER_REFUSED_RUNS):
        digest_job.run_next_day()
    assert stored(store, "C0KV").paused_at is not None
    del workspace.channel_errors["C0KV"]  # invited again
    edit(store, slack_settings, user=CHANNEL_CREATOR, channel="C0KV", args="exclude survey")
    topic = stored(store, "C0KV")
    assert topic.paused_at is None and topic.consecutive_failures == 0 and topic.updated_by == CHANNEL_CREATOR
    assert "paused" not in edit(store, slack_settings, user=MEMBER, channel="C0KV", args="")["text"]
    [report] = [r for r in digest_job.run_next_day() if r.channel == "C0KV"]
    assert report.status in ("posted", "empty") and channel_posts(workspace, "C0KV")[-1].startswith("arXiv digest")


def test_a_digest_that_reaches_the_channel_starts_the_count_again(store, slack_settings, workspace, digest_job):
    edit(store, slack_settings, user=ADMIN, channel="C0KV", args="set KV cache")
    for broken in (True, True, False, True, True):
        if broken:
            workspace.channel_errors["C0KV"] = "channel_not_found"
        else:
            workspace.channel_errors.pop("C0KV")
        digest_job.run_next_day()
    topic = stored(store, "C0KV")
    assert topic.paused_at is None and topic.consecutive_failures == 2 and "C0KV" in digest_job.channels()


def test_a_paused_channel_nobody_is_known_to_have_set_is_one_warning_line(store, slack_settings, workspace,
                                                                         digest_job, caplog):
    with store.session_factory.begin() as session:  # a topic stored before editors were recorded
        topic_store.set_channel_topic(session, team_id=TEAM_ID, channel="C0OLD", keywords=["KV cache"],
                                      updated_at=datetime.now(UTC))
    workspace.channel_errors["C0OLD"] = "is_archived"
    with caplog.at_level(logging.WARNING, logger="bot"):
        for _ in range(PAUSE_AFTER_REFUSED_RUNS + 1):
            digest_job.run_next_day()
    [line] = [r for r in caplog.records if "paused" in r.getMessage()]
    assert line.levelno == logging.WARNING and "C0OLD" in line.getMessage() and "is_archived" in line.getMessage()
    assert not workspace.calls_to("conversations.open") and "C0OLD" not in digest_job.channels()


def test_the_operators_digest_channel_is_never_paused(store, slack_settings, workspace, digest_job):
    edit(store, slack_settings, user=ADMIN, channel="C0DIGEST", args="set KV cache")
    workspace.channel_errors["C0DIGEST"] = "not_in_channel"
    for _ in range(PAUSE_AFTER_REFUSED_RUNS + 1):
        digest_job.run_next_day()
    assert digest_job.channels() == ["C0DIGEST"] and stored(store, "C0DIGEST").paused_at is None


def test_a_refusal_recorded_twice_pauses_and_notifies_once(store, slack_settings):
    with store.session_factory.begin() as session:
        topic_store.set_channel_topic(session, team_id=TEAM_ID, channel="C0KV", keywords=["KV cache"],
                                      updated_at=datetime.now(UTC),
                                      updated_by=ADMIN)
    told = []
    report = PostReport("C0KV", date(2025, 3, 21), "failed", errors=["not_in_channel"])
    outcomes = [channel_topics.note_digest_outcome(store.session_factory, slack_settings, report, team_id=TEAM_ID,
                                                   notify=lambda paused: told.append(paused) or True)
                for _ in range(PAUSE_AFTER_REFUSED_RUNS + 2)]
    assert [o is not None for o in outcomes] == [False, False, True, False, False]
    assert [(p.channel, p.last_editor, p.refused_runs, p.error) for p in told] == [("C0KV", ADMIN, 3, "not_in_channel")]


def test_slack_failing_for_now_is_not_counted(store, slack_settings):
    with store.session_factory.begin() as session:
        topic_store.set_channel_topic(session, team_id=TEAM_ID, channel="C0KV", keywords=["KV cache"],
                                      updated_at=datetime.now(UTC))
    for errors in (["http_503"], ["connection_error: ReadTimeout"], ["ratelimited"]):
        report = PostReport("C0KV", date(2025, 3, 21), "failed", errors=errors)
        channel_topics.note_digest_outcome(store.session_factory, slack_settings, report, team_id=TEAM_ID)
    assert stored(store, "C0KV").consecutive_failures == 0


# -- the app's scopes and the schema ------------------------------------------------------------------------


def test_the_manifest_grants_the_scopes_the_permission_check_and_the_notice_need():
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    # users.info; conversations.info for public and private channels and group DMs (a D… id is a DM without
    # asking); conversations.open for the notice
    assert {"users:read", "channels:read", "groups:read", "mpim:read", "im:write"} <= scopes
    assert MANIFEST["features"]["app_home"]["messages_tab_enabled"] is True  # where the bot's DM shows up


def test_0005_keeps_stored_topics_with_no_editor_and_no_failures(tmp_path):
    with fresh_database(tmp_path) as connection:
        upgrade(connection, "0003_digest_run_state")
        connection.execute(text("INSERT INTO channel_topics (channel, keywords, exclude, categories, updated_at) "
                                "VALUES ('C0OLD', '[\"KV cache\"]', '[]', '[]', '2025-03-01 09:00:00')"))
        connection.commit()
        upgrade(connection, "0005_topic_editors")
        row = connection.execute(text("SELECT updated_by, consecutive_failures, paused_at FROM channel_topics")).one()
        assert tuple(row) == (None, 0, None)
        downgrade(connection, "0003_digest_run_state")
        assert connection.execute(text("SELECT channel FROM channel_topics")).scalar_one() == "C0OLD"
