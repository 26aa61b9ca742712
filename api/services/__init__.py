"""The service layer: one module per job, shared by the JSON routes and the web pages.

Every function takes a SQLAlchemy ``Session``, the acting :class:`~screening.api.security.Actor`
and the current time, checks role and school, reads or changes the database, writes the
audit row, and returns pydantic models from :mod:`screening.api.schemas`. Functions do not
commit: the caller's unit of work does (``SessionDep`` commits before the response is sent).
They raise :mod:`screening.api.services.errors` exceptions, which the app maps to 403, 404,
409 and 422.
"""
