"""Every benchmark's --quick smoke run completes: the benchmarks keep working as the code changes.

Only the exit status is checked. Timings are the benchmarks' business, never a test's: CI
machines vary too much. The benchmarks that need PostgreSQL find it as the memory tests do
(TEST_POSTGRES_URL), and are skipped without a server, except in CI.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bot.memory.backends import require_postgres

ROOT = Path(__file__).resolve().parent.parent
NEEDS_POSTGRES = {"memory_scale", "concurrency", "limits"}
#: Each --quick run takes a few seconds; more than this means something hangs.
SMOKE_TIMEOUT = 90


@pytest.mark.parametrize("bench", ["startup", "memory_scale", "concurrency", "core_overhead", "limits"])
def test_quick_run_of_the_benchmark_exits_cleanly(bench: str) -> None:
    if bench in NEEDS_POSTGRES:
        asyncio.run(require_postgres())
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / f"{bench}.py"), "--quick"], cwd=ROOT,
                          env=environment, capture_output=True, text=True, timeout=SMOKE_TIMEOUT)
    assert done.returncode == 0, done.stderr[-2000:]
