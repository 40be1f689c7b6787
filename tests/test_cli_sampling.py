"""The sampling commands as a QA lead uses them: import a French export, draw, show, verify, top up."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qa.cli import main
from qa.models import Employee, Interaction, User
from qa.store import Store

from .conftest import FIXTURES, ROOT

EXPORT = FIXTURES / "calls" / "telephonie_decembre.csv"  # Latin-1, ";", decimal comma, dd/mm/yyyy hh:mm
NO_SIGN_IN = "!"  # a password hash nothing matches: these users never sign in
AGENTS = [f"A{i:03d}" for i in range(1, 7)]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    with Store.open(folder) as store:
        store.upsert_employees([Employee(id=a, display_name=f"Agent {a}") for a in AGENTS])
        for name in ("chef.qualite", "A002"):  # A002 is an agent who also evaluates
            store.add_user(
                User(
                    name=name,
                    display_name=name,
                    role="qa_lead",
                    password_hash=NO_SIGN_IN,
                    created_at=datetime(2026, 1, 1, tzinfo=UTC),
                )
            )
    return folder


def qa(data: Path, *args: str) -> int:
    return main(["--data", str(data), *args])


def test_a_qa_lead_imports_draws_sees_assignments_and_anyone_verifies(data, capsys, tmp_path):
    export = tmp_path / "export.csv"
    shutil.copy(EXPORT, export)
    assert qa(data, "interactions", "import", str(export), "--save-mapping", "pbx") == 0
    out = capsys.readouterr().out
    assert "240 row(s), 240 interaction(s) added, 0 already present" in out
    assert qa(data, "interactions", "import", str(export), "--mapping", "pbx") == 0
    assert "0 interaction(s) added, 240 already present" in capsys.readouterr().out

    assert (
        qa(
            data,
            "sample",
            "draw",
            "--period",
            "2026-12",
            "--quota",
            "4",
            "--strata",
            "channel,week",
            "--min-duration",
            "30",
            "--seed",
            "2026",
            "--by",
            "chef.qualite",
        )
        == 0
    )
    out = capsys.readouterr().out
    draw_id = out.split(":", 1)[0]
    assert draw_id.startswith("draw-2026-12-") and "24 interaction(s) drawn" in out and "seed 2026" in out
    assert "every quota and stratum met" in out

    assert qa(data, "sample", "show", draw_id, "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["progress"]["drawn"] == 24 and shown["progress"]["assigned"] == 24
    rows = shown["interactions"]
    assert all(r["evaluator"] in {"chef.qualite", "A002"} and r["evaluator"] != r["employee_id"] for r in rows)
    assert "Client" not in json.dumps(shown)  # customer references are never shown

    assert qa(data, "sample", "show", draw_id) == 0
    text = capsys.readouterr().out
    assert "progress: 24 drawn, 24 assigned, 0 evaluated" in text and "seed 2026" in text

    assert qa(data, "sample", "verify", draw_id) == 0
    assert "MATCHES" in capsys.readouterr().out


def test_verify_exits_1_and_says_what_differs_when_the_frame_changed(data, capsys):
    assert qa(data, "interactions", "import", str(EXPORT)) == 0
    capsys.readouterr()
    assert qa(data, "sample", "draw", "--period", "2026-12", "--quota", "3", "--seed", "1", "--json") == 0
    draw_id = json.loads(capsys.readouterr().out)["draw"]["id"]
    with Store.open(data) as store:
        store.add_interactions(
            [
                Interaction(
                    id="ajout-1",
                    employee_id="A001",
                    channel="phone",
                    duration_seconds=90,
                    started_at=datetime(2026, 12, 9, 9, tzinfo=UTC),
                )
            ]
        )
    assert qa(data, "sample", "verify", draw_id) == 1
    out = capsys.readouterr().out
    assert "DOES NOT MATCH" in out and "the eligible interactions changed" in out


def test_topup_replaces_an_interaction_and_show_counts_it(data, capsys):
    assert qa(data, "interactions", "import", str(EXPORT)) == 0
    capsys.readouterr()
    assert qa(data, "sample", "draw", "--period", "2026-12", "--quota", "2", "--seed", "9", "--json") == 0
    draw = json.loads(capsys.readouterr().out)["draw"]
    gone = draw["selected"][0]
    assert qa(data, "sample", "topup", draw["id"], "--replace", gone, "--seed", "10") == 0
    out = capsys.readouterr().out
    assert "1 interaction(s) drawn" in out
    assert qa(data, "sample", "show", draw["id"]) == 0
    assert "12 drawn, 12 assigned, 0 evaluated, 1 replaced" in capsys.readouterr().out
    assert qa(data, "sample", "list") == 0
    assert "top-up of " + draw["id"] in capsys.readouterr().out


def test_shortfalls_are_printed(data, capsys):
    assert qa(data, "interactions", "import", str(EXPORT)) == 0
    with Store.open(data) as store:
        store.upsert_employees([Employee(id="A099", display_name="Nouvel agent")])
    assert qa(data, "sample", "draw", "--period", "2026-12", "--quota", "4", "--seed", "3") == 0
    out = capsys.readouterr().out
    assert (
        "SHORT: the interactions stored cannot meet these quotas or strata:\n  A099: 0 of 4 drawn (0 available)" in out
    )


def test_a_bad_file_prints_every_problem_with_its_line_and_exits_1(data, capsys, tmp_path):
    bad = tmp_path / "bad.csv"
    text = EXPORT.read_bytes().decode("latin-1").splitlines()
    text[3] = text[3].replace("/12/2026", "/13/2026")
    text[7] = text[7].replace(";A00", ";B00")
    bad.write_bytes("\n".join(text).encode("latin-1"))
    assert qa(data, "interactions", "import", str(bad)) == 1
    err = capsys.readouterr().err
    assert f"{bad}: nothing was imported, 1 problem(s):" in err and f"{bad}:4:4: cannot read the date" in err
    text[3] = EXPORT.read_bytes().decode("latin-1").splitlines()[3]
    bad.write_bytes("\n".join(text).encode("latin-1"))
    assert qa(data, "interactions", "import", str(bad)) == 1
    assert f"{bad}:8:2: unknown employee 'B00" in capsys.readouterr().err
    assert qa(data, "interactions", "import", str(bad), "--skip-unknown-employees") == 0
    assert "skipped 1 row(s) of employees not on the roster" in capsys.readouterr().out


def test_user_errors_are_one_line_messages(data, capsys):
    assert qa(data, "sample", "show", "draw-2030-01-nothing") == 1
    assert capsys.readouterr().err.startswith("qa: error: no draw 'draw-2030-01-nothing'")
    assert qa(data, "sample", "draw", "--period", "2026-12", "--quota", "4", "--strata", "channel,weather") == 1
    assert "invalid sampling plan" in capsys.readouterr().err
    assert qa(data, "interactions", "import", str(EXPORT), "--mapping", "missing") == 1
    assert "no saved column mapping 'missing'" in capsys.readouterr().err


def test_the_installed_command_runs(data, tmp_path):
    qa_bin = Path(sys.executable).with_name("qa")
    result = subprocess.run(
        [str(qa_bin), "--data", str(data), "interactions", "import", str(EXPORT)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "240 interaction(s) added" in result.stdout
