"""Reading the bot's metrics as Prometheus does: over HTTP, in its text format."""

from __future__ import annotations

import aiohttp
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(port: int) -> Samples:
    """Every sample `/metrics` serves on `port`, by name and labels."""
    url = f"http://127.0.0.1:{port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        text = await response.text()
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def gain(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much a sample grew between two scrapes (other tests share the process's registry)."""
    return value(after, name, **labels) - value(before, name, **labels)


def now(name: str, **labels: str) -> float:
    """A sample's value in this process's registry, without HTTP."""
    return REGISTRY.get_sample_value(name, labels) or 0.0
