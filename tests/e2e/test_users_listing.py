"""GET /Users: paging onto upstream pages, totals, filters, attribute selection."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from scim_proxy.ops.config import Settings
from scim_proxy.simulator import SimulatorSettings, SimulatorStore
from tests.conftest import TOKEN, UPSTREAM

pytestmark = pytest.mark.anyio

Calls = Callable[[], list[tuple[str, str]]]


@pytest.fixture
def simulator_settings() -> SimulatorSettings:
    """250 seeded users plus the account owner: 251 in all."""
    return SimulatorSettings(token=TOKEN, users=250)


async def _ids(client: httpx.AsyncClient, query: str) -> list[str]:
    response = await client.get(f"/Users?{query}")
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["Resources"]]


async def test_okta_import_pages_cover_every_user_once_in_a_stable_order(
    client: httpx.AsyncClient, store: SimulatorStore, upstream_calls: Calls
) -> None:
    seen: list[str] = []
    start = 1
    while True:
        before = len(upstream_calls())
        response = await client.get(f"/Users?startIndex={start}&count=100")
        body = response.json()
        assert body["totalResults"] == 251
        assert body["startIndex"] == start
        assert body["itemsPerPage"] == len(body["Resources"])
        # Okta's aligned pages cost exactly one users call each; the groups' names for
        # users' roles are listed once for the whole import (kept roles.names_cache_seconds).
        made = upstream_calls()[before:]
        assert [c for c in made if c[1] == "/users"] == [("GET", "/users")]
        assert all(c[1] in ("/users", "/user-groups") for c in made)
        seen += [r["id"] for r in body["Resources"]]
        if start + 100 > body["totalResults"]:
            break
        start += 100
    assert len(seen) == len(set(seen)) == store.user_count
    assert [c for c in upstream_calls() if c[1] == "/user-groups"] == [("GET", "/user-groups")]


@pytest.mark.parametrize("start", [2, 57, 199, 251])
async def test_an_unaligned_page_costs_two_upstream_calls_and_matches_the_listing(
    client: httpx.AsyncClient, upstream_calls: Calls, start: int
) -> None:
    everything: list[str] = []
    for page_start in (1, 101, 201):
        everything += await _ids(client, f"startIndex={page_start}&count=100")
    before = len(upstream_calls())
    page = await _ids(client, f"startIndex={start}&count=40")
    assert len(upstream_calls()) - before <= 2
    assert page == everything[start - 1 : start - 1 + 40]


async def test_count_zero_returns_only_the_total(client: httpx.AsyncClient) -> None:
    body = (await client.get("/Users?count=0")).json()
    assert body["totalResults"] == 251
    assert body["Resources"] == []
    assert body["itemsPerPage"] == 0


async def test_count_is_capped_at_the_maximum(client: httpx.AsyncClient) -> None:
    body = (await client.get("/Users?count=5000")).json()
    assert body["itemsPerPage"] == 100


async def test_out_of_range_paging_values_are_brought_into_range(client: httpx.AsyncClient) -> None:
    body = (await client.get("/Users?startIndex=-4&count=-1")).json()
    assert (body["startIndex"], body["itemsPerPage"], body["totalResults"]) == (1, 0, 251)


async def test_non_integer_paging_is_a_scim_error(client: httpx.AsyncClient) -> None:
    response = await client.get("/Users?startIndex=abc")
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"


async def test_beyond_the_end_is_an_empty_page(client: httpx.AsyncClient) -> None:
    body = (await client.get("/Users?startIndex=1000&count=10")).json()
    assert body["Resources"] == []
    assert body["totalResults"] == 251


async def test_username_filter_is_case_insensitive_and_costs_one_call(
    client: httpx.AsyncClient, upstream_calls: Calls
) -> None:
    before = len(upstream_calls())
    response = await client.get("/Users?filter=userName%20eq%20%22USER0042%40EXAMPLE.COM%22")
    body = response.json()
    assert body["totalResults"] == 1
    assert body["Resources"][0]["userName"] == "user0042@example.com"
    assert upstream_calls()[before:] == [("GET", "/users")]


async def test_id_and_email_filters_and_their_disjunction(client: httpx.AsyncClient) -> None:
    first = (await client.get("/Users?count=2")).json()["Resources"]
    by_id = await _ids(client, f'filter=id eq "{first[0]["id"]}"')
    assert by_id == [first[0]["id"]]
    either = await _ids(
        client, f'filter=id eq "{first[0]["id"]}" or emails.value eq "{first[1]["userName"]}"'
    )
    assert sorted(either) == sorted([first[0]["id"], first[1]["id"]])
    both = await _ids(
        client, f'filter=userName eq "{first[1]["userName"]}" and id eq "{first[0]["id"]}"'
    )
    assert both == []


async def test_active_filter_is_evaluated_over_the_listing(
    client: httpx.AsyncClient, store: SimulatorStore
) -> None:
    user_id = (await client.get("/Users?count=1")).json()["Resources"][0]["id"]
    store.update_user(user_id, {"disabled": True})
    inactive = (await client.get("/Users?filter=active eq false")).json()
    assert [r["id"] for r in inactive["Resources"]] == [user_id]
    active = (await client.get("/Users?filter=active eq true&count=5")).json()
    assert active["totalResults"] == 250
    assert len(active["Resources"]) == 5


async def test_a_general_filter_is_evaluated_by_the_proxy(client: httpx.AsyncClient) -> None:
    body = (await client.get('/Users?filter=userName sw "user000"')).json()
    assert body["totalResults"] == 9
    assert all(r["userName"].startswith("user000") for r in body["Resources"])


class TestScanLimit:
    """A filter with no keyed lookup is evaluated over at most filter_scan_limit users."""

    @pytest.fixture
    def settings(self) -> Settings:
        """A scan limit below the 251 users the simulator holds."""
        return (
            Settings().replace("upstream", base_url=UPSTREAM).replace("scim", filter_scan_limit=100)
        )

    async def test_a_scan_beyond_the_limit_is_too_many(self, client: httpx.AsyncClient) -> None:
        response = await client.get('/Users?filter=name.givenName sw "A"')
        assert response.status_code == 400
        body = response.json()
        assert body["scimType"] == "tooMany"
        assert "userName eq" in body["detail"]

    async def test_keyed_lookups_are_not_limited(self, client: httpx.AsyncClient) -> None:
        response = await client.get('/Users?filter=userName eq "user0250@example.com"')
        assert response.json()["totalResults"] == 1


@pytest.mark.parametrize(
    "bad",
    [
        "userName eq",
        'userName zz "x"',
        'nickName eq "x"',
        'externalId eq "x"',
        'password eq "x"',
        'userName eq "x" and (',
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x"',
    ],
)
async def test_a_bad_filter_is_invalid_filter_never_an_unfiltered_list(
    client: httpx.AsyncClient, bad: str
) -> None:
    response = await client.get("/Users", params={"filter": bad})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"
    assert "Resources" not in response.json()


async def test_attributes_and_excluded_attributes_on_lists_and_reads(
    client: httpx.AsyncClient,
) -> None:
    listed = (await client.get("/Users?count=1&attributes=userName")).json()["Resources"][0]
    assert set(listed) == {"schemas", "id", "userName"}
    user_id = listed["id"]
    read = (await client.get(f"/Users/{user_id}?excludedAttributes=emails,name,meta")).json()
    assert "emails" not in read
    assert "name" not in read
    assert read["userName"]
    assert read["id"] == user_id


async def test_every_listed_user_carries_what_okta_reads(client: httpx.AsyncClient) -> None:
    for user in (await client.get("/Users?count=3")).json()["Resources"]:
        assert user["id"]
        assert user["userName"]
        assert user["name"]["givenName"]
        assert user["name"]["familyName"]
        assert isinstance(user["active"], bool)
        assert user["emails"][0]["value"]
        assert "password" not in user


async def test_a_huge_start_index_is_an_empty_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/Users?startIndex=99999999999999999999&count=5")
    assert response.status_code == 200
    assert response.json()["Resources"] == []


async def test_many_or_terms_are_answered_by_one_bounded_scan(
    client: httpx.AsyncClient, upstream_calls: Calls
) -> None:
    terms = " or ".join(f'id eq "{i:024x}"' for i in range(90))
    before = len(upstream_calls())
    response = await client.get("/Users", params={"filter": terms})
    assert response.status_code == 200
    assert len(upstream_calls()) - before <= 3  # 251 users at 100 a page
