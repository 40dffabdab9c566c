"""What every Slack request leaves behind for an operator: its metrics (kind, outcome, ack and reply latency) and a
workspace and request id on every log line made while it is handled.

Bolt runs a request's listener after the whole global middleware chain (a middleware's `next()` only flags that
the chain goes on), so a middleware never sees the ack. The count and the ack latency are therefore taken around
the app's `dispatch` (what both the HTTP adapter and Socket Mode call), which is the middleware chain, the ack and
the hand-off of the lazy work; the reply latency where the lazy work runs (`ObservedLazyRunner`). The request's
id, kind and arrival travel to the lazy work in the request context, which Bolt copies for it.
"""

from __future__ import annotations

import time
import uuid

from slack_bolt import App
from slack_bolt.lazy_listener.internals import build_runnable_function
from slack_bolt.lazy_listener.thread_runner import ThreadLazyListenerRunner
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import extract_team_id
from slack_bolt.request.payload_utils import (
    is_action,
    is_event,
    is_options,
    is_shortcut,
    is_slash_command,
    is_view,
)

from bot.logs import request_scope
from bot.metrics import Metrics

SKIPPED = "skipped"  # a request context key: the middleware that dropped the request (a Slack retry, a replay)
_KINDS = (("command", is_slash_command), ("action", is_action), ("event", is_event), ("shortcut", is_shortcut),
          ("options", is_options), ("view", is_view))


def request_kind(body: dict) -> str:
    for kind, matches in _KINDS:
        if matches(body):
            return kind
    return "other"  # url_verification, an app rate-limit notice...


def outcome(request: BoltRequest, status: int) -> str:
    if request.context.get(SKIPPED):
        return "skipped"
    if status >= 500:
        return "error"
    if status == 404:
        return "unhandled"
    return "refused" if status >= 400 else "ok"


def instrument(app: App, metrics: Metrics) -> None:
    """Count and time every request `app` dispatches, and its work after the ack."""
    dispatch = app.dispatch

    def observed_dispatch(request: BoltRequest):
        started = time.monotonic()
        kind = request_kind(request.body if isinstance(request.body, dict) else {})
        request.context.update(request_id=uuid.uuid4().hex[:16], request_kind=kind, received_at=started)
        team_id = extract_team_id(request.body) if isinstance(request.body, dict) else None
        with request_scope(team_id=team_id, request_id=request.context["request_id"]):
            response = dispatch(request)
        metrics.request_done(kind, outcome(request, response.status), time.monotonic() - started)
        return response

    app.dispatch = observed_dispatch  # the adapters call app.dispatch(request)
    runner = app.listener_runner
    runner.lazy_listener_runner = ObservedLazyRunner(runner.lazy_listener_runner, metrics)


class ObservedLazyRunner(ThreadLazyListenerRunner):
    """Bolt's thread runner for lazy listeners, timing each from the request's arrival to its end, with the
    request's workspace and id on its log lines."""

    def __init__(self, runner: ThreadLazyListenerRunner, metrics: Metrics):
        super().__init__(logger=runner.logger, executor=runner.executor)
        self.metrics = metrics

    def start(self, function, request: BoltRequest) -> None:
        runnable = build_runnable_function(func=function, logger=self.logger, request=request)
        context = request.context

        def observed() -> None:
            with request_scope(team_id=context.team_id, request_id=context.get("request_id")):
                runnable()  # logs and swallows what the function raises (Bolt's own wrapper)
            if context.get("received_at") is not None:
                self.metrics.reply_done(context.get("request_kind", "other"), time.monotonic() - context["received_at"])

        self.executor.submit(observed)
