"""The local key store as a user of the CLI, REST API or chat sees it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from agent.config import AgentSettings
from agent.errors import AuthenticationError, KeyNameError, KeyNotFoundError
from agent.keys.format import mask_secret
from agent.keys.local import LocalKeyManager
from tests.agent.keys.conftest import FakeClock, MakeKey, StatementLog
from tests.conftest import remember_secret


def test_created_key_verifies_as_its_owner(keys: LocalKeyManager, make_key: MakeKey) -> None:
    record, secret = make_key("alice", "Production")
    principal = keys.verify(secret)
    assert (principal.owner, principal.key_id) == ("alice", record.id)
    assert secret.startswith("dak_") and record.name == "Production"


def test_list_and_records_never_show_the_secret(
    keys: LocalKeyManager, make_key: MakeKey, clock: FakeClock
) -> None:
    created = []
    for name in ("Production", "My app"):
        created.append(make_key("alice", name)[1])
        clock.advance(1)
    records = keys.list("alice")
    dumped = json.dumps([r.to_json() for r in records]) + repr(records)
    assert [r.name for r in records] == ["Production", "My app"]
    for secret in created:
        assert secret not in dumped
        assert secret[4:-4] not in dumped  # not even the random body
        assert mask_secret(secret) in dumped  # dak_…last4 is what users see
    assert {r.api_key for r in records} == {f"dak_…{s[-4:]}" for s in created}


def test_rotate_replaces_the_secret_and_keeps_the_key(
    keys: LocalKeyManager, make_key: MakeKey, clock: FakeClock
) -> None:
    expiry = clock.now + timedelta(days=30)
    record, old = make_key("alice", "Production", expires_at=expiry)
    rotated, new = keys.rotate("alice", record.id)
    remember_secret(new)
    assert new != old
    with pytest.raises(AuthenticationError):
        keys.verify(old)
    assert keys.verify(new).key_id == record.id
    assert (rotated.id, rotated.name, rotated.owner) == (record.id, "Production", "alice")
    assert rotated.expiration_date == expiry
    assert rotated.api_key == mask_secret(new)


def test_rotate_grace_keeps_the_old_secret_alive_for_a_while(
    keys: LocalKeyManager, make_key: MakeKey, clock: FakeClock
) -> None:
    record, old = make_key()
    _, new = keys.rotate("alice", record.id, grace=300)
    remember_secret(new)
    assert keys.verify(old).key_id == keys.verify(new).key_id == record.id
    clock.advance(300)
    with pytest.raises(AuthenticationError):
        keys.verify(old)
    assert keys.verify(new).key_id == record.id


def test_grace_is_capped_at_24_hours(
    keys: LocalKeyManager, make_key: MakeKey, clock: FakeClock
) -> None:
    record, old = make_key()
    remember_secret(keys.rotate("alice", record.id, grace=10 * 86400)[1])
    clock.advance(86400 - 1)
    keys.verify(old)
    clock.advance(1)
    with pytest.raises(AuthenticationError):
        keys.verify(old)


def test_revoke_is_permanent_and_the_record_stays(keys: LocalKeyManager, make_key: MakeKey) -> None:
    record, secret = make_key()
    revoked = keys.revoke("alice", record.id)
    with pytest.raises(AuthenticationError):
        keys.verify(secret)
    assert revoked.removed and not revoked.enabled
    assert keys.get("alice", record.id).removed
    assert keys.list("alice") == []
    for change in (
        lambda: keys.rotate("alice", record.id),
        lambda: keys.revoke("alice", record.id),
    ):
        with pytest.raises(KeyNotFoundError, match="revoked"):
            change()
    make_key("alice", "Production")  # the name is free again


def test_expired_key_fails(keys: LocalKeyManager, make_key: MakeKey, clock: FakeClock) -> None:
    _, secret = make_key(expires_at=clock.now + timedelta(hours=1))
    keys.verify(secret)
    clock.advance(3600)
    with pytest.raises(AuthenticationError):
        keys.verify(secret)


def test_disabled_key_fails_until_enabled(keys: LocalKeyManager, make_key: MakeKey) -> None:
    record, secret = make_key()
    assert not keys.update("alice", record.id, enabled=False).enabled
    with pytest.raises(AuthenticationError):
        keys.verify(secret)
    keys.update("alice", record.id, enabled=True)
    assert keys.verify(secret).owner == "alice"


def test_every_failure_looks_the_same(
    keys: LocalKeyManager, make_key: MakeKey, clock: FakeClock, settings: AgentSettings
) -> None:
    disabled = make_key(name="a")
    keys.update("alice", disabled[0].id, enabled=False)
    revoked = make_key(name="b")
    keys.revoke("alice", revoked[0].id)
    expired = make_key(name="c", expires_at=clock.now + timedelta(seconds=1))
    clock.advance(2)
    unknown = LocalKeyManager(keys.engine, settings, pepper=b"x" * 32).create("bob", "x")[1]
    remember_secret(unknown)
    messages = set()
    for secret in (disabled[1], revoked[1], expired[1], "dak_nope", unknown):
        with pytest.raises(AuthenticationError) as info:
            keys.verify(secret)
        messages.add(str(info.value))
    assert messages == {"invalid API key"}


def test_another_owners_key_is_not_found(keys: LocalKeyManager, make_key: MakeKey) -> None:
    record, secret = make_key("alice")
    assert keys.list("bob") == []
    for action in (
        lambda: keys.get("bob", record.id),
        lambda: keys.rotate("bob", record.id),
        lambda: keys.revoke("bob", record.id),
        lambda: keys.update("bob", record.id, enabled=False),
    ):
        with pytest.raises(KeyNotFoundError):
            action()
    assert keys.verify(secret).owner == "alice"  # untouched


@pytest.mark.parametrize(
    "name",
    ["", "   ", "x" * 256, "line\nbreak", "tab\there", "nul\x00", "bell\x07", "rtl\u202eevil"],
)
def test_bad_names_are_refused_with_a_clear_error(keys: LocalKeyManager, name: str) -> None:
    with pytest.raises(KeyNameError) as info:
        keys.create("alice", name)
    assert "name" in str(info.value)
    assert keys.list("alice") == []


def test_names_are_trimmed_and_unique_per_owner(keys: LocalKeyManager, make_key: MakeKey) -> None:
    record, _ = make_key("alice", "  Production  ")
    assert record.name == "Production"
    assert make_key("alice", "x" * 255)[0].name == "x" * 255
    with pytest.raises(KeyNameError, match="already exists"):
        keys.create("alice", "Production")
    make_key("bob", "Production")  # another owner may use it
    other, _ = make_key("alice", "Staging")
    with pytest.raises(KeyNameError, match="already exists"):
        keys.update("alice", other.id, name="Production")


def test_last_used_is_written_at_most_once_a_minute(
    keys: LocalKeyManager, make_key: MakeKey, clock: FakeClock, statements: StatementLog
) -> None:
    record, secret = make_key()
    for _ in range(3):
        keys.verify(secret)
        clock.advance(10)
    assert keys.get("alice", record.id).last_used_at == clock.now - timedelta(seconds=30)
    writes = [s for s in statements.statements if s.startswith("UPDATE api_keys")]
    assert len(writes) == 1
    clock.advance(31)
    keys.verify(secret)
    assert keys.get("alice", record.id).last_used_at == clock.now


def test_bad_checksum_is_rejected_without_any_query(
    keys: LocalKeyManager, make_key: MakeKey, statements: StatementLog
) -> None:
    _, secret = make_key()
    statements.statements.clear()
    swapped = "A" if secret[10] != "A" else "B"
    forged = [
        secret[:10] + swapped + secret[11:],  # one character changed
        secret[:-1] + ("0" if secret[-1] != "0" else "1"),  # checksum changed
        "dak_" + "a" * 39,  # made up, right shape
        "",
        "x" * 10_000,
        "Bearer " + secret,
    ]
    for candidate in forged:
        with pytest.raises(AuthenticationError):
            keys.verify(candidate)
    assert statements.statements == []
    keys.verify(secret)
    assert statements.statements  # the listener does see real lookups


def test_audit_records_every_change_without_secrets(
    keys: LocalKeyManager, make_key: MakeKey
) -> None:
    record, first = make_key()
    keys.update("alice", record.id, name="Prod", actor="alice", channel="rest")
    _, second = keys.rotate("alice", record.id, actor="alice", channel="chat", approval_id="ap-1")
    remember_secret(second)
    keys.revoke("alice", record.id, actor="admin", channel="mcp", approval_id="ap-2")
    make_key("bob", "Other")
    events = keys.audit("alice")
    assert [(e.event, e.channel, e.actor, e.approval_id) for e in events] == [
        ("revoked", "mcp", "admin", "ap-2"),
        ("rotated", "chat", "alice", "ap-1"),
        ("updated", "rest", "alice", None),
        ("created", "cli", "alice", None),
    ]
    assert {e.key_id for e in events} == {record.id}
    assert len(keys.audit()) == 5
    dumped = repr(keys.audit())
    assert first not in dumped and second not in dumped
