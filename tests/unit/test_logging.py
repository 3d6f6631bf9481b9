"""The JSON log lines: one renderer, written once per event-loop turn, in order."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections.abc import Iterator

import orjson
import pytest
import structlog
from structlog.testing import capture_logs

from connector.logging import EventLog, TurnBufferedLogger, render_json_line


class CountingFile(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.writes += 1
        return super().write(data)


def test_lines_of_one_loop_turn_leave_in_one_write_and_warnings_at_once() -> None:
    file = CountingFile()
    logger = TurnBufferedLogger(file)

    async def one_turn() -> int:
        logger.info(b"a")
        logger.info(b"b")
        written_before_turn_ends = file.writes
        logger.warning(b"w")  # at once, after what the turn buffered
        logger.info(b"c")
        await asyncio.sleep(0)  # the turn ends: the flush runs
        return written_before_turn_ends

    assert asyncio.run(one_turn()) == 0
    logger.info(b"outside a loop")
    assert file.getvalue() == b"a\nb\nw\nc\noutside a loop\n"
    assert file.writes == 3


def test_the_renderer_writes_level_and_utc_time_and_exceptions() -> None:
    line = orjson.loads(render_json_line(None, "info", {"event": "webhook", "accepted": 1}))
    assert line["event"] == "webhook" and line["level"] == "info" and line["accepted"] == 1
    assert line["timestamp"].endswith("Z")
    try:
        raise ValueError("boom")
    except ValueError:
        failed = orjson.loads(render_json_line(None, "error", {"event": "x", "exc_info": True}))
    assert "ValueError: boom" in failed["exception"] and "exc_info" not in failed


@pytest.fixture
def json_lines() -> Iterator[tuple[io.BytesIO, TurnBufferedLogger]]:
    """structlog as configure_logging(json=True) sets it up, writing to a BytesIO."""
    file = io.BytesIO()
    writer = TurnBufferedLogger(file)
    structlog.configure(
        processors=[render_json_line],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=lambda *args: writer,
        cache_logger_on_first_use=False,
    )
    try:
        yield file, writer
    finally:
        structlog.reset_defaults()


def _without_time(line: bytes) -> list[tuple[str, object]]:
    return [(k, v) for k, v in orjson.loads(line).items() if k != "timestamp"]


def test_event_log_writes_the_bound_loggers_lines(
    json_lines: tuple[io.BytesIO, TurnBufferedLogger],
) -> None:
    """Same keys in the same order, same levels, buffered or at once the same way; a level
    below the configured one writes nothing."""
    file, writer = json_lines
    log = structlog.get_logger("t").bind(worker="w1")
    events = EventLog(log)

    async def lines() -> None:
        for method in ("info", "warning", "debug"):
            events.line(method, "delivery.attempt", {"attempt": 1, "status": None})
            getattr(log, method)("delivery.attempt", attempt=1, status=None)
        events.line("info", "delivery.attempt", {"next_attempt_at": "2026-12-04T00:00:00"})
        log.info("delivery.attempt", next_attempt_at="2026-12-04T00:00:00")

    asyncio.run(lines())
    writer.flush()
    written = file.getvalue().splitlines()
    levels = ["info", "info", "warning", "warning", "info", "info"]
    assert [orjson.loads(line)["level"] for line in written] == levels
    for ours, theirs in zip(written[::2], written[1::2], strict=True):
        assert _without_time(ours) == _without_time(theirs)
    assert _without_time(written[0])[:3] == [("worker", "w1"), ("attempt", 1), ("status", None)]


def test_event_log_under_capture_logs_goes_through_structlog(
    json_lines: tuple[io.BytesIO, TurnBufferedLogger],
) -> None:
    file, _ = json_lines
    events = EventLog(structlog.get_logger("t").bind())
    with capture_logs() as logs:
        events.line("info", "delivery.attempt", {"attempt": 2})
    assert logs == [{"attempt": 2, "event": "delivery.attempt", "log_level": "info"}]
    assert file.getvalue() == b""


def test_event_log_without_the_json_chain_uses_the_logger() -> None:
    with capture_logs() as logs:
        EventLog(structlog.get_logger("t").bind()).line("warning", "x", {"a": 1})
    assert logs == [{"a": 1, "event": "x", "log_level": "warning"}]


def test_a_line_from_another_thread_is_written_at_once_and_each_loop_buffers() -> None:
    file = CountingFile()
    logger = TurnBufferedLogger(file)

    async def turn() -> bytes:
        logger.info(b"a")
        thread = threading.Thread(target=logger.info, args=(b"thread",))
        thread.start()
        thread.join()  # written at once, after the turn's line
        return file.getvalue()

    assert asyncio.run(turn()) == b"a\nthread\n"

    async def buffered() -> int:
        logger.info(b"b")  # a new loop in the same thread buffers too
        return file.writes

    assert asyncio.run(buffered()) == 1
    assert file.getvalue().endswith(b"thread\nb\n")
