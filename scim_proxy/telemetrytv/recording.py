"""A record of the exchanges with TelemetryTV, for a report an operator can share.

``scim-proxy check --write`` shows, for each item, the requests the adapter sent and the
answers that came back, so that a report can be attached to a support ticket. They are
recorded at the transport, beneath the adapter, so what is shown is what went over the
wire, with these taken out:

- every header (the API token travels in ``Authorization``);
- the value of any ``password`` field, and any registered secret (the token, a password)
  wherever it appears in a path, a body or an error;
- other people's data: in a listing's answer, an object that does not carry the
  recorder's marker (the check's own names carry it) is kept as its ``id`` alone.

Only public httpx API: the recording transport hands each request to the real
client's ``send`` and answers with a copy of the response it read.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from .failures import describe_failure

REDACTED = "[redacted]"
_SECRET_FIELDS = frozenset({"password"})
_MAX_TEXT = 2000
# Content-* headers describe the wire bytes; the copy holds the decoded body.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request sent to TelemetryTV and what came back, secrets taken out."""

    method: str
    target: str
    """The path and query string, as sent."""
    sent: Any
    """The JSON body sent, or None."""
    status: int | None
    """The answer's status; None when no answer came."""
    received: Any
    """The answer's JSON body (text when not JSON), or what went wrong when none came."""
    ms: float

    def as_json(self) -> dict[str, Any]:
        """The exchange as a JSON object for the report."""
        return {
            "sent": {"method": self.method, "target": self.target, "body": self.sent},
            "received": {"status": self.status, "body": self.received},
            "ms": round(self.ms, 1),
        }

    def sent_text(self) -> str:
        """``METHOD target body`` on one line."""
        body = "" if self.sent is None else " " + _compact(self.sent)
        return f"{self.method} {self.target}{body}"

    def received_text(self) -> str:
        """``status body`` on one line (``no answer: why`` when none came)."""
        if self.status is None:
            return f"no answer: {self.received}"
        body = "" if self.received is None else " " + _compact(self.received)
        return f"{self.status}{body}"


def _compact(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= 400 else text[:400] + "..."


class ExchangeLog:
    """The exchanges recorded so far, and what must never appear in them."""

    def __init__(self, *, secrets: Iterable[str] = (), marker: str | None = None) -> None:
        self.exchanges: list[Exchange] = []
        self._secrets: set[str] = set()
        self._marker = marker
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, secret: str) -> None:
        """Never show ``secret`` again (from now on, and in what was recorded before)."""
        # Shorter values would be found in ordinary words.
        if len(secret) >= 4:
            self._secrets.add(secret)

    def mark(self) -> int:
        """A position in the log, for :meth:`since`."""
        return len(self.exchanges)

    def since(self, mark: int) -> list[Exchange]:
        """The exchanges recorded after ``mark``."""
        return self.exchanges[mark:]

    def redact(self, value: Any) -> Any:
        """``value`` (text, or JSON data) with every secret taken out."""
        if isinstance(value, str):
            # Longest first: a secret holding another is replaced whole.
            for secret in sorted(self._secrets, key=len, reverse=True):
                value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, dict):
            return {
                self.redact(k): REDACTED
                if isinstance(k, str) and k.lower() in _SECRET_FIELDS and v not in (None, "")
                else self.redact(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.redact(item) for item in value]
        return value

    def transport(self, inner: httpx.AsyncClient) -> httpx.AsyncBaseTransport:
        """A transport sending every request through ``inner`` and recording it here.

        Closing it closes ``inner``.
        """
        return _RecordingTransport(inner, self)

    def record(
        self, request: httpx.Request, status: int | None, received: Any, started: float
    ) -> None:
        """Add one exchange (``received``: the kept answer, or why none came)."""
        self.exchanges.append(
            Exchange(
                method=request.method,
                target=self.redact(request.url.raw_path.decode("ascii", "replace")),
                sent=self.redact(_body(request.content)),
                status=status,
                received=self.redact(received),
                ms=(time.perf_counter() - started) * 1000,
            )
        )

    def kept_answer(self, content: bytes) -> Any:
        """An answer's body as the report keeps it: other people's objects by id only."""
        body = _body(content)
        if isinstance(body, list) and self._marker is not None:
            marker = self._marker
            return [
                item
                if not isinstance(item, dict) or marker in orjson.dumps(item).decode()
                else {"id": item.get("id"), "note": "not the check's: only its id is kept"}
                for item in body
            ]
        return body


def _body(content: bytes) -> Any:
    if not content:
        return None
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        text = content.decode("utf-8", "replace")
        return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "..."


class _RecordingTransport(httpx.AsyncBaseTransport):
    """Sends through a real client and records each exchange in an :class:`ExchangeLog`."""

    def __init__(self, inner: httpx.AsyncClient, log: ExchangeLog) -> None:
        self._inner = inner
        self._log = log

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the real client; answer a copy of what it read."""
        await request.aread()
        started = time.perf_counter()
        try:
            response = await self._inner.send(request)
        except httpx.HTTPError as exc:
            self._log.record(request, None, describe_failure(exc, str(request.url)).detail, started)
            raise
        except BaseException:
            self._log.record(request, None, "interrupted before an answer came", started)
            raise
        self._log.record(
            request, response.status_code, self._log.kept_answer(response.content), started
        )
        headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in _WIRE_HEADERS
        ]
        return httpx.Response(response.status_code, headers=headers, content=response.content)

    async def aclose(self) -> None:
        """Close the real client."""
        await self._inner.aclose()
