"""Sealing forwarded tokens: AES-GCM bound to the instance, with key rotation."""

from __future__ import annotations

import pytest

from knflow.auth.sealing import TokenKeys, new_key
from knflow.errors import InputError

HEADERS = {"x-authorization-github": "ghp_secret"}


def test_sealed_headers_open_with_the_same_key() -> None:
    keys = TokenKeys([new_key()])
    sealed = keys.seal("i-1", HEADERS)
    assert b"ghp_secret" not in sealed.ciphertext
    assert keys.open("i-1", sealed) == HEADERS


def test_sealed_headers_do_not_open_for_another_instance() -> None:
    keys = TokenKeys([new_key()])
    assert keys.open("i-2", keys.seal("i-1", HEADERS)) is None


def test_rotated_keys_still_open_what_the_old_key_sealed() -> None:
    old, new = new_key(), new_key()
    sealed = TokenKeys([old]).seal("i-1", HEADERS)
    rotated = TokenKeys([new, old])
    assert rotated.open("i-1", sealed) == HEADERS
    assert rotated.seal("i-1", HEADERS).key_id != sealed.key_id


def test_retired_key_leaves_the_tokens_unreadable() -> None:
    sealed = TokenKeys([new_key()]).seal("i-1", HEADERS)
    assert TokenKeys([new_key()]).open("i-1", sealed) is None


def test_short_key_is_refused_with_how_to_make_one() -> None:
    with pytest.raises(InputError, match="openssl rand -base64 32"):
        TokenKeys(["c2hvcnQ="])
