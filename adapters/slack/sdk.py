"""What qwenbot adds to the Slack SDK: 429s counted for the metrics, and one misleading Bolt warning
silenced."""

from __future__ import annotations

import logging

from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from adapters.slack.parse import PLATFORM
from bot import metrics


class SameTokenNotice(logging.Filter):
    """Bolt warns that its own SLACK_BOT_TOKEN lookup is unused when given a client; it is the same token."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


SAME_TOKEN = SameTokenNotice()


class CountRateLimits(AsyncRetryHandler):
    """Counts Slack's 429s, retried or not; the next handler decides whether to retry."""

    async def can_retry_async(self, *, state: RetryState, request: HttpRequest,
                              response: HttpResponse | None = None, error: Exception | None = None) -> bool:
        if response is not None and response.status_code == 429:
            metrics.RATE_LIMITED.labels(PLATFORM).inc()
        return False
