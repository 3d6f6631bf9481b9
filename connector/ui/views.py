"""The dashboard's pages: events, one event, deliveries (with replay), sources, scenarios.

Each handler reads through one store transaction (`Tx` and its `ViewOps`), at most a page
of rows, and renders a template; replay is the one write and needs a CSRF-checked POST
(routes.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from connector.links.event import SOURCE as LINK_SOURCE
from connector.settings import Settings
from connector.storage.base import Store, Tx
from connector.storage.view_records import DELIVERY_STATUSES, EventQuery
from connector.ui.forms import form
from connector.ui.present import event_row, verdict
from connector.ui.refusals import HINTS, refusals
from connector.ui.session import Session
from schemas import EVENT_MODELS

Render = Callable[[Request, Session | None, str, Mapping[str, Any]], Response]
PAGE = 50
SCAN = 5_000  # events a filtered page may walk (a rule filter: ~0.1 s on SQLite, 2 busy cores)
DAY = 24 * 3600.0
_STATUSES = DELIVERY_STATUSES
LISTED = 100  # deliveries a page shows, newest first
COUNTED = 10_000  # each status is counted up to this, then shown as "10,000+"
_TIMER_STATUSES = ("pending", "done", "clicked", "timed_out", "cancelled", "failed")


class Pages:
    def __init__(self, settings: Settings, store: Store, render: Render) -> None:
        self.store = store
        self.render = render
        self.configured = [(s.id, s.provider) for s in settings.sources]
        # The events filter also offers trigger-link clicks (links made by the API too).
        ids = [source_id for source_id, _ in self.configured]
        self.event_sources = ids if LINK_SOURCE in ids else [*ids, LINK_SOURCE]
        self.rules = [r.id for r in settings.rules]

    async def home(self, request: Request, session: Session) -> Response:
        return RedirectResponse("/ui/events", status_code=303)

    async def events(self, request: Request, session: Session) -> Response:
        params = request.query_params
        suspected = {"yes": True, "no": False}.get(params.get("bot", ""))
        query = EventQuery(
            source=params.get("source") or None,
            type=params.get("type") or None,
            suspected=suspected,
            rule=params.get("rule") or None,
            before=_int(params.get("before")),
            limit=PAGE,
        )
        stored, floor = await self.store.transaction(lambda tx: _page(tx, query), durable=False)
        rows = [event_row(s) for s in stored]
        filters = {k: params.get(k, "") for k in ("source", "type", "bot", "rule")}
        more = {**filters, "before": rows[-1].seq} if len(rows) == PAGE else None
        searched = floor if more is None and floor is not None else None
        context = {
            "page": "events",
            "rows": rows,
            "filters": filters,
            "sources": self.event_sources,
            "types": sorted(EVENT_MODELS),
            "rules": self.rules,
            "more": more if searched is None else {**filters, "before": searched},
            "searched": searched,
            "scan": f"{SCAN:,}",
        }
        return self.render(request, session, "events.html", context)

    async def event(self, request: Request, session: Session) -> Response:
        event_id = request.path_params["event_id"]
        stored = await self.store.transaction(lambda tx: tx.event(event_id), durable=False)
        if stored is None:
            response = self.render(request, session, "missing.html", {"page": "events"})
            response.status_code = 404
            return response
        event = stored["event"] if isinstance(stored["event"], dict) else {}
        bot = event.get("bot") if isinstance(event.get("bot"), dict) else None
        context = {
            "page": "events",
            "row": event_row(stored),
            "verdict": verdict(bot),
            "reasons": (bot or {}).get("reasons", []),
            "stored": stored,
        }
        return self.render(request, session, "event.html", context)

    async def deliveries(self, request: Request, session: Session) -> Response:
        given = request.query_params.get("status", "")
        status = given if given in _STATUSES else None
        statuses = [status] if status else _STATUSES

        def read(tx: Tx) -> tuple[dict[str, int], list[Any]]:
            # one index range per status (status, updated_at), never a sort of the outbox
            rows = [row for s in statuses for row in tx.list_deliveries(s, LISTED)]
            newest = sorted(rows, key=lambda row: row.updated_at, reverse=True)[:LISTED]
            return tx.delivery_counts(COUNTED), newest

        counts, rows = await self.store.transaction(read, durable=False)
        context = {
            "page": "deliveries",
            "counts": {s: f"{COUNTED:,}+" if n > COUNTED else f"{n:,}" for s, n in counts.items()},
            "rows": rows,
            "status": status or "",
            "statuses": _STATUSES,
            "replayed": _int(request.query_params.get("replayed")),
        }
        return self.render(request, session, "deliveries.html", context)

    async def replay(self, request: Request, session: Session) -> Response:
        target = (await form(request)).get("id", "")
        ids = None if target == "all-dead" else [target] if target else []
        now = time.time()
        count = await self.store.transaction(lambda tx: tx.replay(ids, now)) if ids != [] else 0
        return RedirectResponse(f"/ui/deliveries?replayed={count}", status_code=303)

    async def sources(self, request: Request, session: Session) -> Response:
        since = time.time() - DAY

        def read(tx: Tx) -> list[Any]:
            return [tx.source_view(source, since) for source, _ in self.configured]

        views = await self.store.transaction(read, durable=False)
        refused = refusals(request)
        context = {
            "page": "sources",
            "rows": [
                (view, provider) for view, (_, provider) in zip(views, self.configured, strict=True)
            ],
            "refused": refused,
            "hints": HINTS,
        }
        return self.render(request, session, "sources.html", context)

    async def scenarios(self, request: Request, session: Session) -> Response:
        given = request.query_params.get("status", "pending")
        status = given if given in _TIMER_STATUSES else "pending"
        timers = await self.store.transaction(
            lambda tx: tx.timers(status=status, limit=200), durable=False
        )
        context = {
            "page": "scenarios",
            "checks": [t for t in timers if t.kind != "wait"],
            "waits": [t for t in timers if t.kind == "wait"],
            "status": status,
            "statuses": _TIMER_STATUSES,
        }
        return self.render(request, session, "scenarios.html", context)


def _page(tx: Tx, query: EventQuery) -> tuple[list[dict[str, Any]], int | None]:
    """A page of events, and the seq a filtered one stopped searching at (None: it looked
    at everything left). The type, verdict and rule filters have no index: such a page
    walks at most `SCAN` events, so it holds the store (SQLite: the one connection that
    also stores webhooks and trigger-link clicks) for tens of milliseconds, not seconds."""
    if query.type is None and query.suspected is None and query.rule is None:
        return tx.event_page(query), None
    first, last = tx.event_seqs()
    top = last + 1 if query.before is None else min(query.before, last + 1)
    floor = top - SCAN
    if floor <= first:
        return tx.event_page(query), None
    return tx.event_page(replace(query, floor=floor)), floor


def _int(value: str | None) -> int | None:
    """A whole number a store can compare (64-bit), else None (the filter is dropped)."""
    try:
        number = int(value) if value else None
    except ValueError:
        return None
    return number if number is not None and abs(number) < 2**63 else None
