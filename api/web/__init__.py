"""Server-rendered pages of the service: sign-in, the counsellor's queue and cases, uploads,
the teacher's referral form and the district dashboard (Jinja2 templates, no CDN).

:func:`install` adds the pages and their static files to an app made by
:func:`screening.api.main.create_app`. Every label comes from :mod:`screening.i18n`.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response
from starlette.types import Scope


def install(app: FastAPI) -> None:
    """Add the web pages (``/``, ``/sign-in``, ``/queue``...) and ``/static`` to ``app``."""
    from screening.api.web.routes import install as _install

    _install(app)


def too_large_page(scope: Scope) -> Response:
    """The page for a form whose body is over the upload limit (413)."""
    from screening.api.web.routes import too_large_page as _page

    return _page(scope)


__all__ = ["install", "too_large_page"]
