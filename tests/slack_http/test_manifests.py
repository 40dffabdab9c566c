"""manifest.yml (production, HTTP) and manifest.dev.yml (development, Socket Mode) both parse and declare every
command, event and shortcut the real Bolt app registers (recorded as build_bolt_app registers them) and every
scope the Web API methods the handlers call need."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml
from slack_bolt import App
from slack_sdk import WebClient

from bot.app import Services, build_bolt_app, build_store
from bot.config import Settings
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.slack_requests import SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = yaml.safe_load((ROOT / "manifest.yml").read_text())
DEVELOPMENT = yaml.safe_load((ROOT / "manifest.dev.yml").read_text())
MANIFESTS = {"manifest.yml": PRODUCTION, "manifest.dev.yml": DEVELOPMENT}
HANDLER_SOURCES = "\n".join(p.read_text() for p in sorted((ROOT / "handlers").glob("*.py")))

# The bot scopes each Web API method the handlers call needs (https://api.slack.com/methods). A method missing
# here fails the test: add it with its scopes, and the scopes to both manifests.
SCOPES_OF_METHOD = {
    "chat_postMessage": {"chat:write", "chat:write.public"},  # .public: digests to channels it was not invited to
    "chat_postEphemeral": {"chat:write"},
    "chat_delete": {"chat:write"},
    "chat_getPermalink": set(),
    "chat_unfurl": {"links:write"},
    "conversations_history": {"channels:history", "groups:history"},
    "conversations_replies": {"channels:history", "groups:history"},
    "conversations_info": {"channels:read", "groups:read", "mpim:read"},
    "conversations_open": {"im:write"},
    "files_upload_v2": {"files:write"},
    "users_conversations": {"channels:read", "groups:read"},
    "users_info": {"users:read"},
    "views_publish": set(),
}
SCOPES_OF_EVENT = {"link_shared": {"links:read"}}
# Events that end a workspace's service (handlers/oauth.py), in single-token and OAuth mode alike.
LIFECYCLE_EVENTS = {"app_uninstalled", "tokens_revoked"}


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """Every command, event, shortcut, action, options and view listener build_bolt_app registers."""
    found: dict[str, set[str]] = {kind: set() for kind in ("command", "event", "shortcut", "action", "options", "view")}
    originals = {kind: getattr(App, kind) for kind in found}

    def spy(kind):
        def record(self, constraints, *args, **kwargs):
            key = (constraints.get("type") or constraints.get("callback_id")) if isinstance(constraints, dict) else None
            found[kind].add(str(key or constraints))
            return originals[kind](self, constraints, *args, **kwargs)
        return record

    fake = FakeSlack().start()
    directory = tmp_path_factory.mktemp("manifests")
    settings = dataclasses.replace(Settings(database_url=f"sqlite:///{directory}/papers.db"), slack_bot_token=BOT_TOKEN,
                                   slack_signing_secret=SIGNING_SECRET, slack_api_url=fake.base_url,
                                   search_engine="sql")
    store = build_store(settings)
    try:
        for kind in found:
            setattr(App, kind, spy(kind))
        build_bolt_app(Services(settings=settings, store=store))
    finally:
        for kind, original in originals.items():
            setattr(App, kind, original)
        store.engine.dispose()
        fake.stop()
    return found


def declared_events(manifest: dict) -> set[str]:
    return set(manifest["settings"]["event_subscriptions"]["bot_events"])


def declared_scopes(manifest: dict) -> set[str]:
    return set(manifest["oauth_config"]["scopes"]["bot"])


@pytest.mark.parametrize("name", MANIFESTS)
def test_every_registered_command_event_and_shortcut_is_declared(name, registered):
    manifest = MANIFESTS[name]
    assert registered["command"] == {"/papers"}
    assert registered["command"] <= {c["command"] for c in manifest["features"]["slash_commands"]}
    assert registered["event"] and registered["event"] <= declared_events(manifest)
    assert registered["shortcut"] <= {s["callback_id"] for s in manifest["features"]["shortcuts"]}
    assert registered["action"] and manifest["settings"]["interactivity"]["is_enabled"] is True
    assert not registered["options"], "an options listener needs interactivity.message_menu_options_url"
    assert declared_events(manifest) >= LIFECYCLE_EVENTS and registered["event"] >= LIFECYCLE_EVENTS


@pytest.mark.parametrize("name", MANIFESTS)
def test_nothing_is_declared_that_nothing_handles(name, registered):
    manifest = MANIFESTS[name]
    assert declared_events(manifest) <= registered["event"]
    assert {c["command"] for c in manifest["features"]["slash_commands"]} <= registered["command"]
    assert {s["callback_id"] for s in manifest["features"]["shortcuts"]} <= registered["shortcut"]


@pytest.mark.parametrize("name", MANIFESTS)
def test_every_scope_the_handlers_web_api_calls_need_is_declared(name, registered):
    # Only names the Web client has: `workspace.team_id()` is ours, not Slack's team.* family.
    pattern = r"\.((?:chat|conversations|users|files|views|reactions|pins|team|emoji)_\w+)\("
    called = {name for name in re.findall(pattern, HANDLER_SOURCES) if hasattr(WebClient, name)}
    assert "chat_postMessage" in called and "chat_unfurl" in called
    unknown = called - SCOPES_OF_METHOD.keys()
    assert not unknown, f"add the scopes of {sorted(unknown)} to SCOPES_OF_METHOD and the manifests"
    needed = set().union(*(SCOPES_OF_METHOD[method] for method in called))
    needed |= set().union(*(SCOPES_OF_EVENT.get(event, set()) for event in registered["event"]))
    if registered["command"] or registered["shortcut"]:
        needed.add("commands")
    assert needed <= declared_scopes(MANIFESTS[name]), needed - declared_scopes(MANIFESTS[name])


def test_production_sends_everything_to_the_one_endpoint_and_oauth_back_to_the_server():
    urls = [c["url"] for c in PRODUCTION["features"]["slash_commands"]]
    urls += [PRODUCTION["settings"]["event_subscriptions"]["request_url"],
             PRODUCTION["settings"]["interactivity"]["request_url"]]
    assert urls and all(url == "https://YOUR-HOST/slack/events" for url in urls)
    assert PRODUCTION["oauth_config"]["redirect_urls"] == ["https://YOUR-HOST/slack/oauth_redirect"]
    assert PRODUCTION["settings"]["socket_mode_enabled"] is False


def test_development_is_socket_mode_with_no_url_and_the_same_features():
    assert DEVELOPMENT["settings"]["socket_mode_enabled"] is True
    text = (ROOT / "manifest.dev.yml").read_text()
    assert "YOUR-HOST" not in text and not re.search(r"^\s*(url|request_url):", text, re.MULTILINE)
    assert declared_scopes(DEVELOPMENT) == declared_scopes(PRODUCTION)
    assert declared_events(DEVELOPMENT) == declared_events(PRODUCTION)
    for section in ("slash_commands", "shortcuts", "unfurl_domains"):
        strip = [{k: v for k, v in item.items() if k != "url"} if isinstance(item, dict) else item
                 for item in PRODUCTION["features"][section]]
        assert DEVELOPMENT["features"][section] == strip
    assert DEVELOPMENT["features"]["app_home"] == PRODUCTION["features"]["app_home"]
