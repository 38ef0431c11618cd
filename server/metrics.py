"""Prometheus metrics of one app: requests and latency by route, answers by mode,
fallback failures and key events. Each app owns its registry (no global state), so tests
and several apps in one process never share counters. With several uvicorn workers each
worker reports its own counters (scrape per worker or run one worker behind the scraper).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from agent.errors import UPSTREAM_CAUSES
from agent.fallback import Fallback

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    """The counters and histograms the server updates."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "docsagent_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "docsagent_http_request_seconds",
            "HTTP request latency by route template.",
            ["route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.answers = Counter(
            "docsagent_answers",
            "Answers by mode (local, fallback, none, action) and channel.",
            ["mode", "channel"],
            registry=self.registry,
        )
        self.key_events = Counter(
            "docsagent_key_events",
            "Key changes (created, updated, rotated, revoked) by channel.",
            ["event", "channel"],
            registry=self.registry,
        )

        # labelled children by (route, method, status): `labels()` takes a lock and builds
        # the key on every call, a measurable share of a fast request
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._fallback: _FallbackCollector | None = None

    def watch_fallback(self, fallback: Fallback) -> None:
        """Export the fallback's failures by cause and whether its breaker is open."""
        if self._fallback is not None:  # a lifespan run again: the newest services count
            self.registry.unregister(self._fallback)
        self._fallback = _FallbackCollector(fallback)
        self.registry.register(self._fallback)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one request and its latency."""
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


class _FallbackCollector(Collector):
    """`docsagent_fallback_failures_total{cause}` and `docsagent_fallback_circuit_open`,
    read from the agent's `Fallback` at scrape time (every cause listed, zeros included)."""

    def __init__(self, fallback: Fallback) -> None:
        self.fallback = fallback

    def collect(self) -> Iterator[Metric]:
        failures = CounterMetricFamily(
            "docsagent_fallback_failures",
            "Upstream ?ask= fallbacks that failed, by cause.",
            labels=["cause"],
        )
        counts = self.fallback.failures
        for cause in sorted({*UPSTREAM_CAUSES, *counts}):
            failures.add_metric([cause], counts.get(cause, 0))
        yield failures
        yield GaugeMetricFamily(
            "docsagent_fallback_circuit_open",
            "1 while the fallback's circuit breaker is open (the docs site is not asked).",
            value=1.0 if self.fallback.breaker.is_open else 0.0,
        )
