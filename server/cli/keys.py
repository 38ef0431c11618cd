"""`docsagent keys`: create, list, rotate, revoke API keys and read the audit log.

The CLI is the local administrator's bootstrap: it works on the local data dir without
an API key (or drives nexos.ai with DOCSAGENT_NEXOS_API_KEY when that backend is set).
A new secret is printed once, to stdout, and nowhere else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from agent.keys.base import LOCAL_OWNER, KeyManager
from agent.keys.factory import make_key_manager
from agent.keys.format import status_of
from agent.keys.lookup import resolve_key
from server.cli.common import friendly_errors, load_settings

ROTATE_WARNING = "the current key will be permanently disabled and replaced with a new one"
REVOKE_WARNING = "the key will be permanently revoked: it stops working at once"

Owner = Annotated[str, typer.Option("--owner", help="Owner id whose keys to manage.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
KeyRef = Annotated[str, typer.Argument(help="Key id (or its unique name).")]


@contextmanager
def _manager() -> Iterator[KeyManager]:
    settings = load_settings()
    with friendly_errors():
        manager = make_key_manager(settings)
        try:
            yield manager
        finally:
            engine = getattr(manager, "engine", None)
            if engine is not None:
                engine.dispose()


def _expires(value: str | None) -> datetime | None:
    """ISO date (valid through that day, UTC) or date-time (UTC when no zone)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date like 2030-01-31") from None
    if len(value) == 10:  # a bare date: valid through the end of that day
        parsed += timedelta(days=1)
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if parsed <= datetime.now(UTC):
        raise typer.BadParameter(f"{value} is in the past")
    return parsed


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))


def _show_secret(verb: str, record_name: str, key_id: str, secret: str) -> None:
    typer.echo(f"{verb} API key '{record_name}' (id {key_id}).")
    typer.echo("Copy it now; it will not be shown again:")
    typer.echo("")
    typer.echo(secret)


def register(app: typer.Typer) -> None:
    """Add `docsagent keys …` to the main app."""
    keys = typer.Typer(
        name="keys", help="Manage API keys (secrets are shown once).", no_args_is_help=True
    )

    @keys.command("create")
    def create(
        name: Annotated[str, typer.Argument(help="Key name, e.g. 'Production'.")],
        owner: Owner = LOCAL_OWNER,
        expires: Annotated[
            str | None, typer.Option("--expires", help="Expiry: ISO date or date-time.")
        ] = None,
        as_json: AsJson = False,
    ) -> None:
        """Generate a key and print its secret once."""
        expires_at = _expires(expires)
        with _manager() as manager:
            record, secret = manager.create(owner, name, expires_at, actor=owner, channel="cli")
        if as_json:
            _print_json({**record.to_json(), "api_key": secret})
        else:
            _show_secret("Created", record.name, record.id, secret)

    @keys.command("list")
    def list_(owner: Owner = LOCAL_OWNER, as_json: AsJson = False) -> None:
        """List keys (masked)."""
        with _manager() as manager:
            records = manager.list(owner)
        if as_json:
            _print_json([r.to_json() for r in records])
            return
        if not records:
            typer.echo(f"No API keys for {owner}. Create one: docsagent keys create NAME")
        for r in records:
            used = r.last_used_at.strftime("%Y-%m-%d %H:%M") if r.last_used_at else "never"
            expiry = r.expiration_date.strftime("%Y-%m-%d %H:%M") if r.expiration_date else "never"
            typer.echo(
                f"{r.id}  {r.name}  {r.api_key}  {status_of(r)}  last used {used}  expires {expiry}"
            )

    @keys.command("rotate")
    def rotate(
        key: KeyRef,
        owner: Owner = LOCAL_OWNER,
        grace: Annotated[
            int, typer.Option(min=0, max=86400, help="Seconds the old key keeps working.")
        ] = 0,
        yes: Yes = False,
        as_json: AsJson = False,
    ) -> None:
        """Replace a key's secret; the old one stops working (after --grace seconds)."""
        with _manager() as manager:
            record = resolve_key(manager, owner, key)
            if not yes:
                warning = ROTATE_WARNING if not grace else f"{ROTATE_WARNING} in {grace} s"
                typer.echo(f"Rotate '{record.name}' ({record.api_key}): {warning}.", err=True)
                typer.confirm("Continue?", abort=True, err=True)
            rotated, secret = manager.rotate(owner, record.id, grace, actor=owner, channel="cli")
        if as_json:
            _print_json({**rotated.to_json(), "api_key": secret})
        else:
            _show_secret("Rotated", rotated.name, rotated.id, secret)

    @keys.command("revoke")
    def revoke(
        key: KeyRef, owner: Owner = LOCAL_OWNER, yes: Yes = False, as_json: AsJson = False
    ) -> None:
        """Permanently revoke a key (the record stays for the audit log)."""
        with _manager() as manager:
            record = resolve_key(manager, owner, key)
            if not yes:
                typer.echo(
                    f"Revoke '{record.name}' ({record.api_key}): {REVOKE_WARNING}.", err=True
                )
                typer.confirm("Continue?", abort=True, err=True)
            revoked = manager.revoke(owner, record.id, actor=owner, channel="cli")
        if as_json:
            _print_json(revoked.to_json())
        else:
            typer.echo(f"Revoked API key '{revoked.name}' ({revoked.api_key}, id {revoked.id}).")

    @keys.command("audit")
    def audit(
        owner: Annotated[
            str | None, typer.Option("--owner", help="Only this owner (default: all).")
        ] = None,
        limit: Annotated[int, typer.Option(min=1, max=10000, help="Newest N events.")] = 100,
        as_json: AsJson = False,
    ) -> None:
        """Show key changes: who, what, which key, when, under which approval."""
        with _manager() as manager:
            events = manager.audit(owner, limit)
        if as_json:
            _print_json(
                [{**e.__dict__, "at": e.at.isoformat()} for e in events]  # no secret exists here
            )
            return
        for e in events:
            approval = f"  approval {e.approval_id}" if e.approval_id else ""
            typer.echo(
                f"{e.at:%Y-%m-%d %H:%M:%S}  {e.event:<8} {e.key_id}  owner {e.owner}  "
                f"by {e.actor} via {e.channel}{approval}"
            )

    app.add_typer(keys, name="keys")
