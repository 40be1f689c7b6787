"""Loading scorecards: each mistake a user can make is reported at its line, all at once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa.errors import ScorecardError
from qa.scorecards import content_version, load_scorecard, parse_scorecard_text

from .conftest import FIXTURES, ROOT

MINI = (FIXTURES / "mini.yaml").read_text(encoding="utf-8")


def problems_of(text: str) -> list[tuple[int, str]]:
    with pytest.raises(ScorecardError) as info:
        parse_scorecard_text(text, Path("card.yaml"))
    for p in info.value.problems:
        assert str(p).startswith(f"card.yaml:{p.line}:{p.column}: ")
    return [(p.line, p.message) for p in info.value.problems]


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    lines = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return lines[occurrence - 1]


def replace_once(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_the_fixture_is_valid():
    loaded = load_scorecard(FIXTURES / "mini.yaml")
    assert loaded.id == "mini"
    assert re.fullmatch(r"[0-9a-f]{12}", loaded.version)


def test_yaml_syntax_error_gives_its_line():
    text = replace_once(MINI, "channels: [face_to_face]", "channels: [face_to_face")
    [(line, message)] = problems_of(text)
    assert "YAML syntax error" in message
    assert line >= line_of(text, "channels:")


def test_unknown_key_is_named_at_its_line():
    text = replace_once(MINI, "        weight: 2\n", "        weight: 2\n        colour: red\n")
    assert (line_of(text, "colour: red"), "unknown key 'colour' in sections[0].criteria[0]") in problems_of(text)


def test_missing_label_is_named():
    text = replace_once(MINI, "        label: {fr: Remercie, en: Thanks}\n", "")
    [(line, message)] = problems_of(text)
    assert message == "missing key 'label' in sections[0].criteria[1]"
    assert line == line_of(text, "- id: thanks")


def test_missing_english_text_is_named():
    text = replace_once(
        MINI, "description: {fr: Une grille de test., en: A test scorecard.}", "description: {fr: Une grille de test.}"
    )
    assert problems_of(text) == [(line_of(text, "description:"), "missing key 'en' in description")]


def test_duplicate_criterion_id_across_sections():
    text = replace_once(MINI, "- id: steps", "- id: greet")
    [(line, message)] = problems_of(text)
    greet_lines = [i + 1 for i, row in enumerate(text.splitlines()) if row.strip() == "- id: greet"]
    assert line == greet_lines[1]
    assert "duplicate criterion id 'greet'" in message


def test_duplicate_yaml_key_is_reported():
    text = replace_once(MINI, "        weight: 3\n", "        weight: 3\n        weight: 1\n")
    assert (line_of(text, "weight: 1"), "duplicate key 'weight' in sections[1].criteria[0]") in problems_of(text)


@pytest.mark.parametrize("weight", ["0", "-1"])
def test_weight_must_be_positive(weight):
    text = replace_once(MINI, "weight: 3", f"weight: {weight}")
    [(line, message)] = problems_of(text)
    assert line == line_of(text, f"weight: {weight}")
    assert message.startswith("sections[1].criteria[0].weight:") and "greater than 0" in message


def test_weight_given_as_text_is_not_coerced():
    text = replace_once(MINI, "weight: 3", 'weight: "3"')
    [(_, message)] = problems_of(text)
    assert message.startswith("sections[1].criteria[0].weight:")


def test_unknown_scale():
    text = replace_once(MINI, "scale: {type: points, max: 3}", "scale: {type: stars}")
    [(line, message)] = problems_of(text)
    assert line == line_of(text, "type: stars")
    assert "unknown scale 'stars'" in message


def test_critical_criterion_that_cannot_fail():
    text = replace_once(MINI, "        weight: 3\n", "        weight: 3\n        critical: true\n        pass_at: 1\n")
    [(line, message)] = problems_of(text)
    assert line == line_of(text, "- id: quality")
    assert "critical criterion cannot fail" in message


def test_pass_at_outside_the_scale():
    text = replace_once(MINI, "        weight: 3\n", "        weight: 3\n        pass_at: 9\n")
    [(_, message)] = problems_of(text)
    assert "pass_at 9 is outside the scale 1..5" in message


def test_yes_no_na_contradicted_by_na_allowed_false():
    text = replace_once(MINI, "scale: {type: yes_no_na}", "scale: {type: yes_no_na}\n        na_allowed: false")
    [(_, message)] = problems_of(text)
    assert "na_allowed is false" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("min: 70, max: 85}", "min: 75, max: 85}", "leaves a gap: nothing covers 70 to 75"),
        ("min: 70, max: 85}", "min: 60, max: 85}", "overlaps the band below it"),
        ("min: 85, max: 100}", "min: 85, max: 90}", "the bands end at 90 but the score range ends at 100"),
        ("min: 0, max: 70}", "min: 5, max: 70}", "leaves a gap: nothing covers 0 to 5"),
    ],
    ids=["gap", "overlap", "short-top", "short-bottom"],
)
def test_bands_must_tile_the_range(old, new, expected):
    text = replace_once(MINI, old, new)
    [(line, message)] = problems_of(text)
    assert expected in message
    assert line == line_of(text, new)


def test_measured_from_must_name_timestamps():
    text = replace_once(MINI, "measured_from: [arrived_at, greeted_at]", "measured_from: [arrived_at, left_at]")
    [(line, message)] = problems_of(text)
    assert line == line_of(text, "measured_from")
    assert "'left_at' is not a timestamp field" in message


def test_all_errors_of_a_file_at_once():
    text = replace_once(MINI, "weight: 3", "weight: 0")
    text = replace_once(text, "- id: steps", "- id: greet")
    text = replace_once(text, "min: 70, max: 85}", "min: 75, max: 85}")
    text = replace_once(text, "channels: [face_to_face]", "channels: [face_to_face, fax]")
    messages = " | ".join(m for _, m in problems_of(text))
    for expected in ("weight", "duplicate criterion id", "leaves a gap", "channels[1]"):
        assert expected in messages


def test_not_a_mapping():
    assert problems_of("- just\n- a list\n") == [(1, "a scorecard must be a YAML mapping")]


def test_unreadable_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("id: é".encode("latin-1"))
    with pytest.raises(ScorecardError, match=r"latin1\.yaml:1:1: cannot read the file"):
        load_scorecard(path)


# --- versions -------------------------------------------------------------------------------


def version_of(text: str) -> str:
    return parse_scorecard_text(text, Path("x.yaml")).version


def test_version_ignores_comments_quoting_and_key_order():
    reformatted = "# a comment\n" + MINI.replace("scale: {type: yes_no}", "scale:\n          type: 'yes_no'  # quoted")
    top, rest = reformatted.split("channels: [face_to_face]\n", 1)
    reordered = top.replace("id: mini\n", "") + "channels: [face_to_face]\n" + rest + "id: mini\n"
    assert version_of(reformatted) == version_of(MINI)
    assert version_of(reordered) == version_of(MINI)


def test_implicit_default_and_explicit_default_share_a_version():
    explicit = replace_once(MINI, "scale: {type: yes_no_na}", "scale: {type: yes_no_na}\n        weight: 1")
    assert version_of(explicit) == version_of(MINI)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("weight: 3", "weight: 2"),
        ("Greets the customer", "Greets each customer"),
        ("{type: points, max: 3}", "{type: points, max: 4}"),
    ],
    ids=["weight", "label", "scale"],
)
def test_version_follows_meaning(old, new):
    assert version_of(replace_once(MINI, old, new)) != version_of(MINI)


def test_version_is_the_content_hash(mini):
    assert version_of(MINI) == content_version(mini)


def test_every_accepted_key_is_documented():
    """The format README names every key the loader accepts (Datasette's documented-settings test)."""
    from pydantic import BaseModel

    from qa import scorecard_model

    readme = (ROOT / "scorecards" / "README.md").read_text(encoding="utf-8")
    models = [m for m in vars(scorecard_model).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    keys = {key for model in models for key in model.model_fields}
    undocumented = sorted(k for k in keys if f"`{k}`" not in readme)
    assert not undocumented, f"keys missing from scorecards/README.md: {undocumented}"
    scale_types = ["yes_no", "yes_no_na", "rating", "points"]
    assert all(f"`{t}`" in readme for t in scale_types)


def test_a_dumped_scorecard_loads_back_unchanged():
    """The store remembers old versions as JSON dumps: they must load back to the same version."""
    from qa.scorecard_model import Scorecard
    from qa.scorecards import load_all

    for loaded in load_all(ROOT / "scorecards").values():
        again = Scorecard.model_validate(loaded.card.model_dump(mode="json"))
        assert content_version(again) == loaded.version
