"""Loopback fakes of the outside services (arXiv's export API, Slack's Web API); tests stay offline."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# serve_forever checks for shutdown() between polls; its default of 0.5 s made every stop() wait up to that long
# (about 70 s over the suite). 10 ms costs a hundred idle wake-ups a second while a fake runs.
POLL_SECONDS = 0.01


class LoopbackServer:
    """An HTTP server on a free 127.0.0.1 port, served from a daemon thread; `_handle(request)` answers."""

    def _listen(self, method: str) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

        def handle(request: BaseHTTPRequestHandler) -> None:
            with fake._started_lock:
                fake.requests_started += 1
            fake._handle(request)

        self.requests_started = 0  # counted on arrival, before the answer (which a scripted stall may delay)
        self._started_lock = threading.Lock()
        setattr(Handler, f"do_{method}", handle)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": POLL_SECONDS},
                                       daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def start(self):
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
