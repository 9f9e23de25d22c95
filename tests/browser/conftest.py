"""A running Shouwang (gunicorn, its own database with a small demo county) and a headless chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DEMO_PASSWORD = "Shouwang-2022"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _browser_database_url(var_dir: Path) -> str:
    """SQLite in a temp dir; under PostgreSQL, a fresh database beside the test database."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return f"sqlite:///{var_dir / 'browser.sqlite3'}"
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    name = f"{cfg['NAME']}_browser"
    conninfo = dict(dbname="postgres", user=cfg["USER"], host=cfg["HOST"], port=cfg["PORT"] or None,
                    password=cfg["PASSWORD"] or None)
    with psycopg.connect(**{k: v for k, v in conninfo.items() if v}, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name + ("?" + url.split("?", 1)[1] if "?" in url else "")


@pytest.fixture(scope="session")
def live_env():
    """The environment of the live site: its own var dir and database, migrated, with the small demo county."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    var_dir = Path(tempfile.mkdtemp(prefix="sw-browser-"))
    env = {**os.environ, "SHOUWANG_VAR_DIR": str(var_dir), "SHOUWANG_TESTING": "1",
           "DATABASE_URL": _browser_database_url(var_dir), "DEBUG": "0", "AXES_FAILURE_LIMIT": "50",
           "SHOUWANG_TODAY": "2022-07-15", "SHOUWANG_TIME": "15:40"}  # as in the demo: July 2022, under V9
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "demo_data", "--seed", "3", "--people", "3000", "--quiet"], env=env, check=True,
                   cwd=ROOT)
    yield env
    shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def live_site(live_env):
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2",
         "--log-level", "warning"], env=live_env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail("gunicorn did not start")
    yield base
    server.terminate()
    server.wait(timeout=10)


def live_query(env: dict, code: str):
    """Run Python with Django set up on the live site's database (SQLite or PostgreSQL alike) and return what it
    prints as JSON on its last line: how a test finds demo data a user could not look up on a page."""
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), "shell", "-v0", "-c", code], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()


@pytest.fixture
def phone(browser):
    """A resident's or door worker's phone: 390x844, touch, Chinese."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True,
                                  has_touch=True)
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()


def login(page, base: str, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(base + "/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def menu(page, group: str, link: str) -> None:
    """Open a menu group of the top bar (people, venues, testing, tracing) and follow one of its links."""
    page.click(f"[data-testid=nav-group-{group}]")
    page.click(f"header nav details[open] >> text={link}")
