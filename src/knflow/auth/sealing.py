"""Sealing the tokens an instance keeps for its calls: AES-256-GCM under a rotating key.

`KNFLOW_TOKEN_KEY` holds one or more base64 keys of 32 bytes (inline or in a mounted Secret
file); the first seals, every one opens, so a key is rotated by putting a new one first and
dropping the old one once the instances sealed under it have ended. The instance id is the
associated data: a sealed row moved to another instance does not open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from knflow.errors import InputError

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12


@dataclass(frozen=True, slots=True, kw_only=True)
class Sealed:
    """Encrypted headers, as stored."""

    key_id: str
    """Which key sealed them (first 16 hex digits of the key's SHA-256)."""
    nonce: bytes
    """The 96-bit GCM nonce, random per seal."""
    ciphertext: bytes
    """The JSON object of headers, encrypted, with its tag."""


class TokenKeys:
    """The configured sealing keys; the first one seals."""

    def __init__(self, encoded: Sequence[str]) -> None:
        """Decode the keys.

        Raises:
            InputError: a key is not base64 of exactly 32 bytes.
        """
        self._keys = [_decode(text) for text in encoded]
        self._by_id = {_key_id(key): key for key in self._keys}

    @property
    def can_seal(self) -> bool:
        """Whether any key is configured."""
        return bool(self._keys)

    def seal(self, instance_id: str, headers: Mapping[str, str]) -> Sealed:
        """Encrypt `headers` for `instance_id` under the current key."""
        key = self._keys[0]
        nonce = os.urandom(NONCE_BYTES)
        plaintext = json.dumps(dict(headers), separators=(",", ":")).encode("utf-8")
        return Sealed(
            key_id=_key_id(key),
            nonce=nonce,
            ciphertext=AESGCM(key).encrypt(nonce, plaintext, instance_id.encode()),
        )

    def open(self, instance_id: str, sealed: Sealed) -> dict[str, str] | None:
        """Decrypt; None when the key is no longer configured or the row was tampered with."""
        key = self._by_id.get(sealed.key_id)
        if key is None:
            return None
        try:
            plaintext = AESGCM(key).decrypt(
                sealed.nonce, sealed.ciphertext, instance_id.encode()
            )
        except InvalidTag:
            return None
        opened = json.loads(plaintext)
        return {str(k): str(v) for k, v in opened.items()}


def new_key() -> str:
    """A fresh random key, base64-encoded (what `knflow dev` uses when none is set)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def _decode(text: str) -> bytes:
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_")
    except (binascii.Error, ValueError) as error:
        raise InputError(
            "KNFLOW_TOKEN_KEY holds a value that is not base64; "
            "make one with `openssl rand -base64 32`"
        ) from error
    if len(key) != KEY_BYTES:
        raise InputError(
            f"KNFLOW_TOKEN_KEY holds a {len(key)}-byte key; AES-256 needs {KEY_BYTES} "
            "bytes (`openssl rand -base64 32`)"
        )
    return key


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]
