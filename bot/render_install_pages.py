"""The HTML pages an installer sees: the "Add to Slack" page, and the page when an install fails. Pure, every
piece of text escaped. (The "Thank you" page is Bolt's own.)
"""

from __future__ import annotations

import html

INSTALL_PATH = "/slack/install"

# Bolt's failure reasons, and `error` values Slack sends back to the redirect URL, in the installer's words.
_REASONS = {
    "invalid_browser": "This install was started in another browser, or its link was already used.",
    "invalid_state": "This install link has expired (after ten minutes) or was already used.",
    "missing_code": "Slack did not send the install code back.",
    "invalid_code": "Slack did not confirm this install (its code was already used or has expired, or Slack was "
                    "busy). Nothing was installed.",
    "storage_error": "The install could not be saved. Nothing was installed; please try again in a minute.",
    "access_denied": "The install was cancelled in Slack. Nothing was installed.",
}
MAX_REASON_SHOWN = 80  # an `error` Slack (or anyone editing the URL) sends back is shown, cut to this


def add_to_slack_page(authorize_url: str) -> str:
    """What /slack/install shows: what the app does, and Slack's button to its authorize URL (with a state)."""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Add papers-bot to Slack</title></head>"
        "<body><h1>papers-bot</h1>"
        "<p>Each morning, the new arXiv papers on your channel's topics; <code>/papers</code> to search them; "
        "and who read what.</p>"
        f"<p><a href=\"{html.escape(authorize_url, quote=True)}\">"
        "<img alt=\"Add to Slack\" height=\"40\" width=\"139\" "
        "src=\"https://platform.slack-edge.com/img/add_to_slack.png\" "
        "srcset=\"https://platform.slack-edge.com/img/add_to_slack.png 1x, "
        "https://platform.slack-edge.com/img/add_to_slack@2x.png 2x\"></a></p></body></html>\n"
    )


def install_failure_page(reason: str) -> str:
    """A short page saying why the install did not happen and where to start again."""
    return _page(_REASONS.get(reason) or f"Slack answered: {reason[:MAX_REASON_SHOWN]}.")


def install_unavailable_page() -> str:
    """The install pages could not run (the database did not answer): nothing was installed."""
    return _page("The install could not be completed right now. Nothing was installed; please try again in a minute.")


def _page(explained: str) -> str:
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>papers-bot was not installed</title></head>"
        "<body><h1>papers-bot was not installed</h1>"
        f"<p>{html.escape(explained)}</p>"
        f"<p><a href=\"{INSTALL_PATH}\">Start the install again</a>.</p></body></html>\n"
    )
