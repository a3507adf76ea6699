"""Slack's assistant thread status, and what the workspace's app turned out to allow."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.errors import STREAMING_UNAVAILABLE, error_code

log = logging.getLogger(__name__)


@dataclass
class Capabilities:
    """What this workspace's app turned out to allow; learned once, shared by all answers."""

    streaming: bool = True
    status: bool = True
    #: Kinds of conversation (first letter of the id: C, G, D) where the status line was refused.
    no_status: set[str] = field(default_factory=set)


async def set_status(client: AsyncWebClient, channel: str, thread_ts: str, capabilities: Capabilities,
                     status: str, loading: list[str] | None = None) -> bool:
    """assistant.threads.setStatus; False (and remembered in `capabilities`) where refused."""
    try:
        await client.assistant_threads_setStatus(
            channel_id=channel, thread_ts=thread_ts, status=status,
            loading_messages=loading,
        )
        return True
    except SlackApiError as exc:
        code = error_code(exc)
        if code in STREAMING_UNAVAILABLE:
            capabilities.status = False
        elif code != "ratelimited":
            # Refused in this kind of conversation (e.g. channel threads): once, not per answer.
            capabilities.no_status.add(channel[:1])
        log.debug("assistant.threads.setStatus in %s: %s", channel, code)
    except Exception as exc:
        log.debug("assistant.threads.setStatus in %s failed: %r", channel, exc)
    return False
