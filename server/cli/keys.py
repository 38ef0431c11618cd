"""`docsagent keys`: create, list, rotate, revoke API keys and read the audit log.

The CLI is the local administrator: it works on the local data dir without an API key
(or drives nexos.ai with DOCSAGENT_NEXOS_API_KEY when that backend is set). Without
`--owner`, `list` shows every owner's keys and `rotate`/`revoke` find a key by id (or a
name only one owner uses) whatever its owner. A new secret is printed once, to stdout,
and nowhere else. Heavy modules (the key store, SQLAlchemy) load only inside commands.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console

from agent.keys.base import LOCAL_OWNER, APIKeyRecord, KeyManager
from agent.keys.format import status_of
from server.cli.common import console, friendly_errors, load_settings

ROTATE_WARNING = "the current key will be permanently disabled and replaced with a new one"
REVOKE_WARNING = "the key will be permanently revoked: it stops working at once"

Owner = Annotated[str, typer.Option("--owner", help="Owner id whose keys to manage.")]
AnyOwner = Annotated[
    str | None, typer.Option("--owner", help="Only this owner's keys (default: every owner).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
KeyRef = Annotated[str, typer.Argument(help="Key id (or its unique name).")]


@contextmanager
def _manager() -> Iterator[KeyManager]:
    settings = load_settings()
    with friendly_errors():
        from agent.keys.factory import make_key_manager

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


def every_key(manager: KeyManager) -> list[APIKeyRecord]:
    """Every owner's live keys (the local store); a remote backend's are the CLI key's."""
    list_every_owner = getattr(manager, "list_every_owner", None)
    if list_every_owner is None:
        return manager.list(LOCAL_OWNER)
    records: list[APIKeyRecord] = list_every_owner()
    return records


def find_key(manager: KeyManager, ref: str, owner: str | None) -> APIKeyRecord:
    """The key `ref` (id, or a unique name or masked form) names: among `owner`'s keys, or
    without an owner among every owner's (an id is unique; a name two owners use is not)."""
    from agent.errors import KeyNameError, KeyNotFoundError
    from agent.keys.lookup import resolve_key

    if owner is not None:
        return resolve_key(manager, owner, ref)
    every = every_key(manager)
    by_id = [r for r in every if r.id == ref.strip()]
    if by_id:
        return by_id[0]
    found: list[APIKeyRecord] = []
    for each in sorted({r.owner for r in every}):
        try:
            found.append(resolve_key(manager, each, ref))
        except KeyNotFoundError:
            continue
    if len(found) == 1:
        return found[0]
    if not found:
        raise KeyNotFoundError(f"no API key with id or name {ref[:80]!r} (any owner)")
    owners = ", ".join(sorted(r.owner for r in found))
    raise KeyNameError(f"keys of {len(found)} owners ({owners}) match {ref!r}: use the id")


def key_table(records: list[APIKeyRecord], *, with_owner: bool) -> Any:
    """The keys as a rich table (masked keys only)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(header_style="bold", box=box.SIMPLE_HEAD)
    columns = ["Owner"] if with_owner else []
    for column in (*columns, "ID", "Name", "Key", "Status", "Created", "Last used", "Expires"):
        table.add_column(column, no_wrap=column in ("ID", "Key"))

    def when(value: datetime | None) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if value else "never"

    def day(value: datetime | None) -> str:
        return value.strftime("%Y-%m-%d") if value else "never"

    for r in records:
        cells = [r.owner] if with_owner else []
        cells += [r.id, r.name, r.api_key, status_of(r), day(r.created_at)]
        cells += [when(r.last_used_at), day(r.expiration_date)]
        table.add_row(*(Text(cell) for cell in cells))  # names are text, never markup
    return table


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
    def list_(owner: AnyOwner = None, as_json: AsJson = False) -> None:
        """List keys (masked): every owner's, or only --owner's."""
        with _manager() as manager:
            records = every_key(manager) if owner is None else manager.list(owner)
        if as_json:
            _print_json([{**r.to_json(), "owner": r.owner} for r in records])
            return
        if not records:
            whose = "yet" if owner is None else f"for owner {owner!r}"
            typer.echo(f"No API keys {whose}. Create one: docsagent keys create NAME")
            return
        table = key_table(records, with_owner=owner is None)
        # piped output has no terminal width: do not squeeze ids and keys into 80 columns
        out = console if console.is_terminal else Console(width=200, no_color=True)
        out.print(table)

    @keys.command("rotate")
    def rotate(
        key: KeyRef,
        owner: AnyOwner = None,
        grace: Annotated[
            int, typer.Option(min=0, max=86400, help="Seconds the old key keeps working.")
        ] = 0,
        yes: Yes = False,
        as_json: AsJson = False,
    ) -> None:
        """Replace a key's secret; the old one stops working (after --grace seconds)."""
        with _manager() as manager:
            record = find_key(manager, key, owner)
            if not yes:
                warning = ROTATE_WARNING if not grace else f"{ROTATE_WARNING} in {grace} s"
                typer.echo(f"Rotate '{record.name}' ({record.api_key}): {warning}.", err=True)
                typer.confirm("Continue?", abort=True, err=True)
            rotated, secret = manager.rotate(
                record.owner, record.id, grace, actor=owner or LOCAL_OWNER, channel="cli"
            )
        if as_json:
            _print_json({**rotated.to_json(), "api_key": secret})
        else:
            _show_secret("Rotated", rotated.name, rotated.id, secret)

    @keys.command("revoke")
    def revoke(
        key: KeyRef, owner: AnyOwner = None, yes: Yes = False, as_json: AsJson = False
    ) -> None:
        """Permanently revoke a key (the record stays for the audit log)."""
        with _manager() as manager:
            record = find_key(manager, key, owner)
            if not yes:
                typer.echo(
                    f"Revoke '{record.name}' ({record.api_key}): {REVOKE_WARNING}.", err=True
                )
                typer.confirm("Continue?", abort=True, err=True)
            revoked = manager.revoke(
                record.owner, record.id, actor=owner or LOCAL_OWNER, channel="cli"
            )
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
