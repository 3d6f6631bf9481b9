"""What every admin API route shares: reading a JSON body into a pydantic model (a clear
422 naming each bad field), refusing NUL characters anywhere in a request, and answering a
model as JSON.

NUL is refused at the door because PostgreSQL's text and jsonb cannot hold it: a NUL that
got as far as a query answered 500 there (and 200 on SQLite), and one stored in a link's
name or a contact id broke every later read or click of it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from connector.errors import ClientDisconnected, PayloadTooLarge, Unprocessable

B = TypeVar("B", bound=BaseModel)
BIGGEST = 2**63 - 1  # a store's integers are 64-bit: a bigger one is a 500 there
# 10,000 recipients with a kilobyte of metadata each fit; a body past it is refused (413)
# before it is read into memory, and nothing of it is stored.
MAX_BODY = 16 * 1024 * 1024


async def read_json(request: Request) -> Any:
    try:
        return orjson.loads(await _body(request))
    except orjson.JSONDecodeError:
        raise Unprocessable(["body: not valid JSON"], reason="malformed") from None


async def _body(request: Request) -> bytes:
    too_large = PayloadTooLarge(f"body exceeds {MAX_BODY} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:  # the caller hung up mid-body: an outcome, not a bug of ours
        raise ClientDisconnected(size) from None
    return b"".join(chunks)


async def read_body(request: Request, model: type[B]) -> B:
    return parsed(model, await read_json(request))


def parsed(model: type[B], data: Any) -> B:
    """`data` validated as `model`, or `Unprocessable` naming every bad field."""
    problems = nul_problems(data)
    if problems:
        raise Unprocessable(problems)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = [_problem(e["loc"], e["msg"], e["type"]) for e in error.errors()]
        raise Unprocessable(problems) from None


def _problem(loc: tuple[int | str, ...], message: str, kind: str) -> str:
    """`field: message`, without pydantic's prefix, a repeated field name or our class names."""
    field = ".".join(str(p) for p in loc) or "body"
    message = message.removeprefix("Value error, ").removeprefix(f"{field}: ")
    if kind == "model_type":
        message = "must be a JSON object"
    return f"{field}: {message}"


def nul_problems(data: Any, where: str = "body") -> list[str]:
    """Where `data` (decoded JSON, or a mapping of request parameters) holds a NUL: in a
    string, or in a key (named with the NUL shown as `\\x00`)."""
    if isinstance(data, str):
        return [f"{where}: must not hold a NUL character"] if "\x00" in data else []
    if isinstance(data, list):
        data = {str(index): value for index, value in enumerate(data)}
    if not isinstance(data, dict):
        return []
    problems: list[str] = []
    for key, value in data.items():
        name = str(key).replace("\x00", "\\x00")
        path = name if where == "body" else f"{where}.{name}"
        problems += nul_problems(key, path) + nul_problems(value, path)
    return problems


def refuse_nul_params(request: Request) -> None:
    """A NUL in the path or the query string is a 422 before any handler reads it."""
    given = [*request.path_params.items(), *request.query_params.multi_items()]
    problems = list(dict.fromkeys(p for item in given for p in nul_problems(dict([item]))))
    if problems:
        raise Unprocessable(problems)


def json_response(
    model: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        model.model_dump_json(), status_code=status, media_type="application/json", headers=headers
    )


def utc(value: float) -> datetime:
    """A stored time as UTC; one past what a datetime holds (an ESP's event "in" year 9999
    plus a wait) reads as the last second of 9999 rather than failing the whole list."""
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, ValueError, OSError):
        edge = datetime.max.replace(microsecond=0) if value > 0 else datetime.min
        return edge.replace(tzinfo=UTC)


def limit_param(value: str | None, most: int, default: int = 50) -> int:
    """`?limit=`: `default` (or `most`, if smaller) when absent, else 1 to `most`."""
    number = int_param(value, "limit")
    if number is None:
        return min(default, most)
    if not 1 <= number <= most:
        raise Unprocessable([f"limit: must be from 1 to {most}"])
    return number


def int_param(value: str | None, name: str) -> int | None:
    """A whole-number parameter the store can hold (64-bit), or None when absent."""
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise Unprocessable([f"{name}: {value!r} is not a whole number"]) from None
    if not -BIGGEST <= number <= BIGGEST:
        raise Unprocessable([f"{name}: {value!r} is out of range"])
    return number
