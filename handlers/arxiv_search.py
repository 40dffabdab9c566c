"""The Search arXiv button under a `/papers` answer with fewer than 3 results.

The click is acked at once; the listener replaces the clicker's ephemeral results with "Searching arXiv…"
and queues the search on the arXiv lookup pool (handlers.arxiv_lookups: one request at a time, so a slow
arXiv never holds the threads that answer searches). When arXiv answers, the same message is replaced by
its hits, now stored; when it fails, by one line saying so and a button to try again.

A second click on the same query by the same user while the first is queued or running is dropped: two
clicks must not cost two arXiv requests (a replayed request is dropped before this, by handlers.replays).
"""

from __future__ import annotations

import logging
import threading
from functools import partial

from bot.arxiv_search import search_arxiv
from bot.render_blocks import search as views
from bot.render_blocks.common import SEARCH_ARXIV, problem_message
from bot.render_blocks.reading import lookups_busy_message
from handlers.arxiv_lookups import ArxivLookups
from handlers.common import APOLOGY, DOMAIN_ERRORS, Click, ack_now, who

log = logging.getLogger(__name__)


class InFlight:
    """Keys of the arXiv searches queued or running in this process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._keys: set[tuple[str, ...]] = set()

    def claim(self, key: tuple[str, ...]) -> bool:
        """True when `key` was free (and is now taken); False while another holds it."""
        with self._lock:
            if key in self._keys:
                return False
            self._keys.add(key)
            return True

    def release(self, key: tuple[str, ...]) -> None:
        with self._lock:
            self._keys.discard(key)


def _query_key(click: Click, query: str) -> tuple[str, ...]:
    return (click.team_id, click.user_id, " ".join(query.lower().split()))


def search_arxiv_clicked(services, lookups: ArxivLookups, in_flight: InFlight, body: dict, respond) -> None:
    click = Click.from_body(body)
    query = views.parse_arxiv_value(click.value)
    if query is None:
        respond(**{**problem_message("That button no longer works; please run the search again."),
                   "replace_original": False})
        return
    key = _query_key(click, query)
    if not in_flight.claim(key):
        log.info("Search arXiv: a second click by %s while the first runs; dropped", click.user_id)
        return
    try:
        respond(**{**views.searching_arxiv_message(query), "replace_original": True})
        queued = lookups.submit(partial(_search_and_show, services, click, query, respond, in_flight, key))
    except Exception:
        in_flight.release(key)
        raise
    if not queued:
        in_flight.release(key)
        busy = lookups_busy_message()["text"]
        respond(**{**views.arxiv_failed_message(query, busy), "replace_original": True})


def _search_and_show(services, click: Click, query: str, respond, in_flight: InFlight, key: tuple[str, ...]) -> None:
    """On the lookup pool: ask arXiv, store, and replace the "searching" message with the outcome."""
    try:
        result = search_arxiv(services.store.session_factory, services.arxiv, query=query, **who(click))
        reply = views.arxiv_results_message(result)
    except DOMAIN_ERRORS as err:
        reply = views.arxiv_failed_message(query, str(err))
    except Exception:  # noqa: BLE001 - the clicker gets one line; the traceback goes to the log
        log.exception("Search arXiv failed")
        reply = views.arxiv_failed_message(query, APOLOGY)
    finally:
        # Released before the answer goes out: a click on its Try again button must find the key free.
        in_flight.release(key)
    respond(**{**reply, "replace_original": True})


def register(app, services, lookups: ArxivLookups) -> None:
    in_flight = InFlight()
    app.action(SEARCH_ARXIV)(ack=ack_now, lazy=[partial(search_arxiv_clicked, services, lookups, in_flight)])
