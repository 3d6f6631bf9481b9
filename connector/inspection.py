"""Replay one captured request through the service's own steps; nothing is stored or sent.

`connector inspect` uses this to answer "why did my webhook get a 401?": the same source
lookup, provider `verify` and `pipeline.ingest.normalise` the service runs, judged at the
capture's `received_at` so an old capture replays as it was judged. Routing uses the real
rules on the immediate bot verdict from a fresh in-memory state. The report is a plain
JSON-shaped dict; the CLI renders it. A capture is the document connector/capture.py writes:
`{"source", "method", "path", "headers", "body", "received_at", "client_ip"}`, the body the
exact string received (`body_base64` may hold bytes that are not UTF-8).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from connector.bots.detector import Detector
from connector.bots.state import MemoryState
from connector.capture import REDACTED
from connector.errors import (
    ConfigError,
    ConnectorError,
    MethodNotAllowed,
    PayloadTooLarge,
    UnknownSource,
)
from connector.pipeline.ingest import normalise
from connector.rules.engine import RuleSet
from connector.settings import Settings
from connector.webhooks import status_for
from providers.base import ParseResult, Provider, Source, Verified, WebhookRequest
from providers.registry import PROVIDERS
from schemas import EmailClicked

STATE_NOTE = (
    "bot verdicts are the immediate ones from a fresh in-memory state holding only this "
    "request's events: state from the live database (earlier deliveries and clicks) is not used, "
    "duplicates are not checked, and wait_for_settled rules run later on the settled verdict"
)


@dataclass(frozen=True, slots=True)
class Capture:
    request: WebhookRequest
    redacted: tuple[str, ...]  # what the capture replaced by "[redacted]"
    notes: tuple[str, ...]


def load_capture(data: Any, now: datetime | None = None) -> Capture:
    """A `WebhookRequest` from a capture document; `ConfigError` naming each bad key."""
    if not isinstance(data, dict):
        raise ConfigError(["capture: expected a JSON object"])
    problems: list[str] = []
    source = data.get("source")
    if not isinstance(source, str) or not source:
        problems.append("capture.source: must be the source id")
    headers = data.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        problems.append("capture.headers: must map header names to strings")
    body = _body(data, problems)
    received_at, notes = _received_at(data.get("received_at"), now, problems)
    method, url, client_ip = data.get("method", "POST"), data.get("path"), data.get("client_ip")
    if not isinstance(method, str) or not (url is None or isinstance(url, str)):
        problems.append("capture.method/path: must be strings")
    if client_ip is not None and not isinstance(client_ip, str):
        problems.append("capture.client_ip: must be a string or null")
    if problems:
        raise ConfigError(problems)
    lowered = {str(name).lower(): value for name, value in headers.items()}
    redacted = tuple(sorted(name for name, value in lowered.items() if value == REDACTED))
    url = url or f"/webhooks/{source}"
    if REDACTED in url:
        redacted += ("userinfo in the URL",)
    if "\ufffd" in str(data.get("body", "")):
        notes.append(
            "the body holds U+FFFD replacement characters: the bytes received were probably not "
            "UTF-8, so a signature over them cannot be checked again (use body_base64)"
        )
    request = WebhookRequest(
        str(source), str(method).upper(), url, lowered, body, client_ip, received_at
    )
    return Capture(request, redacted, tuple(notes))


def _body(data: dict[str, Any], problems: list[str]) -> bytes:
    if isinstance(data.get("body_base64"), str):
        try:
            return base64.b64decode(data["body_base64"], validate=True)
        except (binascii.Error, ValueError):
            problems.append("capture.body_base64: not base64")
            return b""
    if isinstance(data.get("body"), str):
        return str(data["body"]).encode("utf-8", errors="surrogatepass")
    problems.append("capture.body: must be the body as the exact string received")
    return b""


def _received_at(
    value: Any, now: datetime | None, problems: list[str]
) -> tuple[datetime, list[str]]:
    if value is None:
        moment = now or datetime.now(UTC)
        return moment, [f"no received_at in the capture: judged at {moment.isoformat()}"]
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        problems.append("capture.received_at: must be an ISO-8601 time")
        return datetime.now(UTC), []
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC), []


def inspect_capture(settings: Settings, capture: Capture) -> dict[str, Any]:
    """Every step the service would take for `capture`, and the answer it would give."""
    request = capture.request
    report: dict[str, Any] = {
        "request": {
            "source": request.source_id,
            "method": request.method,
            "url": request.url,
            "body_bytes": len(request.body),
            "received_at": request.received_at.isoformat(),
            "client_ip": request.client_ip,
        },
        "notes": list(capture.notes),
        "outcome": None,
        "source": None,
        "verification": None,
        "normalisation": None,
        "routing": None,
    }
    configured = settings.source(request.source_id)
    if request.method in ("GET", "HEAD") and configured is not None:
        message = "a GET/HEAD is answered by the URL probe (200); nothing is ingested"
        return _outcome(report, False, 200, "probe", message)
    if request.method not in ("POST", "GET", "HEAD"):
        return _refused(report, MethodNotAllowed(f"{request.method} is not a webhook delivery"))
    if configured is None:
        return _refused(report, UnknownSource(f"no source {request.source_id!r} in the config"))
    provider = PROVIDERS[configured.provider]
    report["source"] = {"id": configured.id, "provider": provider.name, "title": provider.title}
    if len(request.body) > settings.server.max_body_bytes:
        limit = settings.server.max_body_bytes
        return _refused(report, PayloadTooLarge(f"body exceeds {limit} bytes"), provider)
    source, hints = _with_certificates(provider, request, configured.to_source())
    verified = _verify(report, provider, request, source, capture, hints)
    if verified is None:
        return report
    try:
        result = normalise(provider, request, source)
    except ConnectorError as error:
        report["normalisation"] = {"ok": False, "error": error.message}
        return _refused(report, error, provider)
    report["normalisation"] = _normalised(result)
    report["routing"] = _route(settings, result)
    counts = (len(result.events), len(result.ignored), len(result.rejected))
    message = "{} event(s), {} ignored, {} rejected".format(*counts)
    return _outcome(report, True, 200, None, message)


def _crash(step: str, error: Exception) -> ConnectorError:
    """What the service answers when a provider has a bug: 500, so the sender retries."""
    return ConnectorError(f"internal error in {step}: {type(error).__name__}")


def _refused(
    report: dict[str, Any], error: ConnectorError, provider: Provider | None = None
) -> dict[str, Any]:
    """The answer the service gives for `error`, with the provider's status overrides."""
    return _outcome(report, False, status_for(provider, error), error.reason, error.message)


def _outcome(
    report: dict[str, Any], accepted: bool, status: int, reason: str | None, message: str
) -> dict[str, Any]:
    report["outcome"] = {
        "accepted": accepted,
        "status": status,
        "reason": reason,
        "message": message,
    }
    return report


def _verify(
    report: dict[str, Any],
    provider: Provider,
    request: WebhookRequest,
    source: Source,
    capture: Capture,
    hints: list[str],
) -> Verified | None:
    try:
        verified = provider.verify(request, source)
    except Exception as caught:  # a provider bug: the service would answer 500
        error = caught if isinstance(caught, ConnectorError) else _crash("verify", caught)
        if capture.redacted and error.status_code == 401:
            hints.append(
                f"this capture was redacted ({', '.join(capture.redacted)} saved as "
                f"{REDACTED!r}), so the credential the sender used cannot be checked again; "
                "put the real value back into the capture to replay it"
            )
        if error.reason == "stale":
            hints.append("judged at the capture's received_at, as the service did")
        report["verification"] = {"ok": False, "error": error.message, "hints": hints}
        _refused(report, error, provider)
        return None
    report["verification"] = {"ok": True, "credential": verified.credential, "hints": hints}
    return verified


def _with_certificates(
    provider: Provider, request: WebhookRequest, source: Source
) -> tuple[Source, list[str]]:
    """Certificates from the config only (`options.certificates` / `certificate_files`).

    The service fetches a missing SNS certificate once; inspect never touches the network.
    """
    try:
        url = provider.certificate_url(request)
    except ConnectorError:
        return source, []  # verify reports the bad URL itself
    if url is None:
        return source, []
    preloaded = dict(source.options.get("certificates", {}))
    wanted = PurePosixPath(urlsplit(url).path).name
    for path in map(Path, source.options.get("certificate_files", [])):
        if path.name == wanted:
            try:
                preloaded[url] = path.read_text(encoding="ascii", errors="replace")
            except OSError as error:
                return source, [f"cannot read certificate file {path}: {error.strerror}"]
    if url in preloaded:
        return replace(source, options={**source.options, "certificates": preloaded}), []
    hint = (
        f"signing certificate {url} is not pre-loaded in the config (options.certificate_files"
        " or options.certificates); inspect never fetches from the network, the service would"
    )
    return source, [hint]


def _normalised(result: ParseResult) -> dict[str, Any]:
    return {
        "ok": True,
        "events": [parsed.event.model_dump(mode="json") for parsed in result.events],
        "ignored": list(result.ignored),
        "rejected": [{"index": r.index, "reason": r.reason} for r in result.rejected],
    }


def _route(settings: Settings, result: ParseResult) -> dict[str, Any]:
    """The processor's immediate pass: observe for the bot verdict, then decide."""
    rules = RuleSet.from_settings(settings.rules)
    detector = Detector.from_settings(settings.bots) if settings.bots.enabled else None
    state = MemoryState(settings.bots.state_ttl_seconds)
    routed = []
    for parsed in result.events:
        event = parsed.event.model_copy(deep=True)
        if detector is not None:
            verdict = detector.observe(event, state)
            if isinstance(event, EmailClicked) and verdict is not None:
                event.bot = verdict
        data = event.model_dump(mode="json")
        decision = rules.decide(data)
        routed.append(
            {
                "id": event.id,
                "type": event.type,
                "bot": data.get("bot"),
                "decision": decision.as_dict(),
                "deliver_to": [target.action for target in decision.actions()],
            }
        )
    bots = "on" if detector is not None else "off ([bots] enabled = false)"
    return {"note": STATE_NOTE, "bots": bots, "rules": rules.ids, "events": routed}
