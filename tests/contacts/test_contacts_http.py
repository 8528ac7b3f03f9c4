"""The contacts_service pack through real HTTP (ASGI), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from packs.core.identity.accounts import IssuedToken
from tests.support.harness import Harness, auth

URL = "/api/v1/workspaces/contacts"
Client = httpx.AsyncClient


def ada(**overrides: Any) -> dict[str, Any]:
    contact = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
    contact.update(overrides)
    return contact


async def create(client: Client, issued: IssuedToken, **fields: Any) -> dict[str, Any]:
    response = await client.post(URL, json={"contact": ada(**fields)}, headers=auth(issued))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_create_returns_the_item_and_stores_it(client: Client, harness: Harness) -> None:
    issued = await harness.user()
    response = await client.post(
        URL,
        json={"contact": ada(phone="+44 1", company="Analytical", job_title="Countess", tags=["math", "poet"])},
        headers=auth(issued),
    )
    assert response.status_code == 201
    body = response.json()
    assert body["meta"] == {"created": True}
    item = body["data"]
    assert set(item) >= {
        "id",
        "schema_slug",
        "tool_slug",
        "data",
        "workspace_id",
        "created_by_id",
        "created_at",
        "updated_at",
    }
    assert item["schema_slug"] == "contact"
    assert item["tool_slug"] == "create"
    assert item["workspace_id"] == str(issued.workspace_id)
    assert item["created_by_id"] == str(issued.user_id)
    assert item["created_at"].endswith("+00:00")
    assert item["data"] == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "+44 1",
        "company": "Analytical",
        "job_title": "Countess",
        "tags": ["math", "poet"],
    }
    assert await harness.count("items") == 1
    shown = await client.get(f"{URL}/{item['id']}", headers=auth(issued))
    assert shown.status_code == 200
    assert shown.json()["data"] == item


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({}, {"first_name": "is required", "last_name": "is required"}),
        ({"contact": {}}, {"first_name": "is required", "last_name": "is required"}),
        (
            {"contact": {"first_name": None, "last_name": "  "}},
            {"first_name": "is required", "last_name": "is required"},
        ),
        ({"contact": {"first_name": "", "last_name": "L"}}, {"first_name": "is required"}),
        ({"contact": ada(first_name="x" * 256)}, {"first_name": "is too long (maximum is 255 characters)"}),
        ({"contact": ada(last_name="y" * 300)}, {"last_name": "is too long (maximum is 255 characters)"}),
        (
            {"contact": ada(email="not-an-email")},
            {"email": "is not a valid email address (expected local@domain.tld)"},
        ),
        (
            {"contact": ada(email="a@b")},
            {"email": "is not a valid email address (expected local@domain.tld)"},
        ),
        (  # Python's "$" matched before a final line break
            {"contact": ada(email="a@b.co\n")},
            {"email": "is not a valid email address (expected local@domain.tld)"},
        ),
        ({"contact": ada(first_name=42)}, {"first_name": "Expected `str`, got `int`"}),
        ({"contact": ada(tags="vip")}, {"tags": "Expected `array`, got `str`"}),
        ({"contact": ada(tags=["ok", 3])}, {"tags": "Expected `str`, got `int` (at `$[1]`)"}),
        ({"contact": ada(nickname="Countess")}, {"nickname": "is not a known field"}),
        ({"contact": "Ada"}, {"contact": "must be an object, got a string"}),
        ({"contact": [1, 2]}, {"contact": "must be an object, got an array"}),
        ({"contact": None}, {"contact": "must be an object, got null"}),
        (
            {"contact": {"email": "bad", "extra": 1}},
            {
                "first_name": "is required",
                "last_name": "is required",
                "email": "is not a valid email address (expected local@domain.tld)",
                "extra": "is not a known field",
            },
        ),
    ],
)
async def test_create_rejects_bad_contacts_and_writes_nothing(
    client: Client, harness: Harness, body: dict[str, Any], details: dict[str, str]
) -> None:
    issued = await harness.user()
    response = await client.post(URL, json=body, headers=auth(issued))
    assert response.status_code == 422
    assert response.json() == {"error": "Validation failed", "details": details}
    assert await harness.count("items") == 0


async def test_index_lists_newest_first_with_paging_meta(client: Client, harness: Harness) -> None:
    issued = await harness.user()
    for index in range(3):
        await create(client, issued, first_name=f"Person{index}")
    response = await client.get(URL, headers=auth(issued))
    assert response.status_code == 200
    body = response.json()
    assert [c["data"]["first_name"] for c in body["data"]] == ["Person2", "Person1", "Person0"]
    assert body["meta"] == {"page": 1, "per_page": 25, "total": 3}

    page = await client.get(URL, params={"page": "2", "per_page": "2"}, headers=auth(issued))
    assert page.json()["meta"] == {"page": 2, "per_page": 2, "total": 3}
    assert [c["data"]["first_name"] for c in page.json()["data"]] == ["Person0"]


async def test_index_clamps_per_page_to_100(client: Client, harness: Harness) -> None:
    issued = await harness.user()
    response = await client.get(URL, params={"per_page": "1000"}, headers=auth(issued))
    assert response.status_code == 200
    assert response.json()["meta"]["per_page"] == 100


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "two"}, "page"),
        ({"per_page": "1.5"}, "per_page"),
        ({"page": "0"}, "page"),
        ({"per_page": "-3"}, "per_page"),
    ],
)
async def test_index_rejects_bad_paging_parameters(
    client: Client, harness: Harness, params: dict[str, str], field: str
) -> None:
    issued = await harness.user()
    response = await client.get(URL, params=params, headers=auth(issued))
    assert response.status_code == 422
    body = response.json()
    assert list(body["details"]) == [field]


async def test_index_q_matches_names_and_email_case_insensitively(client: Client, harness: Harness) -> None:
    issued = await harness.user()
    await create(client, issued, first_name="Grace", last_name="Hopper", email="grace@navy.mil")
    await create(client, issued, first_name="Alan", last_name="Turing", email="alan@bletchley.uk")
    await create(client, issued, first_name="Barbara", last_name="Liskov", email="b@MIT.edu")
    await create(client, issued, first_name="Émile", last_name="Ÿsaÿe", email="emile@example.fr")

    async def names(q: str) -> list[str]:
        response = await client.get(URL, params={"q": q}, headers=auth(issued))
        assert response.status_code == 200
        return sorted(c["data"]["first_name"] for c in response.json()["data"])

    assert await names("HOPP") == ["Grace"]
    assert await names("turing") == ["Alan"]
    assert await names("mit.EDU") == ["Barbara"]
    assert await names("a") == ["Alan", "Barbara", "Grace", "Émile"]
    # SQLite's own lower() changes ASCII letters only: "émile" did not find "Émile", nor "Émile" itself
    assert await names("Émile") == await names("émile") == await names("ÉMILE") == ["Émile"]
    assert await names("ŸSAŸE") == ["Émile"]
    assert await names("%") == []
    assert await names("nobody") == []


async def test_put_replaces_and_patch_changes_only_sent_fields(client: Client, harness: Harness) -> None:
    issued = await harness.user()
    item = (await create(client, issued, company="Analytical", tags=["a"]))["data"]
    url = f"{URL}/{item['id']}"

    patched = await client.patch(url, json={"contact": {"job_title": "Countess"}}, headers=auth(issued))
    assert patched.status_code == 200
    assert patched.json()["meta"] == {"updated": True}
    data = patched.json()["data"]["data"]
    assert data["job_title"] == "Countess"
    assert data["company"] == "Analytical"
    assert data["first_name"] == "Ada"

    put = await client.put(url, json={"contact": {"first_name": "Augusta", "last_name": "King"}}, headers=auth(issued))
    assert put.status_code == 200
    assert put.json()["data"]["data"] == {
        "first_name": "Augusta",
        "last_name": "King",
        "email": None,
        "phone": None,
        "company": None,
        "job_title": None,
        "tags": [],
    }
    assert put.json()["data"]["tool_slug"] == "create"  # the tool that created it, as created_by_id
    assert (await client.get(url, headers=auth(issued))).json()["data"]["data"]["first_name"] == "Augusta"


@pytest.mark.parametrize("blank", [None, "", "  "])
async def test_a_blank_list_field_clears_it_to_its_default(client: Client, harness: Harness, blank: Any) -> None:
    """``tags`` cannot hold null: sent blank it reads as not given and stores its default, ``[]`` (it was a 500)."""
    issued = await harness.user()
    created = await client.post(URL, json={"contact": ada(tags=blank)}, headers=auth(issued))
    assert created.status_code == 201, created.text
    assert created.json()["data"]["data"]["tags"] == []
    url = f"{URL}/{created.json()['data']['id']}"
    await client.patch(url, json={"contact": {"tags": ["a"]}}, headers=auth(issued))
    for method in ("PATCH", "PUT"):
        body = {"contact": {"tags": blank}} if method == "PATCH" else {"contact": ada(tags=blank)}
        changed = await client.request(method, url, json=body, headers=auth(issued))
        assert changed.status_code == 200, changed.text
        assert changed.json()["data"]["data"]["tags"] == []
        await client.patch(url, json={"contact": {"tags": ["a"]}}, headers=auth(issued))


async def test_concurrent_changes_of_one_contact_each_take_effect_once(client: Client, harness: Harness) -> None:
    """PATCHes sent at once each keep their field (each reads the contact under its row lock, after the one
    before committed), and of deletes sent at once one deletes and the others find no contact."""
    issued = await harness.user()
    url = f"{URL}/{(await create(client, issued))['data']['id']}"
    fields = ("phone", "company", "job_title", "first_name", "last_name")
    patches = [
        client.patch(url, json={"contact": {field: f"{field}-{n}"}}, headers=auth(issued))
        for n in range(2)
        for field in fields
    ]
    answers = await asyncio.gather(*patches)
    assert [answer.status_code for answer in answers] == [200] * len(patches)
    stored = (await client.get(url, headers=auth(issued))).json()["data"]["data"]
    assert {field: stored[field] in (f"{field}-0", f"{field}-1") for field in fields} == dict.fromkeys(fields, True)

    deletes = await asyncio.gather(*(client.delete(url, headers=auth(issued)) for _ in range(6)))
    assert sorted(answer.status_code for answer in deletes) == [200] + [404] * 5


async def test_update_validation_failures_change_nothing(client: Client, harness: Harness) -> None:
    issued = await harness.user()
    item = (await create(client, issued))["data"]
    url = f"{URL}/{item['id']}"

    put = await client.put(url, json={"contact": {"first_name": "Only"}}, headers=auth(issued))
    assert put.status_code == 422
    assert put.json()["details"] == {"last_name": "is required"}

    patch = await client.patch(url, json={"contact": {"first_name": None, "email": "nope"}}, headers=auth(issued))
    assert patch.status_code == 422
    assert set(patch.json()["details"]) == {"first_name", "email"}

    for method in (client.put, client.patch):  # null is not "no fields sent": it is not an object
        null = await method(url, json={"contact": None}, headers=auth(issued))
        assert null.status_code == 422
        assert null.json() == {"error": "Validation failed", "details": {"contact": "must be an object, got null"}}

    for body in ({}, {"contacts": {"first_name": "Typo"}}):  # no change named: no 200 saying it was made
        nothing = await client.patch(url, json=body, headers=auth(issued))
        assert nothing.status_code == 422, nothing.text
        assert nothing.json()["details"] == {"contact": 'is required: send the fields to change as {"contact": {...}}'}

    unchanged = await client.get(url, headers=auth(issued))
    assert unchanged.json()["data"] == item


async def test_destroy_soft_deletes_and_hides_everywhere(client: Client, harness: Harness) -> None:
    issued = await harness.user()
    item = (await create(client, issued))["data"]
    url = f"{URL}/{item['id']}"
    deleted = await client.delete(url, headers=auth(issued))
    assert deleted.status_code == 200
    assert deleted.json()["meta"] == {"deleted": True}
    assert deleted.json()["data"]["deleted_at"] is not None

    assert (await client.get(url, headers=auth(issued))).status_code == 404
    assert (await client.patch(url, json={"contact": {"company": "X"}}, headers=auth(issued))).status_code == 404
    assert (await client.delete(url, headers=auth(issued))).status_code == 404
    listing = await client.get(URL, headers=auth(issued))
    assert listing.json()["data"] == []
    assert listing.json()["meta"]["total"] == 0
    assert await harness.count("items", "deleted_at IS NOT NULL") == 1


async def test_unknown_ids_are_404_with_a_message(client: Client, harness: Harness) -> None:
    issued = await harness.user()
    missing = uuid.uuid4()
    response = await client.get(f"{URL}/{missing}", headers=auth(issued))
    assert response.status_code == 404
    assert response.json() == {"error": f"contact {missing} not found"}


async def test_other_workspaces_items_are_404_and_untouched(client: Client, harness: Harness) -> None:
    owner = await harness.user("owner@example.com", "Owners")
    stranger = await harness.user("stranger@example.com", "Strangers")
    item = (await create(client, owner))["data"]
    url = f"{URL}/{item['id']}"

    assert (await client.get(url, headers=auth(stranger))).status_code == 404
    assert (
        await client.put(url, json={"contact": ada(first_name="Mallory")}, headers=auth(stranger))
    ).status_code == 404
    assert (
        await client.patch(url, json={"contact": {"first_name": "Mallory"}}, headers=auth(stranger))
    ).status_code == 404
    assert (await client.delete(url, headers=auth(stranger))).status_code == 404
    assert (await client.get(URL, headers=auth(stranger))).json()["data"] == []

    still = await client.get(url, headers=auth(owner))
    assert still.json()["data"] == item


async def test_identity_keys_in_query_or_body_never_reach_the_tool(client: Client, harness: Harness) -> None:
    issued = await harness.user("me@example.com", "Mine")
    other = await harness.user("other@example.com", "Theirs")
    response = await client.post(
        URL,
        params={"workspace_id": str(other.workspace_id), "user_id": str(other.user_id)},
        json={"contact": ada(), "workspace_id": str(other.workspace_id), "user_id": str(other.user_id)},
        headers=auth(issued),
    )
    assert response.status_code == 201
    item = response.json()["data"]
    assert item["workspace_id"] == str(issued.workspace_id)
    assert item["created_by_id"] == str(issued.user_id)
    listing = await client.get(URL, headers=auth(other))
    assert listing.json()["meta"]["total"] == 0


async def test_body_id_cannot_redirect_an_update(client: Client, harness: Harness) -> None:
    issued = await harness.user()
    first = (await create(client, issued, first_name="First"))["data"]
    second = (await create(client, issued, first_name="Second"))["data"]
    response = await client.patch(
        f"{URL}/{first['id']}",
        json={"id": second["id"], "contact": {"company": "Changed"}},
        headers=auth(issued),
    )
    assert response.status_code == 200
    assert response.json()["data"]["id"] == first["id"]
    untouched = await client.get(f"{URL}/{second['id']}", headers=auth(issued))
    assert untouched.json()["data"]["data"]["company"] is None
