"""How the large fields of a person's hash are kept: JSON, zlib-compressed once it is long.

A person's facts and alerts repeat the same keys in every record (a year of payments is a
dozen near-identical objects), so they compress about ten to one: Redis holds less, and every
save sends less. Level 1, the fastest, gets nearly all of it. A compressed value starts with
zlib's header byte (0x78, "x"), which JSON never starts with, so a value written before, or
by hand, as plain JSON still reads.
"""

from __future__ import annotations

import zlib

PACK_FROM = 256  # bytes of JSON below which compressing saves too little to be worth it
_LEVEL = 1
_ZLIB = b"x"


def pack(json_bytes: bytes) -> bytes:
    """The stored form of a JSON value."""
    if len(json_bytes) < PACK_FROM:
        return json_bytes
    return zlib.compress(json_bytes, _LEVEL)


def unpack(stored: bytes) -> bytes:
    """The JSON of a stored value (as `pack` wrote it, or plain JSON)."""
    if stored[:1] == _ZLIB:
        return zlib.decompress(stored)
    return stored
