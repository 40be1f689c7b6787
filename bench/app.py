"""App figures: server time of an evaluation-page rerun with 100,000 evaluations, and start-up time.

1. Rerun: the app runs in Streamlit's AppTest (in this process) on a data folder holding 100,000
   demo evaluations (built once into bench/out/app-100k, ~1.5 min). A shopper's visit form is
   open at a section step; the measured reruns are a tap on an answer (callback, autosave to the
   store, the whole page drawn again), a comment typed (the text box's value arriving, autosave),
   a step change and a plain rerun. For each: p50/p95 of the wall time, of the CPU time of the
   script thread (callbacks + script: the server's own work, what the target is about) and of
   the whole process's CPU (AppTest's bookkeeping included: an upper bound). The machine is
   shared, so wall times include waiting for a core; CPU times do not. AppTest compiles the
   scripts again on every run where a server compiles each once (its ScriptCache lives as long
   as the server): the bench gives AppTest one shared cache, as a server has. Target: <= 100 ms.
2. Start-up, as `make run` does it on an installed, already set-up store: `qa setup` (nothing to
   do), then `streamlit run` until /_stcore/health answers "ok" (wall time, and the CPU time the
   two processes used); then the first page (the sign-in form) in Chromium when
   /usr/bin/chromium exists. Repeated STARTS times. Target: healthy <= 3 s.

Usage: python bench/app.py [EVALUATIONS]   (default 100000)
"""

from __future__ import annotations

import os
import resource
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
STARTS = 5


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


class ScriptClock:
    """CPU time of the script thread per run (callbacks included), read from inside that thread."""

    def __init__(self) -> None:
        from streamlit.runtime.scriptrunner import script_runner

        self.last = 0.0
        original = script_runner.ScriptRunner._run_script

        def timed(runner, *args, **kwargs):
            start = time.thread_time()
            try:
                return original(runner, *args, **kwargs)
            finally:
                self.last = time.thread_time() - start

        script_runner.ScriptRunner._run_script = timed


def rerun_times(folder: Path) -> dict[str, dict[str, list[float]]]:
    """Seconds per rerun of the evaluation page, by kind of rerun: wall, script CPU, process CPU."""
    os.environ["QA_DATA_DIR"] = str(folder)
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import AppTest, app_test

    from ui import session

    shared = ScriptCache()
    app_test.ScriptCache = lambda: shared  # one bytecode cache for every run, as in a server
    clock = ScriptClock()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.session_state[session.TOKEN] = session._sessions().start(SHOPPER)
    at.run()
    if "draft" not in at.session_state:
        at.button(key="new_visit").click().run()
    at.button(key="goto_1").click().run()  # the courtesy section: 10 criteria
    criterion = "ans_greeted_at_door"
    kinds = ("tap (answer + autosave)", "comment typed (autosave)", "step change", "plain rerun")
    times: dict[str, dict[str, list[float]]] = {kind: {"wall": [], "script": [], "cpu": []} for kind in kinds}

    def measure(kind: str, action) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        times[kind]["wall"].append(time.perf_counter() - wall)
        times[kind]["cpu"].append(time.process_time() - cpu)
        times[kind]["script"].append(clock.last)

    for i in range(REPEATS):
        measure(kinds[0], lambda i=i: at.radio(key=criterion).set_value("yes" if i % 2 else "no").run())
        # What the text box's JavaScript sends after a pause in typing (see ui/textbox.py).
        at.session_state["cm_greeted_at_door"] = {"value": f"Accueil {i}"}
        measure(kinds[1], at.run)
        measure(kinds[3], at.run)
    for i in range(REPEATS // 2):
        measure(kinds[2], lambda i=i: at.button(key=f"goto_{2 if i % 2 else 1}").click().run())
    assert not at.exception, at.exception
    assert at.session_state["draft"]["comments"]["greeted_at_door"].startswith("Accueil")
    return times


def percentiles(values: list[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    ms = sorted(1000 * v for v in values)
    return statistics.median(ms), ms[max(0, round(0.95 * len(ms)) - 1)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def startup(folder: Path, show_page: bool) -> tuple[float, float, float, float]:
    """`make run` on an installed, set-up store: qa setup, then the server until healthy.

    Returns (qa setup wall, qa setup CPU, healthy wall from the start, CPU of both processes)."""
    env = {**os.environ, "QA_DATA_DIR": str(folder)}
    bin_dir = Path(sys.executable).parent
    port = _free_port()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([str(bin_dir / "qa"), "--data", str(folder), "setup"], check=True, env=env, capture_output=True)
    setup = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    setup_cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
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
        server_cpu = _cpu_seconds(server.pid)
        if show_page:
            first_page(url, start)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return setup, setup_cpu, healthy, setup_cpu + server_cpu


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
        count = store.count_evaluations()
    print(f"data       : {folder} with {count} evaluations; load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores")  # fmt: skip
    for kind, series in rerun_times(folder).items():
        (wall50, wall95), (script50, script95), (cpu50, cpu95) = (
            percentiles(series[k]) for k in ("wall", "script", "cpu")
        )
        print(f"rerun      : {kind:<25} script CPU p50 {script50:5.1f} / p95 {script95:5.1f} ms; "
              f"process CPU p50 {cpu50:5.1f} / p95 {cpu95:5.1f} ms; wall p50 {wall50:5.1f} / p95 {wall95:5.1f} ms "
              f"over {len(series['wall'])} (target <= 100 ms)")  # fmt: skip
    runs = [startup(folder, show_page=n == 0) for n in range(STARTS)]
    setup, setup_cpu, healthy, cpu = (statistics.median(r[i] for r in runs) for i in range(4))
    print(f"start-up   : healthy {healthy:.2f} s after the start of `make run` (median of {STARTS}; "
          f"min {min(r[2] for r in runs):.2f}, max {max(r[2] for r in runs):.2f}); CPU used until healthy "
          f"{cpu:.2f} s, of which qa setup {setup_cpu:.2f} s (wall {setup:.2f} s) (target <= 3 s)")  # fmt: skip
    print(f"load       : average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
