"""Okta's "SCIM 2.0 SPEC Test" (Runscope suite, 2024 edition) as a reusable runner.

Each step sends what Okta's suite sends and asserts what it asserts (see
docs/idp-requests.md). Used in-process by tests/e2e/test_okta_spec.py and over real HTTP
against ``scim-proxy demo`` by tests/test_cli.py.
"""

from __future__ import annotations

import random
import string

import httpx

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SPEC_HEADERS = {
    "Accept": "application/scim+json",
    "Accept-Charset": "utf-8",
    "Content-Type": "application/scim+json; charset=utf-8",
    "User-Agent": "OKTA SCIM Integration",
}


def _has_user_fields(user: dict[str, object]) -> None:
    assert user["id"]
    name = user["name"]
    assert isinstance(name, dict)
    assert name["familyName"]
    assert name["givenName"]
    assert user["userName"]
    assert isinstance(user["active"], bool)
    emails = user["emails"]
    assert isinstance(emails, list)
    assert emails[0]["value"]


async def run_spec_test(client: httpx.AsyncClient, auth: str, *, groups: bool = True) -> int:
    """Run every step against ``client`` (base URL = the SCIM base); return the steps run."""
    headers = {**SPEC_HEADERS, "Authorization": auth}
    given = "Runscope" + "".join(random.choices(string.digits, k=3))
    family = (
        random.choice(string.ascii_uppercase)
        + "".join(random.choices(string.ascii_lowercase, k=8))
        + "".join(random.choices(string.digits, k=3))
    )
    email = f"{given}{family}@atko.com"
    steps = 0

    # 1 Required: Users endpoint
    r = await client.get("/Users?count=1&startIndex=1", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["Resources"]
    assert LIST_RESPONSE in body["schemas"]
    for key in ("itemsPerPage", "startIndex", "totalResults"):
        assert isinstance(body[key], int)
    _has_user_fields(body["Resources"][0])
    isv_user_id = body["Resources"][0]["id"]
    steps += 1

    # 2 Required: Get Users/{id}
    r = await client.get(f"/Users/{isv_user_id}", headers=headers)
    assert r.status_code == 200
    _has_user_fields(r.json())
    assert r.json()["id"] == isv_user_id
    steps += 1

    # 3 Required: invalid user by username
    r = await client.get('/Users?filter=userName eq "abcdefgh@atko.com"', headers=headers)
    assert r.status_code == 200
    assert LIST_RESPONSE in r.json()["schemas"]
    assert r.json()["totalResults"] == 0
    steps += 1

    # 4 Required: invalid user by id
    r = await client.get("/Users/010101001010101011001010101011", headers=headers)
    assert r.status_code == 404
    assert r.json()["detail"]
    assert ERROR in r.json()["schemas"]
    steps += 1

    # 5 Required: random user absent
    r = await client.get(f'/Users?filter=userName eq "{email}"', headers=headers)
    assert r.status_code == 200
    assert r.json()["totalResults"] == 0
    assert LIST_RESPONSE in r.json()["schemas"]
    steps += 1

    # 6 Required: create user (the suite posts with application/json)
    new_user = {
        "schemas": [USER],
        "userName": email,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": True, "value": email, "type": "work"}],
        "displayName": f"{given} {family}",
        "active": True,
    }
    create_headers = {**headers, "Content-Type": "application/json"}
    r = await client.post("/Users", json=new_user, headers=create_headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["active"] is True
    assert created["id"]
    assert created["name"]["familyName"] == family
    assert created["name"]["givenName"] == given
    assert USER in created["schemas"]
    assert created["userName"] == email
    steps += 1

    # 7 Required: verify created
    r = await client.get(f"/Users/{created['id']}", headers=headers)
    assert r.status_code == 200
    assert (r.json()["userName"], r.json()["name"]["familyName"]) == (email, family)
    assert r.json()["name"]["givenName"] == given
    steps += 1

    # 8 Required: duplicate
    r = await client.post("/Users", json=new_user, headers=create_headers)
    assert r.status_code == 409
    steps += 1

    # 9 Required: username case
    r = await client.get(f'/Users?filter=userName eq "{email.upper()}"', headers=headers)
    assert r.status_code == 200
    steps += 1

    # 10 Optional: Groups endpoint
    if groups:
        r = await client.get("/Groups", headers=headers)
        assert r.status_code == 200
        if r.json()["totalResults"] >= 1:
            assert isinstance(r.json()["Resources"], list)
        steps += 1

    # 11 Required: 401
    r = await client.get(
        f'/Users?filter=userName eq "{email.upper()}"',
        headers={**headers, "Authorization": "non-token"},
    )
    assert r.status_code == 401
    assert r.json()["detail"]
    assert r.json()["status"] == "401"
    assert ERROR in r.json()["schemas"]
    steps += 1

    # 12 Required: 404
    r = await client.get("/Users/00919288221112222", headers=headers)
    assert r.status_code == 404
    assert r.json()["detail"]
    assert r.json()["status"] == "404"
    assert ERROR in r.json()["schemas"]
    steps += 1
    return steps
