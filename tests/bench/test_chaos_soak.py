"""Smoke tests of bench/procs.py's helpers that need no stack (bench/chaos.py and bench/soak.py)."""

import os

from bench import procs


def test_retry_delay_follows_retry_after_with_a_cap():
    assert procs.retry_delay("5", cap=5) == 5
    assert procs.retry_delay("30", cap=5) == 5
    assert procs.retry_delay(None, cap=5) == 1.0
    assert procs.retry_delay("soon", cap=0.5) == 0.5


def test_summarize_counts_refusals_and_missing_retry_after():
    log = [
        (0.0, 0.01, 200, 10, False),
        (0.1, 0.12, 503, 10, True),
        (0.2, 0.21, 503, 10, False),
        (0.3, 0.31, "ConnectionRefusedError", 10, False),
        (0.4, 0.41, 400, 10, False),
    ]
    summary = procs.summarize(log)
    assert summary["ok"] == 1 and summary["ok_events"] == 10
    assert summary["refused"] == 3
    assert summary["refused_503_without_retry_after"] == 1
    assert summary["attempts"] == 5


def test_rss_of_this_process_is_read_from_proc():
    assert procs.rss_mb(os.getpid()) > 1
    assert procs.alive(os.getpid())
