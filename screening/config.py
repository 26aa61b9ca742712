"""Settings of the toolkit and its service, read from ``SCREENING_*`` environment variables.

Examples
--------
>>> from screening.config import Settings
>>> Settings(environment="development").min_cell
10

``SCREENING_DATABASE_URL=postgresql+psycopg://user@host/db`` switches the service to
PostgreSQL; the default is a SQLite file in the working directory. Outside development a
secret or pseudonym key left at its default, or shorter than :data:`MIN_SECRET_LENGTH`
characters, refuses to start: with a known or guessable pseudonym key anyone could
recompute the pseudonyms from student ids.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from screening.errors import ScreeningError

DEFAULT_SECRET = "development-secret-change-me"
DEFAULT_PSEUDONYM_KEY = "development-pseudonym-key-change-me"
MIN_SECRET_LENGTH = 32  # characters; secrets.token_urlsafe(32) gives 43


class Settings(BaseSettings):
    """Configuration of the service (environment variables with the ``SCREENING_`` prefix).

    Attributes
    ----------
    environment
        ``development``, ``test`` or ``production``. Only ``development`` accepts the
        default secret and pseudonym key.
    database_url
        SQLAlchemy URL: ``sqlite:///path.db`` (default ``sqlite:///screening.db``) or
        ``postgresql+psycopg://user:password@host:5432/db``.
    secret_key
        Secret of the service (sessions of the web pages).
    pseudonym_key
        Key of the HMAC-SHA256 pseudonyms that analysts see instead of student ids.
    max_upload_mb
        Largest request body accepted, in MiB; larger bodies get 413 before they are read.
    min_cell
        Aggregate cells counting fewer students than this are suppressed.
    escalation_interval_s
        How often the running service escalates overdue urgent cases (0 turns the
        background sweep off; the queue still sweeps on every read).
    """

    model_config = SettingsConfigDict(env_prefix="SCREENING_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///screening.db"
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    pseudonym_key: SecretStr = SecretStr(DEFAULT_PSEUDONYM_KEY)
    max_upload_mb: float = Field(50, gt=0)
    min_cell: int = Field(10, ge=1)
    escalation_interval_s: float = Field(60, ge=0)

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.environment == "development":
            return self
        for name, default in (
            ("secret_key", DEFAULT_SECRET),
            ("pseudonym_key", DEFAULT_PSEUDONYM_KEY),
        ):
            value = getattr(self, name).get_secret_value().strip()
            if value == default or len(value) < MIN_SECRET_LENGTH:
                variable = f"SCREENING_{name.upper()}"
                problem = "left at its default" if value == default else "too short"
                raise ValueError(
                    f"{variable} is {problem} in environment {self.environment!r}. Set "
                    f"{variable} to a random value of at least {MIN_SECRET_LENGTH} characters "
                    "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)."
                )
        if self.secret_key.get_secret_value() == self.pseudonym_key.get_secret_value():
            raise ValueError(
                "SCREENING_SECRET_KEY and SCREENING_PSEUDONYM_KEY are the same: give each its "
                "own random value (whoever holds the service's secret must not be able to "
                "recompute the pseudonyms)."
            )
        return self

    @property
    def uses_default_secrets(self) -> bool:
        """Whether the secret or the pseudonym key is left at its published default."""
        return (
            self.secret_key.get_secret_value().strip() == DEFAULT_SECRET
            or self.pseudonym_key.get_secret_value().strip() == DEFAULT_PSEUDONYM_KEY
        )

    @property
    def max_upload_bytes(self) -> int:
        """The upload limit in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)


class SettingsError(ScreeningError, ValueError):
    """The environment holds settings the service cannot start with."""


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read once from the environment.

    Raises
    ------
    SettingsError
        Naming each bad setting and how to fix it, never the values (they may be secrets).
    """
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for item in error.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in item["loc"])
            variable = f"SCREENING_{where.upper()}: " if where else ""
            problems.append(variable + item["msg"].removeprefix("Value error, "))
        raise SettingsError("Invalid settings. " + " ".join(problems)) from None
