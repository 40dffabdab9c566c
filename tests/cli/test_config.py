"""Settings: defaults, normalisation, and one-line errors that name the variable."""

import pytest

from bot.config import DEFAULT_KEYWORDS, ConfigError, Settings


def test_defaults_match_the_readme():
    s = Settings.from_env({})
    assert s.database_url == "sqlite:///papers.db"
    assert s.arxiv_api_url == "https://export.arxiv.org/api/query"
    assert (s.arxiv_delay_seconds, s.arxiv_timeout_seconds, s.arxiv_page_size) == (3.0, 30.0, 1000)
    assert s.digest_keywords == DEFAULT_KEYWORDS and "KV cache" in s.digest_keywords
    assert s.slack_api_url == "https://slack.com/api/"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgres://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_database_url_is_normalised(raw, expected):
    assert Settings.from_env({"DATABASE_URL": raw}).database_url == expected


def test_lists_are_comma_separated():
    s = Settings.from_env({"DIGEST_KEYWORDS": " sparse , KV cache,,", "DIGEST_CATEGORIES": "cs.LG,cs.CL"})
    assert s.digest_keywords == ("sparse", "KV cache")
    assert s.digest_categories == ("cs.LG", "cs.CL")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ARXIV_DELAY_SECONDS": "soon"}, "ARXIV_DELAY_SECONDS must be a number"),
        ({"DIGEST_TIME": "9am"}, "DIGEST_TIME must look like HH:MM"),
        ({"DIGEST_TIMEZONE": "Mars/Olympus"}, "DIGEST_TIMEZONE is not a known time zone"),
        ({"DIGEST_DAYS": "sun-thu"}, "DIGEST_DAYS must be a comma list"),
    ],
)
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_require_names_the_missing_variable_and_secrets_stay_out_of_repr():
    s = Settings.from_env({"SLACK_SIGNING_SECRET": "s3cr3t-value"})
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN is not set"):
        s.require("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN")
    assert "s3cr3t-value" not in repr(s)
