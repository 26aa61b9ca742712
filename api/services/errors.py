"""Errors of the service layer, mapped to HTTP statuses by :func:`screening.api.main.create_app`."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class; ``status`` is the HTTP status the routes answer with."""

    status = 400

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class Forbidden(ServiceError):
    """The role may not do this at all (403)."""

    status = 403


class NotFound(ServiceError):
    """The object does not exist or belongs to another school: the same answer (404)."""

    status = 404

    def __init__(self, what: str = "Not found.") -> None:
        super().__init__(what)


class Conflict(ServiceError):
    """The object is not in a state that allows this change (409)."""

    status = 409


class Unprocessable(ServiceError):
    """The request is well-formed but cannot be used (422)."""

    status = 422

    def __init__(self, detail: str, failure_cases: list[dict] | None = None) -> None:
        self.failure_cases = failure_cases or []
        super().__init__(detail)
