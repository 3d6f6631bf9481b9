"""A fast, read-only interval index from IP address to the label of its most specific range.

CIDR blocks are either nested or disjoint, so after sorting they flatten into disjoint
segments in one sweep; a lookup is then one `bisect` over a list of ints (about a
microsecond), instead of walking a bit trie. The block with the highest category priority
wins, then the most specific: Azure lists regional `AzureCloud` blocks inside the broader
`EOPExternalPublishedIPs` ranges, and the mail-security meaning is the one that matters.
"""

from __future__ import annotations

import socket
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

CATEGORY_PRIORITY: dict[str, int] = {
    "cdn": 10,
    "service": 20,
    "cloud": 30,
    "crawler": 40,
    "vendor": 50,
}
CATEGORIES = frozenset(CATEGORY_PRIORITY)


@dataclass(frozen=True, slots=True)
class IpLabel:
    category: str  # one of CATEGORIES
    provider: str  # e.g. "azure", "mimecast"
    detail: str  # e.g. "EOPExternalPublishedIPs", "AzureCloud.westeurope"


def parse_ip(text: str) -> tuple[int, int] | None:
    """(version, integer) of an address; IPv4-mapped IPv6 becomes IPv4; None if invalid."""
    text = text.strip()
    if "%" in text:
        text = text.split("%", 1)[0]  # IPv6 zone id
    try:
        if ":" not in text:
            return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
        value = int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except (OSError, ValueError):
        return None
    if value >> 32 == 0xFFFF:  # ::ffff:a.b.c.d
        return 4, value & 0xFFFFFFFF
    return 6, value


def parse_cidr(text: str) -> tuple[int, int, int] | None:
    """(version, first, last) of a CIDR block (host bits ignored); None if invalid."""
    address, _, prefix = text.strip().partition("/")
    parsed = parse_ip(address)
    if parsed is None:
        return None
    version, value = parsed
    bits = 32 if version == 4 else 128
    if ":" in address and version == 4 and prefix:  # ::ffff:a.b.c.d/NN counts IPv6 bits
        if not prefix.isdigit() or int(prefix) < 96:
            return None
        prefix = str(int(prefix) - 96)
    if prefix == "":
        length = bits
    elif prefix.isdigit() and int(prefix) <= bits:
        length = int(prefix)
    else:
        return None
    host = (1 << (bits - length)) - 1
    first = value & ~host
    return version, first, first | host


class IpIndex:
    """Disjoint segments per IP version: sorted starts, ends and labels."""

    def __init__(self, entries: Iterable[tuple[str, IpLabel]], version: str = "") -> None:
        self.version = version
        blocks: dict[int, list[tuple[int, int, int, IpLabel]]] = {4: [], 6: []}
        for cidr, label in entries:
            parsed = parse_cidr(cidr)
            if parsed is None:
                continue
            family, first, last = parsed
            blocks[family].append((first, -last, CATEGORY_PRIORITY[label.category], label))
        self._tables = {family: _flatten(items) for family, items in blocks.items()}
        self.size = sum(len(table[0]) for table in self._tables.values())

    def lookup(self, ip: str | None) -> IpLabel | None:
        """The label of the most specific range holding `ip`, or None."""
        if not ip:
            return None
        parsed = parse_ip(ip)
        if parsed is None:
            return None
        starts, ends, labels = self._tables[parsed[0]]
        position = bisect_right(starts, parsed[1]) - 1
        if position >= 0 and parsed[1] <= ends[position]:
            return labels[position]
        return None


Table = tuple[list[int], list[int], list[IpLabel]]


def _flatten(items: list[tuple[int, int, int, IpLabel]]) -> Table:
    """Sweep nested blocks (outer first) into disjoint segments labelled by the innermost."""
    items.sort(key=lambda item: (item[0], item[1], item[2]))
    starts: list[int] = []
    ends: list[int] = []
    labels: list[IpLabel] = []

    def emit(first: int, last: int, label: IpLabel) -> None:
        if first > last:
            return
        if ends and ends[-1] + 1 == first and labels[-1] == label:
            ends[-1] = last
            return
        starts.append(first)
        ends.append(last)
        labels.append(label)

    stack: list[tuple[int, IpLabel]] = []
    cursor = 0
    for first, negative_last, _, label in items:
        while stack and stack[-1][0] < first:
            last, top = stack.pop()
            emit(cursor, last, top)
            cursor = max(cursor, last + 1)
        if stack:
            emit(cursor, first - 1, stack[-1][1])
        if stack and CATEGORY_PRIORITY[stack[-1][1].category] > CATEGORY_PRIORITY[label.category]:
            label = stack[-1][1]  # an enclosing block of higher priority keeps its label
        stack.append((-negative_last, label))
        cursor = first
    while stack:
        last, top = stack.pop()
        emit(cursor, last, top)
        cursor = max(cursor, last + 1)
    return starts, ends, labels
