"""Deviations: the simulator playing a wrong guess about TelemetryTV's write contract.

Most of the user and user-group contract is inferred (docs/telemetrytv-api.md). Each
deviation makes the simulator answer one inferred write the way a real account might
instead, so that ``scim-proxy check --write`` can be shown to catch it:

========================  ==============================================================
name                      what the simulator does instead
========================  ==============================================================
``memberships-ignored``   ``user_group_ids`` in ``POST /users`` and ``PATCH /users/{id}``
                          is accepted (2xx) and never stored
``disabled-ignored``      ``disabled`` in those bodies is accepted and never stored
``email-change-ignored``  ``email`` in ``PATCH /users/{id}`` is accepted and never stored
``group-rename-ignored``  ``PATCH /user-groups/{id}`` answers 200 with the group unrenamed
``user-update-refused``   ``PATCH /users/{id}`` answers 405 (the account wants another verb)
``user-delete-refused``   ``DELETE /users/{id}`` answers 403 (no deletes through the API)
========================  ==============================================================

An ignored field is taken out of the body before the simulator reads it, so the answer
is the object as stored, exactly as an API that drops unknown fields would answer. Like
the faults (``faults.py``), deviations sit after authentication: a wrong token is still a
401 first. Everything else stays as the contract says.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEVIATIONS: dict[str, str] = {
    "memberships-ignored": "user_group_ids accepted on user writes, never stored",
    "disabled-ignored": "disabled accepted on user writes, never stored",
    "email-change-ignored": "an email change accepted, never stored",
    "group-rename-ignored": "a group rename accepted, never stored",
    "user-update-refused": "PATCH /users/{id} refused with 405",
    "user-delete-refused": "DELETE /users/{id} refused with 403",
}
"""Every deviation the simulator can play, with what it does."""


def check_deviations(names: tuple[str, ...]) -> None:
    """Raise ``ValueError`` naming the known deviations when one of ``names`` is unknown."""
    unknown = [name for name in names if name not in DEVIATIONS]
    if unknown:
        raise ValueError(
            f"unknown deviation(s) {', '.join(map(repr, unknown))}; known: " + ", ".join(DEVIATIONS)
        )


def _resource(path: str) -> tuple[str, bool] | None:
    """``("users" | "user-groups", addresses_one)`` for the API's paths, else None."""
    parts = path.strip("/").split("/")
    if parts[0] not in ("users", "user-groups") or len(parts) > 2:
        return None
    return parts[0], len(parts) == 2 and bool(parts[1])


class DeviationLayer:
    """ASGI middleware playing the chosen deviations (after auth, before the routes)."""

    def __init__(self, app: ASGIApp, *, deviations: tuple[str, ...]) -> None:
        check_deviations(deviations)
        self.app = app
        self.deviations = frozenset(deviations)

    def _ignored(self, method: str, resource: str, one: bool) -> set[str]:
        """The body fields this request's deviations drop."""
        on = self.deviations
        ignored: set[str] = set()
        user_write = (method, one) in (("POST", False), ("PATCH", True))
        if resource == "users" and user_write:
            if "memberships-ignored" in on:
                ignored.add("user_group_ids")
            if "disabled-ignored" in on:
                ignored.add("disabled")
            if "email-change-ignored" in on and method == "PATCH":
                ignored.add("email")
        if resource == "user-groups" and method == "PATCH" and one and "group-rename-ignored" in on:
            ignored.add("name")
        return ignored

    def _refusal(self, method: str, resource: str, one: bool) -> tuple[int, str] | None:
        if resource != "users" or not one:
            return None
        if method == "PATCH" and "user-update-refused" in self.deviations:
            return 405, "Method not allowed"
        if method == "DELETE" and "user-delete-refused" in self.deviations:
            return 403, "Users cannot be deleted through the API"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, refused or with its ignored fields taken out."""
        where = _resource(scope["path"]) if scope["type"] == "http" and self.deviations else None
        if where is None:
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        refusal = self._refusal(method, *where)
        if refusal is not None:
            status, message = refusal
            content = orjson.dumps({"error": message})
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
            ]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": content})
            return
        ignored = self._ignored(method, *where)
        if not ignored:
            await self.app(scope, receive, send)
            return
        await self.app(scope, await _without(ignored, receive), send)


async def _without(fields: set[str], receive: Receive) -> Receive:
    """A ``receive`` replaying the request's body with ``fields`` taken out of it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        body = orjson.dumps({k: v for k, v in data.items() if k not in fields})
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
