"""Delivering events to downstream actions, one attempt at a time.

settings.py       `[[actions]]` (http, log) and `[delivery]` config models
body.py           the JSON body: the whole event or a no-code mapping
template.py       body mappings, their paths checked against the event schema
cloud_events.py   `format = "cloudevents"`: CloudEvents 1.0 over HTTP, binary or structured
signing.py        Standard Webhooks headers
policy.py         retry classification and the persisted retry schedule (tenacity)
addresses.py      the SSRF guard's policy: refused address classes, `allow_networks`
resolver.py       host name resolution with a short TTL cache
guard.py          the SSRF guard at connect time: resolve once, check, dial the checked IP
engine.py         httpx's transport interface over aiohttp's engine, lean for deliveries
client.py         the one shared httpx client (httpx's API, aiohttp's engine), made by the
                  app's lifespan, and `send`: a request straight to its transport
sender.py         `Sender.attempt(job) -> AttemptResult`, called by the outbox worker
deadlines.py      each attempt's whole-exchange timeout, all under one loop timer
outflow.py        the worker's attempts in flight: per-destination slots, fair window shares
retry_alarm.py    wakes the delivery loop when a retry it scheduled comes due
"""
