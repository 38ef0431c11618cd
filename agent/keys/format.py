"""What a key and a key name look like: generation, checksum, masking, name rules, and
the model-safe view of a key record (`safe_view`: id, name, masked key, status).

A local key is `<prefix><33 base62 chars = 192 random bits><6 base62 chars of CRC32>`,
e.g. `dak_3Vf…Qx9` (GitHub's token format). The CRC32 covers prefix + body, so a
malformed or made-up key is rejected by `parse_key` without touching the database.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent.errors import KeyNameError
from agent.keys.base import APIKeyRecord

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_BYTES = 24  # 192 bits from `secrets`
BODY_LEN = 33  # 62**33 > 2**192
CHECKSUM_LEN = 6  # 62**6 > 2**32
MAX_KEY_LEN = 32 + BODY_LEN + CHECKSUM_LEN
NAME_MAX = 255
_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,32}")
_BODY = re.compile(rf"[0-9A-Za-z]{{{BODY_LEN + CHECKSUM_LEN}}}")
_INDEX = {char: value for value, char in enumerate(ALPHABET)}
# bidi overrides/isolates reorder text on screen (the "Trojan Source" trick)
_BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))


def base62(value: int, width: int) -> str:
    """`value` in base62, left-padded with '0' to exactly `width` characters."""
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        chars.append(ALPHABET[digit])
    if value:
        raise ValueError("value does not fit the width")
    return "".join(reversed(chars))


def checksum(text: str) -> str:
    """CRC32 of `text` as 6 base62 characters."""
    return base62(zlib.crc32(text.encode("ascii")), CHECKSUM_LEN)


def generate_key(prefix: str) -> str:
    """A new secret: prefix + 192 random bits in base62 + CRC32 checksum."""
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"key prefix {prefix!r} must be 1-32 of A-Z a-z 0-9 _ -")
    body = base62(int.from_bytes(secrets.token_bytes(RANDOM_BYTES), "big"), BODY_LEN)
    return prefix + body + checksum(prefix + body)


@dataclass(frozen=True)
class ParsedKey:
    prefix: str
    last4: str


def parse_key(secret: str) -> ParsedKey | None:
    """The prefix and last 4 characters of a well-formed key, or None (no I/O at all)."""
    if not isinstance(secret, str) or not (BODY_LEN + CHECKSUM_LEN < len(secret) <= MAX_KEY_LEN):
        return None
    split = len(secret) - BODY_LEN - CHECKSUM_LEN
    prefix, rest = secret[:split], secret[split:]
    if not _PREFIX.fullmatch(prefix) or not _BODY.fullmatch(rest):
        return None
    if checksum(secret[:-CHECKSUM_LEN]) != secret[-CHECKSUM_LEN:]:
        return None
    return ParsedKey(prefix=prefix, last4=secret[-4:])


def masked(prefix: str, last4: str) -> str:
    """The display form of a key: `dak_…ab12`."""
    return f"{prefix}…{last4}"


def mask_secret(secret: str) -> str:
    """Display form of any secret (ours or a remote one): its start and last 4 only."""
    parsed = parse_key(secret)
    if parsed:
        return masked(parsed.prefix, parsed.last4)
    return masked(secret[:6], secret[-4:]) if len(secret) > 16 else "…"


def clean_name(name: str) -> str:
    """The trimmed key name, or KeyNameError saying what is wrong with it."""
    if not isinstance(name, str):
        raise KeyNameError("the key name must be text")
    cleaned = name.strip()
    if not cleaned:
        raise KeyNameError("the key name is required (1-255 characters)")
    if len(cleaned) > NAME_MAX:
        raise KeyNameError(f"the key name is {len(cleaned)} characters; at most {NAME_MAX}")
    for char in cleaned:
        if unicodedata.category(char) in {"Cc", "Cs", "Zl", "Zp"} or ord(char) in _BIDI:
            raise KeyNameError(
                f"the key name contains a control character (U+{ord(char):04X}); "
                "use printable characters only"
            )
    return cleaned


DELIVERY_NOTE = "The new secret was shown to the user once; it is not available to you."


def status_of(record: APIKeyRecord, now: datetime | None = None) -> str:
    """revoked / disabled / expired / active."""
    if record.removed:
        return "revoked"
    if not record.enabled:
        return "disabled"
    if record.expiration_date is not None and record.expiration_date <= (now or datetime.now(UTC)):
        return "expired"
    return "active"


def safe_view(record: APIKeyRecord) -> dict[str, Any]:
    """The model-safe form of a key record: id, name, masked key, status, expiration."""
    return {
        "id": record.id,
        "name": record.name,
        "masked_key": record.api_key,
        "status": status_of(record),
        "expiration_date": record.expiration_date.isoformat() if record.expiration_date else None,
    }
