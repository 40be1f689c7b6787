"""App figures: server time of an evaluation-page rerun with 100,000 evaluations, and start-up time.

1. Rerun: the app runs in Streamlit's AppTest (in this process) on a data folder holding 100,000
   demo evaluations (built once into bench/out/app-100k, ~1.5 min). A shopper's visit form is
   open at a section step; each measured rerun is a tap on an answer (callback, autosave to the
   store, the whole page drawn again). AppTest's own bookkeeping is included, so the figures are
   an upper bound of the server's time. Target: <= 100 ms.
2. Start-up, as `make run` does it on an installed, already set-up store: `qa setup` (nothing to
   do), then `streamlit run` until /_stcore/health answers "ok"; then the first page (the sign-in
   form) in Chromium when /usr/bin/chromium exists. Target: healthy <= 3 s.

Usage: python bench/app.py [EVALUATIONS]   (default 100000)
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.auth import Actor, hash_password  # noqa: E402 - after the sys.path line above
from qa.demo import demo_records, write_demo  # noqa: E402
from qa.models import User  # noqa: E402
from qa.store import Store  # noqa: E402

OUT = ROOT / "bench" / "out"
SHOPPER = Actor("bench-shopper", "shopper")
REPEATS = 30


def data_folder(evaluations: int) -> Path:
    """A data folder with `evaluations` demo evaluations and one shopper (built once, then reused)."""
    folder = OUT / f"app-{evaluations // 1000}k"
    done = folder / ".complete"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    data = demo_records(1000 if evaluations > 1000 else 40, evaluations, seed=7, today=date(2025, 6, 15))
    data.users = []
    with Store.open(folder, backup_every=None) as store:
        write_demo(store, data)
        store.add_user(
            User(name=SHOPPER.name, display_name="Bench", role="shopper",
                 password_hash=hash_password("bench-password"), created_at=datetime.now(UTC))
        )  # fmt: skip
    done.touch()
    print(f"built {folder} ({evaluations} evaluations) in {time.perf_counter() - started:.0f} s")
    return folder


def rerun_times(folder: Path) -> dict[str, list[float]]:
    """Seconds per rerun of the evaluation page, by kind of rerun."""
    os.environ["QA_DATA_DIR"] = str(folder)
    from streamlit.testing.v1 import AppTest

    from ui import session

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.session_state[session.TOKEN] = session._sessions().start(SHOPPER)
    at.run()
    if "draft" not in at.session_state:
        at.button(key="new_visit").click().run()
    at.button(key="goto_1").click().run()  # the courtesy section: 10 criteria
    criterion = "ans_greeted_at_door"
    times: dict[str, list[float]] = {"tap (answer + autosave)": [], "step change": [], "plain rerun": []}
    for i in range(REPEATS):
        start = time.perf_counter()
        at.radio(key=criterion).set_value("yes" if i % 2 else "no").run()
        times["tap (answer + autosave)"].append(time.perf_counter() - start)
        start = time.perf_counter()
        at.run()
        times["plain rerun"].append(time.perf_counter() - start)
    for i in range(REPEATS // 3):
        start = time.perf_counter()
        at.button(key=f"goto_{2 if i % 2 else 1}").click().run()
        times["step change"].append(time.perf_counter() - start)
    assert not at.exception, at.exception
    return times


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def startup(folder: Path) -> None:
    """`make run` on an installed, set-up store: qa setup, then the server until healthy."""
    env = {**os.environ, "QA_DATA_DIR": str(folder)}
    bin_dir = Path(sys.executable).parent
    port = _free_port()
    start = time.perf_counter()
    subprocess.run([str(bin_dir / "qa"), "--data", str(folder), "setup"], check=True, env=env, capture_output=True)
    setup = time.perf_counter() - start
    server = subprocess.Popen(
        [str(bin_dir / "streamlit"), "run", str(ROOT / "streamlit_app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as answer:  # noqa: S310 - local
                    if answer.read() == b"ok":
                        break
            except OSError:
                time.sleep(0.02)
        healthy = time.perf_counter() - start
        print(f"start-up   : qa setup {setup:.2f} s; healthy {healthy:.2f} s after the start of `make run` "
              f"(target <= 3 s)")  # fmt: skip
        first_page(url, start)
    finally:
        server.terminate()
        server.wait(timeout=10)


def first_page(url: str, start: float) -> None:
    if not Path("/usr/bin/chromium").exists():
        print("first page : skipped (no /usr/bin/chromium)")
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
        page = browser.new_page()
        opened = time.perf_counter()
        page.goto(url, wait_until="domcontentloaded")
        page.get_by_test_id("stForm").wait_for(timeout=30_000)
        shown = time.perf_counter()
        browser.close()
    print(f"first page : sign-in form shown {shown - opened:.2f} s after opening the address "
          f"({shown - start:.2f} s after the start of `make run`, first script run included)")  # fmt: skip


def main() -> None:
    evaluations = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    folder = data_folder(evaluations)
    with Store.open(folder) as store:
        count = sum(1 for _ in store.iter_evaluations())
    print(f"data       : {folder} with {count} evaluations")
    for kind, values in rerun_times(folder).items():
        ms = sorted(1000 * v for v in values)
        p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
        print(f"rerun      : {kind:<24} median {statistics.median(ms):5.1f} ms, p95 {p95:5.1f} ms "
              f"over {len(ms)} (target <= 100 ms)")  # fmt: skip
    startup(folder)


if __name__ == "__main__":
    main()
