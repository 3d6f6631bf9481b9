"""Precision, recall, F1 and human false-positive rate of the detector on a labelled corpus.

Runs the exact path of `connector bots evaluate` (read_events -> run -> output_rows) and
joins the verdicts with each click's `label` (bot/human) and `kind`. Prints the settled
verdict's figures overall and per kind, then the immediate verdict's overall figures.

    .venv/bin/python bench/bots/evaluate_corpus.py [CORPUS.jsonl[.gz]] [--json OUT]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from connector.bots.detector import Detector
from connector.bots.evaluate import output_rows, read_events, run
from connector.bots.settings import BotSettings


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
        def ratio(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        precision, recall = ratio(self.tp, self.tp + self.fp), ratio(self.tp, self.tp + self.fn)
        f1 = None
        if precision and recall:
            f1 = round(2 * precision * recall / (precision + recall), 4)
        return {
            "clicks": self.tp + self.fp + self.fn + self.tn,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "human_fpr": ratio(self.fp, self.fp + self.tn),
        }


def open_lines(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def labels(path: Path) -> dict[str, tuple[str, str]]:
    out = {}
    with open_lines(path) as stream:
        for line in stream:
            data = json.loads(line)
            if data.get("type") == "email.clicked" and "label" in data:
                out[data["id"]] = (data["label"], data.get("kind", "unknown"))
    return out


def evaluate(path: Path, settings: BotSettings) -> dict[str, Any]:
    with open_lines(path) as stream:
        replay = run(read_events(stream), Detector.from_settings(settings))
    truth = labels(path)
    settled, immediate = Counts(), Counts()
    per_kind: dict[str, Counts] = defaultdict(Counts)
    for row in output_rows(replay, with_immediate=True):
        if row["id"] not in truth:
            continue
        label, kind = truth[row["id"]]
        is_bot = label == "bot"
        settled.add(is_bot, row["suspected"])
        immediate.add(is_bot, row["immediate"]["suspected"])
        per_kind[kind].add(is_bot, row["suspected"])
    return {
        "settled": settled.figures(),
        "immediate": immediate.figures(),
        # A kind holds only bots or only people: recall or human FPR is its figure.
        "per_kind": {
            kind: {**per_kind[kind].figures(), "precision": None, "f1": None}
            for kind in sorted(per_kind)
        },
    }


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if isinstance(value, float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "corpus", nargs="?", type=Path, default=Path(__file__).with_name("corpus.jsonl.gz")
    )
    parser.add_argument("--json", type=Path, help="Also write the figures as JSON here.")
    args = parser.parse_args()
    result = evaluate(args.corpus, BotSettings())
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    header = f"{'':26} {'clicks':>6} {'precision':>9} {'recall':>7} {'F1':>7} {'human FPR':>9}"
    print(header)
    rows = [("settled (overall)", result["settled"]), ("immediate (overall)", result["immediate"])]
    rows += [(f"  {kind}", figures) for kind, figures in result["per_kind"].items()]
    for name, f in rows:
        cells = [_fmt(f[key]) for key in ("clicks", "precision", "recall", "f1", "human_fpr")]
        print(f"{name:26} {cells[0]:>6} {cells[1]:>9} {cells[2]:>7} {cells[3]:>7} {cells[4]:>9}")


if __name__ == "__main__":
    main()
