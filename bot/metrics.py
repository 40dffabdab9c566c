"""The process's Prometheus metrics: every metric object, on a registry of its own, and one method per thing counted.

A `Metrics` is made by the composition root and handed to what it counts (the Slack edge, the arXiv client, the
digest job), so each call site is one line. Each has its own `CollectorRegistry`, not prometheus_client's global one:
a test process builds many apps, and two registering the same names in one registry would collide. `/metrics`
(handlers.http_server, opt-in with METRICS_ENABLED) serves `exposition()`.

Errors are the log records at ERROR or above: every failure nothing expected is logged that way (with its
traceback), whichever thread it happened on. `count_logged_errors` hooks that up for a serving process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

EXPOSITION_CONTENT_TYPE = CONTENT_TYPE_LATEST
# Slack's ack deadline is 3 s, so the buckets are fine below it; a reply (the search after the ack) may take longer.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
REPLY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
REQUEST_KINDS = ("command", "action", "event", "shortcut", "options", "view", "other")
REQUEST_OUTCOMES = ("ok", "skipped", "unhandled", "refused", "error")
ARXIV_OUTCOMES = ("ok", "retry", "failed")


class Metrics:
    """The counters and histograms of one app (one process, in production)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter("papers_bot_slack_requests", "Slack requests by kind and outcome (ok: acked; "
                                "skipped: a retry or replay dropped; unhandled: no listener; refused: 4xx; error: 5xx)",
                                ["kind", "outcome"], registry=registry)
        self.ack_seconds = Histogram("papers_bot_slack_ack_seconds", "From a Slack request reaching the app to its ack",
                                     ["kind"], buckets=ACK_BUCKETS, registry=registry)
        self.reply_seconds = Histogram("papers_bot_slack_reply_seconds", "From a Slack request reaching the app to "
                                       "the end of its work after the ack (the reply sent)", ["kind"],
                                       buckets=REPLY_BUCKETS, registry=registry)
        self.digests = Counter("papers_bot_digests", "Digest runs by how they ended (posted, empty, already-done, "
                               "busy, failed)", ["status"], registry=registry)
        self.papers_posted = Counter("papers_bot_digest_papers_posted", "Papers posted in digests", registry=registry)
        self.arxiv_requests = Counter("papers_bot_arxiv_requests", "arXiv API requests by outcome (ok; retry: a bad "
                                      "answer that is retried; failed: the last try, or a refused query)",
                                      ["outcome"], registry=registry)
        self.dms_sent = Counter("papers_bot_dms_sent", "Direct messages sent, by kind", ["kind"], registry=registry)
        self.errors = Counter("papers_bot_errors", "Log records at ERROR or above (unexpected failures), by logger",
                              ["logger"], registry=registry)

    def request_done(self, kind: str, outcome: str, seconds: float) -> None:
        self.requests.labels(kind, outcome).inc()
        self.ack_seconds.labels(kind).observe(seconds)

    def reply_done(self, kind: str, seconds: float) -> None:
        self.reply_seconds.labels(kind).observe(seconds)

    def digest_done(self, report) -> None:
        """One channel's digest run (a bot.digest_records.PostReport)."""
        self.digests.labels(report.status).inc()
        self.papers_posted.inc(report.papers_posted)

    def arxiv_request(self, outcome: str) -> None:
        self.arxiv_requests.labels(outcome).inc()

    def dms_done(self, reports) -> None:
        """The DM reports of a run (handlers.dms.AlertReport, one or a list): each kind's `sent`."""
        for report in reports if isinstance(reports, Iterable) else [reports]:
            self.dms_sent.labels(_slug(getattr(report, "kind", "dm"))).inc(getattr(report, "sent", 0))

    def exposition(self) -> bytes:
        """The Prometheus text format of everything above."""
        return generate_latest(self.registry)

    def count_logged_errors(self) -> logging.Handler:
        """Count every ERROR record from now on (a handler on the root logger); returns it, to remove later."""
        handler = _ErrorCounter(self)
        logging.getLogger().addHandler(handler)
        return handler


def _slug(text: str) -> str:
    return "_".join(text.lower().split()) or "dm"


class _ErrorCounter(logging.Handler):
    def __init__(self, metrics: Metrics):
        super().__init__(level=logging.ERROR)
        self.metrics = metrics

    def emit(self, record: logging.LogRecord) -> None:
        self.metrics.errors.labels(record.name).inc()


# What objects built without the process's metrics count into (tests, one-off commands): counted, never served.
NOT_EXPOSED = Metrics()
