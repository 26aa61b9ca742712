"""Settings, tokens and pseudonyms."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from screening.api.db import session_scope
from screening.api.models import User
from screening.api.pseudonyms import pseudonym
from screening.api.security import authenticate, create_user, hash_token
from screening.config import DEFAULT_PSEUDONYM_KEY, MIN_SECRET_LENGTH, Settings


def test_default_secret_refuses_to_start_outside_development(monkeypatch):
    monkeypatch.delenv("SCREENING_SECRET_KEY", raising=False)
    monkeypatch.delenv("SCREENING_PSEUDONYM_KEY", raising=False)
    assert Settings(environment="development").min_cell == 10
    with pytest.raises(ValidationError, match="SCREENING_SECRET_KEY"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="SCREENING_PSEUDONYM_KEY"):
        Settings(environment="production", secret_key="a-real-secret-" + "s" * 32)
    long_secret, long_key = "s" * MIN_SECRET_LENGTH, "p" * MIN_SECRET_LENGTH
    for short in ("", "x", " " + DEFAULT_PSEUDONYM_KEY, "p" * (MIN_SECRET_LENGTH - 1)):
        with pytest.raises(ValidationError, match=r"SCREENING_PSEUDONYM_KEY is (too short|left)"):
            Settings(environment="production", secret_key=long_secret, pseudonym_key=short)
    with pytest.raises(ValidationError, match="SCREENING_SECRET_KEY is too short"):
        Settings(environment="test", secret_key="s", pseudonym_key=long_key)
    settings = Settings(environment="production", secret_key=long_secret, pseudonym_key=long_key)
    assert settings.environment == "production"
    assert Settings(environment="development", pseudonym_key="").environment == "development"


def test_settings_read_the_screening_prefix(monkeypatch):
    monkeypatch.setenv("SCREENING_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("SCREENING_MAX_UPLOAD_MB", "5")
    monkeypatch.setenv("SCREENING_MIN_CELL", "20")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.max_upload_bytes == 5 * 1024 * 1024 and settings.min_cell == 20


def test_token_is_stored_hashed_and_revocation_locks_out(sessions, clock, school):
    with session_scope(sessions) as session:
        user, token = create_user(session, f"t-{school}", "counsellor", school, clock())
    with sessions() as session:
        stored = session.scalar(select(User).where(User.id == user.id))
        assert token not in (stored.token_hash, stored.name)
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() == hash_token(token)
        assert authenticate(session, token).school_id == school
        assert authenticate(session, token + "x") is None
    with session_scope(sessions) as session:
        session.get(User, user.id).revoked_at = clock()
    with sessions() as session:
        assert authenticate(session, token) is None


def test_roles_and_schools_are_checked_when_accounts_are_made(sessions, clock):
    with session_scope(sessions) as session:
        with pytest.raises(ValueError, match="needs a school"):
            create_user(session, "no-school", "counsellor", None, clock())
        with pytest.raises(ValueError, match="district-wide"):
            create_user(session, "scoped-admin", "district_admin", "S1", clock())
        with pytest.raises(ValueError):
            create_user(session, "bad-role", "principal", "S1", clock())


def test_pseudonym_is_keyed_hmac_sha256_of_school_and_student():
    # Reference: printf '5:SCH01/S0001' | openssl dgst -sha256 -hmac 'test-key'
    assert pseudonym("SCH01", "S0001", "test-key") == "c88aa8dd4d6aaee2ba0c21f3"
    # Reference: printf '5:SCH01/学号0001' | openssl dgst -sha256 -hmac 'test-key'
    assert pseudonym("SCH01", "学号0001", b"test-key") == "2e4122dcbbdc60af2ed7d40d"
    # Reference: printf '5:SCH02/S0001' | openssl dgst -sha256 -hmac 'test-key': two
    # schools' student 0001 are two children
    assert pseudonym("SCH02", "S0001", "test-key") == "bbc9121687a87457eeeadbf5"
    assert pseudonym("SCH01", "S0001", "other-key") != pseudonym("SCH01", "S0001", "test-key")
    # the length prefix keeps the message unambiguous
    assert pseudonym("A/B", "C", "k") != pseudonym("A", "B/C", "k")


def test_one_value_for_both_keys_is_refused_outside_development():
    key = "k" * MIN_SECRET_LENGTH
    with pytest.raises(ValidationError, match="are the same"):
        Settings(environment="production", secret_key=key, pseudonym_key=key)
    assert Settings(environment="production", secret_key=key, pseudonym_key=key + "p")
    assert Settings(environment="development").uses_default_secrets
    assert not Settings(
        environment="production", secret_key=key, pseudonym_key=key + "p"
    ).uses_default_secrets
