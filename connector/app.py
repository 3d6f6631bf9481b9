"""The ASGI application: routes, and a lifespan that owns the store, HTTP client and loops.

Shutdown order matters for "nothing lost": uvicorn stops accepting and finishes in-flight
requests first; then the lifespan stops the background loops (claimed deliveries keep their
rows and are retried after their lease), closes the HTTP client and finally the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from connector.admin.routes import ALL_METHODS, AdminApi, api_off
from connector.certificates import CertificateCache
from connector.delivery.client import make_client
from connector.gc import settle_gc
from connector.links.cache import LinkCache
from connector.links.config import write_config_links
from connector.links.redirect import LinkContext, RedirectEndpoint
from connector.metrics import Metrics
from connector.pipeline.build import build_pipeline
from connector.pipeline.supervisor import WorkerSupervisor
from connector.pipeline.worker import Pipeline
from connector.settings import Settings
from connector.storage.base import Store
from connector.storage.factory import open_store
from connector.ui.routes import ui_mount
from connector.webhooks import WebhookContext, WebhookEndpoint, probe_webhook
from schemas import EVENT_MODELS


@dataclass
class Services:
    settings: Settings
    store: Store
    metrics: Metrics
    pipeline: Pipeline | None = None
    client: httpx.AsyncClient | None = None
    worker: WorkerSupervisor | None = None


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    run_background: bool = True,
    clock: Callable[[], datetime] | None = None,
    certificate_transport: httpx.AsyncBaseTransport | None = None,
    worker: WorkerSupervisor | None = None,
) -> Starlette:
    """Build the app.

    `run_background=False` serves webhooks without the background loops (a worker process
    runs them: `worker` starts and supervises one; its metrics reach `/metrics` through
    prometheus-client's multiprocess mode); `clock` and `certificate_transport` let tests
    pin the time and keep certificate fetches off the network.
    """
    services = Services(
        settings=settings,
        store=store or open_store(settings),
        metrics=Metrics(),
        worker=worker,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await services.store.open()
        await write_config_links(services.store, settings.links, (clock or _utcnow)().timestamp())
        client = make_client(settings.delivery)
        services.client = client
        cert_client = (
            client
            if certificate_transport is None
            else httpx.AsyncClient(transport=certificate_transport)
        )
        certificates = CertificateCache.for_sources(
            cert_client, [s.to_source() for s in settings.sources]
        )
        pipeline = (
            build_pipeline(settings, services.store, services.metrics, client)
            if run_background
            else None
        )
        services.pipeline = pipeline
        app.state.webhooks = webhook_endpoint.context = WebhookContext(
            server=settings.server,
            sources={s.id: (s, s.to_source()) for s in settings.sources},
            store=services.store,
            metrics=services.metrics,
            certificates=certificates,
            wake=_waker(pipeline, worker),
            clock=clock or _utcnow,
            ignore_params=settings.canonical.ignored,
        )
        app.state.links = redirect_endpoint.context = LinkContext(
            store=services.store,
            cache=link_cache,
            wake=app.state.webhooks.wake,
            clock=clock or _utcnow,
            secret=settings.trigger_links.key(),
            trusted_proxies=settings.server.trusted_proxies,
            metrics=services.metrics,
            ignore_params=settings.canonical.ignored,
        )
        settle_gc()
        if pipeline is not None:
            pipeline.start()
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            if pipeline is not None:
                await pipeline.stop()
            await client.aclose()
            if cert_client is not client:
                await cert_client.aclose()
            await services.store.close()

    webhook_endpoint = WebhookEndpoint()  # holds the context: no `app.state` lookup per call
    redirect_endpoint = RedirectEndpoint()  # GET /t/{slug}: trigger links
    link_cache = LinkCache(settings.trigger_links.cache_seconds)
    routes: list[BaseRoute] = [
        *_routes(webhook_endpoint),
        Route("/t/{slug}", redirect_endpoint, methods=["GET", "HEAD"]),
        _admin_mount(settings, services.store, link_cache),
    ]
    routes.append(ui_mount(settings, services.store))  # /ui: the dashboard
    app = ConnectorApp(webhook_endpoint, redirect_endpoint, routes=routes, lifespan=lifespan)
    app.state.services = services
    return app


def serve_app(settings: Settings, config_path: Path) -> Starlette:
    """The app as `connector serve` (and `connector.asgi:app`) runs it: the background work
    where `[worker] mode` says, a supervised worker process by default."""
    mode = settings.worker.mode
    worker = WorkerSupervisor(config_path, settings.worker.nice) if mode == "process" else None
    return create_app(settings, run_background=mode == "inline", worker=worker)


class ConnectorApp(Starlette):
    """Starlette, but `POST /webhooks/{source_id}` goes straight to its endpoint.

    The hot route skips the middleware and router layers (error middleware, exception
    middleware, route matching, two wrapped `send`s): it answers every error itself, and
    anything it does not match (other methods, nested paths) takes the normal way.
    """

    def __init__(
        self,
        webhook_endpoint: WebhookEndpoint,
        redirect_endpoint: RedirectEndpoint | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._webhook_endpoint = webhook_endpoint
        self._redirect_endpoint = redirect_endpoint  # GET|HEAD /t/{slug} the same way

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            source_id = _webhook_source(scope)
            if source_id is not None:
                scope["app"] = self
                scope["path_params"] = {"source_id": source_id}
                await self._webhook_endpoint(scope, receive, send)
                return
        elif scope["type"] == "http" and scope["method"] in _REDIRECT_METHODS:
            slug = _link_slug(scope)
            if slug is not None and self._redirect_endpoint is not None:
                scope["app"] = self
                scope["path_params"] = {"slug": slug}
                await self._redirect_endpoint(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


_REDIRECT_METHODS = frozenset({"GET", "HEAD"})


def _link_slug(scope: Scope) -> str | None:
    """`slug` of a `/t/{slug}` path (below any root path), else None."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    if not path.startswith("/t/"):
        return None
    slug = path[3:].removesuffix("/")  # "/t/spring/": the link's own 302, not a 307 hop
    return slug if slug and "/" not in slug else None


def _webhook_source(scope: Scope) -> str | None:
    """`source_id` of a `/webhooks/{source_id}` path (below any root path), else None."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    if not path.startswith("/webhooks/"):
        return None
    source_id = path[len("/webhooks/") :]
    return source_id if source_id and "/" not in source_id else None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _waker(pipeline: Pipeline | None, worker: WorkerSupervisor | None) -> Callable[[], None]:
    """Who hears of new events: our own loops (inline), our worker process, or nobody (an
    external worker polls the inbox)."""
    if pipeline is not None:
        return pipeline.wake
    if worker is not None:
        return worker.wake
    return _nobody_to_wake


def _nobody_to_wake() -> None:
    """An external worker polls the inbox; nothing in this process needs waking."""


def _admin_mount(settings: Settings, store: Store, link_cache: LinkCache) -> Mount:
    """`/api/v1`: the admin API when a token is set, else a JSON 404 saying it is off."""
    token = settings.admin.token
    if token is None:
        return Mount("/api/v1", routes=[Route("/{rest:path}", api_off, methods=ALL_METHODS)])
    api = AdminApi(
        token.get_secret_value(), store, settings.rules, link_cache, settings.trigger_links
    )
    return Mount("/api/v1", routes=api.routes())


def _routes(webhook_endpoint: WebhookEndpoint) -> list[Route]:
    return [
        Route("/webhooks/{source_id}", webhook_endpoint, methods=["POST"]),
        Route("/webhooks/{source_id}", probe_webhook, methods=["GET", "HEAD"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/schemas/{event_type}.json", schema, methods=["GET"]),
    ]


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True, "time": datetime.now(UTC).isoformat()})


async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services
    database = await services.store.ping()
    body: dict[str, bool] = {"ok": database, "database": database}
    if services.worker is not None:
        body["worker"] = services.worker.alive  # informative: events wait safely in the inbox
    return JSONResponse(body, status_code=200 if database else 503)


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    return Response(services.metrics.render(), media_type="text/plain; version=0.0.4")


async def schema(request: Request) -> Response:
    model = EVENT_MODELS.get(request.path_params["event_type"])
    if model is None:
        return JSONResponse({"ok": False, "error": "unknown_event_type"}, status_code=404)
    return JSONResponse(model.model_json_schema())
