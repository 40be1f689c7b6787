"""Real-browser fixtures: a `streamlit run` server on a free port over a temporary data folder, and
Debian Chromium driven by Playwright at a tablet viewport (820x1180, touch).

Screenshots of each step go to test-artifacts/e2e/ (git-ignored).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from qa.auth import Actor
from qa.store import Store

from ..app_world import populate
from ..conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TABLET = {"viewport": {"width": 820, "height": 1180}, "device_scale_factor": 1, "is_mobile": True, "has_touch": True}
ARTIFACTS = ROOT / "test-artifacts" / "e2e"


@dataclass
class Server:
    url: str
    data_dir: Path
    bobs_evaluation: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed(data_dir: Path) -> str:
    """Users, employees, an assigned call, and one evaluation of Bob's for the privacy test."""
    from qa import evaluations
    from qa.scorecards import resolve

    store = Store.open(data_dir)
    try:
        populate(store, data_dir)
        loaded = resolve("mystery_visit")
        bob = Actor("bob", "shopper")
        state = evaluations.start_visit(store, bob, loaded)
        state.update(
            employee_id="emp-sara",
            context={**state["context"], "site": "Lyon Part-Dieu", "scenario": "purchase"},
            answers={c.id: ("yes" if c.scale.type.startswith("yes") else c.scale.max) for c in loaded.card.criteria()},
            comments={"customer_acknowledged": "Remarque privée de Bob"},
            debrief={q.id: "Réponse de Bob" for q in loaded.card.questions},
        )
        return evaluations.submit(store, bob, loaded, state).id
    finally:
        store.close()


@contextmanager
def serve(data_dir: Path) -> Iterator[str]:
    """A `streamlit run` server of the app over `data_dir` on a free port; yields its address."""
    port = _free_port()
    env = {**os.environ, "QA_DATA_DIR": str(data_dir), "QA_SITE_DIR": str(data_dir.parent / "site")}
    env.pop("QA_SCORECARDS_DIR", None)
    log = (data_dir.parent / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
         "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as answer:  # noqa: S310 - local server
                    if answer.read() == b"ok":
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start: see {log.name}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()  # gone before the caller goes on (a restart test starts another one)
        log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    bobs = _seed(data_dir)
    with serve(data_dir) as url:
        yield Server(url, data_dir, bobs)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


class Shots:
    """Numbered screenshots of one test's steps, kept as test artifacts."""

    def __init__(self, page, name: str) -> None:
        self.page, self.name, self.count = page, name, 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob(f"{name}-*.png"):
            old.unlink()

    def __call__(self, step: str, *, full_page: bool = False) -> Path:
        self.count += 1
        path = ARTIFACTS / f"{self.name}-{self.count:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def tablet(browser, request):
    """A fresh tablet tab (its own cookies and session) and its screenshot taker."""
    context = browser.new_context(**TABLET)
    context.set_default_timeout(20_000)
    page = context.new_page()
    shots = Shots(page, request.node.name)
    yield page, shots
    if request.node.stash.get(FAILED, False):
        shots("failed", full_page=True)  # what the browser showed when the test failed
    context.close()
