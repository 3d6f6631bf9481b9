"""Delivering events to downstream actions, one attempt at a time.

settings.py  `[[actions]]` (http, log) and `[delivery]` config models
body.py      the JSON body: the whole event or a no-code mapping
signing.py   Standard Webhooks headers
policy.py    retry classification and the persisted retry schedule (tenacity)
client.py    the one shared httpx client, made by the app's lifespan
sender.py    `Sender.attempt(job) -> AttemptResult`, called by the outbox worker
"""
