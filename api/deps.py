"""Dependencies of the routes (and of the web pages built on them).

``SessionDep`` is one unit of work per request: it commits after the route function
returns and before the response is sent (so a client never hears of a change that did not
commit), and rolls back when the route raises. ``CurrentUser`` is the actor of the bearer
token; ``NowDep`` the injectable clock; ``SettingsDep`` the app's settings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from screening.api.db import READ_ONLY
from screening.api.security import Actor, authenticate
from screening.config import Settings

bearer = HTTPBearer(auto_error=False, description="A token printed by `screening users add`.")


def get_session(request: Request) -> Iterator[Session]:
    """A session whose transaction commits when the route succeeds."""
    with request.app.state.sessionmaker() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_now(request: Request) -> dt.datetime:
    """The current time from the app's clock (tests replace ``app.state.clock``)."""
    return request.app.state.clock()


NowDep = Annotated[dt.datetime, Depends(get_now)]


def get_current_user(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    """The actor of the request's bearer token; 401 when it is missing, unknown or revoked.

    The look-up's transaction ends here, so slow work in the route (scoring an upload)
    holds no database lock. The actor is kept on ``request.state`` for the audit row of a
    refused request.
    """
    actor = None
    if credentials:
        session.connection(execution_options={READ_ONLY: True})  # no writer lock
        actor = authenticate(session, credentials.credentials)
        session.commit()
    if actor is None:
        raise HTTPException(
            status_code=401,
            detail="Missing, unknown or revoked bearer token.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.actor = actor
    return actor


CurrentUser = Annotated[Actor, Depends(get_current_user)]
