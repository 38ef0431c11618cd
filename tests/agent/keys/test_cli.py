"""`docsagent keys …` through typer's CliRunner on the real app and the local data dir."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.errors import AuthenticationError, KeyNameError
from agent.keys.factory import make_key_manager
from server.cli import app
from server.config import Settings
from tests.conftest import remember_secret

SECRET = re.compile(r"dak_[0-9A-Za-z]{39}")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, *args: str, input: str | None = None) -> Any:
    result = runner.invoke(app, ["keys", *args], input=input)
    for secret in SECRET.findall(result.output):
        remember_secret(secret)
    return result


def verify(secret: str) -> str:
    manager = make_key_manager(Settings())
    try:
        return manager.verify(secret).owner
    finally:
        manager.engine.dispose()  # type: ignore[attr-defined]


def create(runner: CliRunner, name: str = "Production") -> dict[str, Any]:
    result = run(runner, "create", name, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_create_prints_the_secret_once(runner: CliRunner) -> None:
    result = run(runner, "create", "Production")
    assert result.exit_code == 0, result.output
    [secret] = SECRET.findall(result.output)
    assert result.output.count(secret) == 1 and "will not be shown again" in result.output
    assert verify(secret) == "local"


def test_create_json_is_the_full_record(runner: CliRunner) -> None:
    data = create(runner)
    assert set(data) == {
        "id", "name", "api_key", "enabled", "removed", "created_at",
        "updated_at", "last_used_at", "expiration_date",
    }  # fmt: skip
    assert SECRET.fullmatch(data["api_key"]) and data["name"] == "Production"
    assert verify(data["api_key"]) == "local"


def test_list_is_masked(runner: CliRunner) -> None:
    secret = create(runner)["api_key"]
    other = run(runner, "create", "Other", "--owner", "bob", "--json")
    human = run(runner, "list", "--owner", "local")
    assert "Production" in human.output and f"dak_…{secret[-4:]}" in human.output
    as_json = run(runner, "list", "--owner", "local", "--json")
    for result in (human, as_json):
        assert result.exit_code == 0 and not SECRET.search(result.output)
    assert [k["name"] for k in json.loads(as_json.stdout)] == ["Production"]
    assert "Other" not in human.output and other.exit_code == 0


def test_list_without_owner_is_every_owners_keys_in_a_table(runner: CliRunner) -> None:
    """The CLI is the local administrator: web keys belong to 'admin', others to whoever
    made them; a listing without --owner shows them all, with headers."""
    create(runner)
    run(runner, "create", "Web", "--owner", "admin")
    run(runner, "create", "Laptop", "--owner", "alice")
    human = run(runner, "list")
    assert human.exit_code == 0, human.output
    header = human.output.strip().splitlines()[0].split()
    assert header[:4] == ["Owner", "ID", "Name", "Key"] and "Status" in header
    rows = {line.split()[0]: line for line in human.output.strip().splitlines()[2:]}
    assert set(rows) == {"admin", "alice", "local"}
    assert "Laptop" in rows["alice"] and "active" in rows["alice"]
    listed = json.loads(run(runner, "list", "--json").stdout)
    assert {(k["owner"], k["name"]) for k in listed} == {
        ("local", "Production"),
        ("admin", "Web"),
        ("alice", "Laptop"),
    }
    assert "No API keys for owner 'bob'" in run(runner, "list", "--owner", "bob").output


def test_rotate_and_revoke_find_a_key_of_any_owner(runner: CliRunner) -> None:
    made = json.loads(run(runner, "create", "CI", "--owner", "alice", "--json").stdout)
    rotated = run(runner, "rotate", made["id"], "--yes", "--json")
    assert rotated.exit_code == 0, rotated.output
    new = json.loads(rotated.stdout)["api_key"]
    assert verify(new) == "alice"
    with pytest.raises(AuthenticationError):
        verify(made["api_key"])
    revoked = run(runner, "revoke", "CI", "--yes", "--json")  # a name only alice uses
    assert revoked.exit_code == 0 and json.loads(revoked.stdout)["removed"] is True
    with pytest.raises(AuthenticationError):
        verify(new)
    events = json.loads(run(runner, "audit", "--owner", "alice", "--json").stdout)
    assert [(e["event"], e["actor"]) for e in events][:2] == [
        ("revoked", "local"),
        ("rotated", "local"),
    ]


def test_a_name_two_owners_use_needs_the_id(runner: CliRunner) -> None:
    run(runner, "create", "Prod", "--owner", "alice")
    bobs = json.loads(run(runner, "create", "Prod", "--owner", "bob", "--json").stdout)
    result = run(runner, "revoke", "Prod", "--yes")
    assert isinstance(result.exception, KeyNameError)
    assert "alice, bob" in str(result.exception) and "use the id" in str(result.exception)
    assert verify(bobs["api_key"]) == "bob"  # nothing was revoked
    scoped = run(runner, "revoke", "Prod", "--owner", "bob", "--yes")
    assert scoped.exit_code == 0, scoped.output
    with pytest.raises(AuthenticationError):
        verify(bobs["api_key"])


def test_rotate_asks_first_and_aborts_on_no(runner: CliRunner) -> None:
    key = create(runner)
    result = run(runner, "rotate", key["id"], input="n\n")
    assert result.exit_code != 0
    assert "the current key will be permanently disabled and replaced" in result.output
    assert not SECRET.search(result.output)
    assert verify(key["api_key"]) == "local"  # nothing happened


def test_rotate_on_yes_prints_the_new_secret_once(runner: CliRunner) -> None:
    key = create(runner)
    result = run(runner, "rotate", "Production", input="y\n")
    assert result.exit_code == 0, result.output
    [new] = SECRET.findall(result.output)
    assert verify(new) == "local"
    with pytest.raises(AuthenticationError):
        verify(key["api_key"])


def test_rotate_yes_json(runner: CliRunner) -> None:
    key = create(runner)
    result = run(runner, "rotate", key["id"], "--yes", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["id"] == key["id"] and data["name"] == "Production"
    assert data["api_key"] != key["api_key"] and verify(data["api_key"]) == "local"


def test_revoke_confirms_and_audit_shows_everything(runner: CliRunner) -> None:
    key = create(runner)
    assert run(runner, "revoke", key["id"], input="n\n").exit_code != 0
    assert verify(key["api_key"]) == "local"
    result = run(runner, "revoke", key["id"], "--yes", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["removed"] is True
    with pytest.raises(AuthenticationError):
        verify(key["api_key"])
    events = json.loads(run(runner, "audit", "--json").stdout)
    assert [(e["event"], e["channel"], e["key_id"]) for e in events] == [
        ("revoked", "cli", key["id"]),
        ("created", "cli", key["id"]),
    ]
    human = run(runner, "audit", "--owner", "local")
    assert "revoked" in human.output and "created" in human.output


def test_bad_name_is_an_error(runner: CliRunner) -> None:
    result = run(runner, "create", "   ")
    assert isinstance(result.exception, KeyNameError)  # the tests make errors propagate


def test_expiry_in_the_past_is_refused(runner: CliRunner) -> None:
    result = run(runner, "create", "Old", "--expires", "2000-01-01")
    assert result.exit_code == 2 and "past" in result.output
    later = run(runner, "create", "Later", "--expires", "2999-12-31", "--json")
    data = json.loads(later.stdout)
    assert data["expiration_date"].startswith("3000-01-01T00:00:00")
