"""The nexos.ai backend against the documented request and response shapes (respx)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import Engine

from agent.config import AgentSettings
from agent.errors import (
    AuthenticationError,
    BackendError,
    KeyConflictError,
    KeyNameError,
    KeyNotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from agent.keys.audit import AuditLog
from agent.keys.base import Principal
from agent.keys.local import utcnow
from agent.keys.nexos import NexosKeyManager
from tests.conftest import remember_secret

BASE = "https://api.nexos.ai"
CLI_KEY = remember_secret("nexos-cli-0123456789abcdefghij")
ALICE_KEY = remember_secret("nexos-alice-0123456789abcdefghij")
NEW_VALUE = remember_secret("nexos-new-9876543210zyxwvutsrqpo")
KEY_ID = "0b6c9a52-6c0b-4c35-9d8e-5f3c9a1e2b7d"


def api_key(**overrides: Any) -> dict[str, Any]:
    data = {
        "id": KEY_ID,
        "api_key": "nexos-3****-56iupo3240v22",
        "name": "Production",
        "enabled": True,
        "removed": False,
        "created_at": "2025-05-01T10:00:00Z",
        "updated_at": "2025-05-01T10:00:00Z",
        "last_used_at": None,
        "expiration_date": None,
    }
    return {**data, **overrides}


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def manager(sleeps: Sleeps, engine: Engine | None = None, **settings: Any) -> NexosKeyManager:
    config = AgentSettings(nexos_api_key=CLI_KEY, keys_backend="nexos", **settings)
    audit = AuditLog(engine, utcnow) if engine is not None else None
    return NexosKeyManager(config, http_client=httpx.Client(), audit=audit, sleep=sleeps)


def bearer(request: httpx.Request) -> str:
    return request.headers["Authorization"].removeprefix("Bearer ")


def test_list_masks_and_uses_the_cli_key(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    leaked = api_key(id="k2", name="Leaky", api_key=NEW_VALUE)
    route = mock.get("/v1/user/api_keys").respond(200, json=[api_key(), leaked])
    records = manager(sleeps).list("me")
    assert [r.name for r in records] == ["Production", "Leaky"]
    assert records[0].api_key == "nexos-3****-56iupo3240v22"
    assert NEW_VALUE not in repr(records)  # an unmasked value from upstream gets masked
    assert bearer(route.calls.last.request) == CLI_KEY


def test_create_returns_the_secret_once_and_audits(
    mock: respx.MockRouter, sleeps: Sleeps, engine: Engine
) -> None:
    route = mock.post("/v1/user/api_keys").respond(201, json=api_key(api_key=NEW_VALUE))
    keys = manager(sleeps, engine)
    record, secret = keys.create("me", " Production ", actor="me", channel="rest")
    assert secret == NEW_VALUE and NEW_VALUE not in repr(record)
    assert json.loads(route.calls.last.request.content) == {
        "name": "Production",
        "expiration_date": None,
    }
    assert [(e.event, e.channel, e.key_id) for e in keys.audit("me")] == [
        ("created", "rest", KEY_ID)
    ]


def test_each_person_acts_with_their_own_key(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    route = mock.get("/v1/user/api_keys").respond(200, json=[api_key()])
    alice = Principal(owner="alice", credential=ALICE_KEY)
    manager(sleeps).list("alice", principal=alice)
    assert bearer(route.calls.last.request) == ALICE_KEY


def test_update_sends_the_full_request(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    mock.get("/v1/user/api_keys").respond(200, json=[api_key()])
    route = mock.patch(f"/v1/user/api_keys/{KEY_ID}").respond(200, json=api_key(enabled=False))
    record = manager(sleeps).update("me", KEY_ID, enabled=False)
    assert not record.enabled
    assert json.loads(route.calls.last.request.content) == {
        "name": "Production",
        "enabled": False,
        "expiration_date": None,
    }


def test_rotate_regenerates_and_drops_the_cached_sign_in(
    mock: respx.MockRouter, sleeps: Sleeps
) -> None:
    listing = mock.get("/v1/user/api_keys").respond(200, json=[api_key()])
    mock.patch(f"/v1/user/api_keys/{KEY_ID}/regenerate").respond(
        200, json=api_key(api_key=NEW_VALUE)
    )
    keys = manager(sleeps)
    principal = keys.verify(ALICE_KEY)
    keys.verify(ALICE_KEY)
    assert listing.call_count == 1  # the second sign-in came from the cache
    record, secret = keys.rotate("alice", KEY_ID, principal=principal)
    assert secret == NEW_VALUE and record.id == KEY_ID and record.api_key != NEW_VALUE
    calls = listing.call_count
    keys.verify(ALICE_KEY)
    assert listing.call_count == calls + 1  # re-checked with nexos.ai after the rotation
    with pytest.raises(BackendError, match="grace"):
        keys.rotate("alice", KEY_ID, grace=60, principal=principal)


def test_rotate_own_key(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    route = mock.patch("/v1/apikey/rotate").respond(200, json=api_key(api_key=NEW_VALUE))
    alice = Principal(owner="alice", credential=ALICE_KEY)
    assert manager(sleeps).rotate_own(alice) == NEW_VALUE
    assert bearer(route.calls.last.request) == ALICE_KEY


def test_revoke_deletes(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    mock.get("/v1/user/api_keys").respond(200, json=[api_key()])
    route = mock.delete(f"/v1/user/api_keys/{KEY_ID}").respond(204)
    record = manager(sleeps).revoke("me", KEY_ID)
    assert route.called and record.removed and not record.enabled


def test_team_keys_use_the_team_paths(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    team = "/v1/teams/t-1/api_keys"
    mock.get(team).respond(200, json=[api_key()])
    created = mock.post(team).respond(201, json=api_key(api_key=NEW_VALUE))
    regen = mock.patch(f"{team}/{KEY_ID}/regenerate").respond(200, json=api_key(api_key=NEW_VALUE))
    deleted = mock.delete(f"{team}/{KEY_ID}").respond(204)
    keys = manager(sleeps, nexos_team_id="t-1")
    keys.create("me", "Production")
    keys.rotate("me", KEY_ID)
    keys.revoke("me", KEY_ID)
    assert created.called and regen.called and deleted.called


def test_verify_rejects_bad_keys(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    route = mock.get("/v1/user/api_keys").respond(401, json={"message": f"bad key {ALICE_KEY}"})
    keys = manager(sleeps)
    with pytest.raises(AuthenticationError) as info:
        keys.verify(ALICE_KEY)
    assert ALICE_KEY not in str(info.value)
    for junk in ("", "short", "x" * 600, "nexos with spaces inside it"):
        with pytest.raises(AuthenticationError):
            keys.verify(junk)
    assert route.call_count == 1


def test_without_any_key_nothing_is_sent(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    keys = NexosKeyManager(AgentSettings(keys_backend="nexos"), http_client=httpx.Client())
    with pytest.raises(AuthenticationError, match="DOCSAGENT_NEXOS_API_KEY"):
        keys.list("me")
    assert not mock.calls


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, KeyNotFoundError),
        (400, BackendError),
    ],
)
def test_errors_on_rotate(
    mock: respx.MockRouter, sleeps: Sleeps, status: int, error: type[Exception]
) -> None:
    mock.get("/v1/user/api_keys").respond(200, json=[api_key()])
    mock.patch(f"/v1/user/api_keys/{KEY_ID}/regenerate").respond(status, json={"message": "nope"})
    with pytest.raises(error):
        manager(sleeps).rotate("me", KEY_ID)


def test_conflicts(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    mock.get("/v1/user/api_keys").respond(200, json=[api_key()])
    mock.post("/v1/user/api_keys").respond(409, json={"message": "name already taken"})
    mock.patch(f"/v1/user/api_keys/{KEY_ID}/regenerate").respond(409, json={})
    keys = manager(sleeps)
    with pytest.raises(KeyNameError, match="already taken"):
        keys.create("me", "Production")
    with pytest.raises(KeyConflictError, match="Production"):
        keys.rotate("me", KEY_ID)


def test_unknown_key_id_is_not_found(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    mock.get("/v1/user/api_keys").respond(200, json=[api_key()])
    with pytest.raises(KeyNotFoundError):
        manager(sleeps).revoke("me", "no-such-id")


def test_rate_limits_are_retried_after_retry_after(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    route = mock.get("/v1/user/api_keys")
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.Response(200, json=[api_key()]),
    ]
    assert len(manager(sleeps).list("me")) == 1
    assert sleeps == [2.0]


def test_rate_limit_that_persists(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    route = mock.post("/v1/user/api_keys").respond(429, headers={"Retry-After": "7"})
    with pytest.raises(RateLimitedError) as info:
        manager(sleeps).create("me", "Production")
    assert info.value.retry_after == 7.0
    assert route.call_count == 4  # 1 + fetch_retries (3): a 429 was not processed


def test_server_errors_retried_only_when_safe(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    listing = mock.get("/v1/user/api_keys").respond(503)
    created = mock.post("/v1/user/api_keys").respond(500)
    keys = manager(sleeps)
    with pytest.raises(BackendError, match="HTTP 503"):
        keys.list("me")
    with pytest.raises(BackendError, match="HTTP 500"):
        keys.create("me", "Production")
    assert listing.call_count == 4 and created.call_count == 1


def test_timeouts_become_backend_errors(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    listing = mock.get("/v1/user/api_keys").mock(side_effect=httpx.ReadTimeout("slow"))
    created = mock.post("/v1/user/api_keys").mock(side_effect=httpx.ReadTimeout("slow"))
    keys = manager(sleeps)
    with pytest.raises(BackendError, match="in time"):
        keys.list("me")
    with pytest.raises(BackendError, match="in time"):
        keys.create("me", "Production")
    assert listing.call_count == 4 and created.call_count == 1


def test_connection_errors_are_retried(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    route = mock.post("/v1/user/api_keys")
    route.side_effect = [
        httpx.ConnectError("refused"),
        httpx.Response(201, json=api_key(api_key=NEW_VALUE)),
    ]
    assert manager(sleeps).create("me", "Production")[1] == NEW_VALUE
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>oops</html>"),
        httpx.Response(200, json={"items": []}),
        httpx.Response(200, json=[{"id": "x"}]),
    ],
)
def test_malformed_answers(
    mock: respx.MockRouter, sleeps: Sleeps, response: httpx.Response
) -> None:
    mock.get("/v1/user/api_keys").mock(return_value=response)
    with pytest.raises(BackendError, match=r"nexos\.ai returned"):
        manager(sleeps).list("me")


def test_create_without_a_full_value_is_an_error(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    mock.post("/v1/user/api_keys").respond(201, json=api_key())  # masked value only
    with pytest.raises(BackendError, match="no full key value"):
        manager(sleeps).create("me", "Production")


def test_invalid_name_is_refused_locally_and_remotely(
    mock: respx.MockRouter, sleeps: Sleeps
) -> None:
    route = mock.post("/v1/user/api_keys").respond(400, json={"message": "name is invalid"})
    keys = manager(sleeps)
    with pytest.raises(KeyNameError):
        keys.create("me", "bad\nname")
    assert not route.called
    with pytest.raises(KeyNameError, match="invalid"):
        keys.create("me", "fine")


def test_bulk_is_nexos_own_bulk_call(mock: respx.MockRouter, sleeps: Sleeps) -> None:
    """One request to nexos.ai's bulk endpoint, not one change after another."""
    from agent.keys.base import BulkChange

    route = mock.post("/v1/user/api_keys/bulk").respond(200, json=[api_key(name="Renamed")])
    records = manager(sleeps).bulk(
        "me", [BulkChange(id=KEY_ID, name="Renamed"), BulkChange(id="k2", remove=True)]
    )
    assert [r.name for r in records] == ["Renamed"]
    assert json.loads(route.calls.last.request.content) == {
        "items": [{"id": KEY_ID, "name": "Renamed"}, {"id": "k2", "remove": True}]
    }
