"""`/api/v1/events`: stored events, newest first, with their bot verdict and rule decision.

Mounted by `AdminApi.routes()` behind the bearer token; reads a page through the store.
An unknown `type` is a 422 (a typo would otherwise read as "no such events").

`type` has no index: a page filtered by it looks through at most `SCAN` events (newest
first below `before`), so polling for a rare type (`email.click_timeout`) cannot hold the
store for seconds (on SQLite the connection that also stores webhooks and clicks). Such a
page may hold fewer than `limit` events and still give `next_before`; only a null
`next_before` means there is nothing older.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector.admin.http import int_param, json_response, limit_param
from connector.admin.models import EventPage, StoredEvent
from connector.errors import NotFound, Unprocessable
from connector.storage.base import Store, Tx
from connector.storage.view_records import EventQuery
from schemas import EVENT_MODELS

Handler = Callable[[Request], Awaitable[Response]]
SCAN = 20_000  # events a `type`-filtered page may look through (~0.1 s on SQLite, busy)


class EventsApi:
    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(self, guarded: Callable[[Handler], Handler]) -> list[Route]:
        return [
            Route("/events", guarded(self.list_events), methods=["GET"]),
            Route("/events/{event_id}", guarded(self.get_event), methods=["GET"]),
        ]

    async def list_events(self, request: Request) -> Response:
        params = request.query_params
        limit = limit_param(params.get("limit"), 500)
        before = int_param(params.get("before"), "before")
        wanted = params.get("type")
        if wanted and wanted not in EVENT_MODELS:  # a typo would read as "no such events"
            known = ", ".join(sorted(EVENT_MODELS))
            raise Unprocessable([f"type: {wanted!r} is not an event type ({known})"])

        source = params.get("source")

        def read(tx: Tx) -> tuple[list[dict[str, Any]], int | None]:
            if not wanted:
                return tx.list_events(source=source, before=before, limit=limit), None
            first, last = tx.event_seqs()
            top = last + 1 if before is None else min(before, last + 1)
            floor = top - SCAN if top - SCAN > first else None
            query = EventQuery(source=source, type=wanted, before=before, limit=limit, floor=floor)
            return tx.event_page(query), floor

        rows, floor = await self.store.transaction(read, durable=False)
        events = [_stored(row) for row in rows]
        next_before = events[-1].seq if len(events) == limit else floor
        return json_response(EventPage(events=events, next_before=next_before))

    async def get_event(self, request: Request) -> Response:
        event_id = request.path_params["event_id"]
        row = await self.store.transaction(lambda tx: tx.event(event_id), durable=False)
        if row is None:
            raise NotFound(f"no event {event_id!r}")
        return json_response(_stored(row))


def _stored(row: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        seq=row["seq"],
        event=row["event"] if isinstance(row["event"], dict) else {"unreadable": row["event"]},
        decision=row["decision"],
        processed=row["processed"],
        settled=row["settled"],
    )
