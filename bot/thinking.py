"""Which models think, and the request fields that turn thinking and web search on or off.

Model Studio's Qwen models fall in four groups (PLATFORM-FACTS, "thinking"):
- always: QwQ/QVQ and `*-thinking` models reason on every call and take no switch;
- default: Qwen3.5 and newer think unless sent `enable_thinking: false`;
- hybrid: Qwen3 (`qwen3-*`, `qwen3-max`) and the commercial `qwen-plus`, `qwen-turbo` and
  `qwen-flash` think only when sent `enable_thinking: true`;
- never: everything else (`qwen-max`, Qwen2.5, `*-instruct` models, vision models before Qwen3).
The group is told from the model's name (an `org/` prefix, as local servers use, is ignored).
Web search (`enable_search`, `search_options`) is a DashScope extension: sent only there.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from bot.config import Settings
from bot.memory import ConversationSettings

_VERSION = re.compile(r"^qwen(\d+(?:\.\d+)?)")
_HYBRID_COMMERCIAL = ("qwen-plus", "qwen-turbo", "qwen-flash")


class Thinks(StrEnum):
    ALWAYS = "always"
    DEFAULT = "default"
    HYBRID = "hybrid"
    NEVER = "never"


def thinks(model: str) -> Thinks:
    name = model.rsplit("/", 1)[-1].lower()
    if name.startswith(("qwq", "qvq")) or "-thinking" in name:
        return Thinks.ALWAYS
    if "-instruct" in name:
        return Thinks.NEVER
    version = _VERSION.match(name)
    if version is not None:
        number = float(version.group(1))
        if number >= 3.5:
            return Thinks.DEFAULT
        if number >= 3:
            return Thinks.HYBRID
        return Thinks.NEVER
    if name.startswith(_HYBRID_COMMERCIAL):
        return Thinks.HYBRID
    return Thinks.NEVER


def thinking_wanted(settings: Settings, conv: ConversationSettings) -> bool:
    """The conversation's choice (its own or its channel's), else `QWEN_THINKING`."""
    return settings.qwen_thinking if conv.thinking is None else conv.thinking


def search_wanted(settings: Settings, conv: ConversationSettings) -> bool:
    """Whether web search is on for the conversation and the endpoint has it."""
    wanted = settings.qwen_search if conv.search is None else conv.search
    return wanted and settings.on_dashscope


def will_think(settings: Settings, conv: ConversationSettings, model: str) -> bool:
    group = thinks(model)
    return group is Thinks.ALWAYS or (group is not Thinks.NEVER and thinking_wanted(settings, conv))


def request_options(settings: Settings, conv: ConversationSettings, model: str) -> dict[str, Any]:
    """The fields a streaming call adds to its body for this conversation's thinking and search."""
    options: dict[str, Any] = {}
    group = thinks(model)
    if group in (Thinks.DEFAULT, Thinks.HYBRID):
        options["enable_thinking"] = thinking_wanted(settings, conv)
    if settings.qwen_thinking_budget and will_think(settings, conv, model):
        options["thinking_budget"] = settings.qwen_thinking_budget
    if search_wanted(settings, conv):
        options["enable_search"] = True
        if settings.qwen_search_options:
            options["search_options"] = dict(settings.qwen_search_options)
    return options


def not_thinking(model: str) -> dict[str, Any] | None:
    """The body fields of a non-streaming call (thinking must be off there, else a 400)."""
    return {"enable_thinking": False} if thinks(model) in (Thinks.DEFAULT, Thinks.HYBRID) else None
