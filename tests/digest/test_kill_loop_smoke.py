"""bench/kill_loop.py still runs and still finds nothing wrong: two SIGKILLs of `papers-bot digest` at
random points, then a rerun; every seed paper in the channel exactly once (the full run: 20 kills)."""

from __future__ import annotations

from bench.kill_loop import main


def test_the_kill_loop_smoke_run_finds_no_duplicate_and_no_loss(capsys):
    assert main(["--kills", "2", "--pace", "0", "--seed", "11"]) == 0
    assert "2 kills, 0 duplicates, 0 losses -> OK" in capsys.readouterr().out
