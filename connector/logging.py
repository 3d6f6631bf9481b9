"""structlog, configured once: JSON lines when not on a terminal.

One line per webhook (`webhook`) and per delivery attempt (`delivery.attempt`), each with
its ids passed explicitly (no context-variable merging: it cost ~10% of a webhook's CPU
and nothing used it). Secrets, signatures and payloads are never passed to the logger in
the first place.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import threading
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson
import structlog
from structlog.typing import EventDict, WrappedLogger

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


_STACK = structlog.processors.StackInfoRenderer()
_EXCEPTION = structlog.processors.format_exc_info


def render_json_line(logger: WrappedLogger, method: str, event: EventDict) -> bytes:
    """Level, UTC time and the event as one orjson line: the whole JSON chain in one step.

    It runs once per webhook, so it does in one call what `add_log_level`, `TimeStamper`,
    `StackInfoRenderer`, `format_exc_info` and `JSONRenderer` do in five (a third of the
    line's cost); orjson writes the time as ISO-8601 with a `Z`, like `TimeStamper`.
    """
    event["level"] = method
    event["timestamp"] = datetime.now(UTC)
    if "exc_info" in event or "stack_info" in event:
        event = _EXCEPTION(logger, method, _STACK(logger, method, event))
    return orjson.dumps(event, default=str, option=orjson.OPT_UTC_Z)


class TurnBufferedLogger:
    """Writes JSON lines to a binary file, debug and info lines once per event-loop turn.

    A webhook's line cost a `write` of its own. Under load the group commit answers many
    webhooks in the same loop turn, so their lines now leave in one `write` at the end of
    it. Warnings and errors, and lines from threads without a running loop, are written at
    once (after anything buffered, so the order holds); a crash loses at most the lines of
    the turn it interrupts.
    """

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._lines: list[bytes] = []
        self._lock = threading.Lock()
        # The loop last found running, and its thread: while it still runs there, a line
        # from that thread is its line. `asyncio.get_running_loop()` per line was a getpid()
        # syscall on Python 3.11 (0.32 against 0.05 + 0.03 µs for these two checks).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0
        atexit.register(self.flush)

    def buffered(self, line: bytes) -> None:
        loop = self._loop
        if loop is None or threading.get_ident() != self._thread or not loop.is_running():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.now(line)
                return
            self._loop, self._thread = loop, threading.get_ident()
        with self._lock:
            self._lines.append(line)
            first = len(self._lines) == 1
        if first:
            loop.call_soon(self.flush)

    def now(self, line: bytes) -> None:
        with self._lock:
            self._lines.append(line)
            self._write_all()

    def flush(self) -> None:
        with self._lock:
            self._write_all()

    def _write_all(self) -> None:
        lines, self._lines = self._lines, []
        if lines:
            self._file.write(b"\n".join(lines) + b"\n")
            self._file.flush()

    debug = info = msg = buffered
    warning = warn = error = err = critical = exception = fatal = failure = now


class EventLog:
    """One event's lines (`delivery.attempt`) through a bound logger, the same lines for less.

    `line(method, event, fields)` writes what `getattr(log, method)(event, **fields)` writes.
    While `log` renders with `configure_logging`'s JSON chain (its processors, a list that
    `structlog.testing.capture_logs` edits in place, are `render_json_line` alone) and the
    level is enabled, the line goes straight from the renderer to the `TurnBufferedLogger`,
    as structlog's `_process_event` would hand it over: the context, then the fields, then
    `event`. structlog's own path (the level method, `_proxy_to_logger`, `_process_event`,
    two keyword dicts and a context copy) cost about 3 of the 8 µs an attempt's line took
    (in-process, bench/README.md "Delivery"). Any other configuration goes through `log`.
    """

    def __init__(self, log: Any) -> None:
        self._log = log
        writer = getattr(log, "_logger", None)
        self._writer = writer if isinstance(writer, TurnBufferedLogger) else None
        self._processors: list[Any] = getattr(log, "_processors", [])
        self._context: dict[str, Any] = getattr(log, "_context", {})
        enabled = getattr(log, "is_enabled_for", lambda level: False)
        self._enabled = {method: enabled(level) for method, level in _LEVELS.items()}

    def line(self, method: str, event: str, fields: dict[str, Any]) -> None:
        """Log `fields` (a dict of the caller's own, which this may change) as `event`."""
        writer = self._writer
        processors = self._processors
        if (
            writer is not None
            and len(processors) == 1
            and processors[0] is render_json_line
            and self._enabled.get(method)
        ):
            if self._context:
                fields = {**self._context, **fields}
            fields["event"] = event
            getattr(writer, method)(render_json_line(writer, method, fields))
            return
        getattr(self._log, method)(event, **fields)


def configure_logging(level: str = "info", *, json: bool | None = None) -> None:
    """JSON lines (orjson, written as bytes) off a terminal, readable columns on one."""
    use_json = (not sys.stderr.isatty()) if json is None else json
    processors: list[structlog.types.Processor]
    factory: structlog.types.WrappedLogger
    if use_json:
        processors = [render_json_line]
        json_logger = TurnBufferedLogger(sys.stderr.buffer)
        factory = lambda *args: json_logger  # noqa: E731 (structlog wants a factory)
    else:
        processors = [
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.dev.ConsoleRenderer(),
        ]
        factory = structlog.PrintLoggerFactory(file=sys.stderr)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
