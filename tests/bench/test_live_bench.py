"""`bench/live.py --quick` runs and reports: a smoke test, never a timing assertion (DESIGN.md 10)."""

import re
import subprocess
import sys
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[2]
RATIO = re.compile(r"^ingest with the inspector open / nobody watching: (\d+\.\d{3})x \(goal <= 1\.10x\)$")
SHARE = re.compile(r"^busy poll's share of its 1 s interval: (\d+\.\d)% \(goal < 10%")
VERDICT = re.compile(r"^live inspector: (PASS|FAIL)$")


def test_it_runs_and_prints_the_ratios_against_its_baselines():
    result = subprocess.run(
        [sys.executable, str(REPO_DIR / "bench/live.py"), "--quick"],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = result.stdout.splitlines()
    assert result.returncode in (0, 1), result.stderr
    assert any(line.startswith("poll, 500 new events") for line in lines), result.stdout
    ratio = next(match for line in lines if (match := RATIO.match(line)))
    share = next(match for line in lines if (match := SHARE.match(line)))
    assert float(ratio[1]) > 0 and float(share[1]) > 0
    verdict = next(match for line in lines if (match := VERDICT.match(line)))
    assert (verdict[1] == "PASS") == (result.returncode == 0)
