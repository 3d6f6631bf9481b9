"""Bot and security-scanner click assessment: an additive, explainable score with reasons.

Flow: the pipeline calls `Detector.observe` for every stored `email.delivered` and
`email.clicked` event in arrival order (immediate verdict for clicks), then `Detector.settle`
about `settle_seconds` later (settled verdict, with burst and pairing evidence). Evidence
lives in a `BotState` (memory for replays and tests, SQLite in the service). Nothing is ever
dropped: a suspect click is flagged in `bot.*` and rules decide what to do with it.
See bench/bots/README.md for the signals table, bands and measured figures.
"""
