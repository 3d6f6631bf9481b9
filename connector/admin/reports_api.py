"""`/api/v1/reports`: click reports per link, trigger link, campaign and message.

Every page reads the aggregates the processor keeps (`connector/reports/recorder.py`), by
primary key, so a report costs the same on a store of a thousand clicks or of millions.
`?format=csv` (or a `.csv` suffix) answers CSV with every row, paged through the store:
the subject list as totals, a subject as its clicks per hour, its contacts as one row each.

A link's key is its canonical URL, slashes and all: `GET /reports/link/https://a.example/x`
(percent-encode `?` and `#`); a URL as it was sent (tracking parameters, upper-case host)
finds its canonical link too. A key that itself ends in `.csv` or `/contacts` is found as
it is first; only when no subject has that key is the ending read as the format or the view.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector.admin.http import json_response, limit_param, utc
from connector.admin.report_models import Bucket, Contact, ContactPage, Report, ReportPage, Totals
from connector.errors import NotFound, Unprocessable
from connector.reports import tables
from connector.reports.export import all_contacts, all_totals, csv_download
from connector.storage.base import Store, Tx
from connector.storage.report_records import ReportTotals, Subject

T = TypeVar("T")
Handler = Callable[[Request], Awaitable[Response]]
HOUR = 3600.0
DEFAULT_SPAN = 30 * 24 * HOUR  # a timeline's default length, ending at the last click
LONGEST_SPAN = 366 * 24 * HOUR
EARLIEST = datetime(1, 1, 2, tzinfo=UTC).timestamp()


class ReportsApi:
    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(self, guarded: Callable[[Handler], Handler]) -> list[Route]:
        return [
            Route("/reports/{subject}", guarded(self.list_subjects), methods=["GET"]),
            Route("/reports/{subject}/{rest:path}", guarded(self.one_subject), methods=["GET"]),
        ]

    async def list_subjects(self, request: Request) -> Response:
        name = request.path_params["subject"]
        as_csv = name.endswith(".csv") or _wants_csv(request)
        subject = _subject(name.removesuffix(".csv"))
        if as_csv:
            name = tables.csv_filename(subject)
            return csv_download(name, tables.TOTALS_COLUMNS, all_totals(self.store, subject))
        limit, after = _paging(request)
        rows = await self._read(lambda tx: tx.report_subjects(subject, limit, after))
        next_after = rows[-1].key if len(rows) == limit else None
        page = ReportPage(
            subject=subject, reports=[Totals.of(t) for t in rows], next_after=next_after
        )
        return json_response(page)

    async def one_subject(self, request: Request) -> Response:
        subject = _subject(request.path_params["subject"])
        totals, view, as_csv = await self._resolve(subject, request.path_params["rest"])
        as_csv = as_csv or _wants_csv(request)
        key = totals.key
        if view == "contacts":
            if as_csv:
                rows = all_contacts(self.store, subject, key)
                name = tables.csv_filename(subject, key, "contacts")
                return csv_download(name, tables.CONTACT_COLUMNS, rows)
            limit, after = _paging(request)
            found = await self._read(lambda tx: tx.report_contacts(subject, key, limit, after))
            next_after = found[-1].recipient if len(found) == limit else None
            contacts = [Contact.of(c) for c in found]
            return json_response(
                ContactPage(subject=subject, key=key, contacts=contacts, next_after=next_after)
            )
        since, until = _span(request, totals)
        buckets = await self._read(lambda tx: tx.report_timeline(subject, key, since, until))
        if as_csv:
            text = tables.csv_text(tables.TIMELINE_COLUMNS, map(tables.bucket_row, buckets))
            return _csv_response(tables.csv_filename(subject, key, "hourly"), text)
        timeline = [Bucket.of(b) for b in buckets]
        report = Report(
            totals=Totals.of(totals), since=utc(since), until=utc(until), timeline=timeline
        )
        return json_response(report)

    async def _resolve(self, subject: Subject, rest: str) -> tuple[ReportTotals, str, bool]:
        """The subject's key and the view asked for (see the module docstring)."""
        given = [(rest, "report", False)]
        if rest.endswith(".csv"):
            given.append((rest.removesuffix(".csv"), "report", True))
        for suffix, as_csv in (("/contacts", False), ("/contacts.csv", True)):
            if rest.endswith(suffix):
                given.append((rest.removesuffix(suffix), "contacts", as_csv))
        canonical = [  # a fragment would swallow `/contacts`: the shortest reading first
            (key, view, as_csv)
            for text, view, as_csv in reversed(given)
            for key in tables.keys_to_try(subject, text)[1:]
        ]
        candidates = given + canonical  # every literal reading before any canonical one

        def read(tx: Tx) -> tuple[ReportTotals, str, bool] | None:
            for key, view, as_csv in candidates:
                found = tx.report_totals(subject, key) if key else None
                if found is not None:
                    return found, view, as_csv
            return None

        resolved = await self._read(read)  # a NUL in `rest` was refused before (http.py)
        if resolved is None:
            raise NotFound(f"no clicks for {subject} {rest!r}", reason="unknown_key")
        return resolved

    async def _read(self, fn: Callable[[Tx], T]) -> T:
        return await self.store.transaction(fn, durable=False)


def _subject(name: str) -> Subject:
    if name not in tables.SUBJECTS:
        known = ", ".join(tables.SUBJECTS)
        raise NotFound(f"no report kind {name!r}: use one of {known}", reason="unknown_subject")
    return cast(Subject, name)


def _wants_csv(request: Request) -> bool:
    wanted = request.query_params.get("format", "json")
    if wanted not in ("json", "csv"):
        raise Unprocessable([f"format: {wanted!r} is not json or csv"])
    return wanted == "csv"


def _paging(request: Request) -> tuple[int, str | None]:
    limit = limit_param(request.query_params.get("limit"), 1000)
    return limit, request.query_params.get("after") or None


def _span(request: Request, totals: ReportTotals) -> tuple[float, float]:
    """`since` and `until` (ISO 8601 or Unix seconds); by default the 30 days up to the
    hour after the last click."""
    last = totals.last_at if totals.last_at is not None else time.time()
    until = _time(request, "until")
    until = (last // HOUR + 1) * HOUR if until is None else until
    since = _time(request, "since")
    since = until - DEFAULT_SPAN if since is None else since
    if not since < until:
        raise Unprocessable(["since: must be before until"])
    if until - since > LONGEST_SPAN:
        raise Unprocessable(["since: a timeline spans at most 366 days"])
    if since < EARLIEST:  # `until` near year 1 with the default span: no datetime holds it
        raise Unprocessable(["since: must be after 0001-01-02"])
    return since, until


_NUMBER = re.compile(r"^\d{1,12}(\.\d+)?$")


def _time(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        if _NUMBER.match(raw):
            return datetime.fromtimestamp(float(raw), UTC).timestamp()  # year <= 9999
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise Unprocessable([f"{name}: {raw!r} is not an ISO 8601 time or Unix seconds"]) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _attach(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def _csv_response(filename: str, text: str) -> Response:
    return Response(text, media_type="text/csv; charset=utf-8", headers=_attach(filename))
