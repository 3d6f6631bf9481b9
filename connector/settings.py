"""The one typed settings object, loaded from a TOML file and validated before anything starts.

`${VAR}` (or `${VAR:-default}`) anywhere in a string value is replaced from the environment,
so secrets stay out of the file. Loading fails closed, with every problem named by its key:
an unknown provider, a source without its secret, a rule naming an unknown action, a
duplicate id.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connector.bots.settings import BotSettings
from connector.delivery.settings import Action, DeliverySettings
from connector.links.settings import TriggerLinkSettings, TriggerLinksSettings
from connector.rules.model import RuleSettings
from providers.base import Source
from providers.registry import PROVIDERS


class _Section(BaseModel):
    # hide_input_in_errors: pydantic takes it from the outermost model, and rejected values
    # may be secrets (header values, keys), so no error may echo them.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class ServerSettings(_Section):
    host: str = Field("127.0.0.1", description="Address to listen on; 0.0.0.0 inside a container.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port.")
    max_body_bytes: int = Field(1024 * 1024, gt=0, description="Larger bodies get 413.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Proxies whose X-Forwarded-For is believed when finding the client IP.",
    )
    capture_rejected_dir: str | None = Field(
        None, description="Debug switch: save rejected requests here (secrets redacted)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level written to the JSON log on stderr."
    )


class StorageSettings(_Section):
    url: str = Field(
        "sqlite:///data/connector.db",
        description=(
            "sqlite:///relative/path or sqlite:////absolute/path (one file, no server), or"
            " postgresql://user:${PGPASSWORD}@host:5432/db (several replicas)"
        ),
    )
    synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL",
        description=(
            "SQLite only: FULL fsyncs every group commit; NORMAL trades power-loss safety"
            " for speed."
        ),
    )
    retention_days: int = Field(
        30, ge=8, description="Events (and so dedup ids) are kept this long; at least 8 days."
    )
    pool_size: int = Field(8, ge=2, le=100, description="PostgreSQL connections per process.")

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if value.startswith("sqlite:///") and value != "sqlite:///":
            return value
        if value.startswith(("postgresql://", "postgres://")):
            return value
        raise ValueError("must be sqlite:///PATH or postgresql://user:password@host:port/db")

    @property
    def backend(self) -> Literal["sqlite", "postgresql"]:
        return "sqlite" if self.url.startswith("sqlite:") else "postgresql"

    @property
    def sqlite_path(self) -> Path:
        return Path(self.url.removeprefix("sqlite:///"))

    def anchor(self, folder: Path) -> None:
        """Resolve a relative SQLite path against `folder` (the config file's)."""
        if self.backend == "sqlite" and not self.sqlite_path.is_absolute():
            self.url = f"sqlite:///{(folder / self.sqlite_path).resolve()}"

    @property
    def redacted_url(self) -> str:
        """The URL without its password, for banners and logs."""
        return re.sub(r"(://[^:/@]+):.*@", r"\1:***@", self.url)


class WorkerSettings(_Section):
    """Where routing, bot scoring and delivery run, relative to the web server."""

    mode: Literal["inline", "process", "external"] = Field(
        "process",
        description=(
            "process (default): `connector serve` also starts and supervises a worker"
            " process that routes, scores and delivers, so acknowledging webhooks never"
            " waits behind that work (and it gets a core of its own where there is one);"
            " inline: the loops run in the web process (one process, one core); external:"
            " run `connector worker` yourself (same database)."
        ),
    )
    nice: int = Field(
        10,
        ge=0,
        le=19,
        description="CPU priority of a worker process: under load, acknowledging comes first.",
    )
    poll_seconds: float = Field(
        0.05, gt=0, le=10, description="How often a worker process looks for new events."
    )
    delivery_lease_seconds: float | None = Field(
        None,
        gt=0,
        description=(
            "How long a claimed delivery is held before another worker may try it again (a"
            " worker that died mid-attempt leaves it leased). Default: long enough for all"
            " that may be claimed before it, ceil(2 x batch_size / min(concurrency,"
            " destination_concurrency)) x the longest action timeout + 60 s."
        ),
    )


class CanonicalSettings(_Section):
    """How clicked links are compared (`link.canonical`, rules' `links`, reports)."""

    ignore_params: list[str] = Field(
        default_factory=list,
        description=(
            "Query parameters that never change the page, removed from `link.canonical` on"
            " top of utm_* and the ESPs' and ad platforms' click ids (case-insensitive)."
        ),
    )

    @field_validator("ignore_params")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name.strip() or any(c in name for c in "&=#?"):
                raise ValueError(f"{name!r} is not a query parameter name")
        return [name.strip().lower() for name in value]

    @property
    def ignored(self) -> frozenset[str]:
        return frozenset(self.ignore_params)


class AdminSettings(_Section):
    """The admin API (`/api/v1`): off unless a token is set."""

    token: SecretStr | None = Field(
        None,
        description=(
            "Bearer token for /api/v1 (use `${ADMIN_TOKEN}`); no token, no API."
            " At least 16 characters."
        ),
    )

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None  # `${ADMIN_TOKEN:-}`: the API stays off
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("the admin token needs at least 16 characters")
        return value


class SourceSettings(_Section):
    id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="The source's name; its URL is /webhooks/<id>.",
    )
    provider: str = Field(
        description="Which ESP adapter parses it (see the README's provider table)."
    )
    signing_keys: list[SecretStr] = Field(
        default_factory=list, description="Shared HMAC secrets (rotate by listing old and new)."
    )
    public_keys: list[str] = Field(
        default_factory=list,
        description="Public keys (base64 DER or PEM) for ESPs that sign with a key pair.",
    )
    basic_auth: list[SecretStr] = Field(
        default_factory=list, description='"user:password" pairs the ESP sends.'
    )
    bearer_tokens: list[SecretStr] = Field(
        default_factory=list,
        description="Tokens sent as Authorization: Bearer (or a named header).",
    )
    allowed_ips: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDR networks allowed to post; others get 403.",
    )
    topic_arns: list[str] = Field(
        default_factory=list, description="Amazon SES: the SNS topics allowed to post."
    )
    timestamp_tolerance: int | None = Field(
        None, gt=0, description="Replay window in seconds (each provider has a default)."
    )
    url: str | None = Field(
        None, description="The exact URL registered with the ESP (Mandrill signs it)."
    )
    insecure: bool = Field(False, description='Generic adapter: allow auth type "none".')
    options: dict[str, Any] = Field(
        default_factory=dict, description="Provider-specific settings ([sources.options])."
    )

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if value not in PROVIDERS:
            raise ValueError(f"unknown provider {value!r}; known: {', '.join(sorted(PROVIDERS))}")
        return value

    @field_validator("allowed_ips")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value

    def to_source(self) -> Source:
        """The plain, secret-revealing view handed to the provider adapter."""

        def reveal(items: list[SecretStr]) -> tuple[str, ...]:
            return tuple(item.get_secret_value() for item in items)

        return Source(
            id=self.id,
            provider=self.provider,
            signing_keys=reveal(self.signing_keys),
            public_keys=tuple(self.public_keys),
            basic_auth=reveal(self.basic_auth),
            bearer_tokens=reveal(self.bearer_tokens),
            allowed_ips=tuple(self.allowed_ips),
            topic_arns=tuple(self.topic_arns),
            timestamp_tolerance=self.timestamp_tolerance,
            url=self.url,
            insecure=self.insecure,
            options=dict(self.options),
        )


class Settings(_Section):
    server: ServerSettings = Field(default_factory=ServerSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    bots: BotSettings = Field(default_factory=BotSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    canonical: CanonicalSettings = Field(default_factory=CanonicalSettings)
    sources: list[SourceSettings] = Field(default_factory=list)
    rules: list[RuleSettings] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    trigger_links: TriggerLinksSettings = Field(default_factory=TriggerLinksSettings)
    links: list[TriggerLinkSettings] = Field(default_factory=list)

    def source(self, source_id: str) -> SourceSettings | None:
        return next((source for source in self.sources if source.id == source_id), None)

    def problems(self) -> list[str]:
        """Cross-section checks that a single field validator cannot see."""
        found = _duplicates("sources", [s.id for s in self.sources])
        found += _duplicates("rules", [r.id for r in self.rules])
        found += _duplicates("actions", [a.id for a in self.actions])
        found += _duplicates("links", [link.slug for link in self.links])
        for index, source in enumerate(self.sources):
            provider = PROVIDERS[source.provider]
            for problem in provider.check_source(source.to_source()):
                found.append(f"sources[{index}] ({source.id}).{problem}")
        action_ids = {action.id for action in self.actions}
        for index, rule in enumerate(self.rules):
            for key in ("actions", "on_click", "on_timeout"):
                for action in getattr(rule, key):
                    if action not in action_ids:
                        found.append(f"rules[{index}] ({rule.id}).{key}: unknown action {action!r}")
        return found + _group_problems(self.rules)

    def warnings(self) -> list[str]:
        """What is valid but cannot work as written: `check-config` prints it, `serve` runs."""
        if self.trigger_links.secret is not None:
            return []
        return [
            f"links[{index}] ({link.slug}).destination: {{contact}} is never filled without"
            " [trigger_links] secret (no contact token can be made or verified), so every"
            " click goes to the base destination"
            for index, link in enumerate(self.links)
            if "{contact}" in link.destination
        ]

    def stale_checks(self, now: datetime) -> list[str]:
        """Config checks whose time has passed: `check-config` reports them, while `serve`
        still starts (a check that already fired keeps its record and never fires again)."""
        return [
            f"rules[{index}] ({rule.id}).at: {rule.at.isoformat()} is in the past"
            " (a check fires once; move it or remove the rule)"
            for index, rule in enumerate(self.rules)
            if rule.at is not None and rule.at < now
        ]


def _group_problems(rules: list[RuleSettings]) -> list[str]:
    """A group of one rule is almost always a misspelt group name."""
    members: dict[str, list[str]] = {}
    for rule in rules:
        if rule.group is not None:
            members.setdefault(rule.group, []).append(rule.id)
    return [
        f"rules ({ids[0]}).group: unknown group {group!r}: no other rule is in it"
        " (first response needs two or more rules; check the spelling)"
        for group, ids in members.items()
        if len(ids) == 1
    ]


def _duplicates(section: str, ids: list[str]) -> list[str]:
    counts = Counter(ids)
    return [f"{section}: duplicate id {item!r}" for item, n in sorted(counts.items()) if n > 1]


def link_context(data: Any) -> dict[str, frozenset[str]]:
    """`[canonical] ignore_params` for the rules' link patterns, which are canonicalised with it
    (a malformed list is reported by its own validator; patterns then use the default)."""
    section = data.get("canonical") if isinstance(data, dict) else None
    names = section.get("ignore_params") if isinstance(section, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return {}
    return {"ignore_params": frozenset(n.strip().lower() for n in names)}


def describe_problem(problem: Any) -> str:
    where = ""
    for part in problem["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    message = str(problem["msg"]).removeprefix("Value error, ")
    return f"{where or 'config'}: {message}"
