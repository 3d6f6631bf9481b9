"""Assemble the background pipeline from settings: the same loops inline or in a worker process."""

from __future__ import annotations

import math

import httpx

from connector.bots.detector import Detector
from connector.control import run_control_task
from connector.delivery.policy import RetryPolicy
from connector.delivery.sender import Sender
from connector.metrics import Metrics
from connector.pipeline.processor import Processor
from connector.pipeline.worker import Pipeline
from connector.rules.engine import RuleSet
from connector.scenarios.engine import ScenarioEngine
from connector.settings import Settings
from connector.storage.base import Store
from providers.base import ControlTask


def build_pipeline(
    settings: Settings,
    store: Store,
    metrics: Metrics,
    client: httpx.AsyncClient,
    *,
    poll_seconds: float = 1.0,
    route_batch: int = 100,
) -> Pipeline:
    """`route_batch`: events per routing transaction (the write lock is held while routing)."""
    detector = Detector.from_settings(settings.bots) if settings.bots.enabled else None
    rules = RuleSet.from_settings(settings.rules)
    processor = Processor(
        rules, detector, metrics, batch_size=route_batch, scenarios=ScenarioEngine(settings.rules)
    )
    sender = Sender(client, {a.id: a for a in settings.actions}, RetryPolicy(settings.delivery))

    async def run_task(task: ControlTask) -> None:
        await run_control_task(task, client)

    return Pipeline(
        store,
        processor,
        sender,
        metrics,
        run_task=run_task,
        batch_size=settings.delivery.batch_size,
        concurrency=settings.delivery.concurrency,
        retention_seconds=settings.storage.retention_days * 86400,
        lease_seconds=lease_seconds(settings),
        poll_seconds=poll_seconds,
    )


def lease_seconds(settings: Settings) -> float:
    """A claimed delivery is re-claimable only after the slowest possible run of what was
    claimed before it ends: up to 2 x `batch_size` claimed and unfinished (outflow.py), all
    to one destination at worst, `destination_concurrency` at a time (capped by
    `concurrency`), each up to the longest action timeout (or what
    `[worker] delivery_lease_seconds` says)."""
    if settings.worker.delivery_lease_seconds is not None:
        return settings.worker.delivery_lease_seconds
    timeouts = [getattr(action, "timeout", 0.0) for action in settings.actions]
    delivery = settings.delivery
    at_once = min(delivery.concurrency, delivery.destination_concurrency)
    rounds = math.ceil(2 * delivery.batch_size / at_once)
    return rounds * max([10.0, *timeouts]) + 60.0
