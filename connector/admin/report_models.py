"""The report endpoints' response bodies (`reports_api.py`) and their OpenAPI paths, which
`openapi.py` adds to the document with the rest."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from connector.admin.http import utc
from connector.admin.models import Problem
from connector.storage.report_records import ContactClicks, ReportTotals, TimeBucket

SubjectName = Literal["link", "trigger", "campaign", "message"]


class Totals(BaseModel):
    """One subject's totals: human and suspected clicks by the immediate verdict, and by
    the settled verdict for the clicks settled so far."""

    subject: SubjectName
    key: str
    clicks: int
    contacts: int
    human_immediate: int
    suspected_immediate: int
    human_settled: int
    suspected_settled: int
    first_at: datetime | None
    last_at: datetime | None

    @classmethod
    def of(cls, t: ReportTotals) -> Totals:
        return cls(
            subject=t.subject,
            key=t.key,
            clicks=t.clicks,
            contacts=t.contacts,
            human_immediate=t.human_immediate,
            suspected_immediate=t.suspected_immediate,
            human_settled=t.human_settled,
            suspected_settled=t.suspected_settled,
            first_at=None if t.first_at is None else utc(t.first_at),
            last_at=None if t.last_at is None else utc(t.last_at),
        )


class Bucket(BaseModel):
    start: datetime
    clicks: int
    human: int  # by each click's latest verdict

    @classmethod
    def of(cls, b: TimeBucket) -> Bucket:
        return cls(start=utc(b.start), clicks=b.clicks, human=b.human)


class Contact(BaseModel):
    recipient: str
    clicks: int
    human_clicks: int  # by each click's latest verdict
    first_at: datetime
    last_at: datetime

    @classmethod
    def of(cls, c: ContactClicks) -> Contact:
        return cls(
            recipient=c.recipient,
            clicks=c.clicks,
            human_clicks=c.human_clicks,
            first_at=utc(c.first_at),
            last_at=utc(c.last_at),
        )


class ReportPage(BaseModel):
    """Subjects of one kind by key; pass `next_after` as `after` for the next page."""

    subject: SubjectName
    reports: list[Totals]
    next_after: str | None


class Report(BaseModel):
    """One subject's totals and its clicks per hour from `since` up to `until`."""

    totals: Totals
    since: datetime
    until: datetime
    timeline: list[Bucket]


class ContactPage(BaseModel):
    """Who clicked, by recipient key; pass `next_after` as `after` for the next page."""

    subject: SubjectName
    key: str
    contacts: list[Contact]
    next_after: str | None


REPORT_MODELS: list[type[BaseModel]] = [Bucket, Contact, ContactPage, Report, ReportPage, Totals]
_CSV = "; `?format=csv` (or a `.csv` suffix) answers text/csv with every row"
# (method, path, summary, request model, {status: response model}, query parameters)
REPORT_PATHS: list[
    tuple[str, str, str, type[BaseModel] | None, dict[int, type[BaseModel]], list[str]]
] = [
    (
        "get",
        "/reports/{subject}",
        f"Subjects of a kind (link, trigger, campaign, message) with totals{_CSV}",
        None,
        {200: ReportPage, 404: Problem, 422: Problem},
        ["limit", "after", "format"],
    ),
    (
        "get",
        "/reports/{subject}/{key}",
        f"One subject's totals and clicks per hour (the key URL-encoded){_CSV}",
        None,
        {200: Report, 404: Problem, 422: Problem},
        ["since", "until", "format"],
    ),
    (
        "get",
        "/reports/{subject}/{key}/contacts",
        f"Who clicked one subject, per contact{_CSV}",
        None,
        {200: ContactPage, 404: Problem, 422: Problem},
        ["limit", "after", "format"],
    ),
]
