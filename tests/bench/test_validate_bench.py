"""`bench/validate.py --quick` runs and reports: a smoke test, never a timing assertion (DESIGN.md 10)."""

import re
import subprocess
import sys
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[2]
ROWS = [
    "no-op loop (baseline)",
    "validator: plan.check",
    "build_events, key without plan",
    "build_events, key with plan",
    "full path, key without plan",
    "full path, key with plan",
]
FULL_PATH = re.compile(r"^full path per event: (\d+\.\d\d) us without plan, (\d+\.\d\d) us with plan$")
CONSERVATIVE = re.compile(
    r"^conservative \(in-process build_events only\): share of build_events with plan \d"
)
VERDICT = re.compile(
    r"^validation share of per-event ingestion time \(full path\): (\d+\.\d)% \(goal < 20%\) (PASS|FAIL)$"
)


def test_it_runs_and_prints_events_per_second_and_the_share_of_the_full_path():
    result = subprocess.run(
        [sys.executable, str(REPO_DIR / "bench/validate.py"), "--quick"],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = result.stdout.splitlines()
    assert result.returncode in (0, 1), result.stderr
    for label in ROWS:
        row = next((line for line in lines if line.startswith(label)), None)
        assert row is not None, f"no row {label!r} in:\n{result.stdout}"
        events_per_second = float(row[len(label) :].split()[0].replace(",", ""))
        assert events_per_second > 0
    assert any(line.startswith("validation per event (validator - no-op): ") for line in lines)
    # the full path was measured, every reply checked, in a throwaway database
    assert any(FULL_PATH.match(line) for line in lines), result.stdout
    assert "checked: every reply 200" in result.stdout
    assert re.search(r"database test_beacon_validate_bench_\d+ \(throwaway, dropped\)", result.stdout)
    assert any(CONSERVATIVE.match(line) for line in lines), result.stdout
    assert any(line.startswith("information: plan.check timed inside the requests") for line in lines)
    verdict = VERDICT.match(lines[-1])
    assert verdict, f"no verdict line at the end of:\n{result.stdout}"
    # the verdict is the full path's share, printed above with its rounds
    assert any(
        line.startswith(f"share of the full path with plan per event: {verdict.group(1)}%") for line in lines
    )
    # the exit status follows the verdict, whichever it is on this machine today
    assert result.returncode == (0 if verdict.group(2) == "PASS" else 1)
