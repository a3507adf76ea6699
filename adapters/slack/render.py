"""Pure rendering of the model's Markdown for Slack.

Two targets: Slack mrkdwn (`text` of chat.postMessage / chat.update), converted with the
maintained `markdown-to-mrkdwn` library and then escaped; and Markdown for the streaming API's
`markdown_text`, which Slack renders itself. Either way nothing the model writes can ping anyone:
`<!here>`, `<!channel>`, `<!everyone>`, `<!subteam^…>` and `<@U…>` arrive as plain text.
"""

from __future__ import annotations

import re

from markdown_to_mrkdwn import SlackMarkdownConverter

from bot.render import split_text

#: Slack accepts 40,000 characters of text but recommends 4,000, and chat.update has refused
#: messages near 4k: every message the bot writes stays under this.
MESSAGE_LIMIT = 3900
#: The streaming API takes at most 12,000 characters of markdown_text per call and per message.
STREAM_LIMIT = 11000

WORD_JOINER = "\u2060"
_LINK = re.compile(r"<((?:https?://|mailto:)[^\s<>|]+)(?:\|([^<>]*))?>")
_FENCE_WITH_LANGUAGE = re.compile(r"^(\s{0,3})(```+)[A-Za-z0-9_+#.-]+[ \t]*$", re.MULTILINE)
_BROADCAST_WORD = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)
_SPECIAL = re.compile(r"<([!@])")
_UNSETTLED = frozenset("<@`~")
_QUOTE = re.compile(r"^(\s*)&gt;(?= |$)", re.MULTILINE)
#: The converter's own rule for a line that opens or closes a code block: its insides are left
#: alone by the converter, so inline code there must not be hidden either.
_CONVERTER_FENCE = re.compile(r"^```\w*\s*$")

_INLINE_CODE = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")
#: The placeholder's delimiters (private-use characters) are removed from the input first, so
#: only our own placeholders can match.
_DELIMITERS = str.maketrans("", "", "\ue000\ue001")
_LINK_TARGET = re.compile(r"(\]\()([^)\s]*\|[^)\s]*)(\))")

# The library's italic and underscore-bold rules also fire on `x * y * z` and `snake__case__name`;
# CommonMark needs the markers to hug the text and not sit inside a word.
_STRICTER = {
    r"(?<!\*)\*([^*\n]+?)\*(?!\*)": re.compile(r"(?<![*\w])\*(?![\s*])([^*\n]*?[^\s*])\*(?![*\w])"),
    r"__(.+?)__": re.compile(r"(?<!\w)__(?!\s)(.+?)(?<!\s)__(?!\w)"),
}


def _make_converter() -> SlackMarkdownConverter:
    converter = SlackMarkdownConverter()
    for rules in (converter.patterns, converter.inline_patterns):
        rules[:] = [(_STRICTER.get(pattern.pattern, pattern), replacement) for pattern, replacement in rules]
    return converter


_converter = _make_converter()


def _hide_inline_code(markdown: str) -> tuple[str, list[str]]:
    """Inline code spans swapped for placeholders, so no formatting rule touches their insides."""
    spans: list[str] = []

    def hide(match: re.Match[str]) -> str:
        spans.append(match.group(0))
        return f"\ue000{len(spans) - 1}\ue001"

    lines, in_code = [], False
    for line in markdown.split("\n"):
        if _CONVERTER_FENCE.match(line.strip()):
            in_code = not in_code
            lines.append(line)
        else:
            lines.append(line if in_code else _escape_link_pipes(_INLINE_CODE.sub(hide, line)))
    return "\n".join(lines), spans


def _escape_link_pipes(line: str) -> str:
    """`|` ends the address in Slack's `<url|label>`: inside a Markdown link's address it becomes %7C."""
    return _LINK_TARGET.sub(lambda m: m.group(1) + m.group(2).replace("|", "%7C") + m.group(3), line)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _defuse_words(text: str) -> str:
    """`@here` written as a word pings nobody today (we never send link_names); keep it that way."""
    return _BROADCAST_WORD.sub(lambda m: "@" + WORD_JOINER + m.group(1), text)


def to_mrkdwn(markdown: str) -> str:
    """Model Markdown as Slack mrkdwn: bold, italics, strike, links, headings, lists, code blocks."""
    if not markdown:
        return ""
    hidden, spans = _hide_inline_code(markdown.translate(_DELIMITERS))
    converted = _converter.convert(hidden)
    # Slack shows a fence's language tag as the first line of code.
    converted = _FENCE_WITH_LANGUAGE.sub(r"\1\2", converted)
    out: list[str] = []
    last = 0
    for match in _LINK.finditer(converted):
        out.append(_escape(converted[last:match.start()]))
        url, label = match.group(1), match.group(2)
        out.append(f"<{_escape(url)}|{_escape(label)}>" if label else f"<{_escape(url)}>")
        last = match.end()
    out.append(_escape(converted[last:]))
    text = "".join(out)
    # A leading ">" is Slack's quote marker and must stay as it is.
    text = _QUOTE.sub(r"\1>", text)
    text = _PLACEHOLDER.sub(lambda m: _escape(spans[int(m.group(1))]), text)
    return _defuse_words(text)


def to_stream_markdown(markdown: str) -> str:
    """Model Markdown for `markdown_text`, with Slack's special mention tokens broken up."""
    return _defuse_words(_SPECIAL.sub(lambda m: "<" + WORD_JOINER + m.group(1), markdown))


def mrkdwn_pieces(markdown: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """An answer as one or more mrkdwn messages, none over `limit`, code blocks never broken."""
    return split_text(to_mrkdwn(markdown), limit) or [""]


def settled(text: str) -> str:
    """The part of a growing text that later text cannot change once streamed (appends cannot be
    taken back). A last, unfinished word is held back only if it could still become a ping
    (`<!her`, `@chan`) or a code fence; any other word is sent, and the next append continues it."""
    cut = max(text.rfind(" "), text.rfind("\n"))
    if any(char in _UNSETTLED for char in text[cut + 1:]):
        return text[: cut + 1]
    return text
