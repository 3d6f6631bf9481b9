"""What every admin API route shares: reading a JSON body into a pydantic model (a clear
422 naming each bad field), and answering a model as JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from connector.errors import Unprocessable

B = TypeVar("B", bound=BaseModel)


async def read_json(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise Unprocessable(["body: not valid JSON"], reason="malformed") from None


async def read_body(request: Request, model: type[B]) -> B:
    return parsed(model, await read_json(request))


def parsed(model: type[B], data: Any) -> B:
    """`data` validated as `model`, or `Unprocessable` naming every bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}".replace(
                "Value error, ", ""
            )
            for e in error.errors()
        ]
        raise Unprocessable(problems) from None


def json_response(
    model: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        model.model_dump_json(), status_code=status, media_type="application/json", headers=headers
    )


def utc(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)
