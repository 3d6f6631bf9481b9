"""Verdicts assembled without validation are the very models validation would give."""

from __future__ import annotations

import orjson
import pytest

from connector.bots.reasons import REASONS
from connector.bots.verdict import _REASONS, REASON_CACHE, band_for, build_verdict, verdict_data
from schemas.events import Bot

POINTS = {code: spec.points for code, spec in REASONS.items()}
CASES = [
    [],
    [("ua.scanner", "Barracuda link protection: Barracuda Sentinel (EE)")],
    [
        ("timing.under_10s", "clicked 4.0 s after delivery"),
        ("burst.links", "3 links"),
        ("ip.vendor", "40.94.89.20: azure EOP"),
        ("ip.fanout", "5 recipients"),
    ],
    [("guard.paired_human", "scanner-like request 3.0 s apart")],
    [("ip.cloud", "a"), ("http.head", "HEAD request"), ("ua.scanner", "x"), ("esp.bot_hint", "y")],
]


def _validated(hits: list[tuple[str, str]], phase: str) -> Bot:
    """The verdict the slow, validating way: what build_verdict must equal."""
    weighed = [(POINTS[c], c, d) for c, d in hits if POINTS[c]]
    weighed.sort(key=lambda r: -r[0])
    reasons = [{"code": c, "points": p, "detail": d} for p, c, d in weighed]
    score = max(0, min(100, sum(p for p, _, _ in weighed)))
    return Bot.model_validate(
        {
            "suspected": score >= 60,
            "score": score,
            "band": band_for(score),
            "phase": phase,
            "reasons": reasons,
            "version": "v",
        }
    )


@pytest.mark.parametrize("hits", CASES)
@pytest.mark.parametrize("phase", ["immediate", "settled"])
def test_built_verdict_equals_the_validated_one(hits: list[tuple[str, str]], phase: str) -> None:
    """Same fields, same set fields, same dump and JSON, and it re-validates to itself."""
    built = build_verdict(hits, POINTS, 60, phase, "v")  # type: ignore[arg-type]
    expected = _validated(hits, phase)
    assert built == expected
    assert type(built) is Bot
    assert built.model_fields_set == expected.model_fields_set
    assert built.model_dump() == expected.model_dump()
    assert built.model_dump_json() == expected.model_dump_json()
    assert Bot.model_validate(built.model_dump()) == built
    assert verdict_data(built) == expected.model_dump(mode="json")
    assert orjson.dumps(verdict_data(built)) == expected.model_dump_json().encode()
    assert [r.model_fields_set for r in built.reasons] == [
        r.model_fields_set for r in expected.reasons
    ]


def test_built_verdict_behaves_like_a_model() -> None:
    """Copies, assignment and repr work as on any validated model; equal reasons are one
    object (verdicts are only read), the list holding them is each verdict's own."""
    first = build_verdict(CASES[2], POINTS, 60, "settled", "v")
    second = build_verdict(CASES[2], POINTS, 60, "settled", "v")
    assert first.reasons[0] is second.reasons[0]
    assert first.reasons is not second.reasons
    copy = first.model_copy(deep=True)
    copy.score = 1
    copy.reasons[0].detail = "changed"
    assert first.score != 1 and first.reasons[0].detail != "changed"
    assert repr(first) == repr(_validated(CASES[2], "settled"))


def test_zero_point_reasons_are_dropped_and_scores_clamped() -> None:
    """A reason configured to 0 points disappears; totals stay within 0..100."""
    points = {**POINTS, "ip.cloud": 0}
    assert [r.code for r in build_verdict(CASES[4], points, 60, "settled", "v").reasons] == [
        "ua.scanner",
        "http.head",
        "esp.bot_hint",
    ]
    assert build_verdict(CASES[4], POINTS, 60, "settled", "v").score == 100
    assert build_verdict(CASES[3], POINTS, 60, "settled", "v").score == 0


def test_reason_cache_stays_bounded() -> None:
    """Details that never repeat (times, counts) do not grow the shared-reason cache."""
    for n in range(REASON_CACHE + 10):
        built = build_verdict([("timing.under_10s", f"clicked {n} s")], POINTS, 60, "settled", "v")
        assert built.reasons[0].detail == f"clicked {n} s"
    assert len(_REASONS) <= REASON_CACHE
