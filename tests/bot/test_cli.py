"""The `qwenbot` command line, run as a user would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def qwenbot(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("QWEN_", "DASHSCOPE_", "DISCORD_", "SLACK_"))}
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_help_lists_every_command(tmp_path: Path):
    result = qwenbot("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("chat", "run", "discord", "slack"):
        assert command in result.stdout


def test_run_without_platform_credentials_says_which_are_missing(tmp_path: Path):
    result = qwenbot("run", cwd=tmp_path, QWEN_API_KEY="sk-1")
    assert result.returncode == 2
    assert "no platform credentials" in result.stderr
    assert "DISCORD_TOKEN" in result.stderr and "SLACK_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_qwen_key_is_named(tmp_path: Path):
    result = qwenbot("chat", cwd=tmp_path)
    assert result.returncode == 2
    assert "QWEN_API_KEY" in result.stderr and "Traceback" not in result.stderr


def test_an_unreachable_platform_at_start_is_one_line(tmp_path: Path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = qwenbot("discord", cwd=tmp_path, QWEN_API_KEY="sk-1", DISCORD_TOKEN="token",
                     DISCORD_API_URL=f"http://127.0.0.1:{port}/api/v10")
    assert result.returncode == 2
    assert "discord: cannot connect" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_discord_command_without_a_token_says_so(tmp_path: Path):
    result = qwenbot("discord", cwd=tmp_path, QWEN_API_KEY="sk-1")
    assert result.returncode == 2
    assert "DISCORD_TOKEN is not set" in result.stderr
