"""`qwenbot chat` as a user runs it: a subprocess with piped stdin, against the fake Qwen server."""

from __future__ import annotations

import asyncio
import io
import os
import pty
import signal
import sys
import termios
from pathlib import Path

from adapters.terminal import TerminalAdapter, TerminalReply
from bot.core import ConversationCore
from bot.reply import Status
from bot.sentences import RATE_LIMITED, SEARCH_UNAVAILABLE, STOPPED_MARK, TERMINAL_NO_CHANNEL_MODE
from tests.fakes.qwen import FakeQwen, Script, last_user_text
from tests.waiting import until


async def chat(qwen: FakeQwen, tmp_path: Path, stdin: str | bytes, *args: str,
               **env: str) -> tuple[int, str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("QWEN_", "DASHSCOPE_"))}
    environment.update(QWEN_BASE_URL=qwen.base_url, QWEN_MODELS="qwen-max,qwen-plus",
                       DATABASE_URL=f"sqlite:///{tmp_path / 'chat.db'}", **env)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "chat", *args, cwd=tmp_path, env=environment,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    data = stdin.encode() if isinstance(stdin, str) else stdin
    out, err = await asyncio.wait_for(process.communicate(data), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_each_piped_line_is_answered_in_turn_then_it_exits(qwen: FakeQwen, tmp_path: Path):
    qwen.responder = lambda body: Script(text=f"echo {last_user_text(body)}")
    code, out, _ = await chat(qwen, tmp_path, "first\nsecond\n")
    assert code == 0
    assert out.splitlines() == ["echo first", "echo second"]


async def test_answers_stream_in_pieces(qwen: FakeQwen, tmp_path: Path):
    qwen.queue(Script(text="one two three four", delay=0.01))
    _code, out, _ = await chat(qwen, tmp_path, "go\n")
    assert out == "one two three four\n"
    assert len(qwen.requests) == 1


async def test_memory_of_a_channel_survives_a_restart(qwen: FakeQwen, tmp_path: Path):
    await chat(qwen, tmp_path, "my name is Ann\n", "--channel", "work")
    await chat(qwen, tmp_path, "what is my name?\n", "--channel", "work")
    contents = [m["content"] for m in qwen.requests[1]["messages"]]
    assert "my name is Ann" in contents and contents[-1] == "what is my name?"


async def test_channels_have_separate_memories(qwen: FakeQwen, tmp_path: Path):
    await chat(qwen, tmp_path, "secret\n", "--channel", "a")
    await chat(qwen, tmp_path, "hello\n", "--channel", "b")
    assert "secret" not in str(qwen.requests[1]["messages"])


async def test_slash_commands_work_in_the_terminal(qwen: FakeQwen, tmp_path: Path):
    _code, out, _ = await chat(qwen, tmp_path, "hi\n/memory\n/model qwen-plus\n/persona Be a pirate.\n"
                              "/usage\n/reset\n/memory\n")
    lines = out.splitlines()
    assert lines[1].startswith("I remember 2 messages")
    assert lines[2] == "This conversation now uses `qwen-plus`."
    assert lines[3] == "Persona set for this conversation."
    assert lines[4].startswith("This conversation: ")
    assert lines[5].startswith("You: ")  # a private chat has no server line
    assert lines[6].startswith("Done: I forgot this conversation (2 messages)")
    assert lines[7] == "I remember nothing of this conversation yet."


async def test_channel_mode_says_in_one_sentence_that_it_has_no_meaning_here(qwen: FakeQwen, tmp_path: Path):
    _code, out, _ = await chat(qwen, tmp_path, "/channel-mode thread\n")
    assert out == TERMINAL_NO_CHANNEL_MODE + "\n"
    assert qwen.requests == []


async def test_a_model_failure_is_one_line_on_stderr_and_the_chat_goes_on(qwen: FakeQwen, tmp_path: Path):
    qwen.queue(Script(status=429))
    _code, out, err = await chat(qwen, tmp_path, "one\ntwo\n", QWEN_MAX_RETRIES="0")
    assert out.splitlines() == ["Hello from fake Qwen."]
    assert "Qwen is rate-limiting me right now; please try again in a minute." in err.splitlines()


async def test_the_exit_status_is_1_when_any_answer_failed(qwen: FakeQwen, tmp_path: Path):
    qwen.queue(Script(status=429))
    code, _out, err = await chat(qwen, tmp_path, "one\ntwo\n", QWEN_MAX_RETRIES="0")
    assert code == 1
    assert "Traceback" not in err


async def test_the_exit_status_is_1_when_an_answer_was_cut_short_by_a_broken_stream(
        qwen: FakeQwen, tmp_path: Path):
    qwen.queue(Script(text="one two three four five", cut_after=2))
    code, out, _err = await chat(qwen, tmp_path, "count\n", QWEN_MAX_RETRIES="0")
    assert out.startswith("one two") and "five" not in out
    assert code == 1


async def test_the_exit_status_is_0_when_every_answer_arrived(qwen: FakeQwen, tmp_path: Path):
    code, _out, _err = await chat(qwen, tmp_path, "one\ntwo\n")
    assert code == 0


async def test_prefix_keeps_the_transcript_form_on_stdout(qwen: FakeQwen, tmp_path: Path):
    qwen.queue(Script(status=429), Script(text="fine"))
    _code, out, _err = await chat(qwen, tmp_path, "one\ntwo\n", "--prefix", QWEN_MAX_RETRIES="0")
    assert out.splitlines() == ["qwen! Qwen is rate-limiting me right now; please try again in a minute.",
                                "qwen> fine"]


async def test_an_unknown_command_says_so(qwen: FakeQwen, tmp_path: Path):
    code, out, err = await chat(qwen, tmp_path, "/dance\n")
    assert err.splitlines() == ["There is no command `/dance`; `/help` lists them."]
    assert out == "" and code == 0
    assert qwen.requests == []


async def test_a_line_starting_with_a_path_is_a_question_not_a_command(qwen: FakeQwen, tmp_path: Path):
    code, _out, err = await chat(qwen, tmp_path, "/etc/hosts maps names to addresses?\n")
    assert code == 0 and err == ""
    assert qwen.chat_requests[0]["messages"][-1]["content"].endswith("/etc/hosts maps names to addresses?")


async def test_help_lists_the_commands_in_the_terminals_words(qwen: FakeQwen, tmp_path: Path):
    _code, out, _err = await chat(qwen, tmp_path, "/help\n")
    assert "`/usage`: Tokens used here and by you" in out
    assert "server" not in out and "workspace" not in out
    assert "channel-mode" not in out


async def test_bad_settings_give_a_short_error_and_no_traceback(qwen: FakeQwen, tmp_path: Path):
    code, _out, err = await chat(qwen, tmp_path, "hi\n", MAX_CONTEXT_TOKENS="many")
    assert code == 2
    assert "MAX_CONTEXT_TOKENS" in err and "Traceback" not in err
    assert qwen.requests == []


async def test_the_api_key_is_never_printed_or_logged(qwen: FakeQwen, tmp_path: Path):
    code, out, err = await chat(qwen, tmp_path, "hi\n", QWEN_API_KEY="sk-top-secret", LOG_LEVEL="DEBUG")
    assert code == 0
    assert " DEBUG " in err  # the debug logs really ran
    assert "sk-top-secret" not in out + err
    assert qwen.auth_headers == ["Bearer sk-top-secret"]


async def test_a_message_over_the_rate_limit_is_told_every_time(qwen: FakeQwen, tmp_path: Path):
    code, _out, err = await chat(qwen, tmp_path, "one\ntwo\nthree\n", USER_RATE_LIMIT="1")
    assert err.count(RATE_LIMITED) == 2
    assert code == 1  # two messages got no answer
    assert len(qwen.chat_requests) == 1


async def test_a_message_over_a_daily_budget_is_told_which_and_when_it_resets(qwen: FakeQwen, tmp_path: Path):
    code, _out, err = await chat(qwen, tmp_path, "one\ntwo\n", DAILY_TOKENS_PER_CONVERSATION="5")
    assert "This conversation has used its daily budget of 5 tokens; it resets at 00:00 UTC, in " in err
    assert code == 1  # the second message got no answer
    assert len(qwen.chat_requests) == 1


async def test_input_that_is_not_utf8_is_answered_not_refused(qwen: FakeQwen, tmp_path: Path):
    code, out, err = await chat(qwen, tmp_path, b"hi \xff there\nand \xed\xa0\x80 this\n")
    assert code == 0 and "Traceback" not in err
    assert out.count("Hello from fake Qwen.") == 2
    sent = [last_user_text(body) for body in qwen.chat_requests]
    assert sent[0].startswith("hi ") and sent[0].endswith(" there")


async def chat_on_a_terminal(qwen: FakeQwen, tmp_path: Path, stdin: str) -> tuple[int, str]:
    """`qwenbot chat` with its stdout on a pseudo-terminal (stdin piped): what the screen got."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("QWEN_", "DASHSCOPE_"))}
    environment.update(QWEN_BASE_URL=qwen.base_url, DATABASE_URL=f"sqlite:///{tmp_path / 'chat.db'}",
                       TERM="xterm-256color", COLUMNS="80", LINES="40")
    environment.pop("NO_COLOR", None)
    main, screen = pty.openpty()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "chat", cwd=tmp_path, env=environment,
        stdin=asyncio.subprocess.PIPE, stdout=screen, stderr=asyncio.subprocess.PIPE,
    )
    os.close(screen)
    received = bytearray()

    def read_all() -> None:
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the terminal's other side closed: the process is gone
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = asyncio.get_running_loop().run_in_executor(None, read_all)
    await asyncio.wait_for(process.communicate(stdin.encode()), 60)
    await asyncio.wait_for(reader, 10)
    os.close(main)
    assert process.returncode is not None
    return process.returncode, received.decode(errors="replace")


async def test_on_a_terminal_answers_are_rendered_as_markdown(qwen: FakeQwen, tmp_path: Path):
    qwen.queue(Script(text="# Title\n\nSome **bold** words and `code`.\n\n- one\n- two\n"))
    code, screen = await chat_on_a_terminal(qwen, tmp_path, "hi\n")
    assert code == 0
    assert "\x1b[" in screen  # styled by the terminal's escape codes
    assert "**bold**" not in screen and "# Title" not in screen
    assert "\x1b[1mbold\x1b[0m" in screen  # bold, as bold
    assert " • \x1b[0mone" in screen and "qwen>" not in screen


async def _read_until(stream: asyncio.StreamReader, marker: str) -> str:
    seen = ""
    while marker not in seen:
        chunk = await asyncio.wait_for(stream.read(100), 20)
        assert chunk, f"output ended before {marker!r}: {seen!r}"
        seen += chunk.decode()
    return seen


async def _start_chat(qwen: FakeQwen, tmp_path: Path, *args: str, stdin: int = asyncio.subprocess.PIPE,
                      stdout: int = asyncio.subprocess.PIPE, **env: str) -> asyncio.subprocess.Process:
    """`qwenbot chat` left running, for tests that signal it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("QWEN_", "DASHSCOPE_"))}
    environment.update(QWEN_BASE_URL=qwen.base_url, DATABASE_URL=f"sqlite:///{tmp_path / 'chat.db'}", **env)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "chat", *args, cwd=tmp_path, env=environment,
        stdin=stdin, stdout=stdout, stderr=asyncio.subprocess.PIPE)


async def test_ctrl_c_during_an_answer_stops_it_and_a_second_ctrl_c_at_the_prompt_quits(
        qwen: FakeQwen, tmp_path: Path):
    qwen.queue(Script(text="one two three four five six seven eight nine ten", delay=0.3))
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("QWEN_", "DASHSCOPE_"))}
    environment.update(QWEN_BASE_URL=qwen.base_url, DATABASE_URL=f"sqlite:///{tmp_path / 'chat.db'}")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "chat", "--prefix", cwd=tmp_path, env=environment,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"count to ten\n")
    await process.stdin.drain()
    await _read_until(process.stdout, "qwen> one")
    process.send_signal(signal.SIGINT)
    shown = await _read_until(process.stdout, STOPPED_MARK.strip())
    process.send_signal(signal.SIGINT)  # at the prompt: quits
    rest, _err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 130
    assert "ten" not in shown + rest.decode()
    assert len(qwen.chat_requests) == 1


async def test_while_the_model_thinks_a_status_line_says_so_and_reasoning_shows_on_demand(
    qwen: FakeQwen, tmp_path: Path
):
    qwen.queue(Script(reasoning="weigh the options", reasoning_delay=0.1, text="Forty-two."))
    _code, out, err = await chat(qwen, tmp_path, "/thinking on\nmeaning of life?\n/reasoning\n",
                               QWEN_MODEL="qwen3-max")
    lines = out.splitlines()
    assert lines[1:] == ["Forty-two.", "Reasoning behind my last answer here:", "weightheoptions"]
    assert "(Thinking… 0 s)" in err.splitlines()  # piped, a note: on stderr, not among the answers
    assert qwen.flags == [{"enable_thinking": True}]


async def test_on_a_terminal_the_status_is_a_dim_line_erased_before_the_answer():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    reply = TerminalReply(out)
    await reply.status(Status("thinking", 1))
    await reply.status(Status("thinking", 2))
    await reply.status(None)
    await reply.finish("Done.")
    assert out.getvalue() == ("\r\033[2mThinking… 1 s\033[0m\033[K\r\033[2mThinking… 2 s\033[0m\033[K"
                              "\r\033[Kqwen> Done.\n")


async def test_search_is_refused_in_the_terminal_off_dashscope(qwen: FakeQwen, tmp_path: Path):
    _code, out, _ = await chat(qwen, tmp_path, "/search on\n")
    assert out.strip() == SEARCH_UNAVAILABLE


async def test_ctrl_c_in_a_pipe_adds_nothing_to_the_answers(qwen: FakeQwen, tmp_path: Path):
    qwen.queue(Script(text="first answer"))
    process = await _start_chat(qwen, tmp_path)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"hi\n")
    await process.stdin.drain()
    await _read_until(process.stdout, "first answer\n")
    os.kill(process.pid, signal.SIGINT)  # at the prompt: quits
    rest, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 130 and "Traceback" not in err.decode()
    assert rest == b""


async def test_ctrl_c_at_the_prompt_leaves_the_terminal_echoing_lines(qwen: FakeQwen, tmp_path: Path):
    main, screen = pty.openpty()
    before = termios.tcgetattr(screen)[3] & (termios.ECHO | termios.ICANON)
    process = await _start_chat(qwen, tmp_path, stdin=screen, stdout=screen, TERM="xterm")
    seen = b""
    while b"you> " not in seen:
        seen += await asyncio.get_running_loop().run_in_executor(None, os.read, main, 1000)
    await until(lambda: termios.tcgetattr(screen)[3] & termios.ECHO == 0)  # readline has the line
    os.kill(process.pid, signal.SIGINT)
    _out, err = await asyncio.wait_for(process.communicate(), 30)
    after = termios.tcgetattr(screen)[3] & (termios.ECHO | termios.ICANON)
    os.close(screen)
    os.close(main)
    assert process.returncode == 130 and "Traceback" not in err.decode()
    assert after == before  # else the shell is left typing blind


async def test_ctrl_c_once_an_answer_is_shown_quits_as_at_the_prompt(qwen: FakeQwen, tmp_path: Path,
                                                                      make_settings):
    pressed: list[int] = []

    class PressingCtrlCAtTheEnd(io.StringIO):
        def write(self, text: str) -> int:
            written = super().write(text)
            if text == "\n" and not pressed:  # the answer's last write: it is shown, not yet stored
                os.kill(os.getpid(), signal.SIGINT)
            return written

    core = await ConversationCore.start(make_settings())
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        await TerminalAdapter(stdin=io.StringIO("hi\n"), stdout=PressingCtrlCAtTheEnd()).serve(core)
    finally:
        signal.signal(signal.SIGINT, previous)
        await core.close()
    assert pressed == [signal.SIGINT]  # the quit Ctrl-C means, not lost on an answer already over
