"""Incremental and reproducible builds, private tokens, and the `qa site` commands."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from qa.cli import main
from qa.scorecard_model import Scorecard
from qa.scorecards import content_version
from qa.scoring import score
from sitegen import manifest, paths
from sitegen.build import build_site

from .conftest import ROOT
from .site_world import EMPLOYEES, answers, make_world, open_store, site_files


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """(inode, mtime_ns, content) of every file: a rewrite changes the inode (os.replace)."""
    return {p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
            for p in root.rglob("*") if p.is_file()}  # fmt: skip


@pytest.fixture
def world(tmp_path: Path):
    world = make_world(tmp_path)
    yield world
    world.store.close()


def test_one_new_approved_evaluation_rewrites_only_the_pages_it_changes(world, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build_site(world.store, out, workers=1)
    before = snapshot(out)
    world.add("E1", days=130, comments={"general": "Très bon accueil."})
    report = build_site(world.store, out, workers=1)
    after = snapshot(out)
    tokens = world.store.site_tokens()
    rewritten = {name for name in after if after[name][:2] != before.get(name, (None, None, b""))[:2]}
    changed = {name for name in after if after[name][2] != before.get(name, (None, None, b""))[2]}
    assert rewritten == changed, "a file is rewritten exactly when its bytes change"
    key = paths.leads_key(tokens)
    expected = {paths.employee_page(tokens["E1"], lang) for lang in paths.LANGS}
    expected |= {paths.team_page(key, "Vente", lang) for lang in paths.LANGS}
    expected |= {paths.leads_index(key, lang) for lang in paths.LANGS}
    assert expected <= changed
    # E3's own numbers do not move (E2 and E4, with fewer than two scores, are planned with the
    # pooled spread of everyone's scores, which the new evaluation may shift: their pages may change).
    assert not {paths.employee_page(tokens["E3"], lang) for lang in paths.LANGS} & changed
    assert report.written == len(changed - {manifest.MANIFEST})


def test_a_disputed_evaluation_leaves_the_page_at_the_next_build_in_the_same_process(world, tmp_path: Path) -> None:
    """A rebuild reuses what it read of unchanged employees (the store's records are the same
    objects); a changed record is a new object, so its employee is read again."""
    out = tmp_path / "site"
    added = world.add("E3", days=140, comments={"general": "Commentaire à contester."})
    build_site(world.store, out, workers=1)
    page = out / paths.employee_page(world.store.site_token("E3"), "fr")
    assert "Commentaire à contester." in page.read_text()
    before = snapshot(out)
    world.store.update_evaluation(added["id"], {"status": "disputed"}, by="e3", action="disputed")
    world.add("E3", days=141, comments={"general": "Nouvelle visite."})  # as many as before
    build_site(world.store, out, workers=1)
    assert "Commentaire à contester." not in page.read_text(), "a disputed evaluation is held back"
    assert "Nouvelle visite." in page.read_text()
    assert before[page.relative_to(out).as_posix()][2] != page.read_bytes()
    # Nothing else about E1 changed: their pages are kept as they were.
    tokens = world.store.site_tokens()
    for lang in paths.LANGS:
        name = paths.employee_page(tokens["E1"], lang)
        assert snapshot(out)[name][:2] == before[name][:2]


def test_nothing_changed_means_nothing_written(world, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build_site(world.store, out, workers=1)
    before = snapshot(out)
    report = build_site(world.store, out, workers=1)
    assert report.written == 0 and report.unchanged == report.pages
    assert snapshot(out) == before


def test_identical_input_gives_byte_identical_output(world, tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    build_site(world.store, first, workers=1)
    build_site(world.store, second, full=True, workers=1)
    assert site_files(first) == site_files(second)
    html = "".join(p.read_text() for p in first.rglob("*.html"))
    assert not re.search(r"\b20\d\d-\d\d-\d\dT\d\d:\d\d", html), "no build timestamps in pages"


def test_parallel_and_serial_builds_agree(world, tmp_path: Path, monkeypatch) -> None:
    from sitegen import build

    monkeypatch.setattr(build, "PARALLEL_FROM", 1)
    monkeypatch.setattr(build, "SLICES_PER_PROCESS", 2)  # slices taken from both ends by both processes
    build_site(world.store, tmp_path / "serial", workers=1)
    steps: list[tuple[int, int, str]] = []
    build_site(world.store, tmp_path / "parallel", workers=2, progress=lambda *step: steps.append(step))
    assert site_files(tmp_path / "serial") == site_files(tmp_path / "parallel")
    employees = sorted(e.id for e in world.store.list_employees() if e.active)
    assert sorted(what for _, _, what in steps if what in employees) == employees  # each rendered once
    assert [done for done, _, _ in steps] == list(range(1, len(steps) + 1)) and steps[-1][1] == len(steps)


def _killed(_: int) -> None:
    os._exit(9)  # as the kernel's out-of-memory killer would end the worker: no exception, no result


def test_a_worker_that_dies_fails_the_build_instead_of_hanging_it(world, tmp_path: Path, monkeypatch) -> None:
    import signal

    from qa.errors import QAError
    from sitegen import build

    monkeypatch.setattr(build, "PARALLEL_FROM", 1)
    monkeypatch.setattr(build, "_worker_slice", _killed)
    signal.alarm(60)  # a hang fails the test (SIGALRM) instead of the whole run
    try:
        with pytest.raises(QAError, match="stopped before the end"):
            build_site(world.store, tmp_path / "site", workers=2)
    finally:
        signal.alarm(0)
    assert not (tmp_path / "site" / manifest.MANIFEST).exists()  # not recorded as built


def test_tokens_are_stable_secret_and_rotatable(world, tmp_path: Path) -> None:
    out = tmp_path / "site"
    tokens = world.store.site_tokens()
    build_site(world.store, out, workers=1)
    build_site(world.store, out, workers=1)
    assert world.store.site_tokens() == tokens, "building never changes a token"
    assert len(set(tokens.values())) == len(tokens)
    assert all(len(token) >= 22 for token in tokens.values())  # >= 128 random bits in base64url
    # Same employee ids in another store: other tokens (they do not derive from the id).
    other = open_store(tmp_path / "other")
    try:
        other.upsert_employees([{"id": e, "display_name": e} for e in tokens])
        assert not set(other.site_tokens().values()) & set(tokens.values())
    finally:
        other.close()

    old = world.store.site_token("E2")
    new = world.store.rotate_site_token("E2")
    report = build_site(world.store, out, workers=1)
    assert not (out / "p" / old).exists(), "the old address stops working"
    assert (out / paths.employee_page(new, "fr")).is_file()
    # The leads' folder is derived from every token, so it moves too (qa site links prints it).
    assert report.removed == 2 + 2 * (len({e["team"] for e in EMPLOYEES}) + 1)
    assert (out / report.leads_page).is_file()


def test_manifest_reveals_no_token_and_foreign_files_are_kept(world, tmp_path: Path) -> None:
    out = tmp_path / "site"
    out.mkdir()
    (out / "README.txt").write_text("kept")
    (out / "p").mkdir()
    (out / "p" / ".index.html.dead.tmp").write_text("left by a killed build")
    build_site(world.store, out, workers=1)
    text = (out / manifest.MANIFEST).read_text()
    assert not any(token in text for token in world.store.site_tokens().values())
    assert (out / "README.txt").read_text() == "kept"
    assert not list(out.rglob("*.tmp"))


def test_progress_is_reported_up_to_the_total(world, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    build_site(world.store, tmp_path / "site", progress=lambda done, total, what: calls.append((done, total)),
               workers=1)  # fmt: skip
    assert calls and calls[-1][0] == calls[-1][1]
    assert [c[0] for c in calls] == list(range(1, len(calls) + 1))


def test_a_departed_employee_page_is_removed(world, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build_site(world.store, out, workers=1)
    token = world.store.site_token("E4")
    world.store.upsert_employees([{"id": "E4", "display_name": "Chloé Durand", "team": "Centre <b>d'appels</b>",
                                   "site": "Lille", "active": False}])  # fmt: skip
    build_site(world.store, out, workers=1)
    assert not (out / "p" / token).exists()


# -- the command line --------------------------------------------------------------------------------


def test_cli_build_and_links(world, tmp_path: Path, capsys) -> None:
    data, out = str(world.data_dir), tmp_path / "site"
    assert main(["--data", data, "site", "build", "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["written"] == report["pages"] > 0
    assert main(["--data", data, "site", "build", "--out", str(out)]) == 0
    assert "0 written" in capsys.readouterr().out

    assert main(["--data", data, "site", "links", "--base-url", "https://intranet/coaching"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    links = dict(line.split("\t")[0::2] for line in lines if not line.startswith("#"))
    assert set(links) == {"E1", "E2", "E3", "E4"}
    for link in links.values():
        assert link.startswith("https://intranet/coaching/p/")
        assert (out / link.removeprefix("https://intranet/coaching/")).is_file()
    assert lines[-1].startswith("# QA leads") and report["leads_page"] in lines[-1]


def test_cli_rotate(world, capsys) -> None:
    data = str(world.data_dir)
    before = world.store.site_token("E1")
    assert main(["--data", data, "site", "links", "--rotate", "E1", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["employees"]
    assert row["employee_id"] == "E1" and before not in row["link"]
    assert world.store.site_token("E1") in row["link"]
    assert main(["--data", data, "site", "links", "--rotate", "nobody"]) == 1
    assert "nobody" in capsys.readouterr().err


def test_old_scorecard_versions_keep_their_own_wording(world, tmp_path: Path) -> None:
    """An evaluation scored with an older version shows that version's texts for criteria the
    current file no longer has; criteria that still exist use the current wording."""
    current = world.cards["mystery_visit"].card
    old = current.model_dump(mode="json")
    for section in old["sections"]:
        for criterion in section["criteria"]:
            if criterion["id"] == "wished_good_day":
                criterion.update(id="old_farewell", weight=3.0,
                                 label={"fr": "Ancien libellé d'au revoir", "en": "Old farewell wording"},
                                 coaching={"fr": "Ancien conseil d'au revoir", "en": "Old farewell tip"})  # fmt: skip
    old_card = Scorecard.model_validate(old)
    version = content_version(old_card)
    world.store.remember_scorecard("mystery_visit", version, old_card.model_dump(mode="json"))
    world.store.upsert_employees([{"id": "E5", "display_name": "Denis Roux", "team": "Vente", "site": "Lyon"}])
    given = answers(old_card, failing=["old_farewell"])
    for day in range(4):
        world.store.import_evaluations([{
            "id": f"old-{day}", "scorecard_id": "mystery_visit", "scorecard_version": version, "evaluator": "shopper1",
            "employee_id": "E5", "channel": "face_to_face", "started_at": f"2025-02-0{day + 1}T10:00:00+00:00",
            "answers": given, "score": score(old_card, given).to_dict(), "status": "approved",
            "comments": {"old_farewell": "Pas d'au revoir.", "greeted_at_door": "Accueil rapide."},
            "visit": {"scenario": "purchase"},
        }], by="test")  # fmt: skip
    out = tmp_path / "site"
    build_site(world.store, out, workers=1)
    token = world.store.site_token("E5")
    for lang, label, tip in [("fr", "Ancien libellé d'au revoir", "Ancien conseil d'au revoir"),
                             ("en", "Old farewell wording", "Old farewell tip")]:  # fmt: skip
        text = (out / paths.employee_page(token, lang)).read_text()
        assert label.replace("'", "&#39;") in text and tip.replace("'", "&#39;") in text
        assert current.criterion("greeted_at_door").label.get(lang).replace("'", "&#39;") in text


def test_the_store_columns_give_the_analysis_of_the_records(world, tmp_path: Path) -> None:
    """The build analyses the store's columns; `tests/site_reference.py` defines the numbers from
    the records' snapshots: they are exactly equal."""
    import numpy as np

    from sitegen.frame import analyse_one, columns_of
    from sitegen.load import load_site_data
    from tests.site_reference import analyse_employee, evaluation_facts

    # A second scorecard version, and a person with evaluations on both (two groups of criteria).
    test_old_scorecard_versions_keep_their_own_wording(world, tmp_path)
    card = world.cards["mystery_visit"]
    given = answers(card.card, failing=["greeted_at_door"])
    world.store.import_evaluations([{
        "id": "new-E5", "scorecard_id": "mystery_visit", "scorecard_version": card.version, "evaluator": "shopper1",
        "employee_id": "E5", "channel": "face_to_face", "started_at": "2025-03-01T23:30:00-05:00",
        "answers": given, "score": score(card.card, given).to_dict(), "status": "approved",
        "visit": {"scenario": "complaint"},
    }], by="test")  # fmt: skip
    data = load_site_data(world.store)
    approved = data.evaluations
    ids = sorted(approved.rows)
    records_of = {i: sorted((e for e in world.store.iter_evaluations(status="approved") if e.employee_id == i
                             and data.cards.behaviour_card(e.scorecard_id, e.scorecard_version)),
                            key=lambda e: (e.started_at, e.id)) for i in ids}  # fmt: skip
    assert len({(e.scorecard_id, e.scorecard_version) for i in ids for e in records_of[i]}) >= 3
    columns = columns_of(approved.frame, approved.rows, approved.layouts, ids)
    for employee_id in ids:
        records = records_of[employee_id]
        ids = approved.frame["id"].to_numpy(dtype=object)[approved.rows[employee_id]].tolist()
        assert ids == [e.id for e in records]  # oldest first
        facts = [evaluation_facts(e) for e in records]
        for planning in (None, 7.5):
            got = analyse_one(columns, employee_id, data.cards, planning)
            assert got.analysis == analyse_employee(records, facts, data.cards, planning), employee_id
            assert got.overall == [f.overall for f in facts]
            assert got.failures == [f.critical_failures for f in facts]
            assert got.analysis.n == len(records)
        start, stop = columns.spans[employee_id]
        assert columns.texts["day"][start:stop].tolist() == [e.started_at.date().isoformat() for e in records]
        shown = approved.shown([employee_id], 3)[employee_id]
        assert [(s.comments, s.debrief, s.interaction_id, s.day) for s in shown] == [
            (e.comments, e.debrief, e.interaction_id, e.started_at.date()) for e in records[::-1][:3]
        ]
    # The store keeps shares as float32: a share of k/d points comes back as scoring's float64 k/d.
    shares = np.array([[1 / 3, 2 / 3, 0.25, 0.7, 1.0, 0.0, np.nan]], dtype=np.float32).T
    from sitegen.frame import exact_shares

    back = exact_shares(shares)[:, 0].tolist()
    assert back[:6] == [1 / 3, 2 / 3, 0.25, 0.7, 1.0, 0.0] and np.isnan(back[6])


def test_the_domain_code_a_page_depends_on_is_fingerprinted() -> None:
    """A page is rebuilt when the code that computed it changes: every `qa` module sitegen
    imports is in the fingerprint, but for those that only carry data or errors."""
    import ast

    from sitegen.build import fingerprinted_files

    imported = set()
    for module in (ROOT / "sitegen").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("qa."):
                imported.add(node.module.split(".")[1])
            if isinstance(node, ast.ImportFrom) and node.module == "qa":
                imported.update(alias.name for alias in node.names)
    data_only = {"errors", "models", "scorecards"}  # records' shapes, errors, the loader (versions are hashed)
    names = {path.name for path in fingerprinted_files() if path.parent.name == "qa"}
    assert {"stats", "i18n", "scorecard_model"} <= imported
    assert {f"{module}.py" for module in imported - data_only} <= names


def test_a_call_log_imported_after_its_evaluation_rebuilds_the_page_without_the_customer(world, tmp_path: Path) -> None:
    """Comments are redacted with the customer reference of the evaluation's call: an evaluation
    can arrive before its call log, and the page must follow when the log (the reference) does."""
    import copy
    from datetime import timedelta

    from .site_world import START

    out = tmp_path / "site"
    said = world.add("E2", "phone_call", days=200)
    doc = copy.deepcopy(said) | {
        "id": "ev-late",
        "interaction_id": "call-late",
        "started_at": START + timedelta(days=201),
        "comments": {"general": "Client CLI-8888888 rappelé."},
    }
    world.store.import_evaluations([doc], by="test")
    build_site(world.store, out, workers=1)
    page = out / paths.employee_page(world.store.site_token("E2"), "fr")
    assert "CLI-8888888" in page.read_text()  # nothing says yet that this is a customer's reference
    world.store.add_interactions([{"id": "call-late", "employee_id": "E2", "channel": "phone", "duration_seconds": 60,
                                   "started_at": START + timedelta(days=201), "customer_ref": "CLI-8888888"}])  # fmt: skip
    report = build_site(world.store, out, workers=1)
    assert "CLI-8888888" not in page.read_text() and report.written >= 2


def test_an_evaluation_without_a_score_snapshot_does_not_blank_other_pages(world, tmp_path: Path) -> None:
    """Each scorecard version's criteria come from one of its records: never from one imported
    without its snapshot (which lists none), even when it is the oldest."""
    import copy
    from datetime import timedelta

    from .site_world import START

    out = tmp_path / "site"
    build_site(world.store, out, workers=1)
    page = out / paths.employee_page(world.store.site_token("E1"), "en")
    before = page.read_text()
    first = next(e for e in world.evaluations if e["employee_id"] == "E1" and e["status"] == "approved")
    blank = copy.deepcopy(first) | {"id": "aaa-early", "employee_id": "E2", "score": {}, "comments": {},
                                    "started_at": START - timedelta(days=1)}  # fmt: skip
    world.store.import_evaluations([blank], by="test")
    build_site(world.store, out, workers=1)
    assert page.read_text() == before
    build_site(world.store, tmp_path / "full", workers=1, full=True)
    assert (tmp_path / "full" / paths.employee_page(world.store.site_token("E1"), "en")).read_text() == before
