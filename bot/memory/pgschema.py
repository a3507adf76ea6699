"""The PostgreSQL schema, as the migrations that build it in order (see postgres.py)."""

from __future__ import annotations

from bot.memory import pgwindows
from bot.memory.reasoning import reasoning_migration

# Each entry upgrades the schema by one version; append, never edit.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE conversations (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        platform TEXT NOT NULL,
        space TEXT NOT NULL,
        channel TEXT NOT NULL,
        thread TEXT NOT NULL DEFAULT '',
        persona TEXT,
        model TEXT,
        mode TEXT NOT NULL DEFAULT 'mention',
        summary TEXT NOT NULL DEFAULT '',
        summary_upto BIGINT NOT NULL DEFAULT 0,
        created_at DOUBLE PRECISION NOT NULL,
        UNIQUE (platform, space, channel, thread)
    );
    CREATE TABLE turns (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        conversation_id BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        author_id TEXT NOT NULL,
        author_name TEXT NOT NULL,
        text TEXT NOT NULL,
        message_id TEXT,
        tokens INTEGER NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        UNIQUE (conversation_id, message_id)
    );
    CREATE INDEX turns_by_conversation ON turns (conversation_id, id);
    CREATE INDEX turns_by_author ON turns (author_id);
    CREATE TABLE usage (
        day TEXT NOT NULL,
        conversation_id BIGINT NOT NULL,
        platform TEXT NOT NULL,
        space TEXT NOT NULL,
        user_id TEXT NOT NULL,
        prompt_tokens BIGINT NOT NULL DEFAULT 0,
        completion_tokens BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (day, conversation_id, user_id)
    );
    CREATE INDEX usage_by_space ON usage (platform, space, day);
    CREATE INDEX usage_by_user ON usage (platform, user_id, day);
    CREATE TABLE events (
        platform TEXT NOT NULL,
        event_id TEXT NOT NULL,
        claimed_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (platform, event_id)
    );
    CREATE INDEX events_by_age ON events (claimed_at);
    """,
    "ALTER TABLE conversations ADD COLUMN memory_version BIGINT NOT NULL DEFAULT 0;",
    # Receipts of writes that may be retried after a lost connection (see `_attempt`).
    """
    CREATE TABLE receipts (
        id BIGINT PRIMARY KEY,
        result BIGINT,
        written_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX receipts_by_age ON receipts (written_at);
    """,
    # The journal of answers in progress, so a restarted process can finish what a killed one left.
    """
    CREATE TABLE answers (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        platform TEXT NOT NULL,
        space TEXT NOT NULL,
        channel TEXT NOT NULL,
        thread TEXT NOT NULL DEFAULT '',
        message_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        memory_version BIGINT NOT NULL DEFAULT 0,
        visible BOOLEAN NOT NULL DEFAULT FALSE,
        place TEXT NOT NULL DEFAULT '',
        text TEXT NOT NULL DEFAULT '',
        started_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX answers_by_platform ON answers (platform, id);
    """,
    # A budgeted `load` sums the newest turns' tokens with an index-only scan (see sql.py).
    "CREATE INDEX turns_recent ON turns (conversation_id, id) INCLUDE (tokens);"
    " DROP INDEX turns_by_conversation;",
    # Retention sweeps find old turns by age, a batch at a time (see retention.py).
    "CREATE INDEX turns_by_age ON turns (created_at);",
    # Rate limits and edit budgets every replica shares (see pgwindows.py).
    pgwindows.MIGRATION,
    # Threads the bot opened (Discord's thread mode), so it answers in them across restarts.
    """
    CREATE TABLE threads (
        platform TEXT NOT NULL,
        space TEXT NOT NULL,
        thread TEXT NOT NULL,
        channel TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (platform, space, thread)
    );
    """,
    # Which channel each Slack user is viewing (agent view), so every replica reads the same.
    "CREATE TABLE viewing (platform TEXT NOT NULL, space TEXT NOT NULL, user_id TEXT NOT NULL,"
    " channel TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (platform, space, user_id));",
    # 👍/👎 on answers: one vote per user and answer turn (see bot/memory/votes.py).
    """
    CREATE TABLE feedback (
        platform TEXT NOT NULL,
        space TEXT NOT NULL,
        channel TEXT NOT NULL,
        thread TEXT NOT NULL DEFAULT '',
        message_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        vote SMALLINT NOT NULL,
        voted_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (platform, space, channel, thread, message_id, user_id)
    );
    CREATE INDEX feedback_by_user ON feedback (platform, user_id);
    """,
    # Thinking and search per conversation, and the last answer's reasoning (bot/memory/reasoning.py).
    reasoning_migration("BIGINT", "DOUBLE PRECISION", "SMALLINT"),
    # When the oldest message each summary stands for was written, so retention can clear it (see
    # retention.py). A summary from before this knows no better than its conversation's creation,
    # which no message in it predates: a conservative date that clears it only when it may hold
    # words past the retention.
    "ALTER TABLE conversations ADD COLUMN summary_oldest_at DOUBLE PRECISION NOT NULL DEFAULT 0;"
    " UPDATE conversations SET summary_oldest_at = created_at WHERE summary <> '';",
]
