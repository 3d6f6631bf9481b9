"""`/api/v1`: register and cancel checks, register recipients, start waits, read events.

Every route but the OpenAPI document needs `Authorization: Bearer <[admin] token>`; with no
token configured the API is off (404). Bodies are validated by the pydantic models in
`models.py`; every failure is an `ApiError` with its status, answered by `api_error` (the
one mapping for this API), and a request either does all it asks, in one transaction, or
nothing.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import get_args

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from connector.admin.events_api import EventsApi
from connector.admin.http import (
    json_response,
    limit_param,
    parsed,
    read_body,
    refuse_nul_params,
    utc,
)
from connector.admin.links_api import LinksApi
from connector.admin.models import (
    Check,
    CheckList,
    CheckRequest,
    Problem,
    RecipientsRequest,
    Registered,
    SendRef,
    WaitRequest,
)
from connector.admin.openapi import openapi_document
from connector.admin.reports_api import ReportsApi
from connector.errors import (
    ApiError,
    ClientDisconnected,
    Conflict,
    ConnectorError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    StorageUnavailable,
    Unauthorized,
    Unprocessable,
)
from connector.links.cache import LinkCache
from connector.links.settings import TriggerLinksSettings
from connector.rules.model import RuleSettings
from connector.scenarios.engine import ScenarioEngine, new_check
from connector.storage.base import Store, Tx
from connector.storage.scenario_records import SendKey, TimerRow, TimerStatus

Handler = Callable[[Request], Awaitable[Response]]
TIMER_STATUSES: tuple[str, ...] = get_args(TimerStatus)
log = structlog.get_logger("connector.admin")


class AdminApi:
    """The API's state: the token, the store and the configured scenario rules."""

    def __init__(
        self,
        token: str,
        store: Store,
        rules: list[RuleSettings],
        link_cache: LinkCache | None = None,
        trigger_links: TriggerLinksSettings | None = None,
    ) -> None:
        self.token = token.encode()
        self.store = store
        self.engine = ScenarioEngine(rules)
        self.link_cache = link_cache  # the redirect's cache, dropped on link edits
        self.trigger_links = trigger_links  # signs contacts' tracked URLs

    def routes(self) -> list[Route]:
        guarded = self._guarded
        routes = [
            Route("/openapi.json", _openapi, methods=["GET"]),
            Route("/checks", guarded(self.create_check), methods=["POST"]),
            Route("/checks", guarded(self.list_checks), methods=["GET"]),
            Route("/checks/{check_id}", guarded(self.get_check), methods=["GET"]),
            Route("/checks/{check_id}", guarded(self.cancel_check), methods=["DELETE"]),
            Route("/recipients", guarded(self.register_recipients), methods=["POST"]),
            Route("/waits", guarded(self.start_wait), methods=["POST"]),
            *EventsApi(self.store).routes(guarded),
            *LinksApi(self.store, self.link_cache, self.trigger_links).routes(guarded),
            *ReportsApi(self.store).routes(guarded),
        ]
        return [*routes, Route("/{rest:path}", _unmatched(routes), methods=ALL_METHODS)]

    def _guarded(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                self._authorise(request)
                refuse_nul_params(request)
                return await handler(request)
            except (ApiError, PayloadTooLarge, StorageUnavailable) as error:  # 413, 503
                return api_error(error)
            except ClientDisconnected as gone:  # nobody reads the answer: a line, no stack
                log.info("admin.disconnected", path=request.url.path, received=gone.received_bytes)
                return Response(status_code=gone.status_code)
            except Exception as bug:  # a bug: its stack in the log, JSON 500, never a bare one
                log.exception("admin.error", path=request.url.path, error=type(bug).__name__)
                return api_error(InternalError(f"internal error ({type(bug).__name__})"))

        return endpoint

    def _authorise(self, request: Request) -> None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), self.token
        ):
            raise Unauthorized("a valid `Authorization: Bearer <admin token>` header is required")

    # checks -------------------------------------------------------------------------------
    async def create_check(self, request: Request) -> Response:
        body = await read_body(request, CheckRequest)
        rule = self._rule(body.rule, ("clicked_by", "not_clicked"))
        now = time.time()
        due = body.at.timestamp()
        if due <= now:
            raise Unprocessable([f"at: {body.at.isoformat()} is in the past"], reason="past")
        send = _send_key(body.send)
        timer = new_check(rule, send, due, "api", now)

        def create(tx: Tx) -> tuple[TimerRow | None, bool]:
            added = tx.add_timers([timer]) == 1
            return tx.timer(timer.id), added

        row, added = await self.store.transaction(create)
        assert row is not None
        return json_response(_check(row), 201 if added else 200)

    async def list_checks(self, request: Request) -> Response:
        params = request.query_params
        send = None
        if "campaign_id" in params or "message_id" in params:
            send = _send_key(
                parsed(
                    SendRef, {k: params[k] for k in ("campaign_id", "message_id") if k in params}
                )
            )
        status = params.get("status")
        if status is not None and status not in TIMER_STATUSES:
            listed = ", ".join(TIMER_STATUSES)
            raise Unprocessable([f"status: {status!r} is none of {listed}"])

        def read(tx: Tx) -> list[TimerRow] | None:
            if send is not None and not tx.send_known(send):
                return None
            return tx.timers(send=send, status=status, limit=limit_param(params.get("limit"), 1000))

        rows = await self.store.transaction(read, durable=False)
        if rows is None:
            raise NotFound(
                f"unknown send: no recipient, click or check names {send.label() if send else ''}",
                reason="unknown_send",
            )
        return json_response(CheckList(checks=[_check(row) for row in rows]))

    async def get_check(self, request: Request) -> Response:
        check_id = request.path_params["check_id"]
        row = await self.store.transaction(lambda tx: tx.timer(check_id), durable=False)
        if row is None:
            raise NotFound(f"no check {check_id!r}")
        return json_response(_check(row))

    async def cancel_check(self, request: Request) -> Response:
        check_id = request.path_params["check_id"]
        now = time.time()

        def cancel(tx: Tx) -> tuple[int, TimerRow | None]:
            return tx.cancel_timers([check_id], now), tx.timer(check_id)

        changed, row = await self.store.transaction(cancel)
        if row is None:
            raise NotFound(f"no check {check_id!r}")
        if not changed:
            raise Conflict(
                f"check {check_id!r} is {row.status}: only a pending check can be cancelled"
            )
        return json_response(_check(row))

    # recipients and waits -------------------------------------------------------------
    async def register_recipients(self, request: Request) -> Response:
        body = await read_body(request, RecipientsRequest)
        now = time.time()
        at = (body.delivered_at or datetime.fromtimestamp(now, UTC)).isoformat()
        message = {
            "id": body.send.message_id,
            "campaign_id": body.send.campaign_id,
            "subject": body.subject,
        }
        people = [
            {
                "recipient": {"email": person.email, "id": person.id},
                "message": message,
                "metadata": person.metadata,
                "occurred_at": at,
                "source": "api",
            }
            for person in body.recipients
        ]
        started = await self.store.transaction(lambda tx: self.engine.register(tx, people, now))
        return json_response(Registered(registered=len(people), timers_started=started), 201)

    async def start_wait(self, request: Request) -> Response:
        body = await read_body(request, WaitRequest)
        rule = self._rule(body.rule, ("wait",))
        now = time.time()
        started = body.started_at.timestamp() if body.started_at else now
        data = {
            "recipient": {"email": body.recipient.email, "id": body.recipient.id},
            "message": {"id": body.message_id, "campaign_id": body.campaign_id},
            "metadata": body.recipient.metadata,
            "source": "api",
        }

        def start(tx: Tx) -> tuple[TimerRow | None, bool]:
            timer_id, added = self.engine.start_wait(tx, rule, data, started, now)
            return tx.timer(timer_id), added

        row, added = await self.store.transaction(start)
        assert row is not None
        return json_response(_check(row), 201 if added else 200)

    def _rule(self, rule_id: str, triggers: tuple[str, ...]) -> RuleSettings:
        rule = self.engine.rules.get(rule_id)
        if rule is None:
            raise Unprocessable([f"rule: unknown rule {rule_id!r}"], reason="unknown_rule")
        if rule.trigger not in triggers:
            wanted = " or ".join(triggers)
            raise Unprocessable(
                [f"rule: {rule_id!r} has trigger = {rule.trigger!r}; this needs {wanted}"],
                reason="wrong_trigger",
            )
        return rule


def api_error(error: ConnectorError) -> Response:
    problems = list(getattr(error, "problems", []))
    body = Problem(error=error.reason, message=error.message, problems=problems)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized) else None
    return json_response(body, error.status_code, headers)


# What the API's last routes answer (in JSON) whatever the method: unknown paths, API off.
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _unmatched(routes: list[Route]) -> Callable[[Request], Awaitable[Response]]:
    """The last route: a path no route has is a JSON 404, a method the path does not take a
    JSON 405 naming the ones it does (`Allow`), in the API's error body like every other."""

    async def endpoint(request: Request) -> Response:
        allowed = sorted(
            {
                method
                for route in routes
                if route.matches(request.scope)[0] is Match.PARTIAL
                for method in route.methods or ()
            }
        )
        if not allowed:
            return api_error(NotFound("no such path in the admin API", reason="not_found"))
        response = api_error(
            MethodNotAllowed(f"this path takes {', '.join(allowed)}", reason="method")
        )
        response.headers["Allow"] = ", ".join(allowed)
        return response

    return endpoint


async def api_off(request: Request) -> Response:
    return api_error(
        NotFound("the admin API is off: set [admin] token to turn it on", reason="api_off")
    )


async def _openapi(request: Request) -> Response:
    return Response(orjson.dumps(openapi_document()), media_type="application/json")


def _send_key(send: SendRef) -> SendKey:
    if send.campaign_id is not None:
        return SendKey("campaign", send.campaign_id)
    return SendKey("message", send.message_id or "")


def _check(row: TimerRow) -> Check:
    send = None
    if row.send.kind != "all":
        send = SendRef.model_validate({f"{row.send.kind}_id": row.send.id or "-"})
    return Check(
        id=row.id,
        rule=row.rule_id,
        trigger=row.kind,
        send=send,
        recipient=row.recipient,
        due_at=utc(row.due_at),
        status=row.status,
        origin=row.origin,
        created_at=utc(row.created_at),
        fired_at=utc(row.fired_at) if row.fired_at is not None else None,
        emitted=row.emitted,
    )
