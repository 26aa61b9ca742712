"""``screening users`` and ``screening serve``."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner

from screening.api.db import make_engine, make_sessionmaker
from screening.api.security import authenticate
from screening.cli import cli
from screening.config import get_settings


@pytest.fixture
def database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SCREENING_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_users_add_list_revoke(database):
    runner = CliRunner()
    added = runner.invoke(cli, ["users", "add", "wang", "--role", "counsellor", "--school", "S001"])
    assert added.exit_code == 0, added.output
    token = added.output.strip()
    assert token.startswith("scr_") and len(token) > 40
    sessions = make_sessionmaker(make_engine(database))
    with sessions() as session:
        actor = authenticate(session, token)
    assert (actor.name, actor.role.value, actor.school_id) == ("wang", "counsellor", "S001")

    listed = runner.invoke(cli, ["users", "list"])
    assert "wang\tcounsellor\tS001" in listed.output and token not in listed.output
    again = runner.invoke(cli, ["users", "add", "wang", "--role", "teacher", "--school", "S001"])
    assert again.exit_code != 0 and "exists already" in again.output
    no_school = runner.invoke(cli, ["users", "add", "li", "--role", "teacher"])
    assert no_school.exit_code != 0 and "--school" in no_school.output
    bad_school = runner.invoke(cli, ["users", "add", "li", "--role", "teacher", "--school", "a/b"])
    assert bad_school.exit_code != 0

    assert runner.invoke(cli, ["users", "revoke", "wang"]).exit_code == 0
    with sessions() as session:
        assert authenticate(session, token) is None
    assert "revoked: 20" in runner.invoke(cli, ["users", "list"]).output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _serving(tmp_path, *options: str):
    """A `screening serve` process on a free port (its base URL), with its output."""
    port = _free_port()
    env = os.environ | {"SCREENING_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "screening.cli", "serve", "--port", str(port), *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", output
    finally:
        process.terminate()
        output.append(process.communicate(timeout=20)[0])


def test_serve_migrates_and_answers(tmp_path):
    with _serving(tmp_path) as (base, output):
        answer = httpx.get(f"{base}/healthz", timeout=5)
        assert answer.json() == {"status": "ok", "database": "ok"}
        assert httpx.get(f"{base}/api/v1/queue").status_code == 401
    assert "GET /healthz 200" in output[0]


@pytest.mark.parametrize("proxied", [False, True])
def test_cookies_are_secure_behind_a_named_tls_proxy(tmp_path, proxied):
    """Behind nginx ending TLS, the service sees http: only with --proxy naming it are its
    X-Forwarded-Proto believed and the sign-in cookie marked Secure."""
    options = ("--proxy", "127.0.0.1") if proxied else ()
    with _serving(tmp_path, *options) as (base, _):
        page = httpx.get(f"{base}/sign-in", headers={"X-Forwarded-Proto": "https"}, timeout=5)
    cookie = page.headers["set-cookie"].lower()
    assert ("; secure" in cookie) is proxied


def test_serve_refuses_default_secret_in_production(tmp_path):
    env = os.environ | {
        "SCREENING_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        "SCREENING_ENVIRONMENT": "production",
        "SCREENING_SECRET_KEY": "a-secret-that-must-not-be-printed-0123456789",
    }
    env.pop("SCREENING_PSEUDONYM_KEY", None)
    done = subprocess.run(
        [sys.executable, "-m", "screening.cli", "serve", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "SCREENING_PSEUDONYM_KEY" in done.stderr
    assert "a-secret-that-must-not-be-printed-0123456789" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "school-server"])
def test_serve_refuses_other_machines_with_the_development_secrets(tmp_path, monkeypatch, host):
    from screening.cli import cli
    from screening.config import get_settings

    for name in ("ENVIRONMENT", "SECRET_KEY", "PSEUDONYM_KEY"):
        monkeypatch.delenv(f"SCREENING_{name}", raising=False)
    monkeypatch.setenv("SCREENING_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    get_settings.cache_clear()
    try:
        done = CliRunner().invoke(cli, ["serve", "--host", host, "--no-migrate"])
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 2
    assert (
        "development defaults" in done.output and "SCREENING_ENVIRONMENT=production" in done.output
    )
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
    ],
)
def test_loopback_hosts(host, local):
    from screening.commands.serve import _loopback

    assert _loopback(host) is local
