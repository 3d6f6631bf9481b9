"""Addresses seen checking links at click time for organisations, held in this process.

A click-time gateway is a hosted, multi-tenant service: Cisco's Security Proxy is "an
external proxy hosted by Cisco" that evaluates the link and then sends the person on
(AsyncOS for Email user guide, Outbreak Filters, "Redirecting URLs"); Mimecast's and
Proofpoint's checks are services of the same kind. Its egress addresses therefore check
links for every customer, while a person's address (a home, an office NAT, a cloud desktop)
clicks for one organisation. An address that was the plain fetch of a sure check pair
(`pair.check_first`: a fetch, then the person from another network) for other organisations
settles a pair whose order or other side is not sure (`pair.known_checker`): the person on
a cloud desktop (weak evidence of its own), or in the same whole second.

An organisation is the recipient's mail domain (one gateway protects a domain: its MX).
The index is the detector's own, in memory, like `crowd.py`: a restarted process starts
empty, so the evidence may be missed, never invented. Bounded: notes older than `horizon`
seconds are not counted, at most `MAX_ORGS` organisations are kept per address and
`max_addresses` addresses (the least recently noted go first). Queries take `received_by`
like `BotState`'s, so a replay gives the same verdicts however late it settles.
"""

from __future__ import annotations

MAX_ADDRESSES = 20_000
MAX_ORGS = 4  # more organisations than the one asking need not be told apart
# ASSUMPTION: a hosted proxy's egress addresses stay its own for a month (vendors' egress
# ranges change over months: Mimecast's 2022-23 migration); cloud addresses move sooner.
HORIZON_SECONDS = 30 * 86400.0


class CheckerIndex:
    """Per address: the organisations it checked links for, and when that was known."""

    def __init__(
        self, horizon: float = HORIZON_SECONDS, max_addresses: int = MAX_ADDRESSES
    ) -> None:
        self.horizon = horizon
        self.max_addresses = max_addresses
        self._seen: dict[str, dict[str, float]] = {}  # address -> org -> known at (arrival)

    def clear(self) -> None:
        self._seen.clear()

    def note(self, address: str, org: str, known_at: float) -> None:
        """`address` was the check in a sure pair for `org`, known at `known_at` (the
        arrival time the deciding pass saw up to)."""
        seen = self._seen.pop(address, None)  # re-inserted: the most recently noted last
        if seen is None:
            if len(self._seen) >= self.max_addresses:
                del self._seen[next(iter(self._seen))]
            seen = {}
        before = seen.get(org)
        if before is None or known_at < before:
            if before is None and len(seen) >= MAX_ORGS:
                del seen[min(seen, key=seen.__getitem__)]
            seen[org] = known_at
        self._seen[address] = seen

    def for_others(self, address: str, org: str, at: float, by: float) -> bool:
        """Whether `address` was known by `by` to have checked links for an organisation
        other than `org`, within `horizon` before `at` (the click's time)."""
        seen = self._seen.get(address)
        if not seen:
            return False
        since = at - self.horizon
        return any(other != org and since <= known <= by for other, known in seen.items())


def organisation(recipient_key: str) -> str:
    """The recipient's mail domain; "" for a click that names no address."""
    _, at, domain = recipient_key.rpartition("@")
    return domain if at else ""
