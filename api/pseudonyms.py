"""Pseudonyms for analysts: a keyed HMAC-SHA256 of the student id, never stored.

The same student id gives the same pseudonym under the same key, year after year, so that
analysts can follow students without seeing who they are; without the key the pseudonym
cannot be reversed or recomputed from a guessed id.
"""

from __future__ import annotations

import hashlib
import hmac

LENGTH = 24


def pseudonym(student_id: str, key: bytes | str) -> str:
    """The pseudonym of ``student_id`` under ``key`` (24 hex digits, 96 bits).

    Examples
    --------
    >>> pseudonym("S0001", b"k") == pseudonym("S0001", "k")
    True
    >>> len(pseudonym("S0001", b"k"))
    24
    """
    if isinstance(key, str):
        key = key.encode("utf-8")
    digest = hmac.new(key, student_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:LENGTH]
