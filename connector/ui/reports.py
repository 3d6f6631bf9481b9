"""The dashboard's report pages: trigger links, links, campaigns and messages.

They read the aggregates the report recorder keeps (`ReportOps`: totals, hour buckets,
per-contact rows) and the trigger links (`LinkOps`), a page of rows at a time, so a large
store costs no scan. The clicks-over-time chart is an inline SVG drawn from hour buckets.
`/ui/report.csv` downloads a report's every contact as the admin API's CSV (export.py), for
someone signed in to the dashboard rather than holding the API token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response

from connector.reports import tables
from connector.reports.export import all_contacts, csv_download
from connector.storage.base import Store, Tx
from connector.storage.report_records import ReportTotals, Subject, TimeBucket
from connector.ui.present import when
from connector.ui.session import Session
from connector.ui.views import Render

HOUR = 3600.0
CHART_HOURS = 14 * 24  # the chart shows at most the last two weeks of a subject's clicks
MIN_HOURS = 24  # and at least a day, so one busy hour is not one full-width bar
LINKS_SHOWN = 200  # trigger links listed (by slug): the store's link list has no cursor yet
SUBJECTS: dict[str, str] = {
    "trigger": "Trigger links",
    "link": "Links",
    "campaign": "Campaigns",
    "message": "Messages",
}


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    width: float
    clicks: float  # bar heights, in chart units (0-100)
    human: float
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    bars: list[Bar]
    peak: int
    since: float
    until: float


class ReportPages:
    def __init__(self, store: Store, render: Render) -> None:
        self.store = store
        self.render = render

    async def index(self, request: Request, session: Session) -> Response:
        given = request.query_params.get("subject", "trigger")
        subject = cast(Subject, given if given in SUBJECTS else "trigger")
        after = request.query_params.get("after") or None

        def read(tx: Tx) -> tuple[list[ReportTotals], dict[str, Any]]:
            if subject != "trigger":
                return tx.report_subjects(subject, 50, after), {}
            links = {link.slug: link for link in tx.links(limit=LINKS_SHOWN)}
            totals = [tx.report_totals("trigger", slug) or _empty(slug) for slug in links]
            return totals, links

        rows, links = await self.store.transaction(read, durable=False)
        more = rows[-1].key if subject != "trigger" and len(rows) == 50 else None
        context = {
            "page": "reports",
            "subject": subject,
            "subjects": SUBJECTS,
            "rows": rows,
            "links": links,
            "more": more,
            "cut": LINKS_SHOWN if subject == "trigger" and len(links) == LINKS_SHOWN else None,
        }
        return self.render(request, session, "reports.html", context)

    async def report(self, request: Request, session: Session) -> Response:
        params = request.query_params
        given, key = params.get("subject", ""), params.get("key", "")
        subject = cast(Subject, given if given in SUBJECTS else "trigger")
        after = params.get("after") or None

        def read(tx: Tx) -> tuple[ReportTotals | None, list[TimeBucket], list[Any], Any, Any]:
            totals = _found(tx, subject, key)
            link = tx.link(key) if subject == "trigger" and key else None  # a new one too
            if totals is None or totals.last_at is None:
                return totals, [], [], None, link
            found = totals.key  # a link's canonical URL, when it was asked for as sent
            until = _hour(totals.last_at) + HOUR
            first = min(_hour(totals.first_at or totals.last_at), until - MIN_HOURS * HOUR)
            since = max(first, until - CHART_HOURS * HOUR)
            timeline = tx.report_timeline(subject, found, since, until)
            contacts = tx.report_contacts(subject, found, 50, after)
            return totals, timeline, contacts, (since, until), link

        read_back = await self.store.transaction(read, durable=False)
        totals, timeline, contacts, span, link = read_back
        context: dict[str, Any] = {
            "page": "reports",
            "subject": subject,
            "subjects": SUBJECTS,
            "key": totals.key if totals else key,
            "totals": totals,
            "contacts": contacts,
            "chart": chart(timeline, span[0], span[1]) if span else None,
            "link": link,
            "more": contacts[-1].recipient if len(contacts) == 50 else None,
        }
        response = self.render(request, session, "report.html", context)
        if totals is None and link is None:  # a trigger link nobody clicked yet is a page
            response.status_code = 404
        return response

    async def contacts_csv(self, request: Request, session: Session) -> Response:
        """Every contact of one report as the admin API's CSV, for a spreadsheet."""
        params = request.query_params
        given, key = params.get("subject", ""), params.get("key", "")
        subject = cast(Subject, given if given in SUBJECTS else "trigger")
        found = await self.store.transaction(lambda tx: _found(tx, subject, key), durable=False)
        if found is None:
            return await self.report(request, session)  # its "no clicks" page, a 404
        name = tables.csv_filename(subject, found.key, "contacts")
        rows = all_contacts(self.store, subject, found.key)
        response = csv_download(name, tables.CONTACT_COLUMNS, rows)
        response.headers["cache-control"] = "no-store"
        return response


def chart(buckets: list[TimeBucket], since: float, until: float) -> Chart:
    """One bar per hour from `since` to `until` (empty hours included), scaled to 0-100."""
    hours = max(1, round((until - since) / HOUR))
    by_start = {_hour(b.start): b for b in buckets}
    peak = max((b.clicks for b in buckets), default=0) or 1
    width = 100.0 / hours
    bars = []
    for index in range(hours):
        start = since + index * HOUR
        bucket = by_start.get(start)
        if bucket is None:
            continue
        title = f"{when(start)} UTC: {bucket.clicks} clicks, {bucket.human} human"
        bars.append(
            Bar(
                x=index * width,
                width=width,
                clicks=100.0 * bucket.clicks / peak,
                human=100.0 * bucket.human / peak,
                title=title,
            )
        )
    return Chart(bars=bars, peak=peak, since=since, until=until)


def _found(tx: Tx, subject: Subject, key: str) -> ReportTotals | None:
    """The report of `key`, or for a link pasted as it was sent (tracking parameters,
    upper-case host) the report of its canonical URL, as the admin API finds it."""
    for candidate in tables.keys_to_try(subject, key) if key else []:
        totals = tx.report_totals(subject, candidate)
        if totals is not None:
            return totals
    return None


def _hour(moment: float) -> float:
    return moment - moment % HOUR


def _empty(slug: str) -> ReportTotals:
    return ReportTotals("trigger", slug, 0, 0, 0, 0, 0, 0, None, None)
