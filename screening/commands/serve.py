"""``screening serve``: migrate the database and run the counselling-room service."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option(
    "--no-migrate", is_flag=True, help="Do not apply database migrations before starting."
)
@click.option(
    "--proxy",
    "proxies",
    metavar="IP",
    multiple=True,
    help=(
        "Address of a reverse proxy that ends TLS in front of the service (repeatable): its "
        "X-Forwarded-Proto and X-Forwarded-For are believed, so that sign-in cookies are "
        "marked Secure behind it. Without it those headers are ignored."
    ),
)
def command(host: str, port: int, workers: int, no_migrate: bool, proxies: tuple[str, ...]) -> None:
    """Run the service (SCREENING_DATABASE_URL picks the database; SQLite file by default)."""
    import logging

    import uvicorn

    from screening.api.db import make_engine, migrate
    from screening.config import get_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    if settings.uses_default_secrets and not _loopback(host):
        raise click.UsageError(
            f"--host {host} lets other machines reach the service, whose secret and pseudonym "
            "key are the published development defaults: anyone could recompute the "
            "pseudonyms from student ids. Set SCREENING_ENVIRONMENT=production with "
            "SCREENING_SECRET_KEY and SCREENING_PSEUDONYM_KEY (random values of at least 32 "
            "characters each), or listen on 127.0.0.1."
        )
    if not no_migrate:
        engine = make_engine(settings.database_url)
        migrate(engine)
        engine.dispose()
    uvicorn.run(
        "screening.api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # the app logs route templates, never query strings
        proxy_headers=bool(proxies),
        forwarded_allow_ips=",".join(proxies) or None,
    )


def _loopback(host: str) -> bool:
    """Whether ``host`` (an address or name) is reachable from this machine only."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # another host name: it may resolve to any interface
        return False
