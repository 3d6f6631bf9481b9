"""Whether an ESP's click webhooks carry the clicker's user agent, learnt from its clicks.

SendGrid (`useragent`), SES (`userAgent`), Mailgun (`client-info`), Postmark (`UserAgent`)
and Brevo report the agent of every click; Customer.io's click webhooks carry none. Every
browser sends a User-Agent, and the providers' normalisation turns an empty one into
`None`, so from a provider whose clicks carry an agent, a click without one is a client
that sent none: a script or crawler (`ua.absent`). Which providers do is learnt from the
clicks themselves rather than listed, so a provider that never reports agents (Customer.io,
or the corpus with agents removed) never earns the reason, and a new one needs no table.
Held in the detector's memory: a restarted worker starts without it and, until it has seen
`MIN_CARRIED` clicks with an agent, misses the evidence, never invents it.
"""

from __future__ import annotations

MIN_CARRIED = 50  # clicks with an agent before a provider counts as carrying agents
MAX_MISSING_SHARE = 0.05  # of its clicks without one, beyond which it is no habit
MAX_PROVIDERS = 1000  # provider names come from our registry; a bound all the same


class AgentHabits:
    """Per provider: how many of its clicks carried an agent and how many did not."""

    def __init__(self) -> None:
        self.counts: dict[str, list[int]] = {}  # provider -> [with agent, without]

    def clear(self) -> None:
        self.counts.clear()

    def start(self, provider: str) -> list[int]:
        """The counts of a provider not seen before: [with agent, without]. `Detector.observe`
        adds each click inline. A click counted twice (a batch redone after a rollback) moves
        the share by a click; the reason's detail names no count, so verdicts stay a replay's."""
        if len(self.counts) >= MAX_PROVIDERS:
            return [0, 0]  # counted nowhere
        counts = self.counts[provider] = [0, 0]
        return counts

    def absent(self, provider: str) -> str | None:
        """The reason's detail when `provider`'s clicks carry an agent, else None."""
        counts = self.counts.get(provider)
        if counts is None:
            return None
        carried, missing = counts
        if carried < MIN_CARRIED or missing > MAX_MISSING_SHARE * (carried + missing):
            return None
        return f"no User-Agent, where {provider}'s clicks carry one"
