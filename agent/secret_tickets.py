"""One-time tickets that hand a new secret to its owner outside a chat message.

A client that only renders message text (a standard OpenAI-compatible chat front-end)
cannot receive a secret in a side field, and the message itself may be read by a model.
So the message carries a link with a ticket instead, and the secret waits here, sealed:
encrypted with a key derived from the ticket (an HMAC-SHA256 keystream), stored under the
ticket's digest. The database alone cannot open it; the ticket opens it once, for the
owner signed in, before it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

from sqlalchemy import Engine, delete, insert, select, update

from agent.errors import ApprovalError
from agent.models import NewSecret
from agent.tables import secret_tickets

TICKET_TTL_SECONDS = 600


def _digest(ticket: str) -> str:
    return hashlib.sha256(b"ticket:" + ticket.encode("utf-8", "surrogatepass")).hexdigest()


def _keystream(ticket: str, length: int) -> bytes:
    key = hashlib.sha256(b"seal:" + ticket.encode("utf-8", "surrogatepass")).digest()
    blocks = (length + 31) // 32
    stream = b"".join(
        hmac.new(key, n.to_bytes(4, "big"), hashlib.sha256).digest() for n in range(blocks)
    )
    return stream[:length]


def _xor(data: bytes, ticket: str) -> bytes:
    return bytes(a ^ b for a, b in zip(data, _keystream(ticket, len(data)), strict=True))


class SecretTickets:
    """Seal a new secret for its owner; open it once with the ticket."""

    def __init__(self, engine: Engine, clock: Callable[[], float]) -> None:
        self.engine, self.clock = engine, clock

    def seal(self, owner: str, secret: NewSecret) -> str:
        """Store `secret` sealed; returns the ticket (the only way to open it)."""
        ticket = secrets.token_urlsafe(32)
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(delete(secret_tickets).where(secret_tickets.c.expires_at < now))
            conn.execute(
                insert(secret_tickets).values(
                    id=_digest(ticket),
                    owner=owner,
                    key_id=secret.key_id,
                    key_name=secret.name,
                    sealed=_xor(secret.api_key.encode(), ticket).hex(),
                    expires_at=now + TICKET_TTL_SECONDS,
                    used=False,
                )
            )
        return ticket

    def open(self, ticket: str, owner: str) -> NewSecret:
        """The sealed secret, once, to its owner; ApprovalError for a used, expired,
        unknown or someone else's ticket (all alike)."""
        gone = ApprovalError("this link was already used, has expired, or is not yours")
        with self.engine.begin() as conn:
            row = conn.execute(
                select(secret_tickets).where(secret_tickets.c.id == _digest(ticket))
            ).first()
            if row is None or row.owner != owner or row.used or row.expires_at < self.clock():
                raise gone
            taken = conn.execute(
                update(secret_tickets)
                .where(secret_tickets.c.id == row.id, secret_tickets.c.used.is_(False))
                .values(used=True, sealed="")
            )
            if taken.rowcount != 1:  # a concurrent open won
                raise gone
        secret = _xor(bytes.fromhex(row.sealed), ticket).decode()
        return NewSecret(key_id=row.key_id, name=row.key_name, api_key=secret)
