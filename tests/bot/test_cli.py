"""The `qwenbot` command line, run as a user would."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import cli
from bot.config import ConfigError
from bot.core import ConversationCore
from bot.memory import MemoryUnavailable
from bot.memory.sqlite import SQLiteStore
from bot.types import Author, ConversationKey, Incoming, Trigger
from tests.conftest import RecordingReply
from tests.fakes.qwen import FakeQwen, Script
from tests.fakes.slack import FakeSlack
from tests.processes import BotProcess
from tests.waiting import until


def qwenbot(*args: str, cwd: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("QWEN_", "DASHSCOPE_", "DISCORD_", "SLACK_"))}
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=60, input=stdin)


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
    assert "Could not connect to Discord" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_discord_command_without_a_token_says_so(tmp_path: Path):
    result = qwenbot("discord", cwd=tmp_path, QWEN_API_KEY="sk-1")
    assert result.returncode == 2
    assert "DISCORD_TOKEN is not set" in result.stderr


class Platform:
    """An adapter that serves until stopped, or fails with `error` (after it was serving if `ready`)."""

    platform = True

    def __init__(self, error: Exception | None = None, *, ready: bool = False) -> None:
        self.error = error
        self.ready = asyncio.Event()
        self.fails_when_ready = ready
        self.finish = asyncio.Event()  # set it: the platform ends by itself, cleanly
        self.stopped = False

    def missing(self) -> str | None:
        return None

    async def serve(self, core: object) -> None:
        if self.error is None or self.fails_when_ready:
            self.ready.set()
        await asyncio.sleep(0.01)
        if self.error is not None:
            raise self.error
        try:
            await self.finish.wait()
        except asyncio.CancelledError:
            self.stopped = True
            raise


def crashing() -> Platform:
    return Platform(RuntimeError("boom"), ready=True)


async def test_a_platform_that_cannot_start_stops_the_others_with_its_message(make_settings):
    healthy = Platform()
    with pytest.raises(ConfigError, match="token rejected"):
        await cli.serve(make_settings(), {"bad": Platform(ConfigError("token rejected")), "ok": healthy})
    assert healthy.stopped


async def test_a_platform_crashing_after_start_stops_the_others_and_reports_failure(make_settings):
    healthy = Platform()
    assert await cli.serve(make_settings(), {"crashing": crashing(), "ok": healthy}) is False
    assert healthy.stopped


class Answering(Platform):
    """A platform with one answer under way, then serving until stopped."""

    def __init__(self) -> None:
        super().__init__()
        self.reply = RecordingReply()

    async def serve(self, core: object) -> None:
        assert isinstance(core, ConversationCore)
        incoming = Incoming(ConversationKey("ok", "dm", "d1"), "m1", Author("u1", "Ann"), "count to six",
                            trigger=Trigger.DM)
        core.spawn(core.handle(incoming, self.reply))
        self.ready.set()
        await super().serve(core)


async def test_a_crash_lets_the_other_platforms_answers_under_way_finish_first(make_settings, qwen: FakeQwen):
    qwen.queue(Script(text="one two three four five six", delay=0.1))
    healthy = Answering()
    failing = Platform(RuntimeError("boom"), ready=True)
    assert await cli.serve(make_settings(shutdown_grace=30), {"bad": failing, "ok": healthy}) is False
    assert healthy.reply.final == "one two three four five six"  # whole, not cut at the crash


async def test_a_connection_lost_after_start_is_a_crash_not_a_start_up_error(make_settings):
    healthy = Platform()
    flaky = Platform(ConnectionResetError("connection reset by peer"), ready=True)
    assert await cli.serve(make_settings(), {"flaky": flaky, "ok": healthy}) is False
    assert healthy.stopped


async def test_a_connection_refused_before_start_is_a_one_line_error(make_settings):
    with pytest.raises(ConfigError, match="down: cannot connect: refused"):
        await cli.serve(make_settings(), {"down": Platform(ConnectionRefusedError("refused")),
                                          "ok": Platform()})


def old_turns_in(path: Path, *ages_in_days: float) -> None:
    """A memory database holding one turn of each age."""
    from bot.memory import Turn, open_store
    from bot.types import ConversationKey

    async def fill() -> None:
        store = await open_store(f"sqlite:///{path}")
        key = ConversationKey("terminal", "local", "default")
        for n, age in enumerate(ages_in_days):
            await store.add_turn(key, Turn("user", "u", "U", f"t{n}", 1, f"m{n}", time.time() - age * 86400))
        await store.close()

    asyncio.run(fill())


def test_purge_removes_what_is_older_and_prints_each_kind(tmp_path: Path):
    old_turns_in(tmp_path / "memory.db", 40, 35, 2)
    result = qwenbot("purge", "--older-than", "30", cwd=tmp_path, QWEN_API_KEY="sk-1",
                     DATABASE_URL=f"sqlite:///{tmp_path / 'memory.db'}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Removed what was older than 30 days:"
    assert "  messages: 2" in lines
    assert {line.split(":")[0].strip() for line in lines[1:]} == {
        "messages", "summaries", "usage rows", "event claims", "unfinished answers", "votes",
        "viewed channels"}

    again = qwenbot("purge", "--older-than", "1", cwd=tmp_path, QWEN_API_KEY="sk-1",
                    DATABASE_URL=f"sqlite:///{tmp_path / 'memory.db'}")
    assert "  messages: 1" in again.stdout.splitlines()


@pytest.mark.parametrize("days", ["0", "-3", "soon", "1.5"])
def test_purge_refuses_days_that_are_not_a_whole_number_of_one_or_more(tmp_path: Path, days: str):
    result = qwenbot("purge", "--older-than", days, cwd=tmp_path, QWEN_API_KEY="sk-1")
    assert result.returncode == 2
    assert "whole number of days" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "qwenbot.db").exists()


@pytest.mark.parametrize("days", ["1000000", "99999999999999999999"])
def test_purge_refuses_an_age_too_long_to_date_in_one_line(tmp_path: Path, days: str):
    result = qwenbot("purge", "--older-than", days, cwd=tmp_path, QWEN_API_KEY="sk-1",
                     DATABASE_URL=f"sqlite:///{tmp_path / 'memory.db'}")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].endswith(f"{days!r} is not a whole number of days from 1 to 36500")


def test_purge_of_one_day_says_day(tmp_path: Path):
    old_turns_in(tmp_path / "memory.db", 2)
    result = qwenbot("purge", "--older-than", "1", cwd=tmp_path, QWEN_API_KEY="sk-1",
                     DATABASE_URL=f"sqlite:///{tmp_path / 'memory.db'}")
    assert result.stdout.splitlines()[0] == "Removed what was older than 1 day:"


async def test_a_purge_the_database_fails_part_way_is_one_line_and_a_failure(
        make_settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    async def database_gone(*_: object, **__: object) -> None:
        raise MemoryUnavailable("the memory database at postgresql://db is unavailable (connection lost)")

    monkeypatch.setattr(SQLiteStore, "purge", database_gone)
    assert await cli.purge(make_settings(), 30) == 1
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err.startswith("qwenbot: the purge stopped part-way") and said.err.count("\n") == 1


def test_purge_needs_its_age(tmp_path: Path):
    result = qwenbot("purge", cwd=tmp_path, QWEN_API_KEY="sk-1")
    assert result.returncode == 2 and "--older-than" in result.stderr


async def test_serving_with_a_retention_sweeps_in_the_background_and_stops_with_the_adapters(make_settings):
    seen: list[str] = []

    class Looking(Platform):
        async def serve(self, core: object) -> None:
            seen.extend(task.get_name() for task in asyncio.all_tasks())

    assert await cli.serve(make_settings(retention_days=30), {"ok": Looking()}) is True
    assert "retention sweep" in seen
    assert "retention sweep" not in {task.get_name() for task in asyncio.all_tasks()}


@pytest.mark.parametrize("failing", [lambda: Platform(ConfigError("token rejected")), crashing],
                         ids=["at start", "later"])
async def test_with_continue_a_failing_platform_leaves_the_others_serving(
        make_settings, failing, caplog: pytest.LogCaptureFixture):
    healthy = Platform()
    running = asyncio.create_task(cli.serve(make_settings(on_platform_failure="continue"),
                                            {"bad": failing(), "ok": healthy}))
    await until(lambda: "carrying on with ok (ON_PLATFORM_FAILURE=continue)" in caplog.text)
    assert not running.done() and not healthy.stopped
    healthy.finish.set()
    assert await running is False  # something failed on the way: a non-zero exit


async def test_with_continue_no_platform_starting_is_a_start_up_error_naming_each(make_settings):
    with pytest.raises(ConfigError, match="discord refused; slack refused"):
        await cli.serve(make_settings(on_platform_failure="continue"),
                        {"slack": Platform(ConfigError("slack refused")),
                         "discord": Platform(ConfigError("discord refused"))})


def test_an_unknown_failure_policy_is_named(tmp_path: Path):
    result = qwenbot("run", cwd=tmp_path, QWEN_API_KEY="sk-1", ON_PLATFORM_FAILURE="ignore")
    assert result.returncode == 2
    assert "ON_PLATFORM_FAILURE" in result.stderr and "Traceback" not in result.stderr


# -- `qwenbot run` with Discord unreachable and Slack working, as real processes ------------------


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = await FakeSlack().start()
    fake.add_user("U0ALICE", "Alice")
    yield fake
    await fake.stop()


@pytest.fixture
def run_both(slack: FakeSlack, qwen: FakeQwen, tmp_path: Path, processes: list[BotProcess]) -> BotProcess:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    bot = BotProcess("run", tmp_path, {
        "QWEN_API_KEY": "sk-test", "QWEN_BASE_URL": qwen.base_url, "DATABASE_URL": "sqlite:///memory.db",
        "DISCORD_TOKEN": "token", "DISCORD_API_URL": f"http://127.0.0.1:{closed}/api/v10",
        "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url,
        "SLACK_SIGNING_SECRET": slack.signing_secret, "PORT": "0", "SLACK_HTTP_HOST": "127.0.0.1"})
    processes.append(bot)
    return bot


async def test_run_exits_with_status_2_when_one_platform_cannot_start(run_both: BotProcess):
    await run_both.start()
    assert await run_both.exit_code() == 2
    assert run_both.output().splitlines()[-1].startswith("qwenbot: Could not connect to Discord")
    assert "Traceback" not in run_both.output()


async def test_run_with_continue_serves_the_platforms_that_started(
        run_both: BotProcess, slack: FakeSlack, qwen: FakeQwen):
    run_both.env["ON_PLATFORM_FAILURE"] = "continue"
    await run_both.start()
    await run_both.logged(r"Could not connect to Discord .*; carrying on with slack")
    port = (await run_both.logged(r"HTTP mode as .* on port (\d+)")).group(1)
    await slack.deliver(slack.message("still there?", channel="D0ALICE"), to=f"http://127.0.0.1:{port}")
    await until(lambda: slack.texts("D0ALICE", None) == ["Hello from fake Qwen."], 20,
                lambda: f"the answer:\n{run_both.output()}")
