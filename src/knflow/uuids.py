"""Name-based ids: the version 5 UUID of a name, as the string every table and event holds.

knflow derives the ids of what a step produces (nodes, events, jobs) from what identifies
them, so that a retried or redelivered step produces the same ids and de-duplicates. A
step derives a dozen. `str(uuid.uuid5(...))` builds a `UUID` (checking its arguments) only
to format it again; this computes the same string from the digest, at a third of the cost.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Final

_VERSION_5: Final = 0x5000 << 64
"""The version nibble (5: SHA-1, name-based) in its place in the 128-bit value."""
_VARIANT_RFC_4122: Final = 0x8000 << 48
"""The variant bits (10: RFC 4122) in their place."""
_CLEARED: Final = ~((0xF000 << 64) | (0xC000 << 48))
"""Clears the version nibble and the variant bits of the digest."""


def name_based(namespace: uuid.UUID, name: str) -> str:
    """Return `str(uuid.uuid5(namespace, name))`: the same id, formatted the same way."""
    digest = hashlib.sha1(namespace.bytes + name.encode("utf-8")).digest()
    value = (int.from_bytes(digest[:16]) & _CLEARED) | _VERSION_5 | _VARIANT_RFC_4122
    hexed = f"{value:032x}"
    return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"
