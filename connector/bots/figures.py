"""Precision, recall and human false-positive rate of the detector on a labelled corpus.

A labelled corpus is an events file whose clicks carry `label` ("bot"/"human") and `kind`
(the scanner family or human group); the reader sets both aside, so the same file is valid
input to `connector bots evaluate`. Two modes are measured on the same events: as given,
and with the user agent and IP removed from every click (`strip_client`), the evidence
Customer.io's click webhooks carry (neither) and Brevo's (no IP).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from connector.bots.detector import Detector
from connector.bots.evaluate import Replay, read_events, run
from schemas.events import Client, EmailClicked

MODES = ("as_given", "no_ua_ip")


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, is_bot: bool, flagged: bool) -> None:
        if is_bot:
            self.tp += flagged
            self.fn += not flagged
        else:
            self.fp += flagged
            self.tn += not flagged

    def figures(self) -> dict[str, float | int | None]:
        precision = _ratio(self.tp, self.tp + self.fp)
        recall = _ratio(self.tp, self.tp + self.fn)
        f1 = None
        if precision and recall:
            f1 = round(2 * precision * recall / (precision + recall), 4)
        return {
            "clicks": self.tp + self.fp + self.fn + self.tn,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "human_fpr": _ratio(self.fp, self.fp + self.tn),
        }


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def labels(lines: Iterable[bytes]) -> dict[str, tuple[str, str]]:
    """Click id -> (label, kind) for every labelled click line."""
    out = {}
    for line in lines:
        if not line.strip():
            continue
        data = orjson.loads(line)
        if isinstance(data, dict) and data.get("type") == "email.clicked" and "label" in data:
            out[str(data["id"])] = (str(data["label"]), str(data.get("kind", "unknown")))
    return out


def strip_client(replay: Replay) -> Replay:
    """The same events with neither user agent nor IP on any click (Customer.io's case)."""
    stripped = Replay(skipped=replay.skipped, ignored=replay.ignored, invalid=replay.invalid)
    bare = Client()
    for event in replay.events:
        if isinstance(event, EmailClicked):
            event = event.model_copy(update={"client": bare})
        stripped.events.append(event)
    return stripped


def measure(replay: Replay, truth: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """Overall figures of both verdicts; per kind, recall (scanners) or FPR (people)."""
    settled, immediate = Counts(), Counts()
    per_kind: dict[str, Counts] = defaultdict(Counts)
    for event in replay.events:
        if event.id not in truth or not isinstance(event, EmailClicked):
            continue
        label, kind = truth[event.id]
        is_bot = label == "bot"
        settled.add(is_bot, replay.settled[event.id].suspected)
        immediate.add(is_bot, replay.immediate[event.id].suspected)
        per_kind[kind].add(is_bot, replay.settled[event.id].suspected)
    kinds = {}
    for kind in sorted(per_kind):
        figures = per_kind[kind].figures()
        key = "recall" if figures["recall"] is not None else "human_fpr"
        kinds[kind] = {"clicks": figures["clicks"], key: figures[key]}
    return {"settled": settled.figures(), "immediate": immediate.figures(), "per_kind": kinds}


def evaluate_labelled(lines: list[bytes], make_detector: Callable[[], Detector]) -> dict[str, Any]:
    """Both modes' figures for a labelled events file (`make_detector()` gives a detector)."""
    truth = labels(lines)
    replay = read_events(lines, strict=False)
    result = {"as_given": measure(run(replay, make_detector()), truth)}
    result["no_ua_ip"] = measure(run(strip_client(replay), make_detector()), truth)
    return result


def table(result: dict[str, Any]) -> str:
    """A plain-text table of both modes: overall rows, then one row per kind."""
    head = f"{'':28}" + "".join(f"{m + ' settled':>18}{'immediate':>11}" for m in MODES)
    rows = [head]
    for figure in ("recall", "precision", "human_fpr"):
        cells = "".join(
            f"{_pct(result[m]['settled'][figure]):>18}{_pct(result[m]['immediate'][figure]):>11}"
            for m in MODES
        )
        rows.append(f"{figure:28}{cells}")
    for kind in result[MODES[0]]["per_kind"]:
        cells = ""
        for mode in MODES:
            found = result[mode]["per_kind"].get(kind, {})
            value = found.get("recall", found.get("human_fpr"))
            cells += f"{_pct(value):>18}{'':>11}"
        name = f"  {kind} ({result[MODES[0]]['per_kind'][kind]['clicks']})"
        rows.append(f"{name:28}{cells}")
    return "\n".join(rows)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
