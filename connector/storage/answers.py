"""Answering the callers of a group commit, shared by both backends' writer threads.

A writer thread runs many callers' work in one transaction, then resolves each caller's
future: a thread without an event loop (the CLI) directly, asyncio callers with one
`call_soon_threadsafe` per loop and batch rather than one per caller.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any, Protocol

Outcome = tuple[Any, BaseException | None]  # a value, or the error to raise


class Caller(Protocol):
    """What answering needs of a job: its future, and the loop it waits on (None: none)."""

    @property
    def future(self) -> Future[Any] | asyncio.Future[Any]: ...
    @property
    def loop(self) -> asyncio.AbstractEventLoop | None: ...


def answer(batch: Sequence[Caller], outcomes: list[Outcome]) -> None:
    """Resolve every caller: concurrent futures directly, asyncio ones in one hop per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Caller, Outcome]]] = {}
    for job, outcome in zip(batch, outcomes, strict=True):
        if job.loop is None:
            _settle(job.future, outcome)
        else:
            by_loop.setdefault(job.loop, []).append((job, outcome))
    for loop, pairs in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_settle_all, pairs)


def _settle_all(pairs: list[tuple[Caller, Outcome]]) -> None:
    for job, outcome in pairs:
        _settle(job.future, outcome)


def _settle(future: Future[Any] | asyncio.Future[Any], outcome: Outcome) -> None:
    if future.done():  # an asyncio caller may have been cancelled meanwhile
        return
    value, error = outcome
    if error is None:
        future.set_result(value)
    else:
        future.set_exception(error)
