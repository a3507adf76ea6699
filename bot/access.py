"""Allow and block lists: an id on the block list is refused; a non-empty allow list admits only its ids."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AccessList:
    allow: frozenset[str] = field(default_factory=frozenset)
    block: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, allow: Iterable[str] = (), block: Iterable[str] = ()) -> AccessList:
        return cls(frozenset(allow), frozenset(block))

    def permits(self, *ids: str | None) -> bool:
        """For one id, or for any of several (e.g. a member's roles): blocked if any is blocked."""
        present = {i for i in ids if i}
        if present & self.block:
            return False
        return not self.allow or bool(present & self.allow)
