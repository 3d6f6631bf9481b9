"""Precision, recall, F1 and human false-positive rate of the detector on a labelled corpus.

Runs the exact path of `connector bots evaluate --report` (connector/bots/figures.py): the
corpus as given, and with user agent and IP removed from every click (the Customer.io case).
Per kind: recall for scanner families, false-positive rate for human groups.

    .venv/bin/python bench/bots/evaluate_corpus.py [CORPUS.jsonl[.gz]] [--json OUT]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from connector.bots.detector import Detector
from connector.bots.figures import evaluate_labelled, table
from connector.bots.settings import BotSettings


def read_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).splitlines()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "corpus", nargs="?", type=Path, default=Path(__file__).with_name("corpus.jsonl.gz")
    )
    parser.add_argument("--json", type=Path, help="Also write the figures as JSON here.")
    args = parser.parse_args()
    result = evaluate_labelled(read_lines(args.corpus), lambda: Detector(BotSettings()))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))


if __name__ == "__main__":
    main()
