"""One small exception tree; each class carries the HTTP status a webhook gets for it.

    ConnectorError (500)
    ├── WebhookError (400)                 the request cannot be accepted as sent
    │   ├── MalformedPayload (400)         body is not what the provider sends
    │   ├── SignatureError (401)           missing, wrong or stale signature / credentials
    │   │   └── CredentialsRequired (401)  basic auth missing or wrong; the 401 carries a
    │   │                                  `WWW-Authenticate` challenge (SNS needs one)
    │   ├── ForbiddenSource (403)          caller's IP or topic is not allowed
    │   ├── UnknownSource (404)            no source with that id
    │   ├── MethodNotAllowed (405)
    │   ├── PayloadTooLarge (413)
    │   └── UnsupportedMediaType (415)
    ├── ApiError (400)                     the admin API (/api/v1) cannot do what was asked
    │   ├── Unauthorized (401)             no or wrong bearer token
    │   ├── NotFound (404)                 no such check, event or send
    │   ├── Conflict (409)                 the resource is not in a state that allows it
    │   └── Unprocessable (422)            the request is well-formed JSON but not valid
    ├── StorageUnavailable (503)           our fault and transient: the ESP should retry
    ├── InternalError (500)                a bug on the request path (a provider's verify
    │                                      raised): logged with its stack; a retry may pass
    ├── ClientDisconnected (499)           the caller left before its body arrived: counted
    │                                      and logged, never answered (nobody is listening)
    └── ConfigError                        bad configuration, found at start-up (never HTTP)

4xx tells the ESP not to bother retrying the same bytes; 5xx only where a retry can succeed.
Every webhook request ends in this tree (connector/webhooks.py maps anything else to
`InternalError`), so no request reaches the server's bare 500.
A provider whose ESP treats one of these codes badly maps it in its `STATUS_OVERRIDES`
(`{ours: theirs}`, a member of the `Provider` protocol; Brevo discards on any 5xx, so its 503
becomes 429).
Messages never echo secrets, expected signatures or payloads.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error we raise on purpose."""

    status_code: int = 500
    reason: str = "internal"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class WebhookError(ConnectorError):
    status_code = 400
    reason = "bad_request"


class MalformedPayload(WebhookError):
    status_code = 400
    reason = "malformed"


class SignatureError(WebhookError):
    status_code = 401
    reason = "signature"


class CredentialsRequired(SignatureError):
    """Configured basic-auth credentials are missing or wrong.

    Answered with `WWW-Authenticate: <challenge>`: Amazon SNS sends the credentials of a
    subscription URL only after a 401 that carries one (RFC 7235 asks it of every 401).
    """

    challenge: str = 'Basic realm="webhooks", charset="UTF-8"'


class ForbiddenSource(WebhookError):
    status_code = 403
    reason = "forbidden"


class UnknownSource(WebhookError):
    status_code = 404
    reason = "unknown_source"


class MethodNotAllowed(WebhookError):
    status_code = 405
    reason = "method"


class PayloadTooLarge(WebhookError):
    status_code = 413
    reason = "too_large"


class UnsupportedMediaType(WebhookError):
    status_code = 415
    reason = "media_type"


class ApiError(ConnectorError):
    status_code = 400
    reason = "bad_request"


class Unauthorized(ApiError):
    status_code = 401
    reason = "unauthorized"


class NotFound(ApiError):
    status_code = 404
    reason = "not_found"


class Conflict(ApiError):
    status_code = 409
    reason = "conflict"


class Unprocessable(ApiError):
    """`problems` name each bad field (`at: ... is in the past`)."""

    status_code = 422
    reason = "invalid"

    def __init__(self, problems: list[str], *, reason: str | None = None) -> None:
        super().__init__("; ".join(problems), reason=reason)
        self.problems = problems


class StorageUnavailable(ConnectorError):
    status_code = 503
    reason = "storage_unavailable"


class InternalError(ConnectorError):
    """A bug of ours; the message names where and the exception type, never its text."""

    status_code = 500
    reason = "internal"


class ClientDisconnected(ConnectorError):
    """499 as nginx logs it ("client closed request"): an outcome for logs and metrics only."""

    status_code = 499
    reason = "client_disconnected"

    def __init__(self, received_bytes: int) -> None:
        super().__init__(f"client disconnected after {received_bytes} bytes of the body")
        self.received_bytes = received_bytes


class ConfigError(ConnectorError):
    """Configuration problems; `problems` lists each one with the key it concerns."""

    reason = "config"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
