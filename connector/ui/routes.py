"""`/ui`: the login flow, the session guard and the mount that holds the pages.

With no `[admin] token` the dashboard is off: every `/ui` path answers 404. Otherwise a page
or a form without a valid session (expired, signed out) redirects to the login form, doing
nothing, and every POST that changes something must carry the session's CSRF token (a
missing or forged one is 403). Responses carry a
strict Content-Security-Policy (no scripts at all), `X-Frame-Options: DENY` and
`Cache-Control: no-store`; the password and cookies are never logged or rendered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import structlog
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from connector.errors import StorageUnavailable
from connector.settings import Settings
from connector.storage.base import Store
from connector.ui.forms import form
from connector.ui.present import install_filters
from connector.ui.reports import ReportPages
from connector.ui.session import Session, Sessions
from connector.ui.views import Pages

_HERE = Path(__file__).parent
log = structlog.get_logger("connector.ui")
Page = Callable[[Request, Session], Awaitable[Response]]
_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def ui_mount(settings: Settings, store: Store) -> Mount:
    """`/ui`: the dashboard when an admin token is set, else 404 everywhere."""
    token = settings.admin.token
    if token is None:
        return Mount("/ui", routes=[Route("/{rest:path}", _off, methods=["GET", "POST"])])
    return Mount("/ui", routes=Dashboard(token.get_secret_value(), settings, store).routes())


async def _off(request: Request) -> Response:
    return PlainTextResponse("the dashboard is off: set [admin] token", status_code=404)


class Dashboard:
    def __init__(self, token: str, settings: Settings, store: Store) -> None:
        self.sessions = Sessions(token)
        self.templates = Jinja2Templates(directory=_HERE / "templates")
        install_filters(self.templates.env)
        self.pages = Pages(settings, store, self.render)
        self.reports = ReportPages(store, self.render)

    def routes(self) -> list[BaseRoute]:
        page, action, p = self._page, self._action, self.pages
        return [
            Route("/", page(p.home), methods=["GET"]),
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", action(self.logout), methods=["POST"]),
            Route("/events", page(p.events), methods=["GET"]),
            Route("/events/{event_id}", page(p.event), methods=["GET"]),
            Route("/deliveries", page(p.deliveries), methods=["GET"]),
            Route("/deliveries/replay", action(p.replay), methods=["POST"]),
            Route("/sources", page(p.sources), methods=["GET"]),
            Route("/scenarios", page(p.scenarios), methods=["GET"]),
            Route("/reports", page(self.reports.index), methods=["GET"]),
            Route("/report", page(self.reports.report), methods=["GET"]),
            Route("/report.csv", page(self.reports.contacts_csv), methods=["GET"]),
            Mount("/static", app=StaticFiles(directory=_HERE / "static"), name="static"),
        ]

    def render(
        self, request: Request, session: Session | None, name: str, context: Mapping[str, object]
    ) -> Response:
        csrf = self.sessions.csrf_token(session) if session else ""
        response = self.templates.TemplateResponse(
            request, name, {**context, "csrf": csrf, "signed_in": session is not None}
        )
        response.headers.update(_HEADERS)
        return response

    def _page(self, handler: Page) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if _holds_nul(request):
                return _bad_request("a NUL character in the address")
            session = self.sessions.read(request)
            if session is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return _redirect(f"/ui/login?next={quote(target, safe='')}")
            return await _answered(handler, request, session)

        return endpoint

    def _action(self, handler: Page) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session = self.sessions.read(request)
            if session is None:  # expired (8 h) or signed out in another tab: sign in again
                back = _safe_next(request, request.url.path.rsplit("/", 1)[0])
                return _redirect(f"/ui/login?next={quote(back, safe='')}")
            fields = await form(request)
            if not self.sessions.csrf_ok(session, fields.get("csrf", "")):
                return _forbidden("missing or invalid CSRF token")
            if any("\x00" in name + value for name, value in fields.items()):
                return _bad_request("a NUL character in the form")
            return await _answered(handler, request, session)

        return endpoint

    async def login_form(self, request: Request) -> Response:
        return self.render(request, None, "login.html", {"next": _safe_next(request), "error": ""})

    async def login(self, request: Request) -> Response:
        fields = await form(request)
        target = _safe_next(request, fields.get("next"))
        if not self.sessions.password_ok(fields.get("password", "")):
            context = {"next": target, "error": "Wrong admin token."}
            response = self.render(request, None, "login.html", context)
            response.status_code = 401
            return response
        response = _redirect(target)
        self.sessions.start(request, response)
        return response

    async def logout(self, request: Request, session: Session) -> Response:
        response = _redirect("/ui/login")
        self.sessions.end(request, response)
        return response


def _safe_next(request: Request, given: object = None) -> str:
    """Where to go after login: only a path under /ui (never an open redirect)."""
    value = given if isinstance(given, str) else request.query_params.get("next", "")
    parts = urlsplit(value)
    segments = unquote(parts.path).split("/")
    if parts.scheme or parts.netloc or not parts.path.startswith("/ui/") or "\\" in value:
        return "/ui/events"
    return "/ui/events" if ".." in segments else value


def _redirect(url: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    response.headers.update(_HEADERS)
    return response


async def _answered(handler: Page, request: Request, session: Session) -> Response:
    """The page, or a plain 503 while the database is down and a 500 for a bug (its stack
    in the log), never the server's bare error."""
    try:
        return await handler(request, session)
    except StorageUnavailable:
        return PlainTextResponse(
            "503 Service Unavailable: the database is not reachable; try again shortly",
            status_code=503,
            headers={**_HEADERS, "Retry-After": "5"},
        )
    except Exception as bug:
        log.exception("ui.error", path=request.url.path, error=type(bug).__name__)
        message = f"500 Internal Server Error ({type(bug).__name__}); the log has the details"
        return PlainTextResponse(message, status_code=500, headers=_HEADERS)


def _forbidden(message: str) -> Response:
    return PlainTextResponse(f"403 Forbidden: {message}", status_code=403, headers=_HEADERS)


def _bad_request(message: str) -> Response:
    return PlainTextResponse(f"400 Bad Request: {message}", status_code=400, headers=_HEADERS)


def _holds_nul(request: Request) -> bool:
    """PostgreSQL cannot compare text with a NUL in it (a 500 there): refused at the door."""
    given = [*request.path_params.items(), *request.query_params.multi_items()]
    return any("\x00" in name or "\x00" in str(value) for name, value in given)
