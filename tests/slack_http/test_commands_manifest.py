"""manifest.yml creates the app the code serves: the command, the events, interactivity, one URL."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())
HANDLER_SOURCES = "\n".join(p.read_text() for p in (ROOT / "handlers").glob("*.py"))


def test_every_registered_command_and_event_is_in_the_manifest():
    commands = set(re.findall(r"app\.command\(\"([^\"]+)\"\)", HANDLER_SOURCES))
    events = set(re.findall(r"app\.event\(\"([^\"]+)\"\)", HANDLER_SOURCES))
    assert commands == {c["command"] for c in MANIFEST["features"]["slash_commands"]} == {"/papers"}
    assert events and events <= set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])


def test_every_request_goes_to_the_one_bolt_endpoint():
    urls = [c["url"] for c in MANIFEST["features"]["slash_commands"]]
    urls += [MANIFEST["settings"]["event_subscriptions"]["request_url"],
             MANIFEST["settings"]["interactivity"]["request_url"]]
    assert all(url.startswith("https://") and url.endswith("/slack/events") for url in urls)


def test_buttons_and_home_tab_are_enabled_and_http_mode_is_the_default():
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    assert MANIFEST["settings"]["socket_mode_enabled"] is False
    assert {"commands", "chat:write"} <= set(MANIFEST["oauth_config"]["scopes"]["bot"])


def test_the_app_home_can_list_the_channels_a_user_is_in():
    # users.conversations of public and private channels (handlers/events.member_channels)
    assert "users_conversations" in HANDLER_SOURCES
    assert {"channels:read", "groups:read"} <= set(MANIFEST["oauth_config"]["scopes"]["bot"])


def test_arxiv_links_unfurl_and_the_save_shortcut_is_declared():
    assert "arxiv.org" in MANIFEST["features"]["unfurl_domains"]
    assert {"links:read", "links:write", "im:write", "files:write"} <= set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert "link_shared" in MANIFEST["settings"]["event_subscriptions"]["bot_events"]
    shortcuts = set(re.findall(r"SAVE_SHORTCUT = \"([^\"]+)\"", HANDLER_SOURCES))
    declared = {s["callback_id"] for s in MANIFEST["features"]["shortcuts"] if s["type"] == "message"}
    assert shortcuts and shortcuts <= declared
    assert "chat_unfurl" in HANDLER_SOURCES
