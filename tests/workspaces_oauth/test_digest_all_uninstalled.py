"""`papers-bot digest --all` when no workspace is served (none installed yet, or the last one uninstalled): the
operator is told that, not to set DIGEST_CHANNEL (which is set, and would change nothing)."""

from __future__ import annotations

from bot.cli import main


def test_digest_all_with_no_workspace_installed_says_so(oauth_server, fake_slack, fake_arxiv, monkeypatch,
                                                         capsys):
    monkeypatch.setenv("ARXIV_API_URL", fake_arxiv.url)
    monkeypatch.setenv("DIGEST_CHANNEL", "C0DIGEST")
    assert main(["digest", "--all", "--date", "2025-03-21"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == ("digest --all: no workspace is installed, so nothing was posted (see papers-bot "
                           "workspace list)")
    assert not fake_slack.calls_to("chat.postMessage", ok=None)
