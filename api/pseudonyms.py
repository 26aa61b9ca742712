"""Pseudonyms for analysts: a keyed HMAC-SHA256 of the school and student id, never stored.

The service knows a student by school and student id (a 学号 is the school's own number:
two schools may both have a student 0001), so the pseudonym is keyed on both: two children
never share one. The same student under the same key gets the same pseudonym year after
year, so that analysts can follow students without seeing who they are; without the key
the pseudonym cannot be reversed or recomputed from a guessed id. A student who moves to
another school gets a new one, as the service opens a new record for them there.
"""

from __future__ import annotations

import hashlib
import hmac

LENGTH = 24


def pseudonym(school_id: str, student_id: str, key: bytes | str) -> str:
    """The pseudonym of a school's student under ``key`` (24 hex digits, 96 bits).

    The message is ``"{len(school_id)}:{school_id}/{student_id}"``: the length makes it
    unambiguous whatever characters the ids hold.

    Examples
    --------
    >>> pseudonym("SCH01", "S0001", b"k") == pseudonym("SCH01", "S0001", "k")
    True
    >>> pseudonym("SCH01", "S0001", b"k") == pseudonym("SCH02", "S0001", b"k")
    False
    >>> len(pseudonym("SCH01", "S0001", b"k"))
    24
    """
    if isinstance(key, str):
        key = key.encode("utf-8")
    message = f"{len(school_id)}:{school_id}/{student_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:LENGTH]
