"""How far any detector could get without user agent and IP: an upper bound on a corpus.

Each click is described only by what a UA/IP-less webhook (Customer.io's) carries, read
with hindsight from the whole file (more than the settled pass sees): its time against its
message's delivered event, the other clicks of its message (distinct links within 2 and 10
seconds, the same link again within 30 s and whether this one came first, how many links the
message's clicks cover against `link_count`), the link's position and visibility, and other
recipients on the same campaign link within 2 s. Clicks with the same description are the
same to any such detector. An oracle flags descriptions in order of their scanner-to-person
ratio, skipping any that would take the people's false-positive rate past the budget: the
best recall any detector reading these features can reach at that rate. `--train` fits the
order on other corpora and applies it to the first (a fairer bound: a description seen only
once is not a rule). Without `--train`, in-sample: an optimistic bound.

    .venv/bin/python bench/bots/bound.py CORPUS [--train OTHER ...] [--budget 0.005]
"""

from __future__ import annotations

import argparse
import gzip
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

Profile = tuple[Any, ...]
# What no UA/IP-less evidence separates from people (`classes`): a lone click at a person's
# time, and a click on a link a person clicked within the pair window (a check riding on it).
LONE, RIDES, REST = (
    "lone click at a person's time",
    "on a link a person clicked within 30 s",
    "rest",
)
HIDDEN = "human_hidden_link"  # people flagged by design (link.honeypot)
_DELAYS = ((-1, "before"), (2, "<2s"), (10, "<10s"), (30, "<30s"), (60, "<60s"))
_LATER = ((120, "<2m"), (600, "<10m"), (3600, "<1h"), (86400, "<1d"))


def _delay(seconds: float | None) -> str:
    if seconds is None:
        return "no delivery"
    for limit, name in _DELAYS + _LATER:
        if seconds < limit:
            return name
    return ">1d"


def profiles(path: Path) -> list[tuple[str, str, Profile]]:
    """(label, kind, description) of every labelled click; the description's last item is
    its class (LONE, RIDES, REST), not read by the oracle."""
    raw = [orjson.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    delivered = {
        d["message"]["id"]: _t(d["occurred_at"]) for d in raw if d["type"] == "email.delivered"
    }
    clicks = [d for d in raw if d["type"] == "email.clicked" and "label" in d]
    by_message: dict[str, list[tuple[float, str]]] = defaultdict(list)
    people: dict[tuple[str, str], list[float]] = defaultdict(list)
    by_link: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
    for c in clicks:
        at, link = _t(c["occurred_at"]), _link(c)
        by_message[c["message"]["id"]].append((at, link))
        if c["label"] != "bot":
            people[(c["message"]["id"], link)].append(at)
        by_link[(c["message"].get("campaign_id") or "", link)].append((at, c["recipient"]["email"]))
    for rows in (*by_message.values(), *by_link.values()):
        rows.sort()
    out = []
    for c in clicks:
        at, link, message = _t(c["occurred_at"]), _link(c), c["message"]["id"]
        rows = by_message[message]
        links = {other for _, other in rows}
        same = [t for t, other in _near(rows, at, 30) if other == link]
        crowd = {r for _, r in _near(by_link[(c["message"].get("campaign_id") or "", link)], at, 2)}
        count = c["message"].get("link_count")
        description = (
            _delay(at - delivered[message] if message in delivered else None),
            min(len({o for _, o in _near(rows, at, 2)} - {link}), 3),
            min(len({o for _, o in _near(rows, at, 10)} - {link}), 4),
            min(len(same) - 1, 2),
            len(same) > 1 and min(same) == at,
            "more"
            if count and len(links) > count
            else ("all" if count and len(links) >= count else ""),
            bool(c["link"].get("hidden")),
            c["link"].get("position") if c["link"].get("position") in (0, 1, 2) else "later/none",
            min(len(crowd) - 1, 2),
        )
        alone = len(_near(rows, at, 60)) == 1 and len(crowd) == 1 and not description[6]
        late = description[0] not in {name for _, name in _DELAYS}
        person = [t for t in people[(message, link)] if t != at and abs(t - at) <= 30]
        kind = LONE if alone and late else RIDES if person and c["label"] == "bot" else REST
        out.append((c["label"], c["kind"], (*description, kind)))
    return out


def _coverage(links: int, count: int | None) -> str:
    if not count:
        return ""
    return "more" if links > count else "all" if links == count else ""


def _t(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _link(click: dict[str, Any]) -> str:
    position = click["link"].get("position")
    return str(position) if position is not None else click["link"]["url"].split("#")[0]


def _near(rows: list[tuple[float, str]], at: float, window: float) -> list[tuple[float, str]]:
    return rows[bisect_left(rows, (at - window,)) : bisect_right(rows, (at + window, "\uffff"))]


def order(training: list[tuple[str, str, Profile]], prior: float = 0.0) -> list[Profile]:
    """Descriptions by scanner-to-person ratio, the purest first (ties: more scanners first).
    `prior` people are added to each, so that a description seen a few times without a person
    does not rank as pure as one seen a thousand times (for `--train`)."""
    bots, people = Counter(), Counter()
    for label, _, description in training:
        (bots if label == "bot" else people)[description[:-1]] += 1
    return sorted(bots, key=lambda d: ((people[d] + prior) / bots[d], -bots[d]))  # type: ignore[no-any-return]


def oracle(
    training: list[tuple[str, str, Profile]],
    ranked: list[Profile],
    budget: float,
    group_budget: float = 0.02,
) -> set[Profile]:
    """The descriptions flagged, in `ranked` order, keeping the training people's FPR within
    `budget` and each human group's within `group_budget` (the issue's 0.5 % and 2 %; the
    people on the hidden link, flagged by design, are left out of the group limit). The test
    corpus's people are not looked at."""
    people: Counter[Profile] = Counter()
    groups: dict[Profile, Counter[str]] = defaultdict(Counter)
    sizes: Counter[str] = Counter()
    for label, kind, d in training:
        if label != "bot":
            people[d[:-1]] += 1
            groups[d[:-1]][kind] += 1
            sizes[kind] += 1
    allowed = budget * sum(people.values())
    flagged, spent, used = set(), 0, Counter[str]()
    for description in ranked:
        hits = groups[description]
        if spent + people[description] > allowed or any(
            used[k] + n > group_budget * sizes[k] for k, n in hits.items() if k != HIDDEN
        ):
            continue
        flagged.add(description)
        spent += people[description]
        used.update(hits)
    return flagged


def report(test: list[tuple[str, str, Profile]], flagged: set[Profile]) -> str:
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    classes: Counter[str] = Counter()
    for label, kind, description in test:
        where = description[-1]
        per_kind[kind][0] += description[:-1] in flagged
        per_kind[kind][1] += 1
        classes[where] += label == "bot"
    bots = [(k, v) for k, v in per_kind.items() if not k.startswith("human_")]
    people = [(k, v) for k, v in per_kind.items() if k.startswith("human_")]
    caught = sum(v[0] for _, v in bots) / sum(v[1] for _, v in bots)
    fpr = sum(v[0] for _, v in people) / sum(v[1] for _, v in people)
    scanners = sum(v[1] for _, v in bots)
    lines = [f"oracle over the descriptions: recall {caught:.1%} at human FPR {fpr:.2%}"]
    lone, rides = classes[LONE] / scanners, classes[RIDES] / scanners
    lines.append(
        f"no evidence: {lone:.1%} of scanner clicks are a {LONE}, {rides:.1%} {RIDES}; "
        f"recall at most {1 - lone:.1%} (every check told from its person), "
        f"{1 - lone - rides:.1%} (none)"
    )
    for kind, (hit, total) in sorted(bots + people):
        lines.append(f"  {kind:24} {hit:5} of {total:5}  {hit / total:6.1%}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--train", type=Path, nargs="*", default=[])
    parser.add_argument("--budget", type=float, default=0.005)
    parser.add_argument("--prior", type=float, default=0.0)
    args = parser.parse_args()
    test = profiles(args.corpus)
    training = [row for path in args.train for row in profiles(path)] or test
    print(report(test, oracle(training, order(training, args.prior), args.budget)))


if __name__ == "__main__":
    main()
