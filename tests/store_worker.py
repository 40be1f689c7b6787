"""A separate process writing to a store, for the crash and concurrency tests.

    python -m tests.store_worker DATA PREFIX COUNT [--wait] [--kill-at N]

Submits COUNT evaluations (ids PREFIX-00000...), approves every fourth and adds a batch of
interactions every seventh; after each call returns it prints what was acknowledged:
`S id`, `U id` or `I first-id count`. With --wait it prints `ready` and waits for a line on stdin.

With --kill-at N it sends itself SIGKILL just before its N-th file-system call (open, write,
fsync, replace, rename, unlink, mkdir): a kill between any two steps of a write, chosen by the
test, without timing.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from qa.store import Store
from tests.store_support import evaluation, interaction


def kill_at(n: int) -> None:
    calls = 0

    def counted(call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == n:
                os.kill(os.getpid(), signal.SIGKILL)
            return call(*args, **kwargs)

        return wrapper

    for name in ("open", "write", "fsync", "replace", "rename", "unlink", "mkdir"):
        setattr(os, name, counted(getattr(os, name)))


def main(data: str, prefix: str, count: int, wait: bool) -> None:
    store = Store.open(data)
    if wait:
        print("ready", flush=True)
        sys.stdin.readline()
    for i in range(count):
        ev = evaluation(f"emp-00{i % 3 + 1}", id=f"{prefix}-{i:05d}")
        store.submit_evaluation(ev)
        print("S", ev["id"], flush=True)
        if i % 4 == 3:
            store.update_evaluation(ev["id"], {"status": "approved"}, by="lead", action="approve")
            print("U", ev["id"], flush=True)
        if i % 7 == 6:
            first = f"{prefix}-call-{i:05d}"
            store.add_interactions(interaction(0, id=f"{first}-{k:02d}") for k in range(40))
            print("I", first, 40, flush=True)
    store.close()


if __name__ == "__main__":
    if "--kill-at" in sys.argv:
        kill_at(int(sys.argv[sys.argv.index("--kill-at") + 1]))
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), "--wait" in sys.argv)
