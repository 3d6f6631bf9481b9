"""The detector gives the same verdicts for the compiled twin the service decodes from
storage as for the validated model (schemas/views.py: it only reads events)."""

from __future__ import annotations

import gzip
from pathlib import Path

from pydantic_core import to_json

from connector.bots.detector import Detector
from connector.bots.evaluate import Replay, read_events, run
from connector.bots.settings import BotSettings
from schemas.compiled import EVENT_STRUCTS, decode

CORPUS = Path(__file__).resolve().parents[2] / "bench" / "bots" / "corpus.jsonl.gz"
SETTINGS = BotSettings(use_cloudip_package=False, state_ttl_seconds=600)


def test_the_corpus_scores_alike_from_models_and_from_decoded_twins() -> None:
    with gzip.open(CORPUS, "rb") as corpus:
        models = read_events(corpus)
    twins = Replay(events=[decode(e.type, to_json(e)) for e in models.events])  # type: ignore[misc]
    assert all(type(e) in EVENT_STRUCTS.values() for e in twins.events)
    from_models = run(models, Detector(SETTINGS))
    from_twins = run(twins, Detector(SETTINGS))
    assert len(from_models.settled) > 1000
    assert from_twins.immediate == from_models.immediate
    assert from_twins.settled == from_models.settled
