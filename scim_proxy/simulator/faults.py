"""Fault injection: the simulator misbehaving the ways a real TelemetryTV and network do.

With probability ``fail_rate`` a request meets one fault, drawn from ``fault_kinds``:

==================  ==========================================================  =========
kind                what the client sees                                         applied?
==================  ==========================================================  =========
``500``/``502``/    that status with ``{"error": ...}``                          no
``503``
``429``             429 with ``Retry-After: 1``                                  no
``429-bare``        429 without ``Retry-After``                                  no
``drop``            the connection closes mid-reply (an incomplete response)     no
``slow``            the reply, after ``slow_ms``                                 yes
``commit-timeout``  the reply, ``commit_delay_ms`` after the write was applied   yes
==================  ==========================================================  =========

``slow`` and ``commit-timeout`` outlast a client whose timeout is shorter than the delay:
the client gives up, and for a write it cannot know whether the write happened.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FAULT_KINDS = ("500", "502", "503", "429", "429-bare", "drop", "slow", "commit-timeout")


class DroppedConnection(Exception):
    """Raised after a partial reply so that the server closes the connection."""


class FaultInjector:
    """ASGI middleware injecting faults into a share of the requests."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        rate: float,
        kinds: tuple[str, ...],
        seed: int | None,
        slow_seconds: float,
        commit_delay_seconds: float,
        counts: Counter[str],
    ) -> None:
        self.app = app
        self.rate = rate
        self.kinds = kinds
        self.random = random.Random(seed)  # noqa: S311 - fault draws, not secrets
        self.slow_seconds = slow_seconds
        self.commit_delay_seconds = commit_delay_seconds
        self.counts = counts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or meet it with a fault."""
        if scope["type"] != "http" or not self.rate or self.random.random() >= self.rate:
            await self.app(scope, receive, send)
            return
        kind = self.random.choice(self.kinds)
        self.counts[kind] += 1
        if kind in ("500", "502", "503"):
            await _answer(send, int(kind), {"error": "Service temporarily unavailable"})
        elif kind == "429":
            await _answer(send, 429, {"error": "Too many requests"}, retry_after="1")
        elif kind == "429-bare":
            await _answer(send, 429, {"error": "Too many requests"})
        elif kind == "drop":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"id": "', "more_body": True})
            raise DroppedConnection("fault injection: connection dropped mid-reply")
        elif kind == "slow":
            await asyncio.sleep(self.slow_seconds)
            await self.app(scope, receive, send)
        else:  # commit-timeout: carry the request out now, answer much later
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
            await asyncio.sleep(self.commit_delay_seconds)
            for message in held:
                await send(message)


async def _answer(send: Send, status: int, body: object, *, retry_after: str | None = None) -> None:
    content = orjson.dumps(body)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", retry_after.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
