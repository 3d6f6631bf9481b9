"""`/api/v1/links`: create, list, read and edit trigger links, turn them on and off, and
make contacts' tracked URLs.

Mounted by `AdminApi.routes()` behind the same bearer token. Every change goes through the
store in one transaction and drops the link from this process's redirect cache, so the next
click here uses it (other processes within `[trigger_links] cache_seconds`).
`POST /links/{slug}/urls` signs URLs with `[trigger_links] secret` through the code
`connector links url` uses (`connector/links/urls.py`), for apps that send SMS or chat.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector.admin.http import json_response, limit_param, parsed, read_json
from connector.admin.link_models import (
    ContactUrl,
    LinkEdit,
    LinkList,
    LinkOut,
    LinkUrls,
    UrlsRequest,
)
from connector.errors import Conflict, NotFound, Unprocessable
from connector.links.cache import LinkCache
from connector.links.settings import TriggerLinkSettings, TriggerLinksSettings
from connector.links.urls import contact_url
from connector.storage.base import Store, Tx
from connector.storage.link_records import TriggerLink

Handler = Callable[[Request], Awaitable[Response]]


class LinksApi:
    def __init__(
        self,
        store: Store,
        cache: LinkCache | None,
        settings: TriggerLinksSettings | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.settings = settings or TriggerLinksSettings()

    def routes(self, guarded: Callable[[Handler], Handler]) -> list[Route]:
        return [
            Route("/links", guarded(self.create), methods=["POST"]),
            Route("/links", guarded(self.list), methods=["GET"]),
            Route("/links/{slug}", guarded(self.get), methods=["GET"]),
            Route("/links/{slug}", guarded(self.edit), methods=["PATCH"]),
            Route("/links/{slug}/enable", guarded(self.enable), methods=["POST"]),
            Route("/links/{slug}/disable", guarded(self.disable), methods=["POST"]),
            Route("/links/{slug}/urls", guarded(self.urls), methods=["POST"]),
        ]

    async def create(self, request: Request) -> Response:
        body = parsed(TriggerLinkSettings, await read_json(request))
        link = replace(body.to_link(time.time()), origin="api", config_digest="")

        def add(tx: Tx) -> bool:
            if tx.link(link.slug) is not None:
                return False
            tx.save_link(link)
            return True

        if not await self.store.transaction(add):
            raise Conflict(f"a link with slug {link.slug!r} exists", reason="duplicate")
        self._forget(link.slug)
        return json_response(_out(link), 201)

    async def list(self, request: Request) -> Response:
        limit = limit_param(request.query_params.get("limit"), 1000, default=1000)
        after = request.query_params.get("after", "")
        found = await self.store.transaction(lambda tx: tx.links(limit, after), durable=False)
        next_after = found[-1].slug if len(found) == limit else None
        return json_response(LinkList(links=[_out(link) for link in found], next_after=next_after))

    async def get(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        found = await self.store.transaction(lambda tx: tx.link(slug), durable=False)
        if found is None:
            raise NotFound(f"no link {slug!r}")
        return json_response(_out(found))

    async def edit(self, request: Request) -> Response:
        changes = parsed(LinkEdit, await read_json(request)).model_dump(exclude_unset=True)
        return await self._change(request.path_params["slug"], changes)

    async def enable(self, request: Request) -> Response:
        return await self._change(request.path_params["slug"], {"enabled": True})

    async def disable(self, request: Request) -> Response:
        return await self._change(request.path_params["slug"], {"enabled": False})

    async def urls(self, request: Request) -> Response:
        """Tracked URLs of a stored link (config links are stored at start-up)."""
        slug = request.path_params["slug"]
        key = self.settings.key()
        if key is None:
            raise Conflict(
                "set [trigger_links] secret: tokens are signed with it", reason="no_secret"
            )
        body = parsed(UrlsRequest, await read_json(request))
        base = body.base_url or self.settings.base_url
        if not base:
            raise Unprocessable(["base_url: give it or set [trigger_links] base_url"])
        link = await self.store.transaction(lambda tx: tx.link(slug), durable=False)
        if link is None:
            raise NotFound(f"no link {slug!r}")
        urls = [
            ContactUrl(contact=person, url=contact_url(base, slug, key, person, body.query))
            for person in body.people()
        ]
        return json_response(LinkUrls(slug=slug, enabled=link.enabled, urls=urls))

    async def _change(self, slug: str, changes: dict[str, Any]) -> Response:
        """Merge, validate as a whole link, save; raised errors roll the transaction back."""

        def apply(tx: Tx) -> TriggerLink:
            current = tx.link(slug)
            if current is None:
                raise NotFound(f"no link {slug!r}")
            merged = {**_fields(current), **changes}
            checked = parsed(TriggerLinkSettings, merged)
            edited = replace(
                current,
                name=checked.name or slug,
                destination=checked.destination,
                values=dict(checked.values),
                enabled=checked.enabled,
                fallback_url=checked.fallback_url,
                updated_at=time.time(),
            )
            tx.save_link(edited)
            return edited

        edited = await self.store.transaction(apply)
        self._forget(slug)
        return json_response(_out(edited))

    def _forget(self, slug: str) -> None:
        if self.cache is not None:
            self.cache.invalidate(slug)


def _fields(link: TriggerLink) -> dict[str, Any]:
    return {
        "slug": link.slug,
        "name": link.name,
        "destination": link.destination,
        "values": link.values,
        "enabled": link.enabled,
        "fallback_url": link.fallback_url,
    }


def _out(link: TriggerLink) -> LinkOut:
    return LinkOut(
        **_fields(link),
        origin=link.origin,
        created_at=datetime.fromtimestamp(link.created_at, UTC),
        updated_at=datetime.fromtimestamp(link.updated_at, UTC),
    )
