"""Slack adapter latency over the loopback fakes: `python bench/slack_latency.py`.

For 50 replies in each setting it measures
  - ack: from sending the event until Slack's side has its HTTP 200 / Socket Mode ack,
  - event -> model: from sending the event until the model request arrives at the fake Qwen,
  - first token -> visible: from the fake Qwen writing its first token until the fake Slack
    receives the first non-empty text of the answer (startStream, postMessage or update),
and prints p50 and p95 in milliseconds. Targets: ack < 100 ms, first visible text within 100 ms of
the first token (p50). It asserts nothing.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.slack import SlackAdapter
from adapters.slack.config import SlackSettings
from bot.config import Settings
from bot.core import ConversationCore
from tests.fakes.qwen import FakeQwen, Script
from tests.fakes.slack import FakeSlack

REPLIES = 50
ANSWER = " ".join(f"token{i}" for i in range(40))


class TokenScript(Script):
    """Chunks cut like real model tokens, space first ("token0", " token1", ...): the first word is
    not settled (safe to stream) until the next token arrives, as with a real model."""

    def pieces(self) -> list[str]:
        words = self.text.split(" ")
        return [words[0], *(" " + w for w in words[1:])]


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


async def run_case(mode: str, where: str, workdir: Path) -> dict[str, tuple[float, float]]:
    qwen = await FakeQwen().start()
    qwen.responder = lambda body: TokenScript(ANSWER, delay=0.002, first_delay=0.02)
    slack = await FakeSlack().start()
    slack.add_user("U0ALICE", "Alice")
    if where == "dm (edits)":
        slack.stream_error = "missing_scope"
    settings = Settings(qwen_api_key="sk-bench", qwen_base_url=qwen.base_url,  # type: ignore[call-arg]
                        database_url=f"sqlite:///{workdir / f'{mode}-{where[:2]}.db'}", qwen_max_retries=0,
                        user_rate_limit=0)
    core = await ConversationCore.start(settings)
    options: dict[str, object] = {
        "slack_bot_token": slack.bot_token, "slack_api_url": slack.api_url,
        "slack_signing_secret": slack.signing_secret, "slack_http_host": "127.0.0.1", "port": 0,
    }
    if mode == "socket":
        options["slack_app_token"] = slack.app_token
    adapter = SlackAdapter(SlackSettings(**options))  # type: ignore[arg-type]
    task = asyncio.create_task(adapter.serve(core))
    await asyncio.wait_for(adapter.ready.wait(), 10)
    assert adapter.bot is not None
    slack.bot_url = f"http://127.0.0.1:{adapter.bot.port}"

    acks, to_model, to_visible = [], [], []
    for n in range(REPLIES):
        if where == "dm (edits)":
            event = slack.message(f"question {n}", channel="D0ALICE")
            events = [event]
        else:
            events = slack.mention(f"question {n}", channel=f"C0CHAN{n % 5}")
        before = len(qwen.request_times)
        sent = time.perf_counter()
        deliveries = [await slack.deliver(e, via=mode) for e in events]
        acks.extend(d.seconds for d in deliveries)
        await adapter.bot.idle()
        to_model.append(qwen.request_times[before] - sent)
        answer = slack.bot_messages(events[0]["channel"])[-1]
        to_visible.append(slack.first_text_times[answer.ts] - qwen.first_token_times[before])

    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await core.close()
    await slack.stop()
    await qwen.stop()
    return {"ack": percentiles(acks), "event -> model request": percentiles(to_model),
            "first token -> visible text": percentiles(to_visible)}


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for mode in ("http", "socket"):
            for where in ("thread (streaming)", "dm (edits)"):
                for metric, (p50, p95) in (await run_case(mode, where, Path(tmp))).items():
                    rows.append((mode, where, metric, p50, p95))
    header = f"{'mode':<8}{'reply path':<22}{'metric':<30}{'p50 ms':>9}{'p95 ms':>9}"
    title = f"Slack adapter latency over loopback fakes, {REPLIES} replies per row"
    lines = [title, header, "-" * len(header)]
    lines += [f"{m:<8}{w:<22}{k:<30}{p50:>9.1f}{p95:>9.1f}" for m, w, k, p50, p95 in rows]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
