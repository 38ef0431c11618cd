"""The key API in nexos.ai's shapes. The owner is always the authenticated caller; another
owner's key id is a 404 like an unknown one. A REST rotate is its caller's explicit act and
executes at once; the new full `api_key` is in that one response and nowhere else."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from agent.bounded import put_bounded
from agent.errors import KeyConflictError
from agent.keys.base import _UNSET, APIKeyRecord, BulkChange, KeyManager, Principal
from agent.limits import MAX_ID_CHARS
from server.deps import KeyCaller, MetricsDep
from server.errors import PreconditionFailed, Unauthorized

router = APIRouter(tags=["api keys"])
KeyId = Annotated[str, Path(max_length=MAX_ID_CHARS, description="The key's id.")]


class APIKeyRequest(BaseModel):
    """nexos.ai APIKeyRequest: `name` required and unique per owner (1–255 characters)."""

    name: str = Field(..., max_length=1024)
    enabled: bool | None = None
    expiration_date: datetime | None = None


class APIKeyUpdate(BaseModel):
    name: str | None = Field(None, max_length=1024)
    enabled: bool | None = None
    expiration_date: datetime | None = None


class BulkItem(APIKeyUpdate):
    id: str = Field(..., max_length=64)
    remove: bool = False


class BulkRequest(BaseModel):
    items: list[BulkItem] = Field(..., max_length=100)


class APIKey(BaseModel):
    """nexos.ai APIKey; `api_key` is masked except right after create/rotate."""

    id: str
    api_key: str
    name: str
    enabled: bool
    removed: bool
    created_at: str | None
    updated_at: str | None
    last_used_at: str | None
    expiration_date: str | None


def etag(record: APIKeyRecord) -> str | None:
    """The key's version as an entity tag (a client's If-Match makes a change conditional)."""
    return f'"v{record.version}"' if record.version else None


def _with_etag(content: dict[str, Any], record: APIKeyRecord, status: int = 200) -> JSONResponse:
    tag = etag(record)
    return JSONResponse(content, status_code=status, headers={"ETag": tag} if tag else None)


def _with_secret(record: APIKeyRecord, secret: str, status: int = 200) -> JSONResponse:
    return _with_etag({**record.to_json(), "api_key": secret}, record, status)


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header names (None without one, or for `*`); 412 when it
    names no version of ours."""
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.fullmatch(if_match.strip())
    if match is None:
        raise PreconditionFailed('If-Match must be the key\'s ETag, e.g. "v3"')
    return int(match.group(1))


_ETAG = re.compile(r'(?:W/)?"v(\d{1,18})"')
IfMatch = Annotated[
    str | None,
    Header(
        max_length=64,
        description="The key's ETag: the change happens only if the key is still at that "
        "version (else 412).",
    ),
]


def _rotate(
    keys: KeyManager,
    principal: Principal,
    key_id: str,
    metrics: MetricsDep,
    expected: int | None = None,
    *,
    conditional: bool = False,
) -> JSONResponse:
    if conditional and not keys.get(principal.owner, key_id, principal=principal).version:
        # a key store without versions (nexos.ai) cannot honour the condition: refuse
        raise PreconditionFailed("this key store has no key versions; If-Match cannot be met")
    try:
        record, secret = keys.rotate(
            principal.owner,
            key_id,
            actor=principal.owner,
            channel="rest",
            principal=principal,
            expected_version=expected,
        )
    except KeyConflictError as exc:
        if conditional:
            raise PreconditionFailed(f"{exc} (If-Match no longer matches)") from exc
        raise
    metrics.key_events.labels("rotated", "rest").inc()
    return _with_secret(record, secret)


class ListingBodies:
    """The JSON body of each owner's last cached listing, kept while the key store hands
    back that same immutable listing (`KeyManager.list_cached`): on the common request,
    nothing changed, encoding the records would be most of the route's own work. One per
    app (`app.state.listing_bodies`), at most `max_owners` bodies."""

    def __init__(self, max_owners: int = 1024) -> None:
        self._bodies: dict[str, tuple[tuple[APIKeyRecord, ...], bytes]] = {}
        self._max_owners = max_owners

    def body(self, owner: str, records: Sequence[APIKeyRecord]) -> bytes:
        memo = self._bodies.get(owner)
        if memo is not None and memo[0] is records:  # we hold it: its id is not reused
            return memo[1]
        body = _encode([r.to_json() for r in records])
        if isinstance(records, tuple):  # immutable, so the body stays right for it
            put_bounded(self._bodies, owner, (records, body), self._max_owners)
        return body


def _encode(content: object) -> bytes:
    """JSON as Starlette's JSONResponse writes it (every other route's shape)."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


@router.get("/v1/user/api_keys", response_model=list[APIKey])
async def list_keys(request: Request, caller: KeyCaller) -> Response:
    """The caller's keys, masked."""
    # the hottest authenticated route: no response re-validation (the records are already
    # in APIKey's shape); it would cost more than the route's work
    keys, principal = caller
    records: Sequence[APIKeyRecord] | None = keys.list_cached(principal.owner)
    if records is None:
        records = await anyio.to_thread.run_sync(
            partial(keys.list, principal.owner, principal=principal)
        )
    bodies: ListingBodies = request.app.state.listing_bodies
    return Response(bodies.body(principal.owner, records), media_type="application/json")


@router.post("/v1/user/api_keys", status_code=201, response_model=APIKey)
def create_key(body: APIKeyRequest, caller: KeyCaller, metrics: MetricsDep) -> JSONResponse:
    """Generate a key; the full `api_key` is returned this once."""
    keys, principal = caller
    # a name the owner already uses: the key store refuses it (KeyNameTakenError → 409)
    record, secret = keys.create(
        principal.owner,
        body.name,
        body.expiration_date,
        actor=principal.owner,
        channel="rest",
        principal=principal,
    )
    metrics.key_events.labels("created", "rest").inc()
    return _with_secret(record, secret, 201)


@router.get("/v1/user/api_keys/{key_id}", response_model=APIKey)
def get_key(key_id: KeyId, caller: KeyCaller) -> JSONResponse:
    """One of the caller's keys, masked, with its ETag."""
    keys, principal = caller
    record = keys.get(principal.owner, key_id, principal=principal)
    return _with_etag(record.to_json(), record)


@router.patch("/v1/user/api_keys/{key_id}", response_model=APIKey)
def update_key(
    key_id: KeyId,
    body: APIKeyUpdate,
    caller: KeyCaller,
    metrics: MetricsDep,
) -> JSONResponse:
    """Rename, enable/disable or change the expiration of one of the caller's keys."""
    record = _update(*caller, key_id, body, metrics)
    return _with_etag(record.to_json(), record)


def _update(
    keys: KeyManager, principal: Principal, key_id: str, body: APIKeyUpdate, metrics: MetricsDep
) -> APIKeyRecord:
    """Apply the fields the request set (an omitted expiration_date stays as it is)."""
    changes: dict[str, Any] = {"name": body.name, "enabled": body.enabled}
    if "expiration_date" in body.model_fields_set:
        changes["expiration_date"] = body.expiration_date
    record = keys.update(
        principal.owner,
        key_id,
        **changes,
        actor=principal.owner,
        channel="rest",
        principal=principal,
    )
    metrics.key_events.labels("updated", "rest").inc()
    return record


@router.delete("/v1/user/api_keys/{key_id}", status_code=204, response_class=Response)
def delete_key(key_id: KeyId, caller: KeyCaller, metrics: MetricsDep) -> Response:
    """Revoke one of the caller's keys (soft delete)."""
    keys, principal = caller
    keys.revoke(principal.owner, key_id, actor=principal.owner, channel="rest", principal=principal)
    metrics.key_events.labels("revoked", "rest").inc()
    return Response(status_code=204)


@router.post("/v1/user/api_keys/bulk", response_model=list[APIKey])
def bulk(body: BulkRequest, caller: KeyCaller, metrics: MetricsDep) -> list[dict[str, object]]:
    """Update or remove up to 100 of the caller's keys: all of them, or none (an unknown
    id is a 404, a name already taken a 409, and nothing changed)."""
    keys, principal = caller
    changes = [
        BulkChange(
            id=item.id,
            name=item.name,
            enabled=item.enabled,
            expiration_date=(
                item.expiration_date if "expiration_date" in item.model_fields_set else _UNSET
            ),
            remove=item.remove,
        )
        for item in body.items
    ]
    records = keys.bulk(
        principal.owner, changes, actor=principal.owner, channel="rest", principal=principal
    )
    for change in changes:
        metrics.key_events.labels("revoked" if change.remove else "updated", "rest").inc()
    return [record.to_json() for record in records]


@router.patch("/v1/user/api_keys/{key_id}/regenerate", response_model=APIKey)
def regenerate(
    key_id: KeyId, caller: KeyCaller, metrics: MetricsDep, if_match: IfMatch = None
) -> JSONResponse:
    """Deprecated alias of rotate (nexos.ai keeps it); returns the new full key once."""
    expected = expected_version(if_match)
    return _rotate(*caller, key_id, metrics, expected, conditional=expected is not None)


@router.post("/v1/user/api_keys/{key_id}/rotate", response_model=APIKey)
def rotate(
    key_id: KeyId, caller: KeyCaller, metrics: MetricsDep, if_match: IfMatch = None
) -> JSONResponse:
    """Rotate one of the caller's keys now: the old secret stops working. With If-Match
    (the key's ETag) of many concurrent rotations exactly one wins, the rest get 412;
    without it they run one after another and only the last secret works."""
    expected = expected_version(if_match)
    return _rotate(*caller, key_id, metrics, expected, conditional=expected is not None)


@router.patch("/v1/apikey/rotate", response_model=APIKey)
def rotate_calling_key(caller: KeyCaller, metrics: MetricsDep) -> JSONResponse:
    """Rotate the key that authenticated this request."""
    keys, principal = caller
    if not principal.key_id:
        raise Unauthorized("this request was not authenticated by an API key")
    return _rotate(keys, principal, principal.key_id, metrics, principal.key_version)
