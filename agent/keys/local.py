"""The local key store: keys in our own database, secrets stored only as peppered digests.

Verification is checksum → HMAC digest → one indexed lookup → enabled / expired /
revoked / secret still valid, and every failure is the same `AuthenticationError`.
Verified keys and listings are kept in memory for one `keys` epoch (`agent/keys/cache.py`):
every write below bumps it in its own transaction, so no worker serves a stale key. A
listing is also tagged with its owner's usage epoch, which the batched `last_used_at`
writes bump (`agent/keys/usage.py`) without retiring anyone's verified keys.
Changes use `UPDATE … WHERE version = :seen` in one transaction with their audit event,
so of two concurrent rotations of one key exactly one wins and the other gets
`KeyConflictError` naming the key (on SQLite and PostgreSQL alike).
"""

from __future__ import annotations

import builtins
import hmac
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    bindparam,
    delete,
    false,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from agent.config import AgentSettings
from agent.epochs import KEYS, EpochReader, bump, usage_epoch
from agent.errors import (
    AuthenticationError,
    BackendError,
    KeyConflictError,
    KeyNameTakenError,
    KeyNotFoundError,
)
from agent.keys.audit import AuditLog
from agent.keys.base import _UNSET, APIKeyRecord, AuditEvent, BulkChange, Channel, Principal
from agent.keys.cache import KeyCache, VerifiedKey
from agent.keys.format import clean_name, generate_key, mask_secret, masked, parse_key
from agent.keys.pepper import digest, load_pepper
from agent.keys.usage import UsageRecorder
from agent.tables import keys_table, secrets_table

MAX_GRACE_SECONDS = 24 * 3600
K, S = keys_table.c, secrets_table.c

_VERIFY_BY_DIGEST = (
    select(
        K.id,
        K.owner,
        K.enabled,
        K.removed,
        K.expiration_date,
        K.last_used_at,
        K.version,
        S.digest,
        S.valid_until,
    )
    .join_from(secrets_table, keys_table, S.key_id == K.id)
    .where(S.digest == bindparam("digest"))
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _describe(ref: str) -> str:
    """A key reference fit for an error message (a pasted secret is masked)."""
    return mask_secret(ref) if parse_key(ref) else repr(ref[:80])


class LocalKeyManager:
    """`KeyManager` over SQLAlchemy; `engine` must be migrated (`agent.db.migrate`)."""

    def __init__(
        self,
        engine: Engine,
        settings: AgentSettings,
        *,
        clock: Callable[[], datetime] = utcnow,
        new_secret: Callable[[str], str] = generate_key,
        pepper: bytes | None = None,
    ) -> None:
        self.engine = engine
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE", sqlite_durable=True)
        self._prefix = settings.key_prefix
        self._pepper = pepper if pepper is not None else load_pepper(settings)
        self._clock = clock
        self._new_secret = new_secret
        self._audit = AuditLog(engine, clock)
        self._epochs = EpochReader(engine)
        self._usage = UsageRecorder(self._writer, on_written=self._epochs.invalidate)
        self._cache = KeyCache()

    # -- reading -----------------------------------------------------------------------

    def verify(self, secret: str) -> Principal:
        """The principal a key belongs to; the same AuthenticationError for every failure."""
        if parse_key(secret) is None:
            raise AuthenticationError()
        wanted = digest(self._pepper, secret)
        epoch = self._epochs.read(KEYS)  # before the row: a change in between bumps it
        now = self._clock()
        cached = self._from_cache(wanted, epoch, now)
        if cached is not None:
            return cached
        with self._db() as connection:
            row = connection.execute(_VERIFY_BY_DIGEST, {"digest": wanted}).first()
        if (
            row is None
            or not hmac.compare_digest(row.digest, wanted)
            or row.removed
            or not row.enabled
            or (row.expiration_date is not None and row.expiration_date <= now)
            or (row.valid_until is not None and row.valid_until <= now)
        ):
            raise AuthenticationError()
        last_used = row.last_used_at
        if UsageRecorder.due(last_used, now):
            self._usage.note(row.id, row.owner, now)
            last_used = now  # what the batch will write; not due again for a minute
        principal = Principal(owner=row.owner, key_id=row.id, key_version=row.version)
        self._cache.remember(
            VerifiedKey(wanted, principal, row.expiration_date, row.valid_until, last_used, epoch)
        )
        return principal

    def verify_cached(self, secret: str) -> Principal | None:
        """`verify` answered from memory plus one epoch read, or None when that cannot
        decide without the database (unknown, changed, refused or use-not-yet-noted keys).
        Never writes and never blocks on a lock: fit for the event loop."""
        if not self._epochs.inline or not secret.startswith(self._prefix):
            return None
        # no checksum parse: only digests of keys that passed `verify` are in the cache
        return self._from_cache(
            digest(self._pepper, secret), self._epochs.read(KEYS), self._clock()
        )

    def _from_cache(self, wanted: bytes, epoch: int, now: datetime) -> Principal | None:
        """The cached principal, unless it is stale or its use is due to be noted."""
        cached = self._cache.verified(wanted, epoch, now)
        if cached is None or UsageRecorder.due(cached.last_used_at, now):
            return None
        return cached.principal

    def list(
        self, owner: str, *, principal: Principal | None = None
    ) -> builtins.list[APIKeyRecord]:
        """The owner's keys that are not revoked, oldest first, masked."""
        self._usage.flush()
        epoch = self._listing_epoch(owner)
        cached = self._cache.listing(owner, epoch)
        if cached is not None:
            return builtins.list(cached)
        query = (
            select(keys_table)
            .where(K.owner == owner, K.removed == false())
            .order_by(K.created_at, K.id)
        )
        with self._db() as connection:
            records = [self._record(row) for row in connection.execute(query)]
        self._cache.remember_listing(owner, epoch, records)
        return records

    def list_every_owner(self) -> builtins.list[APIKeyRecord]:
        """Every owner's keys that are not revoked, by owner then age (the local
        administrator's view: `docsagent keys list` without --owner)."""
        self._usage.flush()
        query = select(keys_table).where(K.removed == false()).order_by(K.owner, K.created_at, K.id)
        with self._db() as connection:
            return [self._record(row) for row in connection.execute(query)]

    def list_cached(self, owner: str) -> tuple[APIKeyRecord, ...] | None:
        """`list` from memory plus one epoch read, or None (see `verify_cached`)."""
        if not self._epochs.inline or self._usage.pending:
            return None
        return self._cache.listing(owner, self._listing_epoch(owner))

    def _listing_epoch(self, owner: str) -> tuple[int, int]:
        """What an owner's listing depends on: any key change, and uses of their keys."""
        return self._epochs.read(KEYS), self._epochs.read(usage_epoch(owner))

    def get(self, owner: str, key_id: str, *, principal: Principal | None = None) -> APIKeyRecord:
        """One of the owner's keys (revoked ones included); another owner's key is not found."""
        return self._record(self._row(owner, key_id))

    def audit(self, owner: str | None = None, limit: int = 100) -> builtins.list[AuditEvent]:
        return self._audit.list(owner, limit)

    # -- changing ----------------------------------------------------------------------

    def create(
        self,
        owner: str,
        name: str,
        expires_at: datetime | None = None,
        *,
        actor: str | None = None,
        channel: Channel = "cli",
        principal: Principal | None = None,
    ) -> tuple[APIKeyRecord, str]:
        """A new key; the secret is returned here once and stored only as a digest."""
        name = clean_name(name)
        secret = self._new_secret(self._prefix)
        parsed = parse_key(secret)
        if parsed is None:  # a broken generator must never hand out unverifiable keys
            raise BackendError("generated key failed its own checksum")
        now, key_id = self._clock(), str(uuid.uuid4())
        values = {
            "id": key_id,
            "owner": owner,
            "name": name,
            "display_prefix": parsed.prefix,
            "last4": parsed.last4,
            "enabled": True,
            "removed": False,
            "created_at": now,
            "updated_at": now,
            "last_used_at": None,
            "expiration_date": _aware(expires_at),
            "version": 1,
        }
        with self._write() as connection:
            self._ensure_name_free(connection, owner, name)
            connection.execute(insert(keys_table).values(values))
            self._add_secret(connection, key_id, secret, now)
            self._audit.record(
                connection,
                event="created",
                owner=owner,
                actor=actor or owner,
                channel=channel,
                key_id=key_id,
                at=now,
            )
        return self._record(values), secret

    def update(
        self,
        owner: str,
        key_id: str,
        *,
        name: str | None = None,
        enabled: bool | None = None,
        expiration_date: datetime | object | None = _UNSET,
        actor: str | None = None,
        channel: Channel = "cli",
        principal: Principal | None = None,
    ) -> APIKeyRecord:
        """Rename, enable/disable or change the expiration of a key."""
        row = self._live_row(owner, key_id)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = clean_name(name)
        if enabled is not None:
            changes["enabled"] = enabled
        if expiration_date is not _UNSET:
            changes["expiration_date"] = _aware(expiration_date)  # type: ignore[arg-type]
        now = self._clock()
        with self._write() as connection:
            if changes.get("name", row.name) != row.name:
                self._ensure_name_free(connection, owner, changes["name"])
            self._bump(connection, row, now, changes)
            self._audit.record(
                connection,
                event="updated",
                owner=owner,
                actor=actor or owner,
                channel=channel,
                key_id=row.id,
                at=now,
            )
        return self.get(owner, row.id)

    def rotate(
        self,
        owner: str,
        key_id: str,
        grace: int = 0,
        *,
        actor: str | None = None,
        channel: Channel = "cli",
        approval_id: str | None = None,
        principal: Principal | None = None,
        expected_version: int | None = None,
    ) -> tuple[APIKeyRecord, str]:
        """A new secret for the same key (id, name, owner, expiration kept).

        The old secret stops working when this commits, or `grace` seconds later
        (capped at 24 hours). A concurrent change of the same key raises KeyConflictError,
        and so does `expected_version` (the version the caller verified its key at) when
        the key changed since: of many "rotate the key I am calling with" requests made
        with one secret, exactly one wins.
        """
        if grace < 0:
            raise ValueError("grace must be 0 or more seconds")
        grace = min(int(grace), MAX_GRACE_SECONDS)
        row = self._live_row(owner, key_id)
        if expected_version is not None and row.version != expected_version:
            raise KeyConflictError(
                f"API key '{row.name}' ({row.id}) was changed concurrently; nothing was rotated"
            )
        secret = self._new_secret(self._prefix)
        parsed = parse_key(secret)
        if parsed is None:
            raise BackendError("generated key failed its own checksum")
        now = self._clock()
        with self._write() as connection:
            self._bump(
                connection, row, now, {"display_prefix": parsed.prefix, "last4": parsed.last4}
            )
            old = secrets_table.delete().where(S.key_id == row.id)
            connection.execute(old.where(S.valid_until <= now))
            if grace == 0:
                connection.execute(old)
            else:
                until = now + timedelta(seconds=grace)
                connection.execute(
                    update(secrets_table)
                    .where(S.key_id == row.id)
                    .where(or_(S.valid_until.is_(None), S.valid_until > until))
                    .values(valid_until=until)
                )
            self._add_secret(connection, row.id, secret, now)
            self._audit.record(
                connection,
                event="rotated",
                owner=owner,
                actor=actor or owner,
                channel=channel,
                key_id=row.id,
                approval_id=approval_id,
                at=now,
            )
        return self.get(owner, row.id), secret

    def revoke(
        self,
        owner: str,
        key_id: str,
        *,
        actor: str | None = None,
        channel: Channel = "cli",
        approval_id: str | None = None,
        principal: Principal | None = None,
    ) -> APIKeyRecord:
        """Permanently disable a key; its record stays (removed=true) for the audit trail."""
        row = self._live_row(owner, key_id)
        now = self._clock()
        with self._write() as connection:
            self._bump(connection, row, now, {"removed": True, "enabled": False})
            connection.execute(delete(secrets_table).where(S.key_id == row.id))
            self._audit.record(
                connection,
                event="revoked",
                owner=owner,
                actor=actor or owner,
                channel=channel,
                key_id=row.id,
                approval_id=approval_id,
                at=now,
            )
        return self.get(owner, row.id)

    def bulk(
        self,
        owner: str,
        changes: builtins.list[BulkChange],
        *,
        actor: str | None = None,
        channel: Channel = "cli",
        principal: Principal | None = None,
    ) -> builtins.list[APIKeyRecord]:
        """Every change in one transaction: all of them, or (on any error) none."""
        rows = {change.id: self._live_row(owner, change.id) for change in changes}
        planned: builtins.list[tuple[Row[Any], dict[str, Any], str]] = []
        for change in changes:
            values: dict[str, Any] = {}
            if change.remove:
                values = {"removed": True, "enabled": False}
            else:
                if change.name is not None:
                    values["name"] = clean_name(change.name)
                if change.enabled is not None:
                    values["enabled"] = change.enabled
                if change.expiration_date is not _UNSET:
                    values["expiration_date"] = _aware(change.expiration_date)  # type: ignore[arg-type]
            planned.append((rows[change.id], values, "revoked" if change.remove else "updated"))
        now = self._clock()
        with self._write() as connection:
            for row, values, event in planned:
                fresh = connection.execute(
                    select(keys_table).where(K.id == row.id, K.owner == owner)
                ).one()  # an earlier item of this batch may have changed it
                if values.get("name", fresh.name) != fresh.name:
                    self._ensure_name_free(connection, owner, values["name"])
                self._bump(connection, fresh, now, values)
                if event == "revoked":
                    connection.execute(delete(secrets_table).where(S.key_id == row.id))
                self._audit.record(
                    connection,
                    event=event,
                    owner=owner,
                    actor=actor or owner,
                    channel=channel,
                    key_id=row.id,
                    at=now,
                )
        return [self.get(owner, change.id) for change in changes]

    # -- helpers -----------------------------------------------------------------------

    def close(self) -> None:
        """Write pending uses and close the epoch reader's connections (at shutdown)."""
        self._usage.flush()
        self._epochs.close()

    def _row(self, owner: str, key_id: str) -> Row[Any]:
        self._usage.flush()
        with self._db() as connection:
            row = connection.execute(
                select(keys_table).where(K.id == key_id, K.owner == owner)
            ).first()
        if row is None:
            raise KeyNotFoundError(f"no API key {_describe(key_id)}")
        return row

    def _live_row(self, owner: str, key_id: str) -> Row[Any]:
        row = self._row(owner, key_id)
        if row.removed:
            raise KeyNotFoundError(f"API key '{row.name}' ({row.id}) was revoked")
        return row

    def _bump(
        self, connection: Connection, row: Row[Any], now: datetime, values: dict[str, Any]
    ) -> None:
        """Apply `values` only if nobody changed the key since `row` was read."""
        result = connection.execute(
            update(keys_table)
            .where(K.id == row.id, K.version == row.version, K.removed == false())
            .values(version=row.version + 1, updated_at=now, **values)
        )
        if result.rowcount != 1:
            raise KeyConflictError(
                f"API key '{row.name}' ({row.id}) was changed by another request at the "
                "same time; nothing was changed, try again"
            )

    def _ensure_name_free(self, connection: Connection, owner: str, name: str) -> None:
        taken = connection.execute(
            select(K.id).where(K.owner == owner, K.name == name, K.removed == false())
        ).first()
        if taken is not None:
            raise KeyNameTakenError(
                f"an API key named '{name}' already exists; choose another name"
            )

    def _add_secret(self, connection: Connection, key_id: str, secret: str, now: datetime) -> None:
        connection.execute(
            insert(secrets_table).values(
                key_id=key_id, digest=digest(self._pepper, secret), valid_until=None, created_at=now
            )
        )

    @staticmethod
    def _record(row: Any) -> APIKeyRecord:
        get = row.__getitem__ if isinstance(row, dict) else row._mapping.__getitem__
        return APIKeyRecord(
            id=get("id"),
            name=get("name"),
            api_key=masked(get("display_prefix"), get("last4")),
            enabled=bool(get("enabled")),
            removed=bool(get("removed")),
            created_at=get("created_at"),
            updated_at=get("updated_at"),
            last_used_at=get("last_used_at"),
            expiration_date=get("expiration_date"),
            owner=get("owner"),
            version=int(get("version")),
        )

    @contextmanager
    def _db(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise BackendError(_db_message(exc)) from exc

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self._writer.begin() as connection:
                yield connection
                bump(connection, KEYS)  # every cached key and listing is stale from now
            self._epochs.invalidate()
        except IntegrityError as exc:
            if "name" in str(exc.orig):  # the per-owner unique name index, raced on PostgreSQL
                raise KeyNameTakenError("an API key with this name already exists") from exc
            raise BackendError(_db_message(exc)) from exc
        except SQLAlchemyError as exc:
            raise BackendError(_db_message(exc)) from exc


def _db_message(exc: SQLAlchemyError) -> str:
    # str(exc) would carry statement parameters; the driver's own message does not.
    detail = str(exc.orig) if isinstance(exc, DBAPIError) else type(exc).__name__
    return f"the key database failed: {detail}"
