"""What the limits and budgets add to a turn: the per-user limit check and the daily budgets' read.

For each backend, through the store API one call at a time:

- the per-user rate-limit check (`MemoryStore.window(...).admit`): in process on SQLite, one
  upsert in PostgreSQL shared by every replica; users picked at random among USERS
- `daily_totals`, the budgets' one read, on a usage table of DAYS days x CONVERSATIONS
  conversations x 3 users (bulk-filled), for conversations and users picked at random

and prints p50/p99 of each in milliseconds. Both run only when configured: the limit when
`USER_RATE_LIMIT` is not 0 (the default is 6), the read only when a daily budget is set.

    python bench/limits.py [--conversations 2000] [--days 30] [--samples 2000] [--quick]

PostgreSQL is taken from TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test),
in a schema of its own that is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.memory import MemoryStore, open_store  # noqa: E402
from bot.types import ConversationKey  # noqa: E402

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
USERS = 5000
SPACES = 50


def key(n: int) -> ConversationKey:
    return ConversationKey("bench", f"space{n % SPACES}", f"channel{n}")


def days(count: int) -> list[str]:
    first = date(2026, 1, 1)
    return [(first + timedelta(days=n)).isoformat() for n in range(count)]


def usage_rows(conversations: int, ids: list[int], day_list: list[str]) -> Iterator[tuple[object, ...]]:
    rng = random.Random(3)
    for day in day_list:
        for n, conv in enumerate(ids[:conversations]):
            for user in rng.sample(range(USERS), 3):
                yield (day, conv, "bench", f"space{n % SPACES}", f"user{user}", 800, 200)


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


async def measure(name: str, store: MemoryStore, conversations: int, samples: int, today: str) -> None:
    rng = random.Random(7)
    window = store.window("user-messages", 6, 60.0)
    checks, reads = [], []
    for _ in range(samples):
        user = ("bench", f"user{rng.randrange(USERS)}")
        start = time.perf_counter()
        await window.admit(user)
        checks.append(time.perf_counter() - start)
        start = time.perf_counter()
        await store.daily_totals(key(rng.randrange(conversations)), f"user{rng.randrange(USERS)}", today)
        reads.append(time.perf_counter() - start)
    print(f"{name:10} limit check p50 {p(checks, 50):6.3f} ms  p99 {p(checks, 99):6.3f} ms   "
          f"daily totals p50 {p(reads, 50):6.3f} ms  p99 {p(reads, 99):6.3f} ms")


async def create_conversations(store: MemoryStore, conversations: int) -> None:
    for n in range(conversations):
        await store.add_usage(key(n), "nobody", 0, 0, "2000-01-01")  # creates the conversation row


async def bench_sqlite(conversations: int, day_list: list[str], samples: int) -> None:
    import sqlite3

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "limits.db"
        store = await open_store(f"sqlite:///{path}")
        await create_conversations(store, conversations)
        await store.close()
        with sqlite3.connect(path) as db:
            ids = [row[0] for row in db.execute("SELECT id FROM conversations ORDER BY id")]
            db.executemany("INSERT OR IGNORE INTO usage VALUES (?, ?, ?, ?, ?, ?, ?)",
                           usage_rows(conversations, ids, day_list))
            db.execute("ANALYZE")
        db.close()
        store = await open_store(f"sqlite:///{path}")
        try:
            await measure("SQLite", store, conversations, samples, day_list[-1])
        finally:
            await store.close()


async def bench_postgres(conversations: int, day_list: list[str], samples: int) -> None:
    schema = f"qwenbot_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_URL)
    await admin.execute(f"CREATE SCHEMA {schema}")
    try:
        store = await open_store(f"{PG_URL}{'&' if '?' in PG_URL else '?'}search_path={schema}")
        try:
            await create_conversations(store, conversations)
            ids = [row[0] for row in await admin.fetch(f"SELECT id FROM {schema}.conversations ORDER BY id")]
            rows = {(r[0], r[1], r[4]): r for r in usage_rows(conversations, ids, day_list)}
            await admin.copy_records_to_table(
                "usage", schema_name=schema, records=list(rows.values()),
                columns=["day", "conversation_id", "platform", "space", "user_id", "prompt_tokens",
                         "completion_tokens"])
            await admin.execute(f"VACUUM ANALYZE {schema}.usage")
            await measure("PostgreSQL", store, conversations, samples, day_list[-1])
        finally:
            await store.close()
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--backend", choices=["both", "sqlite", "postgres"], default="both")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 100 conversations, 3 days")
    args = parser.parse_args()
    if args.quick:
        args.conversations, args.days, args.samples = 100, 3, 100
    day_list = days(args.days)
    print(f"usage rows: {args.conversations * args.days * 3:,} ({args.conversations} conversations x "
          f"{args.days} days x 3 users); {args.samples} samples")
    if args.backend in ("both", "sqlite"):
        await bench_sqlite(args.conversations, day_list, args.samples)
    if args.backend in ("both", "postgres"):
        await bench_postgres(args.conversations, day_list, args.samples)


if __name__ == "__main__":
    asyncio.run(main())
