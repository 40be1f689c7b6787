"""Kills and races: every acknowledged write survives SIGKILL; threads and processes lose nothing."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from qa.store import Store
from tests.store_support import Clock, evaluation, open_store

ROOT = Path(__file__).resolve().parent.parent


def worker(data: Path, prefix: str, count: int, *options: str) -> subprocess.Popen[str]:
    """A writer in its own interpreter (see tests/store_worker.py), started from the repository."""
    args = [sys.executable, "-m", "tests.store_worker", str(data), prefix, str(count), *options]
    return subprocess.Popen(
        args, cwd=ROOT, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def check_acknowledged(store: Store, lines: list[str]) -> int:
    """Every acknowledged write is in the store; returns how many submits were acknowledged."""
    submitted = 0
    for line in lines:
        kind, key, *rest = line.split()
        if kind == "S":
            assert store.get_evaluation(key).id == key
            submitted += 1
        elif kind == "U":
            assert store.get_evaluation(key).status == "approved"
            assert [e.action for e in store.audit_log(key)] == ["submitted", "approve"]
        elif kind == "I":
            for k in range(int(rest[0])):
                assert store.get_interaction(f"{key}-{k:02d}")
    return submitted


@pytest.mark.slow
def test_acknowledged_writes_survive_sigkill_at_random_moments(tmp_path: Path) -> None:
    data = tmp_path / "data"
    open_store(data).close()
    rng = random.Random(20250520)
    # Each writer is a fresh interpreter (`python -m tests.store_worker`), never a multiprocessing
    # child: those re-import `__main__`, which after a Streamlit AppTest in the same pytest process
    # is a page module (it would run the page, and open a store wherever its defaults point).
    acknowledged: list[str] = []
    half_written = 0
    for round_ in range(20):
        # SIGKILL just before a random file-system call: between any two steps of some write
        proc = worker(data, f"r{round_:02d}", 10_000, "--kill-at", str(rng.randint(5, 250)))
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, f"the writer was not killed: {err}"
        acknowledged += out.splitlines()
        half_written += any(p.name.endswith(".tmp") for p in data.rglob("*"))
        with Store.open(data) as store:  # opens (cleaning the killed writer's temp files) and reads
            submitted = check_acknowledged(store, acknowledged)
            stored = sum(1 for _ in store.iter_evaluations())
            assert submitted <= stored <= submitted + round_ + 1  # at most one unacknowledged per kill
        assert [p for p in data.rglob("*") if p.name.endswith((".tmp", ".partial"))] == []
    assert sum(line.startswith("S") for line in acknowledged) >= 20
    assert half_written >= 3  # the kills did land inside writes, leaving temporary files


@pytest.mark.slow
def test_sixteen_threads_and_two_processes_lose_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = open_store(data, clock=Clock())
    procs = [worker(data, f"p{n}", 30, "--wait") for n in range(2)]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    per_thread = 8
    start = threading.Barrier(17)
    failures: list[BaseException] = []

    def write(t: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                ev = store.submit_evaluation(evaluation(f"emp-00{(t + i) % 3 + 1}", id=f"t{t:02d}-{i:03d}"))
                store.update_evaluation(ev.id, {"comments": {"thread": str(t)}}, by="lead", action="comment")
                store.save_draft(f"user{t}", f"k{i}", {"i": i})
        except BaseException as error:  # reported below: a thread's exception would be lost
            failures.append(error)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(16)]
    for thread in threads:
        thread.start()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    start.wait()
    for thread in threads:
        thread.join()
    outputs = [proc.communicate()[0] for proc in procs]
    assert failures == [] and [proc.returncode for proc in procs] == [0, 0], [p.stderr for p in procs]
    store.close()

    with Store.open(data) as fresh:  # everything is on disk, readable, exactly once
        ids = [e.id for e in fresh.iter_evaluations()]
        assert len(ids) == len(set(ids)) == 16 * per_thread + 2 * 30
        for t in range(16):
            for i in range(per_thread):
                assert [e.action for e in fresh.audit_log(f"t{t:02d}-{i:03d}")] == ["submitted", "comment"]
            assert len(fresh.drafts_for(f"user{t}")) == per_thread
        for out in outputs:
            check_acknowledged(fresh, out.splitlines())
