"""The store's CLI: setup, demo, users, employees, export/import, backup/restore; exit codes, no traceback."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from qa.cli import build_parser, main
from qa.store import Store

from .conftest import ROOT

TODAY = "2025-06-15"

# Import every CLI module now, outside any capsys capture: a module that binds sys.stderr at import
# (qa.cli_site's ProgressBar default argument) would otherwise keep a captured stream that pytest
# closes after the first test, and fail later tests elsewhere.
build_parser()


def run(capsys, *argv: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> Path:
    """A store set up once like `make run` does (admin + demo data); tests must not change it."""
    data = tmp_path_factory.mktemp("setup") / "data"
    result = subprocess.run([sys.executable, "-c", "from qa.cli import main; raise SystemExit(main())", "--data", str(data), "setup", "--today", TODAY],
                            capture_output=True, text=True, cwd=ROOT, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    (data.parent / "setup.out").write_text(result.stdout)
    return data


def test_setup_creates_admin_and_demo_data_and_prints_passwords(demo_store: Path) -> None:
    out = (demo_store.parent / "setup.out").read_text()
    assert "admin" in out and "shown once" in out
    assert "shopper1" in out and "demo-shopper1" in out and "lead1" in out
    assert "600 evaluations" in out
    with Store.open(demo_store) as store:
        roles = {u.name: u.role for u in store.list_users()}
        assert roles["admin"] == "admin" and roles["shopper1"] == "shopper" and roles["lead1"] == "qa_lead"
        assert len(store.list_employees()) == 40


def test_setup_again_changes_nothing(demo_store: Path, capsys) -> None:
    before = sorted(p.stat().st_mtime_ns for p in demo_store.rglob("*.json") if "backups" not in p.parts)
    code, out, _ = run(capsys, "--data", str(demo_store), "setup")
    assert code == 0
    assert "already set up" in out and "nothing changed" in out and len(out.strip().splitlines()) == 1
    assert "600 evaluations (" in out and " approved)" in out  # counted from the files' headers
    after = sorted(p.stat().st_mtime_ns for p in demo_store.rglob("*.json") if "backups" not in p.parts)
    assert after == before


def test_demo_refuses_a_store_with_data(demo_store: Path, capsys) -> None:
    code, _, err = run(capsys, "--data", str(demo_store), "demo", "--evaluations", "5")
    assert code == 1 and err.startswith("qa: error:") and "already holds" in err


def test_demo_with_options(tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "--data", str(tmp_path / "d"), "demo", "--employees", "8", "--evaluations", "30",
                       "--seed", "5", "--today", TODAY)  # fmt: skip
    assert code == 0 and "30 evaluations" in out and "demo-shopper3" in out
    with Store.open(tmp_path / "d") as store:
        assert len(list(store.iter_evaluations())) == 30


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["demo", "--employees", "0"], "must be at least 1", id="zero-employees"),
        pytest.param(["demo", "--today", "15/06/2025"], "YYYY-MM-DD", id="bad-date"),
        pytest.param(["users", "add", "x", "--role", "boss"], "invalid choice", id="bad-role"),
    ],
)
def test_bad_usage_exits_2(tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--data", str(tmp_path / "d"), *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_users_add_prints_a_random_password_once_and_list(tmp_path: Path, capsys) -> None:
    data = str(tmp_path / "d")
    code, out, _ = run(
        capsys, "--data", data, "users", "add", "nadia", "--role", "qa_lead", "--display-name", "Nadia B."
    )
    assert code == 0
    password = out.split("Password (shown once): ")[1].strip()
    assert len(password) >= 12
    code, out, _ = run(capsys, "--data", data, "users", "list")
    assert out.strip() == "nadia\tqa_lead\tactive\tNadia B."
    assert password not in out
    code, _, err = run(capsys, "--data", data, "users", "add", "nadia", "--role", "shopper")
    assert code == 1 and "already exists" in err
    with Store.open(tmp_path / "d") as store:
        [logged] = store.user_changes()
    assert (logged.action, logged.user, logged.details) == ("added", "nadia", {"role": "qa_lead"})
    assert logged.by.startswith("command line (") and password not in repr(logged)


def test_users_add_reads_the_password_from_stdin(tmp_path: Path, capsys, monkeypatch) -> None:
    from qa.auth import Throttle, authenticate

    data = str(tmp_path / "d")
    code, out, _ = run(capsys, "--data", data, "users", "add", "sam", "--role", "shopper", "--password-stdin",
                       stdin="correct horse\n", monkeypatch=monkeypatch)  # fmt: skip
    assert code == 0 and "correct horse" not in out and "Password" not in out
    with Store.open(data) as store:
        assert authenticate(store, "sam", "correct horse", Throttle()).role == "shopper"
    code, _, err = run(capsys, "--data", data, "users", "add", "tom", "--role", "shopper", "--password-stdin",
                       stdin="short\n", monkeypatch=monkeypatch)  # fmt: skip
    assert code == 1 and "at least 8" in err


def test_invalid_user_name_is_a_message(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "--data", str(tmp_path / "d"), "users", "add", "a b", "--role", "shopper")
    assert code == 1 and err.startswith("qa: error:") and "name" in err


def test_export_import_and_backup_restore_round_trip(demo_store: Path, tmp_path: Path, capsys) -> None:
    out_json = tmp_path / "all.json"
    code, _, _ = run(capsys, "--data", str(demo_store), "export", "--format", "json", "--out", str(out_json))
    assert code == 0
    assert len(json.loads(out_json.read_text())["evaluations"]) == 600
    fresh = str(tmp_path / "fresh")
    code, out, _ = run(capsys, "--data", fresh, "evaluations", "import", str(out_json))
    assert code == 0 and "600" in out
    code, out2, _ = run(capsys, "--data", fresh, "export", "--format", "json")
    assert json.loads(out2)["evaluations"] == json.loads(out_json.read_text())["evaluations"]

    backup = tmp_path / "b.zip"
    code, out, _ = run(capsys, "--data", fresh, "backup", "--out", str(backup))
    assert code == 0 and backup.exists()
    other = str(tmp_path / "other")
    code, out, _ = run(capsys, "--data", other, "restore", str(backup))
    assert code == 0
    code, out3, _ = run(capsys, "--data", other, "export", "--format", "json")
    assert json.loads(out3)["evaluations"] == json.loads(out2)["evaluations"]


def test_restore_of_a_missing_file_is_a_message(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "--data", str(tmp_path / "d"), "restore", str(tmp_path / "nope.zip"))
    assert code == 1 and "no such backup" in err


def test_import_errors_name_the_file_and_line(tmp_path: Path, capsys) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,team,site,active\nE1,Ana,A,Lyon,yes\nE2,,A,Lyon,maybe\n", encoding="utf-8")
    code, _, err = run(capsys, "--data", str(tmp_path / "d"), "employees", "import", str(roster))
    assert code == 1 and "roster.csv:3" in err
    code, out, _ = run(capsys, "--data", str(tmp_path / "d"), "employees", "list")
    assert out == ""
