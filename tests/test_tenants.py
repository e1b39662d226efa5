"""Tenants of the HTTP API: a key belongs to a tenant and an app; a tenant owns its catalogs and
everything in them; another tenant learns nothing of them, not even that they exist.

In process (FastAPI's test client) on a copy of the demo catalog, real LLM. The default tenant
(keys without "tenant/") owns the demo catalog; tenant "acme" loads its own catalog through the
API, under a name the default tenant also uses, to show the two never meet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.config import ConfigError, load_config
from retrieval.store import Stores
from tests.conftest import api_client, copy_demo

KEYS = ["shop:shop-key", "ops:ops-key:admin", "acme/web:acme-web-key", "acme/phone:acme-phone-key",
        "acme/ops:acme-ops-key:admin"]
SHOP = {"Authorization": "Bearer shop-key"}
ACME_WEB = {"Authorization": "Bearer acme-web-key"}
ACME_PHONE = {"Authorization": "Bearer acme-phone-key"}
ACME_ADMIN = {"Authorization": "Bearer acme-ops-key"}
ACME_ITEMS = [
    {"id": "a-1", "title": "Harbour Lights", "category": "books", "tags": ["cozy", "mystery"],
     "description": "A lighthouse keeper solves a quiet mystery in a fishing town."},
    {"id": "a-2", "title": "The Orchard Year", "category": "books", "tags": ["cozy", "literary"],
     "description": "A family keeps an apple orchard through one hard year."},
]


def client_for(data_dir: Path, model_cache: Path, **service: Any) -> TestClient:
    return api_client(data_dir, model_cache, KEYS, **service)


@pytest.fixture(scope="module")
def data_dir(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(demo_template, tmp_path_factory.mktemp("tenants") / "data")


@pytest.fixture(scope="module")
def client(data_dir: Path, model_cache: Path) -> Iterator[TestClient]:
    with client_for(data_dir, model_cache) as opened:
        for kind, records in (("items", ACME_ITEMS), ("users", [{"id": "u01", "name": "Acme's own u01"}])):
            # The catalog name "demo" is also the default tenant's: each tenant has its own.
            response = opened.post(f"/v1/catalogs/demo/{kind}", json={"records": records}, headers=ACME_ADMIN)
            assert response.status_code == 200, response.text
        yield opened


def say(client: TestClient, user: str, text: str, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post(f"/v1/users/{user}/messages", json={"text": text, **body}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_each_tenant_sees_only_its_own_catalog(client: TestClient) -> None:
    assert client.get("/v1/catalogs", headers=ACME_WEB).json() == {"catalogs": ["demo"], "default": "demo"}
    assert client.get("/v1/catalogs", headers=SHOP).json()["catalogs"] == ["demo"]
    acme = say(client, "u09", "a cozy mystery book", ACME_WEB)
    assert {r["item_id"] for r in acme["recommendations"]} <= {"a-1", "a-2"} and acme["recommendations"]
    shop = say(client, "u09", "a cozy mystery book", SHOP)
    assert not {r["item_id"] for r in shop["recommendations"]} & {"a-1", "a-2"}
    # Liveness needs no key, so it names no catalog of anyone's.
    assert "catalogs" not in client.get("/health").json()


def test_another_tenants_users_profiles_and_sessions_are_404(client: TestClient) -> None:
    shop_turn = say(client, "u02", "I loved Arrival, another thoughtful film please", SHOP)
    assert shop_turn["profile"]["likes"]
    # u02 is a user of the default tenant's demo catalog only: to acme it does not exist.
    for response in (
        client.get("/v1/users/u02/profile", headers=ACME_WEB),
        client.get(f"/v1/users/u02/sessions/{shop_turn['session_id']}", headers=ACME_WEB),
        client.post("/v1/users/u02/messages", json={"text": "more", "session_id": shop_turn["session_id"]},
                    headers=ACME_WEB),
    ):
        assert response.status_code == 404, response.text
    assert client.get("/v1/users/u02/sessions", headers=ACME_WEB).json() == []
    # The same user id in acme's catalog is acme's own person, with acme's own profile.
    assert client.get("/v1/users/u01/profile", headers=ACME_WEB).json()["profile"]["likes"] == []
    # A qualified name reaches nothing: tenants name only their own catalogs.
    sneaky = client.post("/v1/users/u02/messages", json={"text": "hi", "catalog": "acme.demo"}, headers=SHOP)
    assert sneaky.status_code == 422
    assert client.get("/v1/users/u02/profile", headers=SHOP).json()["profile"]["likes"] == shop_turn["profile"]["likes"]


def test_feedback_on_another_tenants_user_or_item_is_404(client: TestClient) -> None:
    shop_turn = say(client, "u02", "a funny book", SHOP)
    item = shop_turn["recommendations"][0]["item_id"]
    before = client.get("/v1/users/u02/profile", headers=SHOP).json()["profile"]
    # u02 is the default tenant's: to acme it does not exist, nor does the default demo's item.
    refused = client.post("/v1/users/u02/feedback", json={"item_id": item, "signal": "down"}, headers=ACME_WEB)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "unknown_user"
    refused = client.post("/v1/users/u01/feedback", json={"item_id": item, "signal": "down"}, headers=ACME_WEB)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "unknown_item"
    session = client.post("/v1/users/u02/feedback", json={"item_id": item, "signal": "down",
                                                          "session_id": shop_turn["session_id"]}, headers=ACME_WEB)
    assert session.status_code == 404
    assert client.get("/v1/users/u02/profile", headers=SHOP).json()["profile"] == before
    # Acme's own person and item take it, in acme's catalog only.
    taken = client.post("/v1/users/u01/feedback", json={"item_id": "a-1", "signal": "up"}, headers=ACME_WEB)
    assert taken.status_code == 200, taken.text
    assert taken.json()["profile"]["likes"] == ["a-1"]
    assert "a-1" not in client.get("/v1/users/u01/profile", headers=SHOP).json()["profile"]["likes"]


def test_apps_of_one_tenant_share_profiles_but_not_sessions(client: TestClient) -> None:
    first = say(client, "u01", "I loved Harbour Lights", ACME_WEB)
    assert first["profile"]["likes"] == ["a-1"]
    assert client.get("/v1/users/u01/profile", headers=ACME_PHONE).json()["profile"]["likes"] == ["a-1"]
    assert client.get(f"/v1/users/u01/sessions/{first['session_id']}", headers=ACME_PHONE).status_code == 404
    assert client.get(f"/v1/users/u01/sessions/{first['session_id']}", headers=ACME_WEB).status_code == 200


def test_ingest_into_another_tenants_catalog_is_not_possible(client: TestClient, data_dir: Path) -> None:
    # The default tenant's admin writes to its own "demo"; acme's stays as acme loaded it.
    ops = {"Authorization": "Bearer ops-key"}
    extra = [{"id": "a-3", "title": "Tidewater", "category": "books", "description": "Sea stories."}]
    assert client.post("/v1/catalogs/demo/items", json={"records": extra}, headers=ops).status_code == 200
    stores = Stores.open(data_dir)
    try:
        assert stores.database.ids("acme.demo", "items") == {"a-1", "a-2"}
        assert "a-3" in stores.database.ids("demo", "items")
    finally:
        stores.close()
    # Interactions for a catalog a tenant does not have: 404, as for one that does not exist.
    missing = client.post("/v1/catalogs/films/interactions", json={"records": [{}]}, headers=ACME_ADMIN)
    assert missing.status_code == 404


def test_profile_put_respects_allow_new_users(data_dir: Path, model_cache: Path) -> None:
    profile = {"likes": [], "liked_tags": ["jazz"]}
    with client_for(data_dir, model_cache, allow_new_users=False) as strict:
        refused = strict.put("/v1/users/stranger-1/profile", json=profile, headers=SHOP)
        assert refused.status_code == 404 and "stranger-1" in refused.json()["error"]["message"]
        assert strict.get("/v1/users/stranger-1/profile", headers=SHOP).status_code == 404
        assert strict.put("/v1/users/u03/profile", json=profile, headers=SHOP).status_code == 200
    with client_for(data_dir, model_cache) as open_shop:
        assert open_shop.put("/v1/users/stranger-2/profile", json=profile, headers=SHOP).status_code == 200
        assert open_shop.get("/v1/users/stranger-2/profile", headers=SHOP).json()["profile"]["liked_tags"] == ["jazz"]


def test_a_tenant_without_a_catalog_is_told_to_load_one(tmp_path: Path, demo_template: Path, model_cache: Path) -> None:
    with api_client(copy_demo(demo_template, tmp_path / "data"), model_cache, ["newco/web:newco-key"]) as fresh:
        response = fresh.post("/v1/users/u01/messages", json={"text": "a book"},
                              headers={"Authorization": "Bearer newco-key"})
        assert response.status_code == 422 and "newco" in response.json()["error"]["message"]


def test_key_entries_name_their_tenant_or_fail_without_echoing_the_secret() -> None:
    assert load_config(overrides={"service": {"api_keys": ["acme/web:k1", "shop:k2:admin"]}}, environ={})
    with pytest.raises(ConfigError) as failed:
        load_config(overrides={"service": {"api_keys": ["Bad Tenant/web:secret-xyz"]}}, environ={})
    assert "entry 1" in str(failed.value) and "secret-xyz" not in str(failed.value)
