"""Generate bench/bots/corpus.jsonl.gz: labelled email.delivered/email.clicked events.

Campaigns go to people at companies. A company has a mail gateway (none, Defender Safe
Links, Mimecast, Proofpoint, Barracuda, Cisco, an unknown cloud gateway, Gmail) and an
egress (remote workers, office NAT, Zscaler, cloud desktops). Gateways behave as vendor docs
and public issue threads describe (scan at delivery and/or check at click time); people
behave as one of the hard human groups. Every click carries `label` (bot/human) and `kind`.
README.md lists each assumption and its source. Deterministic: same seed, same file.

    .venv/bin/python bench/bots/generate_corpus.py [--seed 7] [--out bench/bots/corpus.jsonl.gz]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import people
import pools
import scenarios

from connector.bots.useragents import expected_major

GATEWAYS = (
    ("none", 30), ("safelinks", 28), ("mimecast", 8), ("proofpoint", 8), ("barracuda", 5),
    ("cisco", 6), ("unknown_cloud", 7), ("gmail", 8),
)  # fmt: skip
EGRESS = (("remote", 45), ("office_nat", 25), ("zscaler", 15), ("cloud_desktop", 15))
PROVIDERS = ("sendgrid", "mailgun", "postmark", "ses")


class Corpus:
    """Collects events; ids are sequential so the file is stable."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lines: list[dict[str, Any]] = []

    def add(self, event: dict[str, Any]) -> None:
        event["id"] = event["provider_event_id"] = f"evt_{len(self.lines):06d}"
        self.lines.append(event)

    def delivered(self, msg: scenarios.Message) -> None:
        lag = webhook_lag(self.rng)
        self.add(_envelope(msg, "email.delivered", msg.delivered, msg.delivered + lag))

    def click(
        self,
        msg: scenarios.Message,
        link: int,
        at: datetime,
        ip: str,
        agent: str,
        label: str,
        kind: str,
        url: str | None = None,
        hint: str | None = None,
    ) -> None:
        event = _envelope(msg, "email.clicked", at, at + webhook_lag(self.rng))
        event["link"] = {"url": url or msg.urls[link]}
        if msg.positions and url is None:
            event["link"]["position"] = link
        if link == msg.hidden_position and url is None:
            event["link"]["hidden"] = True
        event["client"] = {"ip": ip, "user_agent": agent}
        if hint is not None:
            event["metadata"] = {"esp_bot_hint": hint}
        event["label"], event["kind"] = label, kind
        self.add(event)


def webhook_lag(rng: random.Random) -> timedelta:
    """ESPs post webhooks a few seconds late, sometimes minutes (batching, retries)."""
    if rng.random() < 0.05:
        return timedelta(seconds=rng.uniform(30, 300))
    return timedelta(seconds=rng.uniform(0.3, 12))


def _envelope(
    msg: scenarios.Message, kind: str, at: datetime, received: datetime
) -> dict[str, Any]:
    message: dict[str, Any] = {"id": msg.id, "campaign_id": msg.campaign}
    if msg.link_count_known:
        message["link_count"] = len(msg.urls)
    return {
        "type": kind,
        "occurred_at": at.isoformat(timespec="milliseconds"),
        "received_at": received.isoformat(timespec="milliseconds"),
        "provider": msg.provider,
        "source": msg.provider,
        "recipient": {"email": msg.recipient},
        "message": message,
    }


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in table], weights=[w for _, w in table])[0]


def build(seed: int, campaigns: int, companies: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    corpus = Corpus(rng)
    firms = [
        scenarios.Company(
            domain=f"firm{n}.example",
            gateway=_weighted(rng, GATEWAYS),
            egress=_weighted(rng, EGRESS),
            office_ip=pools.residential(rng, 0.0),
            rng=rng,
        )
        for n in range(companies)
    ]
    start = datetime(2026, 9, 1, 7, 0, tzinfo=UTC)
    for number in range(campaigns):
        sent = start + timedelta(days=rng.uniform(0, 60), hours=rng.uniform(0, 10))
        template = scenarios.Template.random(rng, number, rng.choice(PROVIDERS))
        major = expected_major(sent)
        for firm in rng.sample(firms, rng.randint(20, 40)):
            for person in range(rng.randint(1, 4)):
                msg = template.message(rng, firm, person, sent)
                if rng.random() > 0.08:  # some ESPs/routes never report delivery
                    corpus.delivered(msg)
                scenarios.delivery_scans(corpus, rng, msg, firm, major)
                people.person(corpus, rng, msg, firm, major)
    return corpus.lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--campaigns", type=int, default=60)
    parser.add_argument("--companies", type=int, default=500)
    parser.add_argument(
        "--scan-gap",
        type=float,
        nargs=2,
        default=scenarios.SCAN_GAP,
        metavar=("LOW", "HIGH"),
        help="Seconds between a gateway's link visits (sensitivity checks).",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("corpus.jsonl.gz"))
    args = parser.parse_args()
    scenarios.SCAN_GAP = tuple(args.scan_gap)
    lines = build(args.seed, args.campaigns, args.companies)
    text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
    data = text.encode()
    if args.out.suffix == ".gz":  # mtime=0: the same seed gives the same bytes
        data = gzip.compress(data, mtime=0)
    args.out.write_bytes(data)
    clicks = [line for line in lines if line["type"] == "email.clicked"]
    bots = sum(1 for line in clicks if line["label"] == "bot")
    print(f"{len(lines)} events, {len(clicks)} clicks ({bots} bot, {len(clicks) - bots} human)")


if __name__ == "__main__":
    main()
