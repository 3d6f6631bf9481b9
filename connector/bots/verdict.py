"""Turn reason hits into a `Bot` verdict: points, clamped score, band, suspected flag.

Bands are fixed so rules and dashboards can rely on them; `suspected` follows the
configurable threshold (default 60 = the start of "likely").
"""

from __future__ import annotations

from typing import Literal

from connector.bots.settings import BotSettings
from schemas.events import Bot, BotReason

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
    hits: list[tuple[str, str]], settings: BotSettings, phase: Phase, version: str
) -> Bot:
    """The verdict for these hits; reasons worth 0 points are dropped, strongest first."""
    reasons = [
        BotReason.model_construct(code=code, points=points, detail=detail)
        for code, detail in hits
        if (points := settings.points_for(code)) != 0
    ]
    reasons.sort(key=lambda reason: -reason.points)
    score = max(0, min(100, sum(reason.points for reason in reasons)))
    return Bot.model_construct(
        suspected=score >= settings.suspect_threshold,
        score=score,
        band=band_for(score),
        phase=phase,
        reasons=reasons,
        version=version,
    )
