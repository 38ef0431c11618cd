"""The server-side pepper of key digests: `DOCSAGENT_KEY_PEPPER`, or a file made on first run.

Without the pepper a stolen database cannot be used to test guesses of keys offline. The
generated pepper lives in `<data_dir>/pepper` with mode 0600; every process (and every
host sharing a PostgreSQL database) must use the same pepper, so set
`DOCSAGENT_KEY_PEPPER` when more than one host verifies keys.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path

from agent.config import AgentSettings
from agent.errors import BackendError

MIN_PEPPER_CHARS = 16


def load_pepper(settings: AgentSettings) -> bytes:
    """The pepper bytes; creates `<data_dir>/pepper` (0600) atomically when none exists."""
    if settings.key_pepper:
        if len(settings.key_pepper) < MIN_PEPPER_CHARS:
            raise BackendError(
                f"DOCSAGENT_KEY_PEPPER must be at least {MIN_PEPPER_CHARS} characters"
            )
        return settings.key_pepper.encode()
    path = settings.data_dir / "pepper"
    try:
        if not path.exists():
            _create(path)
        value = path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise BackendError(f"cannot read or create the key pepper {path}: {exc}") from exc
    if len(value) < MIN_PEPPER_CHARS:
        raise BackendError(f"the key pepper file {path} is empty or too short")
    return value.encode()


def _create(path: Path) -> None:
    """Write a fresh pepper to a private temp file, then link it into place (first wins)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".pepper.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race; use its pepper
    finally:
        tmp.unlink(missing_ok=True)


def digest(pepper: bytes, secret: str) -> bytes:
    """HMAC-SHA256 of the secret under the pepper: the only form a key is stored in."""
    mac = _keyed(pepper).copy()  # the keyed state is built once per pepper, not per key
    mac.update(secret.encode())
    return mac.digest()


@lru_cache(maxsize=8)
def _keyed(pepper: bytes) -> hmac.HMAC:
    return hmac.new(pepper, digestmod=hashlib.sha256)
