"""Whether a source's click webhooks carry the clicker's user agent, learnt from its clicks.

SendGrid (`useragent`), SES (`userAgent`), Mailgun (`client-info`), Postmark (`UserAgent`)
and Brevo report the agent of every click; Customer.io's click webhooks carry none. Every
browser sends a User-Agent, and the providers' normalisation turns an empty one into
`None`, so from a source whose clicks carry an agent, a click without one is a client that
sent none: a script or crawler (`ua.absent`). Kept per source (one configured webhook
endpoint: one ESP, one field mapping), not per provider: two generic sources may map
different fields. Which sources carry agents is learnt from the clicks rather than listed,
so a source that never reports them (Customer.io, or the corpus with agents removed) never
earns the reason, and a new ESP needs no table. Held in the detector's memory: a restarted
worker starts without it and, until it has seen `MIN_CARRIED` clicks with an agent, misses
the evidence, never invents it.
"""

from __future__ import annotations

MIN_CARRIED = 50  # clicks with an agent before a source counts as carrying agents
MAX_MISSING_SHARE = 0.05  # of its clicks without one, beyond which it is no habit
MAX_SOURCES = 1000  # sources come from our configuration; a bound all the same


class AgentHabits:
    """Per source: how many of its clicks carried an agent and how many did not."""

    def __init__(self) -> None:
        self.counts: dict[str, list[int]] = {}  # source -> [with agent, without]

    def clear(self) -> None:
        self.counts.clear()

    def start(self, source: str) -> list[int]:
        """The counts of a source not seen before: [with agent, without]. `Detector.observe`
        adds each click inline. A click counted twice (a batch redone after a rollback) moves
        the share by a click; the reason's detail names no count, so verdicts stay a replay's."""
        if len(self.counts) >= MAX_SOURCES:
            return [0, 0]  # counted nowhere
        counts = self.counts[source] = [0, 0]
        return counts

    def absent(self, source: str) -> str | None:
        """The reason's detail when `source`'s clicks carry an agent, else None."""
        counts = self.counts.get(source)
        if counts is None:
            return None
        carried, missing = counts
        if carried < MIN_CARRIED or missing > MAX_MISSING_SHARE * (carried + missing):
            return None
        return f"no User-Agent, where source {source[:64]!r}'s clicks carry one"
