"""The browser SDK's unit tests (tests/sdk/*.test.mjs) run by Node's test runner, so `make test` runs them.

They need no database: static/sdk/beacon.js runs in a `vm` context with fake timers, storage and transport.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_sdk_unit_tests_pass_under_node():
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the browser SDK tests need Node 20 (see the Makefile).")
    result = subprocess.run(
        [node, "--test", "tests/sdk/"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"`node --test tests/sdk/` exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    )
