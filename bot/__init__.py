"""papers-bot domain: fetching, topics, digests, search and reading, independent of Slack."""
