"""Prometheus metrics, own registries per app so tests and several apps in a process never clash.

Two registries: what the web process measures (requests, ack latency) and what the worker
measures (routing, deliveries, bot verdicts). With a worker process, both processes run in
prometheus-client's multiprocess mode: each writes its values to files in
`PROMETHEUS_MULTIPROC_DIR` (which `connector serve` creates for the pair, or which you set
for a web process and an external worker sharing a folder), and `/metrics` aggregates
them, so one scrape shows both. The variable must be set before prometheus-client is
imported (`use_multiprocess_dir`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from connector.multiprocess_metrics import MULTIPROCESS_ENV

_ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 4.0)


@dataclass(frozen=True, slots=True)
class SourceCounters:
    accepted: Counter
    received: Counter
    duplicates: Counter
    ignored: Counter
    items_rejected: Counter


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    worker_registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self._sources: dict[str, SourceCounters] = {}
        self._routed: dict[str, Counter] = {}
        self._attempts: dict[tuple[str, str], Counter] = {}
        r, w = self.registry, self.worker_registry
        self.received = Counter(
            "connector_events_received",
            "New events stored from webhooks",
            ["source"],
            registry=r,
        )
        self.requests = Counter(
            "connector_webhooks", "Webhook requests by outcome", ["source", "outcome"], registry=r
        )
        self.rejected = Counter(
            "connector_webhooks_rejected",
            "Webhook requests refused, by reason",
            ["source", "reason"],
            registry=r,
        )
        self.duplicates = Counter(
            "connector_events_duplicate",
            "Events already stored (acknowledged again)",
            ["source"],
            registry=r,
        )
        self.ignored = Counter(
            "connector_events_ignored",
            "Provider events acknowledged but not handled",
            ["source"],
            registry=r,
        )
        self.items_rejected = Counter(
            "connector_items_rejected",
            "Batch items that could not be normalised",
            ["source"],
            registry=r,
        )
        self.routed = Counter(
            "connector_events_routed",
            "Deliveries created by matching rules",
            ["action"],
            registry=w,
        )
        self.delivered = Counter(
            "connector_deliveries_delivered",
            "Deliveries accepted downstream",
            ["action"],
            registry=w,
        )
        self.retried = Counter(
            "connector_deliveries_retried",
            "Delivery attempts scheduled for retry",
            ["action"],
            registry=w,
        )
        self.dead = Counter(
            "connector_deliveries_dead", "Deliveries dead-lettered", ["action"], registry=w
        )
        self.bot_suspected = Counter(
            "connector_clicks_bot_suspected",
            "Clicks flagged as bot by phase",
            ["phase"],
            registry=w,
        )
        self.scenario_events = Counter(
            "connector_scenario_events",
            "Events emitted by checks and waits, by type",
            ["type"],
            registry=w,
        )
        self.ack_latency = Histogram(
            "connector_ack_latency_seconds",
            "Time from request start to answer",
            buckets=_ACK_BUCKETS,
            registry=r,
        )
        self.outbox_pending = Gauge(
            "connector_outbox_pending",
            "Deliveries waiting in the outbox",
            registry=w,
            multiprocess_mode="livemax",
        )

    def for_source(self, source: str) -> SourceCounters:
        """The accepted-webhook counters of one source, bound once (label lookups cost)."""
        counters = self._sources.get(source)
        if counters is None:
            counters = SourceCounters(
                accepted=self.requests.labels(source, "accepted"),
                received=self.received.labels(source),
                duplicates=self.duplicates.labels(source),
                ignored=self.ignored.labels(source),
                items_rejected=self.items_rejected.labels(source),
            )
            self._sources[source] = counters
        return counters

    def routed_to(self, action: str) -> Counter:
        """The routed counter of one action, bound once (routing runs per event)."""
        counter = self._routed.get(action)
        if counter is None:
            counter = self._routed[action] = self.routed.labels(action)
        return counter

    def attempted(self, action: str, outcome: str) -> Counter:
        """The counter of one action's attempts with `outcome` (delivered, retry, dead),
        bound once per pair (delivery runs per event)."""
        key = (action, outcome)
        counter = self._attempts.get(key)
        if counter is None:
            family = {"delivered": self.delivered, "retry": self.retried, "dead": self.dead}
            counter = self._attempts[key] = family[outcome].labels(action)
        return counter

    def render(self) -> bytes:
        """Every process's metrics in multiprocess mode, else both of ours."""
        if os.environ.get(MULTIPROCESS_ENV):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry) + generate_latest(self.worker_registry)
