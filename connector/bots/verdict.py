"""Turn reason hits into a `Bot` verdict: points (as configured), clamped score, band, flag.

Bands are fixed so rules and dashboards can rely on them; `suspected` follows the
configurable threshold (default 60 = the start of "likely").
"""

from __future__ import annotations

from typing import Any, Literal

from schemas.events import Bot

Band = Literal["human", "unlikely", "possible", "likely", "certain"]
Phase = Literal["immediate", "settled"]
BANDS: tuple[tuple[int, Band], ...] = (
    (85, "certain"),
    (60, "likely"),
    (40, "possible"),
    (15, "unlikely"),
    (0, "human"),
)


def band_for(score: int) -> Band:
    for floor, band in BANDS:
        if score >= floor:
            return band
    return "human"


def build_verdict(
    hits: list[tuple[str, str]], points: dict[str, int], threshold: int, phase: Phase, version: str
) -> Bot:
    """The verdict for these hits; reasons worth 0 points are dropped, strongest first."""
    reasons: list[dict[str, Any]] = [
        {"code": code, "points": worth, "detail": detail}
        for code, detail in hits
        if (worth := points[code]) != 0
    ]
    reasons.sort(key=lambda reason: -reason["points"])
    score = max(0, min(100, sum(reason["points"] for reason in reasons)))
    # model_validate from plain data is the fastest way pydantic builds the nested model
    return Bot.model_validate(
        {
            "suspected": score >= threshold,
            "score": score,
            "band": band_for(score),
            "phase": phase,
            "reasons": reasons,
            "version": version,
        }
    )
