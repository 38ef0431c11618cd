"""The key API in nexos.ai shapes, and that no user can touch another user's keys."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx

from agent.epochs import SQLITE_REUSE_SECONDS
from agent.keys.base import APIKeyRecord
from agent.service import AgentServices, build_services, close
from server.app import create_app
from server.routes.keys import ListingBodies
from tests.agent.keys.test_nexos import KEY_ID as NEXOS_KEY_ID
from tests.agent.keys.test_nexos import api_key as nexos_record
from tests.conftest import remember_secret
from tests.server.conftest import User, make_settings, new_user, running
from tests.server.test_errors_and_ops import assert_error

API = "/v1/user/api_keys"


async def test_create_list_update_delete(client: httpx.AsyncClient, alice: User) -> None:
    created = await client.post(API, json={"name": "Production"}, headers=alice.headers)
    assert created.status_code == 201
    body = created.json()
    secret = remember_secret(body["api_key"])
    assert secret.startswith("dak_") and "…" not in secret and "*" not in secret
    assert set(body) == {
        "id",
        "api_key",
        "name",
        "enabled",
        "removed",
        "created_at",
        "updated_at",
        "last_used_at",
        "expiration_date",
    }
    listed = (await client.get(API, headers=alice.headers)).json()
    names = {k["name"]: k for k in listed}
    assert set(names) == {"main", "Production"}
    assert secret not in str(listed)  # masked in lists
    # the new key works
    assert (await client.get("/v1/me", headers={"X-Api-Key": secret})).json()[
        "owner"
    ] == alice.owner

    patched = await client.patch(
        f"{API}/{body['id']}", json={"name": "Prod", "enabled": False}, headers=alice.headers
    )
    assert patched.status_code == 200 and patched.json()["name"] == "Prod"
    assert patched.json()["enabled"] is False
    assert_error(await client.get("/v1/me", headers={"X-Api-Key": secret}), 401, "unauthorized")

    deleted = await client.delete(f"{API}/{body['id']}", headers=alice.headers)
    assert deleted.status_code == 204
    assert_error(await client.delete(f"{API}/unknown", headers=alice.headers), 404, "not_found")
    assert_error(
        await client.post(API, json={"name": ""}, headers=alice.headers), 400, "bad_request"
    )
    assert_error(await client.post(API, json={}, headers=alice.headers), 400, "bad_request")


async def test_rotate_routes_return_new_key_once_and_kill_old(
    client: httpx.AsyncClient, alice: User
) -> None:
    created = (await client.post(API, json={"name": "ci"}, headers=alice.headers)).json()
    old = remember_secret(created["api_key"])
    rotated = await client.post(f"{API}/{created['id']}/rotate", headers=alice.headers)
    assert rotated.status_code == 200
    new = remember_secret(rotated.json()["api_key"])
    assert new != old and rotated.json()["id"] == created["id"]
    assert_error(await client.get("/v1/me", headers={"X-Api-Key": old}), 401, "unauthorized")
    assert (await client.get("/v1/me", headers={"X-Api-Key": new})).status_code == 200

    regenerated = await client.patch(f"{API}/{created['id']}/regenerate", headers=alice.headers)
    newer = remember_secret(regenerated.json()["api_key"])
    assert_error(await client.get("/v1/me", headers={"X-Api-Key": new}), 401, "unauthorized")

    # PATCH /v1/apikey/rotate rotates the calling key itself
    calling = await client.patch("/v1/apikey/rotate", headers={"X-Api-Key": newer})
    assert calling.status_code == 200 and calling.json()["id"] == created["id"]
    newest = remember_secret(calling.json()["api_key"])
    assert_error(await client.get("/v1/me", headers={"X-Api-Key": newer}), 401, "unauthorized")
    assert (await client.get("/v1/me", headers={"X-Api-Key": newest})).status_code == 200


async def test_bulk_update_and_remove(client: httpx.AsyncClient, alice: User) -> None:
    a = (await client.post(API, json={"name": "a"}, headers=alice.headers)).json()
    b = (await client.post(API, json={"name": "b"}, headers=alice.headers)).json()
    remember_secret(a["api_key"]), remember_secret(b["api_key"])
    result = await client.post(
        f"{API}/bulk",
        json={"items": [{"id": a["id"], "name": "a2"}, {"id": b["id"], "remove": True}]},
        headers=alice.headers,
    )
    assert result.status_code == 200
    by_id = {k["id"]: k for k in result.json()}
    assert by_id[a["id"]]["name"] == "a2" and by_id[b["id"]]["removed"] is True
    too_many = {"items": [{"id": a["id"]}] * 101}
    assert_error(
        await client.post(f"{API}/bulk", json=too_many, headers=alice.headers), 400, "bad_request"
    )


async def test_bulk_is_all_or_nothing(
    client: httpx.AsyncClient, alice: User, services: AgentServices
) -> None:
    made = [
        (await client.post(API, json={"name": name}, headers=alice.headers)).json()
        for name in ("one", "two", "three")
    ]
    for key in made:
        remember_secret(key["api_key"])
    one, two, three = (k["id"] for k in made)
    taken = {"items": [{"id": one, "name": "renamed"}, {"id": two, "name": "three"}]}
    assert_error(
        await client.post(f"{API}/bulk", json=taken, headers=alice.headers), 409, "conflict"
    )
    unknown = {"items": [{"id": one, "remove": True}, {"id": "no-such-key", "name": "x"}]}
    assert_error(
        await client.post(f"{API}/bulk", json=unknown, headers=alice.headers), 404, "not_found"
    )
    listed = {k["id"]: k for k in (await client.get(API, headers=alice.headers)).json()}
    assert listed[one]["name"] == "one" and not listed[one]["removed"]
    assert listed[two]["name"] == "two" and listed[three]["name"] == "three"
    audit = [e.event for e in services.keys.audit(alice.owner)]
    assert "updated" not in audit and "revoked" not in audit


async def test_another_owners_key_is_not_found_everywhere(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    target = alice.key_id
    attempts = [
        client.patch(f"{API}/{target}", json={"name": "mine"}, headers=bob.headers),
        client.delete(f"{API}/{target}", headers=bob.headers),
        client.post(f"{API}/{target}/rotate", headers=bob.headers),
        client.patch(f"{API}/{target}/regenerate", headers=bob.headers),
        client.post(
            f"{API}/bulk", json={"items": [{"id": target, "remove": True}]}, headers=bob.headers
        ),
    ]
    for attempt in attempts:
        assert_error(await attempt, 404, "not_found")
    listed = (await client.get(API, headers=bob.headers)).json()
    assert [k["id"] for k in listed] == [bob.key_id]
    # alice's key still works, untouched
    me = await client.get("/v1/me", headers=alice.headers)
    assert me.status_code == 200
    names = [k["name"] for k in (await client.get(API, headers=alice.headers)).json()]
    assert names == ["main"]


async def test_concurrent_self_rotations_with_one_secret_have_exactly_one_winner(
    client: httpx.AsyncClient, alice: User
) -> None:
    created = (await client.post(API, json={"name": "raced"}, headers=alice.headers)).json()
    secret = remember_secret(created["api_key"])
    results = await asyncio.gather(
        *(client.patch("/v1/apikey/rotate", headers={"X-Api-Key": secret}) for _ in range(20))
    )
    winners = [r for r in results if r.status_code == 200]
    assert len(winners) == 1, [r.status_code for r in results]
    assert {r.status_code for r in results} <= {200, 401, 409}
    new = remember_secret(winners[0].json()["api_key"])
    assert (await client.get("/v1/me", headers={"X-Api-Key": new})).status_code == 200
    assert_error(await client.get("/v1/me", headers={"X-Api-Key": secret}), 401, "unauthorized")


async def test_conditional_rotations_by_id_have_exactly_one_winner(
    client: httpx.AsyncClient, alice: User
) -> None:
    """20 simultaneous REST rotations of one key with If-Match: its ETag: one 200 with a
    working secret, 19 × 412; a stale or malformed ETag changes nothing."""
    created = await client.post(API, json={"name": "by-id"}, headers=alice.headers)
    remember_secret(created.json()["api_key"])
    key_id, tag = created.json()["id"], created.headers["ETag"]
    fetched = await client.get(f"{API}/{key_id}", headers=alice.headers)
    assert fetched.headers["ETag"] == tag and fetched.json()["name"] == "by-id"
    conditional = {**alice.headers, "If-Match": tag}
    results = await asyncio.gather(
        *(client.post(f"{API}/{key_id}/rotate", headers=conditional) for _ in range(20))
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [412] * 19, codes
    winner = next(r for r in results if r.status_code == 200)
    new = remember_secret(winner.json()["api_key"])
    assert winner.headers["ETag"] != tag
    assert (await client.get("/v1/me", headers={"X-Api-Key": new})).status_code == 200
    for stale in (tag, '"nonsense"'):
        again = await client.post(
            f"{API}/{key_id}/rotate", headers={**alice.headers, "If-Match": stale}
        )
        assert_error(again, 412, "precondition_failed")
    assert (await client.get("/v1/me", headers={"X-Api-Key": new})).status_code == 200


async def test_a_change_in_one_worker_counts_in_another_on_the_next_request(
    tmp_path: Path,
) -> None:
    """Two apps with their own services on one database stand for two uvicorn workers:
    each keeps verified keys in memory, yet a rotation or revocation made through one is
    refused by the other on every request that starts 1 ms after it."""
    moment = 2 * SQLITE_REUSE_SECONDS
    settings = make_settings(tmp_path)
    worker_a, worker_b = build_services(settings), build_services(settings)
    user = new_user(worker_a)
    async with (
        running(create_app(settings, services=worker_a)) as app_a,
        running(create_app(settings, services=worker_b)) as app_b,
    ):
        a = httpx.AsyncClient(transport=httpx.ASGITransport(app=app_a), base_url="http://a")
        b = httpx.AsyncClient(transport=httpx.ASGITransport(app=app_b), base_url="http://b")
        async with a, b:
            for _ in range(3):  # warm worker A's memory
                assert (await a.get(API, headers=user.headers)).status_code == 200
            rotated = await b.post(f"{API}/{user.key_id}/rotate", headers=user.headers)
            assert rotated.status_code == 200
            new = {"Authorization": f"Bearer {remember_secret(rotated.json()['api_key'])}"}
            await asyncio.sleep(moment)
            assert_error(await a.get(API, headers=user.headers), 401, "unauthorized")
            assert (await a.get(API, headers=new)).status_code == 200
            created = await b.post(API, headers=new, json={"name": "second"})
            assert created.status_code == 201
            remember_secret(created.json()["api_key"])
            await asyncio.sleep(moment)
            listed = await a.get(API, headers=new)
            assert [k["name"] for k in listed.json()] == ["main", "second"]
            assert (await b.delete(f"{API}/{user.key_id}", headers=new)).status_code == 204
            await asyncio.sleep(moment)
            assert_error(await a.get(API, headers=new), 401, "unauthorized")
    for services in (worker_a, worker_b):
        await close(services)
        services.engine.dispose()


def _record(name: str) -> APIKeyRecord:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    return APIKeyRecord(name, name, "dak_AbCd…wXyZ", True, False, now, now, None, None, "alice")


def _names(body: bytes) -> list[str]:
    return [key["name"] for key in json.loads(body)]


def test_a_listing_body_is_reused_only_for_that_same_listing() -> None:
    """The encoded listing is kept per owner and reused only while the key store hands
    back the very same immutable listing; any other listing is encoded afresh."""
    bodies = ListingBodies(max_owners=2)
    listing = (_record("a"),)
    first = bodies.body("alice", listing)
    assert _names(first) == ["a"] and bodies.body("alice", listing) is first
    assert _names(bodies.body("alice", (_record("a"), _record("b")))) == ["a", "b"]
    assert bodies.body("alice", listing) is not first  # replaced by the newer listing
    mutable = [_record("c")]
    assert _names(bodies.body("bob", mutable)) == ["c"]
    mutable.append(_record("d"))  # a list may change under the same identity: never kept
    assert _names(bodies.body("bob", mutable)) == ["c", "d"]
    kept = (_record("e"),)
    kept_body = bodies.body("carol", kept)
    bodies.body("dave", (_record("f"),))
    bodies.body("erin", (_record("g"),))  # beyond max_owners: the oldest owners go
    assert bodies.body("carol", kept) is not kept_body and _names(kept_body) == ["e"]


async def test_the_listing_follows_every_change_and_each_use(
    client: httpx.AsyncClient, alice: User
) -> None:
    """Served from memory while nothing changes, the listing still shows each change and
    the key's recorded use at once."""
    before = (await client.get(API, headers=alice.headers)).json()
    assert [k["name"] for k in before] == ["main"]
    assert (await client.get(API, headers=alice.headers)).json() == before
    created = await client.post(API, json={"name": "second"}, headers=alice.headers)
    remember_secret(created.json()["api_key"])
    assert [k["name"] for k in (await client.get(API, headers=alice.headers)).json()] == [
        "main",
        "second",
    ]
    patch = await client.patch(
        f"{API}/{created.json()['id']}", json={"enabled": False}, headers=alice.headers
    )
    assert patch.status_code == 200
    listed = {k["name"]: k for k in (await client.get(API, headers=alice.headers)).json()}
    assert listed["second"]["enabled"] is False and listed["main"]["last_used_at"] is not None
    assert (
        await client.delete(f"{API}/{created.json()['id']}", headers=alice.headers)
    ).status_code == 204
    assert [k["name"] for k in (await client.get(API, headers=alice.headers)).json()] == ["main"]


async def test_if_match_is_refused_where_keys_have_no_versions(
    tmp_path: Path, services: AgentServices
) -> None:
    """nexos.ai keys have no versions: a conditional rotation is a 412, never silently
    unconditional (nothing is sent to nexos.ai's regenerate)."""
    import respx

    owner_key = remember_secret("nexos-owner-0123456789abcdefghijkl")
    key_id, record = NEXOS_KEY_ID, nexos_record()
    settings = make_settings(tmp_path, keys_backend="nexos")
    own = build_services(settings, index=services.index)
    app = create_app(settings, services=own)
    with respx.mock(base_url="https://api.nexos.ai", assert_all_called=False) as nexos:
        nexos.get("/v1/user/api_keys").respond(200, json=[record])
        regenerate = nexos.patch(f"/v1/user/api_keys/{key_id}/regenerate").respond(200)
        async with running(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                response = await c.post(
                    f"{API}/{key_id}/rotate",
                    headers={"Authorization": f"Bearer {owner_key}", "If-Match": '"v1"'},
                )
    assert_error(response, 412, "precondition_failed")
    assert not regenerate.called
