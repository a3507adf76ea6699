"""Shared hypothesis strategies for the property tests: text that breaks renderers and JSON that
breaks parsers. Bounded so the whole property suite runs in seconds."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Every property test: enough examples to find the known failures, few enough to stay quick.
#: Bounded for CI, and the same examples on every CI run so a red run is reproducible; set
#: PROPERTY_EXAMPLES to search longer (and afresh) on a workstation.
BOUNDED = settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "60")),
    derandomize=os.environ.get("CI", "").lower() == "true",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

#: Pieces that matter to fences and splits, mixed with arbitrary unicode.
_TRICKY = st.sampled_from([
    "```", "```python", "```py\n", "``", "`", "~~~", "\n", "\n\n", " ", "    ", "x ", "0",
    "\u200d", "\U0001f600", "\ud7ff", "<!here>", "<@U1>", "@everyone", "&", "*", "_", "|",
])


def backtick_runs() -> st.SearchStrategy[str]:
    """A run of backticks from one to a few thousand, long enough to fill a message."""
    return st.integers(min_value=1, max_value=4200).map(lambda n: "`" * n)


def long_lines() -> st.SearchStrategy[str]:
    """A line of words or of one repeated character, longer than a Slack message."""
    return st.one_of(
        st.integers(min_value=100, max_value=900).map(lambda n: "xxxxxxx " * n),
        st.tuples(st.characters(), st.integers(min_value=1000, max_value=5000)).map(lambda p: p[0] * p[1]),
    )


def markdown_text() -> st.SearchStrategy[str]:
    """Text an answer might be: arbitrary unicode, fences on and inside lines, backtick runs, long lines."""
    part = st.one_of(
        st.text(max_size=80), _TRICKY, _TRICKY, backtick_runs(), long_lines(),
        st.text(alphabet="`~ \nab", max_size=60),
    )
    return st.lists(part, max_size=25).map("".join)


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value: null, booleans, numbers, strings, lists and objects of them."""
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3),
        ),
        max_leaves=8,
    )


def with_any_field(payload: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """`payload` with one to three of its fields (or new ones) set to any JSON value, or removed."""
    keys = st.one_of(st.sampled_from(sorted(payload)), st.text(max_size=10))
    change = st.tuples(keys, st.one_of(json_values(), st.just(KeyError)))

    def apply(changes: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(payload)
        for key, value in changes:
            if value is KeyError:
                out.pop(key, None)
            else:
                out[key] = value
        return out

    return st.lists(change, min_size=1, max_size=3).map(apply)
