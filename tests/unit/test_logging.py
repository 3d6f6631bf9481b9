"""The JSON log lines: one renderer, written once per event-loop turn, in order."""

from __future__ import annotations

import asyncio
import io

import orjson

from connector.logging import TurnBufferedLogger, render_json_line


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
