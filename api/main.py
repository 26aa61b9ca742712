"""The FastAPI application of the tier-two counselling-room service.

``create_app()`` builds the app from settings (or an engine and a clock handed in by tests);
``screening serve`` migrates the database and runs it with uvicorn. Routes live under
``/api/v1``; ``/healthz`` is outside it.

Logs hold the method, the route template (``/api/v1/cases/{case_id}``), the status and the
duration; never a query string, a body, a student id, a name or an answer. An unexpected
error is logged by its exception type only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from screening import __version__
from screening.api import audit, web
from screening.api.audit import route_template
from screening.api.clock import Clock, system_clock
from screening.api.db import make_engine, make_sessionmaker, session_scope
from screening.api.routes import cases, exports, health, queue, referrals, reports, uploads, users
from screening.api.services.cases import escalate_overdue
from screening.api.services.errors import Forbidden, NotFound, ServiceError, Unprocessable
from screening.config import Settings, get_settings

log = logging.getLogger("screening.api")

API_PREFIX = "/api/v1"
DESCRIPTION = """
Schools upload their students' screening files; every student at tier 2 or above reaches
the school's counselling-room queue exactly once. Counsellors claim, interview, follow up,
escalate, refer and close cases; teachers refer students; analysts see aggregates and
pseudonyms; researchers de-identified data. Every read or change of a student's record is
audited. Send `Authorization: Bearer <token>` (tokens come from `screening users add`).

A screening score is a reason to talk with a student, not a diagnosis.
"""


class BodyTooLarge(StarletteHTTPException):
    """Raised while reading a request body that passes the size limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body larger than {limit} bytes.")


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with 413, before reading them whole.

    A declared ``Content-Length`` over the limit is refused before any byte is read; a
    body without one is counted chunk by chunk and refused as soon as it passes the limit.
    Outside the API, ``page(scope)`` gives the answer (a page in the user's language).
    """

    def __init__(
        self, app: ASGIApp, limit: int, page: Callable[[Scope], Response] | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.page = page

    async def _refuse(self, scope: Scope, send: Send, detail: str) -> None:
        if self.page is not None and not scope["path"].startswith(API_PREFIX):
            await self.page(scope)(scope, _no_receive, send)
        else:
            await _send_json(send, 413, detail)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.limit
            except ValueError:
                await _send_json(send, 400, "Invalid Content-Length header.")
                return
            if too_large:
                await self._refuse(scope, send, f"Request body larger than {self.limit} bytes.")
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as error:
            if not started:
                await self._refuse(scope, send, error.detail)


class SafeErrors:
    """Answer 500 for unexpected errors and log them without their message.

    Exception messages can carry data (a value that failed to parse, a SQL parameter),
    so only the exception type and the route template reach the log. Each request is
    logged as method, route template, status and duration.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        status = 500
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            log.error(
                "unhandled %s on %s %s",
                type(error).__name__,
                scope["method"],
                route_template(scope),
            )
            if not response_started:
                await _send_json(send, 500, "Internal error: the request was not applied.")
            status = 500
        log.info(
            "%s %s %d %.1f ms",
            scope["method"],
            route_template(scope),
            status,
            (time.perf_counter() - started_at) * 1000,
        )


class NoStore:
    """Mark every answer under ``prefix`` ``Cache-Control: no-store``.

    Queues, case files and exports carry students' names and scores: neither a shared
    browser's cache nor a proxy may keep a copy (the web pages send the same header).
    """

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return

        async def no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"
                ]
                message = {**message, "headers": [*headers, (b"cache-control", b"no-store")]}
            await send(message)

        await self.app(scope, receive, no_store)


async def _send_json(send: Send, status: int, detail: str) -> None:
    response = JSONResponse({"detail": detail}, status_code=status)
    await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:  # pragma: no cover - responses never read the body
    return {"type": "http.disconnect"}


def _service_error(request: Request, error: Exception) -> JSONResponse:
    error = cast(ServiceError, error)  # registered for ServiceError only
    actor = getattr(request.state, "actor", None)
    if actor is not None and isinstance(error, Forbidden | NotFound):
        with session_scope(request.app.state.sessionmaker) as session:
            audit.record_denied(session, actor, request, error.status, request.app.state.clock())
    if isinstance(error, Unprocessable):
        body: dict[str, Any] = {
            "detail": [{"loc": ["body"], "msg": error.detail, "type": "value_error"}]
        }
        if error.failure_cases:
            body["failure_cases"] = error.failure_cases
        return JSONResponse(body, status_code=422)
    return JSONResponse({"detail": error.detail}, status_code=error.status)


def _validation_error(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's 422 without echoing the input: where and why, not the value sent.

    The value may be a whole note about a student, and one that cannot be encoded (a lone
    surrogate) would turn the answer itself into a 500.
    """
    errors = cast(RequestValidationError, error).errors()
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]
    return JSONResponse({"detail": detail}, status_code=422)


def sweep_once(app: FastAPI) -> int:
    """Escalate every overdue urgent case that nobody works on now (all schools): the
    number escalated (:func:`screening.api.services.cases.escalate_overdue`)."""
    with session_scope(app.state.sessionmaker) as session:
        return len(escalate_overdue(session, app.state.clock()))


def warm_kernels() -> None:
    """Load the scoring kernel and the CSV reader's, so that the first upload does not wait
    for them: after a fresh install numba compiles them first (measured on 2 cores: 33 s
    and 9 s)."""
    from screening.api.services.uploads import check_battery
    from screening.io import read_upload
    from screening.pipeline import warm_up

    try:
        scorer = check_battery("default")
        warm_up(scorer)
        columns = scorer.loaded.item_columns()
        row = ["S1"] + ["0"] * len(columns)
        sample = f"{','.join(['student_id', *columns])}\n{','.join(row)}\n".encode()
        read_upload(sample, "warm-up.csv", item_columns=columns)
    except Exception as error:  # uploads still work: they compile on first use
        log.error("warming the kernels failed: %s", type(error).__name__)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    threading.Thread(target=warm_kernels, name="warm-kernels", daemon=True).start()
    interval = app.state.settings.escalation_interval_s
    task = asyncio.create_task(_sweeper(app, interval)) if interval > 0 else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _sweeper(app: FastAPI, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(sweep_once, app)
        except Exception as error:  # keep sweeping; the next round retries
            log.error("escalation sweep failed: %s", type(error).__name__)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """Build the service.

    Parameters
    ----------
    settings
        Defaults to :func:`screening.config.get_settings` (the environment).
    engine
        A database engine to use instead of one made from ``settings.database_url``
        (its schema must be migrated: :func:`screening.api.db.migrate`).
    clock
        Returns the current aware UTC time; replaceable later as ``app.state.clock``.

    Returns
    -------
    fastapi.FastAPI
        ``app.state`` holds ``settings``, ``engine``, ``sessionmaker`` and ``clock``.
    """
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url)
    app = FastAPI(
        title="screening: tier-two counselling-room service",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.clock = clock or system_clock
    app.include_router(health.router)
    for module in (users, uploads, referrals, queue, cases, reports, exports):
        app.include_router(module.router, prefix=API_PREFIX)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    web.install(app)  # the pages people use (screening.api.web)
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes, page=web.too_large_page)
    app.add_middleware(NoStore, prefix=API_PREFIX)
    app.add_middleware(SafeErrors)
    return app
