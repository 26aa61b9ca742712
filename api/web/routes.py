"""Routes of the web pages. Each page calls the service functions the API uses
(:mod:`screening.api.services`), so roles, schools, audit rows and case rules are the same;
this module only reads forms, renders templates and translates messages.

Pages: ``/sign-in``, ``/sign-out``, ``/lang/{locale}``, ``/queue``, ``/cases/{id}`` (and its
forms), ``/upload``, ``/refer``, ``/dashboard``; static files under ``/static``.
"""

from __future__ import annotations

import inspect
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from screening.api import audit
from screening.api.clock import school_date
from screening.api.deps import NowDep, SessionDep, SettingsDep
from screening.api.models import (
    Disposition,
    GuardianContactMethod,
    GuardianContactOutcome,
    ReferralCategory,
    Role,
)
from screening.api.schemas import (
    CloseIn,
    EscalateIn,
    FollowUpIn,
    GuardianContactIn,
    NoteIn,
    ReferIn,
    ReferralIn,
    UploadSummary,
)
from screening.api.services import cases, referrals, uploads
from screening.api.services.errors import Forbidden, NotFound, ServiceError
from screening.api.web import auth, dashboard
from screening.api.web.messages import translate
from screening.api.web.present import (
    event_rows,
    local_time,
    mask_name,
    reason_text,
    score_rows,
)
from screening.charts import trend_line
from screening.i18n import LOCALES, normalize_locale, translator
from screening.reports import QUALITY_ALERT, TIER_COLOURS, TIERS, quality_rows, tier_sections

HERE = Path(__file__).parent
SESSION_COOKIE = "screening_session"
LANG_COOKIE = "screening_lang"
LOGIN_COOKIE = "screening_login"
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
FIELD_LABELS = {
    "text": "web.case.note_label",
    "on": "web.case.follow_up_date",
    "reason": "web.case.escalate_reason",
    "target": "web.case.refer_target",
    "disposition": "web.case.disposition",
    "note": "web.case.refer_note",
    "method": "web.case.guardian_method",
    "outcome": "web.case.guardian_outcome",
    "student_id": "web.refer_page.student_id",
    "name": "web.refer_page.name",
    "category": "web.refer_page.category",
}
#: The fields of each case form and their labels: what was typed in them is shown again
#: when the form is refused.
CASE_FIELDS = {
    "note": {"text": "web.case.note_label"},
    "follow-up": {"on": "web.case.follow_up_date", "note": "web.case.follow_up_note"},
    "escalate": {"reason": "web.case.escalate_reason"},
    "refer": {
        "target": "web.case.refer_target",
        "on": "web.case.refer_date",
        "note": "web.case.refer_note",
    },
    "guardian": {
        "on": "web.case.guardian_date",
        "method": "web.case.guardian_method",
        "outcome": "web.case.guardian_outcome",
        "note": "web.case.guardian_note",
    },
    "close": {"disposition": "web.case.disposition", "note": "web.case.close_note"},
}
TREND_COLOURS = {"red": "#b71c1c", "orange": "#e65100", "yellow": "#8d6e00", "retest": "#616161"}

router = APIRouter(include_in_schema=False)


# ---------------------------------------------------------------- rendering
@lru_cache
def _environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [
                PackageLoader("screening.api.web", "templates"),
                PackageLoader("screening", "templates"),
            ]
        ),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "" if v is None else f"{100 * v:.1f}%"
    env.filters["num"] = lambda v: "" if v is None else f"{v:,}"
    env.filters["when"] = local_time
    env.filters["mask"] = mask_name
    return env


def locale_of(request: Request) -> str:
    """The page language: the language cookie, else Chinese."""
    return normalize_locale(request.cookies.get(LANG_COOKIE))


def _nav(actor: auth.Actor | None) -> list[tuple[str, str]]:
    if actor is None:
        return []
    role = actor.role
    items = []
    if role is Role.counsellor:
        items += [("/queue", "web.queue"), ("/upload", "web.upload"), ("/refer", "web.refer")]
    if role is Role.teacher:
        items.append(("/refer", "web.refer"))
    if role is Role.district_admin:
        items.append(("/upload", "web.upload"))
    if role in (Role.counsellor, Role.district_admin, Role.analyst, Role.researcher):
        items.append(("/dashboard", "web.dashboard"))
    return items


def render(
    request: Request,
    template: str,
    *,
    user: auth.SignedIn | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page in the user's language with the common frame (navigation, sign-out)."""
    locale = locale_of(request)
    actor = user.actor if user else None
    html = (
        _environment()
        .get_template(template)
        .render(
            _=translator(locale),
            lang=locale,
            locales=LOCALES,
            path=request.url.path,
            here=_here(request),
            user=actor,
            csrf=user.csrf if user else "",
            nav=_nav(actor),
            **context,
        )
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _message_page(
    request: Request, user: auth.SignedIn | None, title: str, text: str, status: int
) -> HTMLResponse:
    return render(request, "message.html.j2", user=user, status=status, title=title, text=text)


def _not_found(request: Request, user: auth.SignedIn | None) -> HTMLResponse:
    _ = translator(locale_of(request))
    return _message_page(request, user, _("web.not_found_title"), _("web.not_found"), 404)


def _forbidden(request: Request, user: auth.SignedIn | None) -> HTMLResponse:
    _ = translator(locale_of(request))
    return _message_page(request, user, _("web.forbidden_title"), _("web.forbidden"), 403)


def _service_error(
    request: Request, user: auth.SignedIn, session: Session, error: ServiceError
) -> HTMLResponse | None:
    """The page for 404 and 403 (with its audit row); None for other errors (the caller
    shows them in place)."""
    session.rollback()
    if isinstance(error, NotFound | Forbidden):
        now = request.app.state.clock()
        audit.record_denied(session, user.actor, request, error.status, now)
    if isinstance(error, NotFound):
        return _not_found(request, user)
    if isinstance(error, Forbidden):
        return _forbidden(request, user)
    return None


def _invalid_fields(error: ValidationError, locale: str) -> str:
    _ = translator(locale)
    names = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else ""
        label = _(FIELD_LABELS[field]) if field in FIELD_LABELS else field
        limit = (problem.get("ctx") or {}).get("max_length")
        if problem["type"] in ("string_too_long", "too_long") and limit is not None:
            label = _("web.field_too_long", field=label, max=limit)
        if label not in names:
            names.append(label)
    return _("web.invalid_form", fields="、".join(names) if locale == "zh-CN" else ", ".join(names))


# ---------------------------------------------------------------- sign-in
class SignInRequired(Exception):
    """Raised by :func:`web_user` when the request has no live session."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def web_user(request: Request, session: SessionDep, now: NowDep) -> auth.SignedIn:
    """The signed-in user of the session cookie; otherwise a redirect to the sign-in page.

    The look-up's transaction ends here, so slow work (scoring an upload) holds no lock.
    """
    user = auth.current(session, request.cookies.get(SESSION_COOKIE), now)
    session.commit()
    if user is None:
        raise SignInRequired(_here(request) if request.method == "GET" else _form_page(request))
    return user


def _form_page(request: Request) -> str:
    """The page that holds the form of a POST: where to go on after signing in again (the
    form's own address answers POST only)."""
    parts = request.url.path.split("/")
    if len(parts) == 4 and parts[1] == "cases":  # /cases/{id}/{action}
        return "/".join(parts[:3])
    return request.url.path


WebUser = Annotated[auth.SignedIn, Depends(web_user)]


def _safe_next(value: str | None) -> str | None:
    """A local path to go on to after signing in (never another site)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    if any(ch in value for ch in "\r\n\\"):
        return None
    return value


def home_of(actor: auth.Actor) -> str:
    """The first page of a role."""
    if actor.role is Role.counsellor:
        return "/queue"
    if actor.role is Role.teacher:
        return "/refer"
    return "/dashboard"


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def _sign_in_page(
    request: Request, *, error: str | None = None, next_path: str | None = None, status: int = 200
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(24)
    response = render(
        request,
        "sign_in.html.j2",
        status=status,
        error=error,
        login_csrf=nonce,
        next_path=_safe_next(next_path) or "",
        notice=request.query_params.get("notice"),
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/sign-in",
    )
    return response


@router.get("/")
def start(request: Request, session: SessionDep, now: NowDep) -> Response:
    """The role's first page, or the sign-in page."""
    user = auth.current(session, request.cookies.get(SESSION_COOKIE), now)
    return _redirect(home_of(user.actor) if user else "/sign-in")


@router.get("/sign-in")
def sign_in_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form: an access token, or an account name and password."""
    return _sign_in_page(request, next_path=next)


@router.post("/sign-in")
async def sign_in(request: Request, session: SessionDep, now: NowDep) -> Response:
    """Check the credentials, open a session and set its HTTP-only cookie."""
    form = await request.form()
    _ = translator(locale_of(request))
    next_path = _safe_next(_text(form, "next"))
    cookie_nonce = request.cookies.get(LOGIN_COOKIE) or ""
    submitted = _text(form, "csrf") or ""
    if not cookie_nonce or not secrets.compare_digest(cookie_nonce.encode(), submitted.encode()):
        return _sign_in_page(request, error=_("web.form_expired"), next_path=next_path, status=403)
    signed_in = auth.sign_in(
        session,
        now,
        token=_text(form, "token"),
        name=_text(form, "name"),
        password=_text(form, "password", strip=False),
    )
    if signed_in is None:
        session.rollback()
        return _sign_in_page(
            request, error=_("web.sign_in_failed"), next_path=next_path, status=401
        )
    response = _redirect(next_path or home_of(signed_in.actor))
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.cookie,
        max_age=auth.SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out")
async def sign_out(request: Request, session: SessionDep, now: NowDep) -> Response:
    """End the session (on the server too) and clear the cookie."""
    cookie = request.cookies.get(SESSION_COOKIE)
    user = auth.current(session, cookie, now)
    form = await request.form()
    if user is not None and not auth.csrf_ok(user, _text(form, "csrf")):
        return _message_page(
            request,
            user,
            translator(locale_of(request))("web.error_title"),
            translator(locale_of(request))("web.form_expired"),
            403,
        )
    auth.sign_out(session, cookie)
    response = _redirect("/sign-in?notice=signed_out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{locale}")
def switch_language(request: Request, locale: str, next: str | None = None) -> Response:
    """Switch the page language (a cookie) and go back to the page."""
    response = _redirect(_safe_next(next) or "/")
    response.set_cookie(
        LANG_COOKIE,
        normalize_locale(locale),
        max_age=365 * 24 * 3600,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


# ---------------------------------------------------------------- forms
def _text(form: Any, key: str, *, strip: bool = True) -> str | None:
    value = form.get(key)
    if value is None or isinstance(value, UploadFile):
        return None
    value = str(value)
    value = value.strip() if strip else value
    return value or None


def _typed(form: Any, fields: tuple[str, ...]) -> dict[str, str]:
    """What the user typed in ``fields``, as sent (not stripped): shown again when the form
    is refused, so that nothing written is lost."""
    return {f: v for f in fields if isinstance(v := form.get(f), str)}


def _csrf_ok(user: auth.SignedIn, form: Any) -> bool:
    return auth.csrf_ok(user, _text(form, "csrf"))


def _csrf_failed(request: Request, user: auth.SignedIn, form: Any) -> HTMLResponse | None:
    if _csrf_ok(user, form):
        return None
    _ = translator(locale_of(request))
    return _message_page(request, user, _("web.error_title"), _("web.form_expired"), 403)


# ---------------------------------------------------------------- queue and cases
@router.get("/queue")
def queue_page(
    request: Request,
    session: SessionDep,
    now: NowDep,
    user: WebUser,
    mine: bool = False,
    follow_up_due: bool = False,
) -> Response:
    """The counselling room's open cases: urgent first, overdue and due follow-ups marked,
    names masked; ``mine`` or ``follow_up_due`` keep only the caller's or the due ones."""
    try:
        queue = cases.list_queue(session, user.actor, now, mine=mine, follow_up_due=follow_up_due)
    except ServiceError as error:
        return _service_error(request, user, session, error) or _forbidden(request, user)
    return render(
        request, "queue.html.j2", user=user, queue=queue, mine=mine, follow_up_due=follow_up_due
    )


def _case_page(
    request: Request,
    session: SessionDep,
    now: NowDep,
    user: auth.SignedIn,
    case_id: int,
    *,
    error: str | None = None,
    status: int = 200,
    action: str | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    """The case page; after a refused form ``action``, with what was ``typed`` in its fields,
    or, when the case no longer shows that form (closed, claimed by another), as text to copy."""
    try:
        case = cases.get_case(session, user.actor, case_id, now)
    except ServiceError as failure:
        return _service_error(request, user, session, failure) or _forbidden(request, user)
    locale = locale_of(request)
    _ = translator(locale)
    done = request.query_params.get("done")
    mine = case.claimed_by == user.actor.name
    kept = {action: typed} if action and typed else {}
    shown = case.status != "closed" and (action == "escalate" or mine)
    labels = CASE_FIELDS.get(action or "", {})
    unsent = [
        (field, _(labels[field]), value)
        for field, value in (typed or {}).items()
        if value.strip() and field != "disposition" and not shown
    ]
    return render(
        request,
        "case.html.j2",
        user=user,
        status=status,
        case=case,
        events=event_rows(case.events, locale),
        results=[
            (r, score_rows(r, locale), [(reason_text(x, locale), x) for x in r.reasons])
            for r in case.results
        ],
        mine=mine,
        error=error,
        kept=kept,
        unsent=unsent,
        done=done if done in CASE_ACTIONS else None,
        dispositions=[d.value for d in Disposition],
        guardian_methods=[m.value for m in GuardianContactMethod],
        guardian_outcomes=[o.value for o in GuardianContactOutcome],
        today=school_date(now).isoformat(),
    )


@router.get("/cases/{case_id}")
def case_page(
    request: Request, case_id: int, session: SessionDep, now: NowDep, user: WebUser
) -> Response:
    """One student's file: details, screenings, timeline, and the forms to work the case."""
    if not 1 <= case_id <= 2**31 - 1:
        return _not_found(request, user)
    return _case_page(request, session, now, user, case_id)


def _body(action: str, form: Any) -> Any:
    get = _text
    if action == "note":
        return NoteIn(text=get(form, "text"))
    if action == "follow-up":
        return FollowUpIn(on=get(form, "on"), note=get(form, "note"))
    if action == "escalate":
        return EscalateIn(reason=get(form, "reason"))
    if action == "refer":
        return ReferIn(target=get(form, "target"), on=get(form, "on"), note=get(form, "note"))
    if action == "guardian":
        return GuardianContactIn(
            on=get(form, "on"),
            method=get(form, "method"),
            outcome=get(form, "outcome"),
            note=get(form, "note"),
        )
    if action == "close":
        return CloseIn(
            disposition=get(form, "disposition"),
            note=get(form, "note"),
            seen_event=get(form, "seen_event"),
        )
    return None


CASE_ACTIONS = {
    "claim": lambda s, a, i, body, now: cases.claim(s, a, i, now),
    "release": lambda s, a, i, body, now: cases.release(s, a, i, now),
    "note": cases.add_note,
    "follow-up": cases.set_follow_up,
    "escalate": cases.escalate,
    "refer": cases.refer,
    "guardian": cases.contact_guardian,
    "close": cases.close,
}


@router.post("/cases/{case_id}/{action}")
async def case_action(
    request: Request, case_id: int, action: str, session: SessionDep, now: NowDep, user: WebUser
) -> Response:
    """Apply one form of the case page, then show the case again."""
    if action not in CASE_ACTIONS or not 1 <= case_id <= 2**31 - 1:
        return _not_found(request, user)
    form = await request.form()
    locale = locale_of(request)
    typed = _typed(form, tuple(CASE_FIELDS.get(action, ())))

    def again(message: str, status: int) -> Response:
        return _case_page(
            request,
            session,
            now,
            user,
            case_id,
            error=message,
            status=status,
            action=action,
            typed=typed,
        )

    if not _csrf_ok(user, form):  # a page of an earlier session: do nothing, keep the text
        stale = (
            "web.form_stale_kept" if any(v.strip() for v in typed.values()) else "web.form_expired"
        )
        return again(translator(locale)(stale), 403)
    try:
        body = _body(action, form)
    except ValidationError as error:
        return again(_invalid_fields(error, locale), 422)
    try:
        CASE_ACTIONS[action](session, user.actor, case_id, body, now)
    except ServiceError as error:
        page = _service_error(request, user, session, error)
        if page is not None:
            return page
        return again(translate(error.detail, locale), 409)
    return _redirect(f"/cases/{case_id}?done={action}")


# ---------------------------------------------------------------- upload
def _batteries() -> list[str]:
    from screening.instruments.loader import bundled_batteries

    return bundled_batteries()


@router.get("/upload")
def upload_form(request: Request, user: WebUser) -> Response:
    """Choose a school's response file, the screening window and the battery."""
    if user.actor.role not in (Role.counsellor, Role.district_admin):
        return _forbidden(request, user)
    return render(request, "upload.html.j2", user=user, batteries=_batteries(), error=None, form={})


@router.post("/upload")
async def upload(
    request: Request, session: SessionDep, now: NowDep, settings: SettingsDep, user: WebUser
) -> Response:
    """Score the file, store the results and open cases; show the validation report."""
    if user.actor.role not in (Role.counsellor, Role.district_admin):
        return _forbidden(request, user)
    form = await request.form()
    failed = _csrf_failed(request, user, form)
    if failed is not None:
        return failed
    locale = locale_of(request)
    _ = translator(locale)
    values = {k: _text(form, k) or "" for k in ("window", "battery", "school_id", "numbered_from")}

    def again(message: str, status: int = 422) -> HTMLResponse:
        return render(
            request,
            "upload.html.j2",
            user=user,
            status=status,
            batteries=_batteries(),
            error=message,
            form=values,
        )

    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return again(_("web.err.no_file"))
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        return again(_("web.err.file_too_large", mb=f"{settings.max_upload_mb:g}"), 413)
    filename = file.filename

    def score_and_store() -> UploadSummary:
        prepared = uploads.prepare_upload(
            data,
            filename,
            values["battery"] or "default",
            1 if values["numbered_from"] == "1" else None,
        )
        return uploads.store_upload(
            session,
            user.actor,
            prepared,
            school_id=values["school_id"] or None,
            window=values["window"],
            now=now,
        )

    try:
        # seconds of scoring and writing: in a worker thread, as the JSON API's route is,
        # so that the event loop goes on serving every other request meanwhile
        summary = await run_in_threadpool(score_and_store)
    except ServiceError as error:
        page = _service_error(request, user, session, error)
        return page or again(translate(error.detail, locale))
    rejected = [(r.row, translate(r.reason, locale)) for r in summary.rejected_rows]
    failures = [
        (f.row, f.column, f.value, translate(f.reason, locale)) for f in summary.failure_cases
    ]
    return render(
        request,
        "upload_result.html.j2",
        user=user,
        status=200 if summary.duplicate else 201,
        summary=summary,
        rejected=rejected,
        failures=failures,
        warnings=[translate(warning, locale) for warning in summary.warnings],
        tiers=TIERS,
        tier_colours=TIER_COLOURS,
    )


def too_large_page(scope: Any) -> Response:
    """The answer to a form whose body passes the upload limit, which the app refuses
    before reading it (so without the session: the page has no navigation)."""
    request = Request(scope)
    _ = translator(locale_of(request))
    mb = f"{request.app.state.settings.max_upload_mb:g}"
    return _message_page(
        request, None, _("web.upload_page.unusable"), _("web.err.file_too_large", mb=mb), 413
    )


# ---------------------------------------------------------------- referral
@router.get("/refer")
def refer_form(request: Request, user: WebUser) -> Response:
    """The level-1 referral form (teachers and counsellors); it shows no scores."""
    if user.actor.role not in (Role.teacher, Role.counsellor):
        return _forbidden(request, user)
    return render(
        request,
        "refer.html.j2",
        user=user,
        categories=[c.value for c in ReferralCategory],
        error=None,
        form={},
    )


@router.post("/refer")
async def refer(request: Request, session: SessionDep, now: NowDep, user: WebUser) -> Response:
    """Open a case for the referred student (or add to the open one)."""
    if user.actor.role not in (Role.teacher, Role.counsellor):
        return _forbidden(request, user)
    form = await request.form()
    locale = locale_of(request)
    fields = ("student_id", "name", "category", "note")
    values = {k: _text(form, k) or "" for k in fields}

    def again(message: str, status: int = 422) -> HTMLResponse:
        return render(
            request,
            "refer.html.j2",
            user=user,
            status=status,
            categories=[c.value for c in ReferralCategory],
            error=message,
            form=_typed(form, fields),
        )

    if not _csrf_ok(user, form):  # a page of an earlier session: do nothing, keep the text
        return again(translator(locale)("web.form_stale_kept"), 403)
    try:
        body = ReferralIn(
            student_id=values["student_id"],
            name=values["name"] or None,
            category=values["category"],
            note=values["note"],
        )
        receipt = referrals.refer_student(session, user.actor, body, now)
    except ValidationError as error:
        return again(_invalid_fields(error, locale))
    except ServiceError as error:
        page = _service_error(request, user, session, error)
        return page or again(translate(error.detail, locale))
    return render(request, "refer_done.html.j2", user=user, status=201, receipt=receipt)


# ---------------------------------------------------------------- dashboard
@router.get("/dashboard")
def dashboard_page(
    request: Request,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
    user: WebUser,
    window: str | None = None,
) -> Response:
    """Tiers by school, grade and sex, response quality and trends (small cells hidden)."""
    try:
        school = dashboard.scope_of(user.actor)
    except ServiceError as error:
        return _service_error(request, user, session, error) or _forbidden(request, user)
    locale = locale_of(request)
    _ = translator(locale)
    min_cell = settings.min_cell
    available = dashboard.windows(session, school)
    chosen = window if window in available else (available[0] if available else None)
    context: dict[str, Any] = {
        "school": school,
        "windows": available,
        "window": chosen,
        "min_cell": min_cell,
        "tiers": TIERS,
        "tier_labels": [_(f"tier.{k}") for k in TIERS],
        "tier_colours": TIER_COLOURS,
        "quality_alert": f"{QUALITY_ALERT:.0%}",
    }
    if chosen is not None:
        frame = dashboard.counts_frame(session, chosen, school)
        context.update(tier_sections(frame, locale=locale, min_cell=min_cell))
        hidden = [b["hidden"] for b in context["breakdowns"] if b["id"] == "school"]
        context["quality"] = quality_rows(
            dashboard.quality_entries(session, chosen, school),
            min_cell,
            locale,
            hidden_schools=hidden[0] if hidden else (),
        )
        points = dashboard.trend_points(session, school, min_cell)
        context["trends"] = [
            trend_line(
                points[key],
                title=_("web.dash.trend_share", tier=_(f"tier.{key}")),
                stroke=TREND_COLOURS[key],
            )
            for key in dashboard.TREND_TIERS
        ]
        context["trend_titles"] = [
            _("web.dash.trend_share", tier=_(f"tier.{key}")) for key in dashboard.TREND_TIERS
        ]
        dashboard.record_read(session, user.actor, school, now)
    return render(request, "dashboard.html.j2", user=user, **context)


# ---------------------------------------------------------------- installation
def install(app: FastAPI) -> None:
    """Add the pages, ``/static`` and the sign-in redirect to ``app``."""

    async def _to_sign_in(request: Request, error: Exception) -> Response:
        next_path = getattr(error, "next_path", None)
        query = []
        if next_path and next_path != "/":
            query.append("next=" + quote(next_path, safe="/"))
        if request.method == "POST":  # say on the sign-in page that the form was not sent
            query.append("notice=unsent")
        return _redirect("/sign-in" + ("?" + "&".join(query) if query else ""))

    api_invalid = app.exception_handlers.get(
        RequestValidationError, request_validation_exception_handler
    )

    async def _no_such_page(request: Request, error: Exception) -> Response:
        """A mistyped or cut-off address: the not-found page, not FastAPI's JSON."""
        if request.url.path.startswith("/api/"):
            if isinstance(error, RequestValidationError):
                answer = api_invalid(request, error)
                return await answer if inspect.isawaitable(answer) else answer
            return await http_exception_handler(request, cast(StarletteHTTPException, error))
        if isinstance(error, StarletteHTTPException) and error.status_code not in (404, 405):
            return await http_exception_handler(request, error)
        return _not_found(request, None)

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.add_exception_handler(StarletteHTTPException, _no_such_page)
    app.add_exception_handler(RequestValidationError, _no_such_page)


__all__ = ["SESSION_COOKIE", "home_of", "install", "render", "router", "web_user"]
