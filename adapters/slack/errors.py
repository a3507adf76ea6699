"""Reading Slack's errors: the error code of a refused call, and how long a rate limit asks to wait."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

#: Errors meaning streaming cannot work for this app at all (not just this message).
STREAMING_UNAVAILABLE = {"missing_scope", "unknown_method", "not_allowed_token_type", "feature_not_enabled",
                         "method_deprecated", "not_authed"}


def error_code(exc: SlackApiError) -> str:
    try:
        return str(exc.response.get("error") or "")
    except Exception:
        return ""


def retry_after(exc: SlackApiError) -> float:
    """The seconds a 429's Retry-After asks for (1 when it names none)."""
    headers = getattr(exc.response, "headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return float(value[0] if isinstance(value, list) else value)
            except (TypeError, ValueError, IndexError):
                break
    return 1.0
