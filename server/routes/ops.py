"""Operations: liveness, readiness (index and database reachable), Prometheus metrics,
and `GET /v1/me` (who the caller is)."""

from __future__ import annotations

from typing import Any

import anyio
import sqlalchemy as sa
from fastapi import APIRouter, Response

from ingest.errors import IngestError
from server.deps import CurrentPrincipal, MetricsDep, OptionalPrincipal, ServicesDep, doc_index
from server.errors import Unavailable
from server.metrics import CONTENT_TYPE_LATEST

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> dict[str, Any]:
    """The index and the database answer; 503 otherwise."""

    def probe() -> dict[str, Any]:
        try:
            with services.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            raise Unavailable("database unreachable") from exc
        try:
            stats = doc_index(services).stats()
        except IngestError as exc:
            raise Unavailable("index unreachable") from exc
        return {"status": "ready", "index": stats}

    return await anyio.to_thread.run_sync(probe)


@router.get("/metrics", response_class=Response)
async def metrics(metrics: MetricsDep, _principal: OptionalPrincipal) -> Response:
    """Prometheus text format."""
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/me")
async def me(principal: CurrentPrincipal) -> dict[str, Any]:
    """The authenticated caller."""
    return {"owner": principal.owner, "key_id": principal.key_id, "is_admin": principal.is_admin}
