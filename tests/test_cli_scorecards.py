"""The `qa scorecards` and `qa score` commands: exit codes, messages, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qa.cli import main

from .conftest import FIXTURES, ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    qa = Path(sys.executable).parent / "qa"
    return subprocess.run([str(qa), *args], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)


def test_validate_the_shipped_scorecards_exits_0():
    done = run("scorecards", "validate", "scorecards/")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": ok (") >= 3


def test_validate_a_broken_copy_gives_line_precise_errors_and_exit_1(tmp_path):
    text = (FIXTURES / "mini.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("weight: 3", "weight: -3").replace("- id: steps", "- id: greet"), encoding="utf-8")
    done = run("scorecards", "validate", str(broken), str(FIXTURES / "mini.yaml"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{broken}:") and "weight" in lines[0]
    assert "duplicate criterion id 'greet'" in lines[1]
    assert "mini.yaml: ok" in done.stdout


def test_validate_a_missing_file_exits_1(tmp_path, capsys):
    assert main(["scorecards", "validate", str(tmp_path / "nope.yaml")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_show_prints_the_version(capsys):
    assert main(["scorecards", "show", str(FIXTURES / "mini.yaml"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == "mini" and len(shown["version"]) == 12
    assert main(["scorecards", "show", str(FIXTURES / "mini.yaml"), "--lang", "en"]) == 0
    assert "Mini scorecard [mini @ " in capsys.readouterr().out


def test_show_unknown_id_is_a_clear_error(capsys):
    assert main(["scorecards", "show", "no_such_card"]) == 1
    assert "no scorecard with id 'no_such_card'" in capsys.readouterr().err


def test_score_json(tmp_path, capsys):
    answers = tmp_path / "a.yaml"
    answers.write_text("greet: yes\nthanks: na\nquality: 4\nsteps: 2\n", encoding="utf-8")
    assert main(["score", str(FIXTURES / "mini.yaml"), str(answers), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["overall"] == pytest.approx(81.944, abs=1e-3)
    assert out["band"] == "good" and out["critical_failed"] is False
    assert set(out["sections"]) == {"courtesy", "solution"}


def test_score_from_json_file(tmp_path, capsys):
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps({"greet": "no", "thanks": "yes", "quality": 5, "steps": 3}), encoding="utf-8")
    assert main(["score", str(FIXTURES / "mini.yaml"), str(answers)]) == 0
    out = capsys.readouterr().out
    assert "overall: 0.0" in out and "CRITICAL FAILURE: greet" in out


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("greet: yes\nthanks: yes\nquality: 9\nsteps: 1\n", "criterion 'quality': 9 is outside the scale 1..5"),
        ("greet: yes\nthanks: yes\nquality: 4\n", "criterion 'steps': answer missing"),
        ("- a list\n", "answers must be a mapping"),
        ("greet: [yes\n", "not valid YAML"),
    ],
    ids=["out-of-scale", "missing", "not-a-mapping", "bad-yaml"],
)
def test_score_bad_answers_exit_1_naming_the_problem(tmp_path, content, fragment):
    answers = tmp_path / "answers.yaml"
    answers.write_text(content, encoding="utf-8")
    done = run("score", str(FIXTURES / "mini.yaml"), str(answers))
    assert done.returncode == 1
    assert fragment in done.stderr and "answers.yaml" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_usage_exits_2():
    assert run("scorecards").returncode == 2


def test_every_command_is_mapped_to_the_module_that_registers_it():
    """`qa CMD` imports only CMD's module; the map must name the right one for every command."""
    import argparse

    from qa import cli

    cli._load_command_modules()
    for register in list(cli.COMMANDS):
        parser = argparse.ArgumentParser()
        register(parser.add_subparsers())
        (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for name in action.choices:
            assert cli.COMMAND_MODULES.get(name) == register.__module__, name
    assert set(cli.COMMAND_MODULES.values()) == set(cli.CLI_MODULES)


def test_help_of_one_command_and_of_all(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--data", "x", "setup", "--help"])
    assert info.value.code == 0 and "usage: qa setup" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in ("scorecards", "sample", "site", "calibration", "setup"))
