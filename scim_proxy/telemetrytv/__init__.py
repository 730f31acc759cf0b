"""The TelemetryTV adapter: the only package that knows TelemetryTV's paths and fields."""

from .auth import AuthScheme, authorization_header
from .client import AttemptPolicy, SingleAttempt, TelemetryTV, TelemetryTVSession
from .errors import (
    BadResponse,
    Conflict,
    ConnectionFailed,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from .transport import TransportKind, build_http_client, build_transport

__all__ = [
    "AttemptPolicy",
    "AuthScheme",
    "BadResponse",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "InvalidRequest",
    "NotFound",
    "RateLimited",
    "ServerError",
    "SingleAttempt",
    "TelemetryTV",
    "TelemetryTVSession",
    "TransportKind",
    "Unauthorized",
    "UpstreamError",
    "UpstreamRejected",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "authorization_header",
    "build_http_client",
    "build_transport",
]
