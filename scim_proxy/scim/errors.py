"""SCIM errors (RFC 7644 §3.12) as one exception type the HTTP layer renders.

Every failure a client can see is a :class:`ScimError`: an HTTP status, an optional
``scimType`` keyword, and a ``detail`` written for the identity admin who reads it in
Okta's task list or Entra's provisioning log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from scim2_models import Error, SCIMException

from ..ops.reasons import Reason

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class ScimError(Exception):
    """An error answered to the SCIM client."""

    def __init__(
        self,
        status: int,
        detail: str,
        scim_type: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        reason: Reason,
        log_detail: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type
        self.headers: dict[str, str] = dict(headers or {})
        self.reason: Reason = reason
        """Why, as a code from the one table of them (``ops/reasons.py``, docs/logging.md):
        logged in the request event, telling apart errors of one status."""
        self.log_detail = log_detail
        """``detail`` without personal values, for logs; ``None``: ``detail`` has none."""

    def body(self) -> dict[str, Any]:
        """The SCIM Error message."""
        body: dict[str, Any] = {
            "schemas": [ERROR_SCHEMA],
            "status": str(self.status),
            "detail": self.detail,
        }
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body

    @classmethod
    def from_scim_exception(
        cls, exc: SCIMException, *, reason: Reason, what: str = "A value"
    ) -> ScimError:
        """Adopt an error raised by scim2-models, as a ``reason`` refusal.

        Some wrap a pydantic error whose text is not for admins; that error is read
        field by field instead.
        """
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ValidationError) or "validation error for" in exc.detail:
            if isinstance(cause, ValidationError):
                return cls.from_validation_error(cause, what=what, reason=reason)
            return cls(
                400,
                f"{what} is not valid for its attribute",
                exc.scim_type or "invalidValue",
                reason=reason,
            )
        return cls(exc.status, exc.detail, exc.scim_type or None, reason=reason)

    @classmethod
    def from_validation_error(cls, exc: ValidationError, *, what: str, reason: Reason) -> ScimError:
        """Adopt a payload validation failure; ``what`` names the payload for the admin."""
        errors = Error.from_validation_errors(exc)
        first = errors[0] if errors else Error(status=400, detail="invalid payload")
        details = "; ".join(e.detail or "" for e in errors if e.detail)
        return cls(
            int(first.status or 400),
            f"{what} is not valid: {details}" if details else f"{what} is not valid",
            first.scim_type or "invalidValue",
            reason=reason,
        )


def not_found(resource: str, resource_id: str) -> ScimError:
    """404 for a resource id that TelemetryTV does not hold."""
    return ScimError(404, f"{resource} {resource_id!r} not found", reason="telemetrytv_not_found")


def invalid_filter(detail: str, reason: Reason) -> ScimError:
    """400 ``invalidFilter``."""
    return ScimError(400, detail, "invalidFilter", reason=reason)


def invalid_value(detail: str, reason: Reason) -> ScimError:
    """400 ``invalidValue``."""
    return ScimError(400, detail, "invalidValue", reason=reason)
