"""How `papers-bot backfill` shows its progress: a tqdm bar on a terminal, one plain line a page elsewhere (logs).

Progress is counted in days of the datestamp window (arXiv does not say how many records a window holds), so the
ETA assumes the remaining days hold as many records as the days done; the counts ride along.
"""

from __future__ import annotations

import time
from typing import TextIO

from tqdm import tqdm

from bot.backfill import BackfillReport


def _counts(report: BackfillReport) -> str:
    c = report.fetch.counts
    return (f"{c.new:,} new, {c.updated:,} updated, {c.unchanged:,} unchanged, {report.fetch.skipped:,} malformed "
            f"skipped, {report.outside:,} outside the categories · {report.requests:,} requests")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class BackfillProgress:
    """Call it with the report after every page; `close()` when done (or failed)."""

    def __init__(self, stream: TextIO, *, terminal: bool | None = None):
        self._stream = stream
        self._terminal = stream.isatty() if terminal is None else terminal
        self._bar: tqdm | None = None
        self._started = time.monotonic()

    def __call__(self, report: BackfillReport) -> None:
        if self._terminal:
            self._draw(report)
            return
        done, total = report.days_done, max(report.days_total, 1)
        elapsed = time.monotonic() - self._started
        eta = f" · eta {_duration(elapsed / done * (total - done))}" if 0 < done < total else ""
        print(f"backfill {report.set_spec} through {report.through or '…'} · {done:,}/{total:,} days · "
              f"{_counts(report)}{eta}", file=self._stream, flush=True)

    def _draw(self, report: BackfillReport) -> None:
        if self._bar is None:
            self._bar = tqdm(total=report.days_total, unit="day", file=self._stream, dynamic_ncols=True,
                             desc="backfill", smoothing=0.1)
        self._bar.update(max(report.days_done - self._bar.n, 0))
        c = report.fetch.counts
        self._bar.set_postfix_str(f"{report.set_spec} {c.new:,} new · {report.fetch.skipped:,} skipped · "
                                  f"{report.requests:,} requests", refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
