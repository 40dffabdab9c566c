"""A small pool of its own for listener work that waits on arXiv (`/papers read` of a paper not stored).

arXiv answers one request at a time, every 3 s, and can stall for the whole timeout: on Bolt's listener
pool, five such lookups took every worker and searches and the App Home waited behind them. Here they
wait behind each other instead, in a bounded queue; when it is full, the user is asked to try later.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

# One worker: the process's arXiv client takes one request at a time anyway (arXiv's terms), so more
# workers would only wait on its lock. The queue bound caps how long the last one in line waits.
WORKERS = 1
MAX_PENDING = 10


class ArxivLookups:
    def __init__(self, *, workers: int = WORKERS, max_pending: int = MAX_PENDING):
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="arxiv-lookup")
        self._slots = threading.BoundedSemaphore(max_pending)

    def submit(self, work: Callable[[], None]) -> bool:
        """Run `work` on the lookup pool; False (and nothing runs) when MAX_PENDING are already waiting."""
        if not self._slots.acquire(blocking=False):
            return False
        try:
            self._executor.submit(self._run, work)
        except RuntimeError:  # the executor is shutting down with the process
            self._slots.release()
            return False
        return True

    def _run(self, work: Callable[[], None]) -> None:
        try:
            work()
        except Exception:  # noqa: BLE001 - nobody waits on the future: log it here
            log.exception("an arXiv lookup failed")
        finally:
            self._slots.release()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
