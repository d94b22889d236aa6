"""`bench/validate.py --quick` runs and reports: a smoke test, never a timing assertion (DESIGN.md 10)."""

import re
import subprocess
import sys
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[2]
ROWS = [
    "no-op loop (baseline)",
    "validator: plan.check",
    "ingest, key without plan",
    "ingest, key with plan",
]
VERDICT = re.compile(r"^validation share of per-event ingestion time: (\d+\.\d)% \(goal < 20%\) (PASS|FAIL)$")


def test_it_runs_and_prints_events_per_second_and_the_share():
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
    assert "the true\nshare is smaller" in result.stdout  # the in-process path is the conservative one
    verdict = VERDICT.match(lines[-1])
    assert verdict, f"no verdict line at the end of:\n{result.stdout}"
    # the exit status follows the verdict, whichever it is on this machine today
    assert result.returncode == (0 if verdict.group(2) == "PASS" else 1)
