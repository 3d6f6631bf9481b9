"""CSV downloads of the reports, streamed: every row of a subject list or of a subject's
contacts, read from the store a page per transaction (no lock held for a whole export).

Shared by the admin API (`?format=csv`) and the dashboard's download links, so the two give
the same file for the same report.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

from starlette.responses import StreamingResponse

from connector.reports import tables
from connector.storage.base import Store, Tx
from connector.storage.report_records import ContactClicks, ReportTotals, Subject

PAGE = 1000


async def all_totals(store: Store, subject: Subject) -> AsyncIterator[tables.Row]:
    after = ""
    while True:
        page = await store.transaction(
            partial(_subjects, subject=subject, after=after), durable=False
        )
        for row in page:
            yield tables.totals_row(row)
        if len(page) < PAGE:
            return
        after = page[-1].key


async def all_contacts(store: Store, subject: Subject, key: str) -> AsyncIterator[tables.Row]:
    after = ""
    while True:
        read = partial(_contacts, subject=subject, key=key, after=after)
        page = await store.transaction(read, durable=False)
        for row in page:
            yield tables.contact_row(row)
        if len(page) < PAGE:
            return
        after = page[-1].recipient


def csv_download(
    filename: str, columns: tuple[str, ...], rows: AsyncIterator[tables.Row]
) -> StreamingResponse:
    """An attachment named `filename`, the header row first, then one line per row."""

    async def body() -> AsyncIterator[str]:
        yield tables.csv_text(columns, [])
        async for row in rows:
            yield tables.csv_text(columns, [row], header=False)

    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers=disposition)


def _subjects(tx: Tx, *, subject: Subject, after: str) -> list[ReportTotals]:
    return tx.report_subjects(subject, PAGE, after)


def _contacts(tx: Tx, *, subject: Subject, key: str, after: str) -> list[ContactClicks]:
    return tx.report_contacts(subject, key, PAGE, after)
