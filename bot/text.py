"""Text as both databases and the model accept it.

PostgreSQL refuses U+0000 in text columns, and a lone surrogate (from JSON such as "\\ud800" or
undecodable input) cannot be encoded as UTF-8 at all. Both are dropped at the core's boundary,
for what users send and what the model answers, so a turn is always storable.
"""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` without NULs and lone surrogates (a valid surrogate pair never reaches a str)."""
    return _UNSTORABLE.sub("", text) if _UNSTORABLE.search(text) else text
