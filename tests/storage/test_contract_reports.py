"""The storage contract's report operations (`ReportOps`), on every backend."""

from __future__ import annotations

from connector.storage.report_records import (
    ContactClicks,
    CountedClick,
    ReportTotals,
    Subject,
    TimeBucket,
)
from tests.storage.conftest import Store
from tests.storage.test_contract import run

LINK: tuple[Subject, str] = ("link", "https://shop.example/sale")
CAMPAIGN: tuple[Subject, str] = ("campaign", "spring")
H = 1_700_000_000 // 3600 * 3600  # an hour boundary


def click(
    event_id: str,
    recipient: str | None,
    at: float,
    *,
    suspected: bool = False,
    final: bool = False,
    subjects: tuple[tuple[Subject, str], ...] = (LINK, CAMPAIGN),
) -> CountedClick:
    return CountedClick(event_id, subjects, recipient, at, suspected, final)


def count(store: Store, *clicks: CountedClick) -> None:
    for one in clicks:
        run(store, lambda tx, one=one: tx.count_clicks([one]))


def test_totals_count_clicks_contacts_and_verdicts(store: Store) -> None:
    """Clicks, unique contacts (anonymous ones excluded), verdicts and first/last add up."""
    count(
        store,
        click("e1", "a@x.io", H + 10),
        click("e2", "a@x.io", H + 5, suspected=True),
        click("e3", "b@x.io", H + 20, final=True),
        click("e4", None, H + 30),
    )
    totals = run(store, lambda tx: tx.report_totals(*LINK))
    assert totals == ReportTotals("link", LINK[1], 4, 2, 3, 1, 1, 0, float(H + 5), float(H + 30))
    assert run(store, lambda tx: tx.report_totals("campaign", "spring")) == ReportTotals(
        "campaign", "spring", 4, 2, 3, 1, 1, 0, float(H + 5), float(H + 30)
    )


def test_an_unknown_subject_key_has_no_totals(store: Store) -> None:
    """A key nobody clicked is None, not zeros."""
    assert run(store, lambda tx: tx.report_totals("message", "nope")) is None


def test_settlement_counts_once_and_moves_human_counts(store: Store) -> None:
    """The settled verdict is counted once; contact and hour human counts follow it."""
    count(store, click("e1", "a@x.io", H + 10), click("e2", "a@x.io", H + 3700))
    settled = click("e1", "a@x.io", H + 99999, suspected=True)  # `at` comes from the count
    run(store, lambda tx: tx.count_settlements([settled]))
    run(store, lambda tx: tx.count_settlements([settled]))
    run(store, lambda tx: tx.count_settlements([click("never", "a@x.io", H)]))
    totals = run(store, lambda tx: tx.report_totals(*LINK))
    assert totals is not None
    assert (totals.human_immediate, totals.suspected_immediate) == (2, 0)
    assert (totals.human_settled, totals.suspected_settled) == (0, 1)
    contacts = run(store, lambda tx: tx.report_contacts(*LINK))
    assert contacts == [ContactClicks("a@x.io", 2, 1, float(H + 10), float(H + 3700))]
    timeline = run(store, lambda tx: tx.report_timeline(*LINK, H, H + 7200))
    assert timeline == [TimeBucket(float(H), 1, 0), TimeBucket(float(H + 3600), 1, 1)]


def test_contacts_are_paged_by_recipient(store: Store) -> None:
    """The per-contact list is ordered by recipient key and continues after `after`."""
    count(store, *(click(f"e{n}", f"{n}@x.io", H) for n in (3, 1, 2)))
    first = run(store, lambda tx: tx.report_contacts(*LINK, limit=2))
    assert [c.recipient for c in first] == ["1@x.io", "2@x.io"]
    rest = run(store, lambda tx: tx.report_contacts(*LINK, limit=2, after="2@x.io"))
    assert [c.recipient for c in rest] == ["3@x.io"]


def test_subjects_are_listed_by_key_and_paged(store: Store) -> None:
    """Every key of a subject kind, in key order, paged after a key, others kinds apart."""
    for key in ("b", "a", "c"):
        count(store, click(f"e{key}", "a@x.io", H, subjects=(("message", key),)))
    page = run(store, lambda tx: tx.report_subjects("message", limit=2))
    assert [t.key for t in page] == ["a", "b"]
    assert [t.key for t in run(store, lambda tx: tx.report_subjects("message", after="b"))] == ["c"]
    assert run(store, lambda tx: tx.report_subjects("trigger")) == []


def test_timeline_keeps_the_hours_in_range(store: Store) -> None:
    """Buckets from the hour holding `since` up to (not including) `until`."""
    count(store, *(click(f"e{n}", "a@x.io", H + n * 3600 + 1) for n in range(4)))
    buckets = run(store, lambda tx: tx.report_timeline(*LINK, H + 3601, H + 3 * 3600))
    assert [b.start for b in buckets] == [float(H + 3600), float(H + 7200)]


def test_a_batch_adds_up_as_its_clicks_one_by_one(store: Store) -> None:
    """One batch with repeat contacts, and a settlement batch naming a click twice, count
    what one click at a time would."""
    count(store, click("e0", "b@x.io", H))
    batch = [
        click("e1", "a@x.io", H + 10),
        click("e2", "a@x.io", H + 20, suspected=True),
        click("e3", "b@x.io", H + 4000),
        click("e4", None, H + 5),
    ]
    run(store, lambda tx: tx.count_clicks(batch))
    settled = [click("e1", "a@x.io", 0, suspected=True), click("e2", "a@x.io", 0)]
    run(store, lambda tx: tx.count_settlements([*settled, settled[0]]))
    assert run(store, lambda tx: tx.report_totals(*LINK)) == ReportTotals(
        "link", LINK[1], 5, 2, 4, 1, 1, 1, float(H), float(H + 4000)
    )
    assert run(store, lambda tx: tx.report_contacts(*LINK)) == [
        ContactClicks("a@x.io", 2, 1, float(H + 10), float(H + 20)),
        ContactClicks("b@x.io", 2, 2, float(H), float(H + 4000)),
    ]
    assert run(store, lambda tx: tx.report_timeline(*LINK, H, H + 7200)) == [
        TimeBucket(float(H), 4, 3),
        TimeBucket(float(H + 3600), 1, 1),
    ]
