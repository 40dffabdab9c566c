"""Every mistake at the command line is one clear line on stderr and a non-zero status, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot import cli
from bot.cli import main
from bot.ingest import ingest_feed_file
from tests.conftest import SEED_FEED


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(("url", "says"), [
    ("garbage", "got not a URL"),
    ("mysql://user:hunter2secret@db/papers", "got a 'mysql' URL"),
    ("postgresql+asyncpg://db/papers", "got a 'postgresql+asyncpg' URL"),
])
def test_an_unsupported_database_url_is_named_without_its_password(env, monkeypatch, capsys, url, says):
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["search", "kv"]) == 2
    err = one_line_error(capsys)
    assert "DATABASE_URL must be sqlite:///" in err and says in err
    assert "hunter2secret" not in err


def test_a_database_in_a_missing_directory_names_the_path(env, monkeypatch, capsys, tmp_path):
    missing = tmp_path / "no-such-dir" / "papers.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")
    assert main(["search", "kv"]) == 2
    assert str(missing) in one_line_error(capsys)


def test_a_file_that_is_not_an_arxiv_answer_is_refused_in_one_line(store, capsys, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# not a feed\n")
    assert main(["fetch", "--from-file", str(readme)]) == 2
    err = one_line_error(capsys)
    assert "README.md is not a whole arXiv Atom feed" in err and "nothing was stored" in err


def test_an_unknown_log_level_is_refused(env, monkeypatch, capsys):
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    assert main(["search", "kv"]) == 2
    assert "LOG_LEVEL must be one of DEBUG, INFO" in one_line_error(capsys)


def test_a_query_starting_with_a_dash_hints_at_double_dash(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["search", "-survey"])
    assert stopped.value.code == 2
    assert "papers-bot search -- -survey" in one_line_error(capsys)


def test_limit_zero_is_an_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["search", "kv", "--limit", "0"])
    assert stopped.value.code == 2
    assert "--limit: must be at least 1" in one_line_error(capsys)


def test_one_match_is_one_paper(store, capsys):
    ingest_feed_file(store.session_factory, SEED_FEED)
    assert main(["search", "Brunovsky"]) == 0
    assert capsys.readouterr().out.startswith("1 paper matches:")


def test_help_speaks_to_users_with_examples(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "papers-bot digest --dry-run" in out


def test_search_into_a_closed_pipe_ends_quietly(store, env):
    ingest_feed_file(store.session_factory, SEED_FEED)
    script = os.path.join(os.path.dirname(sys.executable), "papers-bot")
    # `| true` closes the pipe before the search prints anything, so every write meets a broken pipe
    # (`| head -1` does the same, but only when head wins the race).
    done = subprocess.run(["bash", "-o", "pipefail", "-c", f"'{script}' search cache --limit 20 | true"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, **env})
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode == 0


def test_a_broken_connection_mid_command_is_an_error_not_a_quiet_success(env, monkeypatch, capfd):
    """A BrokenPipeError from a socket (not from printing to a closed pipe) means the command did not finish."""
    def cut_off(settings, args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setitem(cli.COMMANDS, "fetch", cut_off)
    assert main(["fetch"]) == 2
    err = capfd.readouterr().err
    assert err.strip().splitlines() == [
        "papers-bot: a connection closed mid-command (Broken pipe); run the command again"]
