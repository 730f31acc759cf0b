"""What can go wrong when talking to TelemetryTV.

Every failure of an upstream call is raised as one of these, so callers never see an
httpx exception or a raw response::

    UpstreamError                 any failed upstream call
    ├── UpstreamRejected          TelemetryTV answered with a 4xx
    │   ├── InvalidRequest        400: a field or parameter was refused (``fields``)
    │   ├── Unauthorized          401: the API token was refused
    │   ├── Forbidden             403: plan, user limit or permission (``message``)
    │   ├── NotFound              404: no such user or group
    │   ├── Conflict              409, or a 400 naming a taken value (``field``)
    │   └── RateLimited           429 (``retry_after`` seconds, when given)
    └── UpstreamUnavailable       no usable answer (``request_sent``: may it have arrived?)
        ├── ServerError           5xx
        ├── UpstreamTimeout       connect, read, write or pool timeout, or no time left
        ├── ConnectionFailed      refused, reset, DNS or TLS failure
        ├── BadResponse           an answer that does not follow the contract
        └── CircuitOpen           not sent: too many failures, cooling down (``retry_after``)

``message`` is TelemetryTV's own text when it sent one (empty when it sent none), kept so
that a SCIM error can pass it on to the identity admin; for a failure with no answer, what
happened, as a phrase that fits in a sentence (``connection refused``, ``a body that is
not JSON``). It never holds the token: the token is only ever in request headers, which
are not kept.
"""

from __future__ import annotations

from collections.abc import Mapping


class UpstreamError(Exception):
    """An upstream call failed."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class UpstreamRejected(UpstreamError):
    """TelemetryTV answered with a 4xx status."""


class InvalidRequest(UpstreamRejected):
    """TelemetryTV refused a field or a parameter (400); ``status`` None: the adapter
    refused to send it (a value that cannot go into a request)."""

    def __init__(
        self, message: str, *, fields: Mapping[str, str] | None = None, status: int | None = 400
    ) -> None:
        super().__init__(message, status=status)
        self.fields: dict[str, str] = dict(fields or {})
        """TelemetryTV's message per field it named."""


class Unauthorized(UpstreamRejected):
    """TelemetryTV refused the API token (401)."""


class Forbidden(UpstreamRejected):
    """TelemetryTV refused the operation: plan, user limit or permissions (403)."""


class NotFound(UpstreamRejected):
    """The user or group does not exist upstream (404)."""


class Conflict(UpstreamRejected):
    """A unique value is already taken; ``field`` names it (``email`` or ``name``)."""

    def __init__(self, message: str, *, field: str | None, status: int = 409) -> None:
        super().__init__(message, status=status)
        self.field = field


class RateLimited(UpstreamRejected):
    """TelemetryTV is throttling (429); ``retry_after`` is in seconds when it said."""

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class UpstreamUnavailable(UpstreamError):
    """No usable answer came back.

    ``request_sent`` is False only when the request provably never reached TelemetryTV
    (the connection was never made), which is what makes a create safe to send again.
    """

    def __init__(
        self, message: str, *, status: int | None = None, request_sent: bool = True
    ) -> None:
        super().__init__(message, status=status)
        self.request_sent = request_sent


class ServerError(UpstreamUnavailable):
    """TelemetryTV answered with a 5xx status."""


class UpstreamTimeout(UpstreamUnavailable):
    """The call timed out before an answer came back."""


class ConnectionFailed(UpstreamUnavailable):
    """No connection could be made or kept (refused, reset, DNS, TLS)."""


class BadResponse(UpstreamUnavailable):
    """The answer did not follow the contract (not JSON, wrong shape)."""


class CircuitOpen(UpstreamUnavailable):
    """The circuit breaker is open: the call was not made; ``retry_after`` in seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            "TelemetryTV is failing; calls are paused for a cool-down", request_sent=False
        )
        self.retry_after = retry_after
