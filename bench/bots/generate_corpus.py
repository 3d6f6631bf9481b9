"""Generate bench/bots/corpus.jsonl.gz: labelled email.delivered/email.clicked events.

Campaigns go to people at companies. A company has a mail gateway (none, Defender Safe
Links, Mimecast, Proofpoint, Barracuda, Cisco, an unknown cloud sandbox, Gmail/Workspace, a
scanner behind residential proxies, a hosted scanner spoofing Chrome) and an egress (remote
workers, office NAT, Zscaler, cloud desktops); some people keep an AI assistant, some
messages draw an agent-less crawler. Gateways behave as vendor docs and public issue threads
describe (scan at delivery and/or check at click time); people behave as one of the hard
human groups. Every click carries `label` (bot/human) and `kind`. README.md lists each
assumption and its source. Deterministic: same seed and mix, same file; `--mix` changes the
shares (a fresh corpus for a second opinion).

    .venv/bin/python bench/bots/generate_corpus.py [--seed 7] [--mix gateway.gmail=20,...]
        [--out bench/bots/corpus.jsonl.gz]
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

import families
import people
import pools
import scenarios

from connector.bots.useragents import expected_major

GATEWAYS: dict[str, float] = {
    "none": 26, "safelinks": 24, "mimecast": 7, "proofpoint": 7, "barracuda": 5, "cisco": 6,
    "unknown_cloud": 6, "gmail": 9, "residential_proxy": 4, "hosted": 4,
}  # fmt: skip
EGRESS: dict[str, float] = {"remote": 45, "office_nat": 25, "zscaler": 15, "cloud_desktop": 15}
# ESPs whose click webhooks carry whole-second times (SendGrid's Event Webhook `timestamp`
# is Unix seconds; Mailgun, Postmark and SES give sub-second times).
WHOLE_SECONDS = frozenset({"sendgrid"})
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
        agent: str | None,
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
        event["client"] = {"ip": ip} if agent is None else {"ip": ip, "user_agent": agent}
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
    if msg.provider in WHOLE_SECONDS:
        at = at.replace(microsecond=0)
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


def _weighted(rng: random.Random, table: dict[str, float]) -> str:
    return rng.choices(list(table), weights=list(table.values()))[0]


def apply_mix(spec: str) -> None:
    """`gateway.gmail=20,egress.zscaler=30,trait.tab_burst=15,rate.assistant=0.1`: change
    the share of a gateway, an egress, a person's trait or a per-message rate."""
    tables: dict[str, dict[str, float]] = {
        "gateway": GATEWAYS,
        "egress": EGRESS,
        "trait": people.TRAITS,
        "rate": families.RATES,
        "push": people.PUSH,
    }
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, value = item.partition("=")
        table, _, key = name.partition(".")
        if table not in tables or key not in tables[table]:
            raise SystemExit(f"--mix: unknown {name!r}; known: {sorted(tables)} tables")
        tables[table][key] = float(value)


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
    pushed: list[tuple[list[scenarios.Message], int]] = []
    push_rng = random.Random(f"push-{seed}")  # its own stream: the rest stays as it was
    for number in range(campaigns):
        sent = start + timedelta(days=rng.uniform(0, 60), hours=rng.uniform(0, 10))
        template = scenarios.Template.random(rng, number, rng.choice(PROVIDERS))
        major = expected_major(sent)
        messages: list[scenarios.Message] = []
        if push_rng.random() < people.PUSH["campaign"]:
            pushed.append((messages, major))
        for firm in rng.sample(firms, rng.randint(20, 40)):
            for person in range(rng.randint(1, 4)):
                msg = template.message(rng, firm, person, sent)
                messages.append(msg)
                if rng.random() > 0.08:  # some ESPs/routes never report delivery
                    corpus.delivered(msg)
                scenarios.delivery_scans(corpus, rng, msg, firm, major)
                families.scans(corpus, rng, msg, firm, major)
                people.person(corpus, rng, msg, firm, major)
    for messages, major in pushed:
        people.push_readers(corpus, push_rng, messages, major)
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
    parser.add_argument("--mix", default="", help="Shares to change, e.g. gateway.gmail=20.")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("corpus.jsonl.gz"))
    args = parser.parse_args()
    scenarios.SCAN_GAP = tuple(args.scan_gap)
    apply_mix(args.mix)
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
