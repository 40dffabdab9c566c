"""Block Kit, built by pure functions; the only place that escapes mrkdwn.

`mrkdwn` holds escaping and Slack's size limits; the other modules build the messages and views of
one feature each, always through `mrkdwn.escape` for any paper or user text.
"""
