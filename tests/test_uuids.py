"""Name-based ids are exactly the standard library's version 5 UUIDs."""

from __future__ import annotations

import uuid

import pytest

from knflow.uuids import name_based

NAMESPACES = [
    uuid.NAMESPACE_URL,
    uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8"),
    uuid.UUID(int=0),
    uuid.UUID(int=2**128 - 1),
]
NAMES = ["", "a", "instance/1", "día\x1fnode\x1f3", "𝄞" * 40, "x" * 10_000]


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("name", NAMES)
def test_a_name_based_id_is_the_uuid5_of_the_name(
    namespace: uuid.UUID, name: str
) -> None:
    assert name_based(namespace, name) == str(uuid.uuid5(namespace, name))


def test_a_name_based_id_is_a_version_5_rfc_4122_uuid() -> None:
    parsed = uuid.UUID(name_based(uuid.NAMESPACE_DNS, "knflow"))
    assert parsed.version == 5
    assert parsed.variant == uuid.RFC_4122
