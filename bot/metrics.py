"""What the bot counts and times, for Prometheus: every metric defined once, here.

Labels are only ever platform, model, outcome and kind, never a user, channel or message id, so
the number of series stays small however busy the bot is. The metrics live in prometheus-client's
default registry, beside its process metrics; `bot.health` serves them on `METRICS_PORT`.
Each is updated at the one place its event happens (see README, "Metrics and health").
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import Protocol, TypeVar

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.reply import Reply, Status

#: Seconds from a message to text on screen: the 100 ms goal up to the worst first-token wait.
FIRST_TEXT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60)
#: Seconds from a message to its whole answer: a long answer streams for minutes.
FINAL_TEXT_BUCKETS = (0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60, 90, 120, 180, 300)

ANSWERS = Counter("qwenbot_answers", "Messages handed to the core, by how they ended",
                  ["platform", "outcome"])
MODEL_ERRORS = Counter("qwenbot_model_errors", "Model calls that failed (after any retries), by kind",
                       ["model", "kind"])
FIRST_TEXT = Histogram("qwenbot_first_text_seconds",
                       "From a message reaching the core to the first text of its answer shown",
                       ["platform"], buckets=FIRST_TEXT_BUCKETS)
FINAL_TEXT = Histogram("qwenbot_final_text_seconds",
                       "From a message reaching the core to its whole answer shown",
                       ["platform"], buckets=FINAL_TEXT_BUCKETS)
FIRST_TOKEN = Histogram("qwenbot_model_first_token_seconds",
                        "From a streaming model call leaving to its first event, retries included",
                        ["model"], buckets=FIRST_TEXT_BUCKETS)
TOKENS = Counter("qwenbot_tokens", "Tokens used, by model and kind (prompt or completion)", ["model", "kind"])
RATE_LIMITED = Counter("qwenbot_platform_rate_limited", "HTTP 429 answers from a platform's API",
                       ["platform"])
SUMMARIES = Counter("qwenbot_summaries", "Rolling summaries run, by outcome (done, failed, discarded)",
                    ["outcome"])
DUPLICATES = Counter("qwenbot_duplicate_events", "Events and messages dropped as already handled",
                     ["platform"])


def count_tokens(model: str, prompt: int, completion: int) -> None:
    TOKENS.labels(model, "prompt").inc(max(0, prompt))
    TOKENS.labels(model, "completion").inc(max(0, completion))


class _SlotCounts(Protocol):
    """What the gauges read from `bot.slots.CallSlots`."""

    @property
    def in_flight(self) -> int: ...
    @property
    def waiting(self) -> int: ...
    @property
    def stalled(self) -> int: ...


class _SlotGauges(Collector):
    """Model calls in flight, waiting for a slot and stalled, summed over the process's clients.

    Read from the slots when scraped, so they can never drift from the slots' own counts.
    """

    def __init__(self) -> None:
        self.slots: weakref.WeakSet[_SlotCounts] = weakref.WeakSet()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        live = list(self.slots)
        for name, doc, value in (
            ("qwenbot_model_calls_in_flight", "Model calls holding a slot", lambda s: s.in_flight),
            ("qwenbot_model_calls_waiting", "Model calls waiting for a slot", lambda s: s.waiting),
            ("qwenbot_model_calls_stalled", "Model calls without a first token that gave their slot back",
             lambda s: s.stalled),
        ):
            yield GaugeMetricFamily(name, doc, value=sum(value(s) for s in live))


SLOTS = _SlotGauges()
REGISTRY.register(SLOTS)

OutcomeT = TypeVar("OutcomeT", bound=str)


class MeteredReply(Reply):
    """The reply the core answers through, timing when its text becomes visible.

    The first text counts as shown at the adapter's first write after text was handed over (it
    says so through `moved`: Discord writes from a task of its own), or, for an adapter that
    reports no writes, when its first `partial` or `finish` returns. The whole answer counts as
    shown when `finish` returns.
    """

    def __init__(self, inner: Reply, platform: str, clock: Callable[[], float] = time.perf_counter) -> None:
        self.inner = inner
        self.platform = platform
        self.clock = clock
        self.update_interval = inner.update_interval
        self.received = clock()
        self._texted = False
        self._first_write: float | None = None
        self._first_return: float | None = None
        self._final: float | None = None
        inner.watch(self._written)

    async def _written(self) -> None:
        if self._texted and self._first_write is None:
            self._first_write = self.clock()
        await self.moved()

    def where(self) -> dict[str, object]:
        return self.inner.where()

    async def started(self) -> None:
        await self.inner.started()

    async def notice(self, text: str) -> None:
        await self.inner.notice(text)

    async def status(self, status: Status | None) -> None:
        await self.inner.status(status)

    @property
    def reasoning_ref(self) -> str | None:
        return self.inner.reasoning_ref

    @reasoning_ref.setter
    def reasoning_ref(self, ref: str | None) -> None:
        self.inner.reasoning_ref = ref

    async def partial(self, text: str) -> None:
        await self._text(self.inner.partial(text))

    async def finish(self, text: str) -> None:
        await self._text(self.inner.finish(text))
        self._final = self.clock()

    async def fail(self, message: str) -> None:
        await self.inner.fail(message)

    async def _text(self, call: Awaitable[None]) -> None:
        self._texted = True
        await call
        if self._first_return is None:
            self._first_return = self.clock()

    def settle(self, outcome: OutcomeT) -> OutcomeT:
        """Count the message's outcome and record its timings; returns `outcome`."""
        ANSWERS.labels(self.platform, outcome).inc()
        if outcome == "duplicate":
            DUPLICATES.labels(self.platform).inc()
        first = self._first_write if self._first_write is not None else self._first_return
        if first is not None:
            FIRST_TEXT.labels(self.platform).observe(first - self.received)
        if self._final is not None:
            FINAL_TEXT.labels(self.platform).observe(self._final - self.received)
        return outcome
