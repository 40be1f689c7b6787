"""Demo-data figures: building the records (pure) and writing them in bulk, at the default and bench sizes.

Sizes: 40 employees / 600 evaluations (what `qa setup` makes) and 1,000 / 100,000 (what the other
benches need). Users are left out of the write (argon2 hashing is measured by the auth area).
Also the export and the import of the 600 as CSV and JSON.   Usage: python bench/demo.py [EVALUATIONS ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.demo import demo_records, write_demo
from qa.exchange import export_evaluations, import_evaluations
from qa.store import Store

TODAY = date(2025, 6, 15)


def level(evaluations: int) -> None:
    employees = 40 if evaluations <= 1000 else 1000
    start = time.perf_counter()
    data = demo_records(employees, evaluations, seed=1, today=TODAY)
    built = time.perf_counter() - start
    data.users = []
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with Store.open(Path(tmp) / "data", backup_every=None) as store:
            written = write_demo(store, data)
        wrote = time.perf_counter() - start
    print(f"{evaluations:>7} evaluations, {employees:>5} employees, {written['interactions']:>6} calls: "
          f"records {built:6.1f} s ({1e6 * built / evaluations:5.0f} us each), "
          f"bulk write {wrote:6.1f} s")  # fmt: skip


def exchange() -> None:
    data = demo_records(40, 600, seed=1, today=TODAY)
    data.users = []
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "src", backup_every=None) as store:
        write_demo(store, data)
        for fmt in ("csv", "json"):
            start = time.perf_counter()
            payload = export_evaluations(store, fmt)
            exported = time.perf_counter() - start
            path = Path(tmp) / f"export.{fmt}"
            path.write_bytes(payload)
            with Store.open(Path(tmp) / f"dst-{fmt}", backup_every=None) as fresh:
                start = time.perf_counter()
                import_evaluations(fresh, path)
                imported = time.perf_counter() - start
            print(f"    600 evaluations as {fmt:<4}: export {exported:5.2f} s ({len(payload) / 1e6:.1f} MB), "
                  f"import {imported:5.2f} s")  # fmt: skip


if __name__ == "__main__":
    for size in [int(a) for a in sys.argv[1:]] or [600, 100_000]:
        level(size)
    exchange()
