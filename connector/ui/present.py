"""What the templates show: times, verdicts and rule decisions in a few words each."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jinja2
import orjson


@dataclass(frozen=True, slots=True)
class EventRow:
    """One line of the events page, from a stored event as `event_page` returns it."""

    seq: int
    id: str
    type: str
    source: str
    received_at: str
    contact: str
    url: str
    verdict: str
    suspected: bool | None
    reasons: list[str]
    matched: list[str]
    unmatched: list[str]
    failed: list[str]  # the processor's error for a phase it could not finish (a poison event)
    processed: bool


def event_row(stored: dict[str, Any]) -> EventRow:
    event = stored["event"] if isinstance(stored["event"], dict) else {}
    bot = event.get("bot") if isinstance(event.get("bot"), dict) else None
    matched, unmatched, failed = decision_summary(stored.get("decision"))
    return EventRow(
        seq=stored["seq"],
        id=str(event.get("id", "")),
        type=str(event.get("type", "")),
        source=str(event.get("source", "")),
        received_at=when(event.get("received_at")),
        contact=_contact(event.get("recipient")),
        url=str((event.get("link") or {}).get("url") or ""),
        verdict=verdict(bot),
        suspected=None if bot is None else bool(bot.get("suspected")),
        reasons=[str(r.get("code")) for r in (bot or {}).get("reasons", [])],
        matched=matched,
        unmatched=unmatched,
        failed=failed,
        processed=bool(stored.get("processed")),
    )


def verdict(bot: dict[str, Any] | None) -> str:
    if bot is None:
        return "not scored"
    label = "suspected bot" if bot.get("suspected") else "human"
    score, band, phase = bot.get("score", 0), bot.get("band", "?"), bot.get("phase", "?")
    return f"{label} · score {score} ({band}, {phase})"


def decision_summary(decision: Any) -> tuple[list[str], list[str], list[str]]:
    """Matched rules with their actions, unmatched rules with the reason, and the error of a
    phase the processor gave up on (the event then went nowhere: it must not look routed)."""
    matched: list[str] = []
    unmatched: list[str] = []
    failed: list[str] = []
    for phase, part in (decision or {}).items() if isinstance(decision, dict) else ():
        if not isinstance(part, dict):
            continue
        suffix = " (settled)" if phase == "settled" else ""
        if part.get("error"):
            failed.append(f"not routed{suffix}: {part['error']}")
        for m in part.get("matched", []):
            matched.append(f"{m.get('rule')} → {', '.join(m.get('actions', []))}{suffix}")
        for u in part.get("unmatched", []):
            unmatched.append(f"{u.get('rule')}: {u.get('reason')}{suffix}")
    return matched, unmatched, failed


def _contact(recipient: Any) -> str:
    if not isinstance(recipient, dict):
        return ""
    return str(recipient.get("email") or recipient.get("id") or "")


def when(value: Any) -> str:
    """Unix seconds or an ISO string as `YYYY-MM-DD HH:MM:SS` UTC; '' for nothing."""
    if value is None or value == "":
        return ""
    try:
        moment = (
            datetime.fromtimestamp(float(value), UTC)
            if isinstance(value, int | float)
            else datetime.fromisoformat(str(value)).astimezone(UTC)
        )
    except (ValueError, OverflowError, OSError):
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def plural(count: int, noun: str) -> str:
    """The noun for `count` of it: "1 click", "2 clicks" (the number is the caller's)."""
    return noun if count == 1 else f"{noun}s"


def pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def shown(value: Any) -> Any:
    """Text with its invisible characters as escapes (`\\u202e`), everything else as is.

    Recipients, URLs and ESP ids come from outside: a right-to-left override made
    `\\u202egro.elpmaxe@evil` read `live@example.org`, a zero-width space made two contacts
    look alike. Format and control characters are shown, as `connector report` does; line
    breaks and tabs stay (the event's JSON keeps its lines)."""
    if not isinstance(value, str) or value.isprintable():
        return value
    escaped = "".join(
        ascii(char)[1:-1]
        if char not in "\t\n\r" and unicodedata.category(char) in ("Cc", "Cf")
        else char
        for char in value
    )
    return value if escaped == value else type(value)(escaped)  # Markup stays Markup


def install_filters(env: jinja2.Environment) -> None:
    """The filters the templates use, and `shown` on every value a page prints."""
    env.filters["when"] = when
    env.filters["pretty"] = pretty
    env.filters["plural"] = plural
    env.finalize = shown
