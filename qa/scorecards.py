"""Load YAML scorecards, report every mistake as path:line:col, and version them by content."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from qa.errors import Problem, ScorecardError
from qa.scorecard_model import Rating, Scorecard

Loc = tuple[str | int, ...]

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "scorecards"
# libyaml's parser when PyYAML has it (it gives the same nodes, with their lines and columns,
# six times faster than the pure-Python one: 0.13 s -> 0.02 s for our three files).
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class LoadedScorecard:
    """A validated scorecard with where it came from and its content version."""

    card: Scorecard
    version: str
    path: Path

    @property
    def id(self) -> str:
        return self.card.id


def content_version(card: Scorecard) -> str:
    """A short hash of the scorecard's meaning: blind to comments, key order and formatting."""
    canonical = json.dumps(card.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


class _Positions:
    """Maps a path inside the YAML document to where it was written (1-based line and column)."""

    def __init__(self) -> None:
        self.at: dict[Loc, tuple[int, int]] = {}
        self.duplicates: list[tuple[Loc, str, tuple[int, int]]] = []

    def walk(self, node: yaml.Node, loc: Loc) -> None:
        self.at.setdefault(loc, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if key in seen:
                    self.duplicates.append((loc, key, where))
                seen.add(key)
                self.at[(*loc, key)] = where
                self.walk(value_node, (*loc, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.walk(item, (*loc, index))

    def find(self, data: Any, loc: Iterable[str | int]) -> tuple[Loc, tuple[int, int]]:
        """Resolve a pydantic error location against the data, skipping union tags."""
        resolved: Loc = ()
        current = data
        for part in loc:
            in_dict = isinstance(current, dict) and part in current
            in_list = isinstance(current, list) and isinstance(part, int) and part < len(current)
            if not (in_dict or in_list):
                continue  # a union tag or validator name pydantic adds to the location
            current = current[part]  # type: ignore[index]  # checked just above
            resolved = (*resolved, part)
        return resolved, self.at.get(resolved, (1, 1))


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _message(error: dict[str, Any], resolved: Loc, loc: Loc) -> str:
    kind = error["type"]
    if kind == "missing":
        return f"missing key '{loc[-1]}' in {dotted(resolved)}"
    if kind == "extra_forbidden":
        return f"unknown key '{loc[-1]}' in {dotted(resolved[:-1])}"
    if kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag", error["input"])
        return f"{dotted(resolved)}: unknown scale {tag!r} (expected one of {error['ctx']['expected_tags']})"
    message = error["msg"].removeprefix("Value error, ")
    return f"{dotted(resolved)}: {message}"


def parse_scorecard_text(text: str, path: Path) -> LoadedScorecard:
    """Validate one scorecard's YAML text; raise ScorecardError with every problem found."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ScorecardError([Problem(str(path), line, col, f"YAML syntax error: {exc.problem}")]) from None
    finally:
        loader.dispose()
    if node is None or not isinstance(data, dict):
        raise ScorecardError([Problem(str(path), 1, 1, "a scorecard must be a YAML mapping")])

    positions = _Positions()
    positions.walk(node, ())
    problems = [
        Problem(str(path), *where, f"duplicate key '{key}' in {dotted(loc)}")
        for loc, key, where in positions.duplicates
    ]
    card: Scorecard | None = None
    try:
        card = Scorecard.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            resolved, where = positions.find(data, loc)
            problems.append(Problem(str(path), *where, _message(dict(error), resolved, loc)))
    for loc, message in _semantic_problems(data, card):
        problems.append(Problem(str(path), *positions.at.get(loc, (1, 1)), message))
    if problems:
        raise ScorecardError(sorted(set(problems)))
    assert card is not None
    return LoadedScorecard(card=card, version=content_version(card), path=path)


def _items(data: Any, key: str) -> list[tuple[int, dict[str, Any]]]:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _duplicate_ids(entries: Sequence[tuple[Loc, Any]], what: str) -> list[tuple[Loc, str]]:
    seen: dict[Any, Loc] = {}
    out = []
    for loc, ident in entries:
        if not isinstance(ident, str):
            continue
        if ident in seen:
            out.append(
                ((*loc, "id"), f"{dotted(loc)}.id: duplicate {what} id '{ident}' (first at {dotted(seen[ident])})")
            )
        else:
            seen[ident] = loc
    return out


def _semantic_problems(data: dict[str, Any], card: Scorecard | None) -> list[tuple[Loc, str]]:
    """Rules across several parts of the file: unique ids, references, bands covering the range."""
    out: list[tuple[Loc, str]] = []
    sections = _items(data, "sections")
    out += _duplicate_ids([(("sections", i), s.get("id")) for i, s in sections], "section")
    criteria = [(("sections", i, "criteria", j), c.get("id")) for i, s in sections for j, c in _items(s, "criteria")]
    out += _duplicate_ids(criteria, "criterion")
    fields = _items(data, "context")
    out += _duplicate_ids([(("context", i), f.get("id")) for i, f in fields], "context field")
    out += _duplicate_ids([(("questions", i), q.get("id")) for i, q in _items(data, "questions")], "question")
    out += _duplicate_ids([(("bands", i), b.get("id")) for i, b in _items(data, "bands")], "band")
    timestamps = {f.get("id") for _, f in fields if f.get("type") == "timestamp"}
    for i, field in fields:
        for k, ref in enumerate(field.get("measured_from") or []):
            if ref not in timestamps:
                out.append(
                    (
                        ("context", i, "measured_from", k),
                        f"context[{i}].measured_from: '{ref}' is not a timestamp field of this scorecard",
                    )
                )
    if card is not None:
        aggregation = _aggregation_problems(card)
        # Without a coherent aggregation the score range, and so the bands' coverage, is unknown.
        out += aggregation or _band_problems(_raw_bands(data), card.score_range())
    elif data.get("aggregation", "weighted_percent") == "weighted_percent":
        # Report band mistakes even when other parts of the file are broken: all errors at once.
        out += _band_problems(_raw_bands(data), (0.0, 100.0))
    return out


def _raw_bands(data: dict[str, Any]) -> list[tuple[int, str, float, float]]:
    """(index, id, min, max) of each band whose bounds are numbers."""
    out = []
    for i, band in _items(data, "bands"):
        low, high = band.get("min"), band.get("max")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
            continue
        if float(high) > float(low):  # type: ignore[arg-type]  # both checked to be numbers above
            out.append((i, str(band.get("id")), float(low), float(high)))  # type: ignore[arg-type]
    return out


def _aggregation_problems(card: Scorecard) -> list[tuple[Loc, str]]:
    if card.aggregation != "sum_of_means":
        return []
    out: list[tuple[Loc, str]] = []
    first = card.sections[0].criteria[0].scale
    for i, section in enumerate(card.sections):
        for j, criterion in enumerate(section.criteria):
            loc: Loc = ("sections", i, "criteria", j)
            if (
                not isinstance(criterion.scale, Rating)
                or not isinstance(first, Rating)
                or ((criterion.scale.min, criterion.scale.max) != (first.min, first.max))
            ):
                out.append(
                    (
                        (*loc, "scale"),
                        f"{dotted(loc)}.scale: sum_of_means needs every criterion on the same rating scale",
                    )
                )
            if criterion.critical:
                out.append(((*loc, "critical"), f"{dotted(loc)}.critical: sum_of_means has no critical criteria"))
            if criterion.allows_na:
                # A missing statement would shift the 7..35 style range the bands are written for.
                out.append(((*loc, "na_allowed"), f"{dotted(loc)}.na_allowed: sum_of_means does not allow N/A"))
    return out


def _band_problems(
    bands: list[tuple[int, str, float, float]], score_range: tuple[float, float]
) -> list[tuple[Loc, str]]:
    """Bands must tile the score range: no overlap, no gap, from its lowest to its highest score."""
    if not bands:
        return []
    low, high = score_range
    out: list[tuple[Loc, str]] = []
    expected = low
    for i, ident, band_min, band_max in sorted(bands, key=lambda b: (b[2], b[3])):
        loc: Loc = ("bands", i, "min")
        if band_min < expected:
            what = "starts below the score range" if expected == low else "overlaps the band below it"
            out.append((loc, f"bands[{i}] ('{ident}') {what}: min {band_min:g} < {expected:g}"))
        elif band_min > expected:
            out.append((loc, f"bands[{i}] ('{ident}') leaves a gap: nothing covers {expected:g} to {band_min:g}"))
        expected = max(expected, band_max)
        last, last_id = i, ident
    if expected != high:
        out.append(
            (
                ("bands", last, "max"),
                f"bands[{last}] ('{last_id}'): the bands end at {expected:g} but the score range ends at {high:g}",
            )
        )
    return out


def load_scorecard(path: str | Path) -> LoadedScorecard:
    """Read and validate one scorecard file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScorecardError([Problem(str(path), 1, 1, f"cannot read the file: {exc}")]) from None
    return parse_scorecard_text(text, path)


def scorecard_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders into their *.yaml files (README and others are skipped)."""
    out: list[Path] = []
    for p in map(Path, paths):
        out += sorted([*p.glob("*.yaml"), *p.glob("*.yml")]) if p.is_dir() else [p]
    return out


def load_all(directory: str | Path = DEFAULT_DIR) -> dict[str, LoadedScorecard]:
    """Every scorecard of a folder by id; raise with all problems of all files at once."""
    loaded: dict[str, LoadedScorecard] = {}
    problems: list[Problem] = []
    for path in scorecard_files([directory]):
        try:
            sc = load_scorecard(path)
        except ScorecardError as exc:
            problems += exc.problems
            continue
        if sc.id in loaded:
            problems.append(Problem(str(path), 1, 1, f"scorecard id '{sc.id}' is already used by {loaded[sc.id].path}"))
        loaded[sc.id] = sc
    if problems:
        raise ScorecardError(problems)
    return loaded


def resolve(id_or_path: str, directory: str | Path = DEFAULT_DIR) -> LoadedScorecard:
    """A scorecard named by its id (in `directory`) or by the path of its file."""
    candidate = Path(id_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        return load_scorecard(candidate)
    cards = load_all(directory)
    if id_or_path not in cards:
        known = ", ".join(sorted(cards)) or "none"
        raise ScorecardError([Problem(str(directory), 1, 1, f"no scorecard with id '{id_or_path}' (known: {known})")])
    return cards[id_or_path]
